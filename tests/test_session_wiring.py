"""One call, one wiring: a simulation opens its workspace once, validates config and scenario once, judges once.

Each face calls one session method; the session reads and validates what it needs
once, builds one freshness checker, and looks at the database once before the first
year (the initializer's look, reused by the year loop). These tests count the calls
on a real workspace, through both faces.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import planalign_nb as nb
from planalign_orchestrator import config as config_module
from planalign_orchestrator import scenarios as scenarios_module
from planalign_orchestrator.cli import main
from planalign_orchestrator.freshness.checker import FreshnessChecker
from planalign_orchestrator.progress import ProgressEvent, YearStarted
from planalign_orchestrator.session import WorkspaceSession
from planalign_orchestrator.workspace import Workspace

pytestmark = pytest.mark.dbt


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts of workspace opens, config validations, freshness checkers built and database looks."""
    counts: Counter[str] = Counter()
    first_year_started: list[bool] = []

    def counted(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            counts[name] += 1
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(Workspace, "open", classmethod(counted("open workspace", Workspace.open.__func__)))
    validate = counted("validate config", config_module.validate_config)
    monkeypatch.setattr(config_module, "validate_config", validate)
    monkeypatch.setattr(scenarios_module, "validate_config", validate)
    monkeypatch.setattr(FreshnessChecker, "__init__", counted("freshness checker", FreshnessChecker.__init__))
    inspect = FreshnessChecker.inspect

    def counted_inspect(self: FreshnessChecker, **kwargs: Any) -> Any:
        if not first_year_started:
            counts["looks before year one"] += 1
        return inspect(self, **kwargs)

    monkeypatch.setattr(FreshnessChecker, "inspect", counted_inspect)
    original_subscribe = WorkspaceSession._observed

    def observed(self: WorkspaceSession, on_progress: Any) -> Any:
        def marker(event: ProgressEvent) -> None:
            if isinstance(event, YearStarted):
                first_year_started.append(True)
            if on_progress is not None:
                on_progress(event)

        return original_subscribe(self, marker)

    monkeypatch.setattr(WorkspaceSession, "_observed", observed)
    return counts


def test_planalign_simulate_of_a_scenario_opens_validates_and_judges_once(
    initialized_workspace: Workspace, calls: Counter[str], capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(initialized_workspace.root)
    code = main(["simulate", "2025-2026", "-w", root, "--scenario", "richer", "--set", "plan.match_rate=1.0"])

    assert code == 0, capsys.readouterr().err
    assert calls == {
        "open workspace": 1,
        "validate config": 2,  # the workspace's config, then the scenario's (config + overrides)
        "freshness checker": 1,
        "looks before year one": 1,
    }


def test_nb_simulate_opens_validates_and_judges_once(initialized_workspace: Workspace, calls: Counter[str]) -> None:
    run = nb.simulate(Path(initialized_workspace.root), 2025, 2026)

    assert run.years == [2025, 2026]
    assert calls == {"open workspace": 1, "validate config": 1, "freshness checker": 1, "looks before year one": 1}


def test_updating_a_saved_scenario_with_set_validates_it_once(
    initialized_workspace: Workspace, calls: Counter[str]
) -> None:
    session = WorkspaceSession(initialized_workspace)
    session.for_scenario("richer", {"plan.match_rate": 1.0})
    calls.clear()

    richer = session.with_assignments("richer", ["plan.match_cap=0.04"], overwrite=True)

    assert richer.scenario.overrides == {"plan.match_rate": 1.0, "plan.match_cap": 0.04}
    assert calls == {"validate config": 1}
