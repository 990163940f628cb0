"""Shared fixtures: real workspaces on real DuckDB files, built with real dbt.

Initializing and simulating cost seconds, so a run builds one initialized and one
simulated template (once for all xdist workers: built_once_per_run) and each test gets
its own copy of the folder. Every dbt
invocation in this process reuses one parsed manifest. The environment of every run
(no seconds in records, a private cache) is set by the repository's root conftest.py.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from planalign_orchestrator.factory import create_orchestrator
from planalign_orchestrator.pipeline.orchestrator import PipelineOrchestrator
from planalign_orchestrator.workspace import Workspace
from tests.support.helpers import EventRecorder, edit_config_sections

REPO_ROOT = Path(__file__).resolve().parent.parent
SIMULATED_YEARS = (2025, 2029)
REALISM_EMPLOYEES = 20_000
REALISM_YEARS = (2025, 2030)
SCENARIO_YEARS = (2025, 2027)
SCENARIOS: dict[str, dict[str, object] | None] = {
    "baseline": None,
    "high_match": {"plan.match_rate": 1.0},
    "fast_growth": {"simulation.target_growth_rate": 0.06, "plan.opt_out_rate": 0.2},
}


def copy_workspace(template: Path, destination: Path) -> Workspace:
    """A private copy of a template workspace (config, census, database; no logs or lock)."""
    shutil.copytree(
        template,
        destination,
        ignore=shutil.ignore_patterns("target", "logs", "*.lock"),
    )
    return Workspace.open(destination, create=False)


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """A brand-new workspace: default config, bundled census, no database yet."""
    return Workspace.open(tmp_path / "workspace")


def built_once_per_run(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """A template workspace `build` makes at the given root, built once for all xdist workers of the run.

    The first worker to need it builds it in the run's shared temporary folder (the
    others wait on a lock); each worker then works on a private copy, so no two
    processes ever open one database. Without xdist it is built in place.
    """
    own = tmp_path_factory.mktemp(name) / "workspace"
    if "PYTEST_XDIST_WORKER" not in os.environ:
        build(own)
        return own
    shared = tmp_path_factory.getbasetemp().parent / f"shared-{name}"
    with (shared.parent / f"shared-{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this process dies
        if not (shared / "built").exists():
            shutil.rmtree(shared, ignore_errors=True)  # what a worker that failed here left
            build(shared / "workspace")
            (shared / "built").touch()
    copy_workspace(shared / "workspace", own)
    return own


def _initialize(root: Path) -> None:
    workspace = Workspace.open(root)
    result = create_orchestrator(workspace.config).auto_initializer.ensure_initialized()
    assert result.success, result


@pytest.fixture(scope="session")
def initialized_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built_once_per_run(tmp_path_factory, "initialized", _initialize)


@pytest.fixture
def initialized_workspace(initialized_template: Path, tmp_path: Path) -> Workspace:
    """A workspace whose 10 required tables exist (a private copy per test)."""
    return copy_workspace(initialized_template, tmp_path / "initialized")


@pytest.fixture(scope="session")
def simulated_template(initialized_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    def simulate(root: Path) -> None:
        workspace = copy_workspace(initialized_template, root)
        create_orchestrator(workspace.config).execute_multi_year_simulation(*SIMULATED_YEARS)

    return built_once_per_run(tmp_path_factory, "simulated", simulate)


@pytest.fixture
def simulated_workspace(simulated_template: Path, tmp_path: Path) -> Workspace:
    """A workspace simulated 2025-2029 with the default config (a private copy per test)."""
    return copy_workspace(simulated_template, tmp_path / "simulated")


@pytest.fixture(scope="session")
def realism_initialized_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialized workspace on a generated 20,000-employee census (`planalign census generate`)."""
    from planalign_orchestrator.cli import main

    root = tmp_path_factory.mktemp("realism") / "workspace"
    workspace = Workspace.open(root)
    census = ["census", "generate", "--employees", str(REALISM_EMPLOYEES), "--seed", "42"]
    assert main([*census, "--out", str(workspace.config.census_path)]) == 0
    result = create_orchestrator(workspace.config).auto_initializer.ensure_initialized()
    assert result.success, result
    return root


@pytest.fixture(scope="session")
def realism_template(realism_initialized_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 20,000-employee workspace simulated 2025-2030 with the default config (read-only: copy to change)."""
    root = tmp_path_factory.mktemp("realism_simulated") / "workspace"
    workspace = copy_workspace(realism_initialized_template, root)
    create_orchestrator(workspace.config).execute_multi_year_simulation(*REALISM_YEARS)
    return root


@pytest.fixture(scope="session")
def scenarios_template(initialized_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The baseline and two scenarios simulated over SCENARIO_YEARS (read-only: copy to change).

    invocations.json beside the database records, per scenario, the dbt invocations its
    simulate cost and the nodes they ran: what acceptance 3 of the scenarios issue counts.
    """
    from planalign_orchestrator.dbt_runner import DbtRunner
    from planalign_orchestrator.progress import NodeStarted
    from planalign_orchestrator.session import WorkspaceSession

    def build(root: Path) -> None:
        session = WorkspaceSession(copy_workspace(initialized_template, root))
        invocations = {}
        for name, overrides in SCENARIOS.items():
            recorder = EventRecorder()
            before = DbtRunner.invocation_count
            scenario = session if overrides is None else session.for_scenario(name, overrides)
            scenario.simulate(*SCENARIO_YEARS, on_progress=recorder)
            invocations[name] = {
                "dbt": DbtRunner.invocation_count - before,
                "nodes": sorted({event.node_name for event in recorder.of_type(NodeStarted)}),
            }
        (root / "invocations.json").write_text(json.dumps(invocations))

    return built_once_per_run(tmp_path_factory, "scenarios", build)


@pytest.fixture
def scenarios_workspace(scenarios_template: Path, tmp_path: Path) -> Workspace:
    """The scenarios template, a private copy per test."""
    return copy_workspace(scenarios_template, tmp_path / "scenarios")


CRAFTED_BASE_CONFIG: dict[str, dict[str, object]] = {
    "simulation": {"target_growth_rate": 0.0},
    "workforce": {"termination_rate": 0.0, "new_hire_termination_rate": 0.0},
    "plan": {"auto_escalation": False},
}


def _crafted(root: Path, drop: Sequence[str], sections: dict[str, dict[str, object]]) -> Workspace:
    from tests.support.crafted_census import write_crafted_census

    workspace = Workspace.open(root)
    write_crafted_census(workspace.config.census_path)
    merged = {section: dict(values) for section, values in CRAFTED_BASE_CONFIG.items()}
    for section, values in sections.items():
        merged.setdefault(section, {}).update(values)
    return edit_config_sections(workspace, drop=drop, **merged)


@pytest.fixture
def crafted_workspace(tmp_path: Path) -> Callable[..., Workspace]:
    """A new workspace on the crafted census (tests/support/crafted_census.py) with config edits.

    termination_rate and new_hire_termination_rate are 0, growth is 0 and auto-escalation
    is off (CRAFTED_BASE_CONFIG), so only the rules under test (and retirement, from age
    55) move anyone.
    """

    def build(name: str, *, drop: Sequence[str] = (), **sections: dict[str, object]) -> Workspace:
        return _crafted(tmp_path / name, drop, sections)

    return build


@pytest.fixture(scope="session")
def crafted_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The crafted census simulated 2025-2026 with CRAFTED_BASE_CONFIG (read-only: copy to change)."""
    workspace = _crafted(tmp_path_factory.mktemp("crafted") / "workspace", (), {})
    create_orchestrator(workspace.config).execute_multi_year_simulation(2025, 2026)
    return workspace.root


@pytest.fixture
def orchestrator_for() -> Callable[..., PipelineOrchestrator]:
    """Build an orchestrator for a workspace, forwarding create_orchestrator's options."""

    def build(workspace: Workspace, **options: object) -> PipelineOrchestrator:
        return create_orchestrator(workspace.config, **options)  # type: ignore[arg-type]

    return build


@pytest.fixture
def run_python() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run a Python snippet in a fresh interpreter (for process-level behaviour)."""

    def run(code: str, *, timeout: float = 120, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
        )

    return run


@pytest.fixture
def planalign_cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the `planalign` console script as a user would."""
    executable = Path(sys.executable).with_name("planalign")

    def run(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(executable), *args], capture_output=True, text=True, timeout=timeout, cwd=cwd or tmp_path
        )

    return run


ENSEMBLE_EMPLOYEES = 500
ENSEMBLE_YEARS = (2025, 2027)
ENSEMBLE_SEEDS = 5
ENSEMBLE_DETAIL_SEED = 44


@pytest.fixture(scope="session")
def ensemble_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 500-employee workspace with a stored 5-seed ensemble of 2025-2027, run in-process.

    Seeds 42-46 on a generated census, seed 44's detail kept (read-only: copy to change).
    """
    from planalign_orchestrator.cli import main
    from planalign_orchestrator.session import WorkspaceSession

    def build(root: Path) -> None:
        workspace = Workspace.open(root)
        census = ["census", "generate", "--employees", str(ENSEMBLE_EMPLOYEES), "--seed", "42"]
        assert main([*census, "--out", str(workspace.config.census_path)]) == 0
        WorkspaceSession(workspace).ensemble(*ENSEMBLE_YEARS, seeds=ENSEMBLE_SEEDS, detail_seed=ENSEMBLE_DETAIL_SEED)

    return built_once_per_run(tmp_path_factory, "ensemble", build)


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    """A real dask.distributed LocalCluster of 2 worker processes (1 thread each), on loopback only."""
    from dask.distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None)
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


# -- a real file system that fills up -----------------------------------------------------


class SmallFileSystem:
    """A real tmpfs file system of a few MB mounted for one test, and a filler file to take its room.

    `fill(leave_bytes)` grows the filler until only that much is free, as a download or
    another job would; `free()` deletes it again.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.filler = root / "filler"

    def free_bytes(self) -> int:
        stats = os.statvfs(self.root)
        return stats.f_bavail * stats.f_frsize

    def fill(self, leave_bytes: int = 0) -> None:
        from tests.support.cli_filling_disk import fill

        fill(self.filler, leave_bytes)

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)


def _mount_refused(target: Path, size_mb: int) -> str | None:
    """Why a tmpfs cannot be mounted here (None when it was mounted)."""
    if os.geteuid() != 0:
        return "mounting a small file system needs root (CI runs the suite as root)"
    mount = shutil.which("mount")
    if mount is None:
        return "the mount command is not installed"
    completed = subprocess.run(
        [mount, "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(target)], capture_output=True, text=True
    )
    if completed.returncode != 0:
        return f"mounting a tmpfs is not permitted here: {completed.stderr.strip()}"
    return None


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[Callable[[int], SmallFileSystem]]:
    """Mount a real tmpfs of `size_mb` MB (a factory: call it with the size); unmounted after the test.

    Skipped with the reason where mounting is not possible (not root, no permission);
    under CI=true (CI runs as root) that is a failure instead, so the disk-full tests
    cannot silently stop running.
    """
    mounted: list[Path] = []

    def mount(size_mb: int) -> SmallFileSystem:
        target = tmp_path / f"small-fs-{len(mounted)}"
        target.mkdir()
        refused = _mount_refused(target, size_mb)
        if refused is not None:
            if os.environ.get("CI") == "true":
                pytest.fail(f"The disk-full tests must run in CI, but {refused}")
            pytest.skip(refused)
        mounted.append(target)
        return SmallFileSystem(target)

    try:
        yield mount
    finally:
        for target in reversed(mounted):
            if subprocess.run(["umount", str(target)], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", str(target)], capture_output=True)  # still held: detach it


OPTIMIZE_EMPLOYEES = 400
OPTIMIZE_YEARS = (2025, 2025)
OPTIMIZE_SEEDS = 3
# The known-answer study: the cheapest opt-out share that keeps participation at 79% or more.
KNOWN_ANSWER: dict[str, Any] = {
    "objectives": ["min employer_cost_rate"],
    "constraints": ["participation_rate >= 0.79"],
    "levers": ["plan.opt_out_rate=0:0.6:0.02"],
    "seeds": OPTIMIZE_SEEDS,
    "start_year": OPTIMIZE_YEARS[0],
    "end_year": OPTIMIZE_YEARS[1],
}
KNOWN_ANSWER_TRIALS = 15


@pytest.fixture(scope="session")
def optimize_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 400-employee workspace with the known-answer study 'cheapest' run (read-only: copy to change).

    15 trials of 3 seeds of 2025 on a 31-point grid of plan.opt_out_rate; the two best
    designs simulated with the config's seed for compare.
    """
    from planalign_orchestrator.cli import main
    from planalign_orchestrator.session import WorkspaceSession

    root = tmp_path_factory.mktemp("optimize") / "workspace"
    workspace = Workspace.open(root)
    census = ["census", "generate", "--employees", str(OPTIMIZE_EMPLOYEES), "--seed", "42"]
    assert main([*census, "--out", str(workspace.config.census_path)]) == 0
    WorkspaceSession(workspace).optimize(**KNOWN_ANSWER, study="cheapest", trials=KNOWN_ANSWER_TRIALS, top=2)
    return root
