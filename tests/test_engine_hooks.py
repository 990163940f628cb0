"""HookManager: pre-simulation hooks run in priority order, once per simulation call."""

from __future__ import annotations

import pytest

from planalign_orchestrator.exceptions import HookError
from planalign_orchestrator.pipeline.hooks import HookManager
from planalign_orchestrator.workspace import Workspace


def test_hooks_run_lowest_priority_first_and_ties_in_registration_order() -> None:
    calls: list[str] = []
    hooks = HookManager()
    hooks.register_pre_simulation_hook(lambda: calls.append("late"), name="late", priority=10)
    hooks.register_pre_simulation_hook(lambda: calls.append("first-tie"), name="first-tie")
    hooks.register_pre_simulation_hook(lambda: calls.append("second-tie"), name="second-tie")
    hooks.register_pre_simulation_hook(lambda: calls.append("early"), name="early", priority=-5)

    hooks.run_pre_simulation_hooks()

    assert calls == ["early", "first-tie", "second-tie", "late"]
    assert hooks.pre_simulation_hook_names == ["early", "first-tie", "second-tie", "late"]


def test_failing_hook_stops_later_hooks_and_chains_its_cause() -> None:
    calls: list[str] = []
    cause = ValueError("census unreadable")
    hooks = HookManager()

    def failing() -> None:
        raise cause

    hooks.register_pre_simulation_hook(failing, name="check", priority=0)
    hooks.register_pre_simulation_hook(lambda: calls.append("after"), name="after", priority=1)

    with pytest.raises(HookError) as caught:
        hooks.run_pre_simulation_hooks()

    assert caught.value.__cause__ is cause
    assert caught.value.hook_name == "check"
    assert "census unreadable" in str(caught.value)
    assert calls == []


@pytest.mark.dbt
def test_hooks_run_once_per_simulation_call_not_per_year(simulated_workspace: Workspace, orchestrator_for) -> None:
    calls: list[str] = []
    orchestrator = orchestrator_for(simulated_workspace, auto_initialize=False)
    orchestrator.hook_manager.register_pre_simulation_hook(lambda: calls.append("hook"), name="count")

    orchestrator.execute_multi_year_simulation(2025, 2027)

    assert calls == ["hook"]
