"""A killed initialization is repaired by the next call (acceptance point 11).

Three fresh processes initialize three empty workspaces and SIGKILL themselves
(kill -9, no cleanup of any kind) from a progress observer at three points. They run
in parallel, once per module; each test then repairs one of the workspaces in this
process with ensure_initialized().
"""

from __future__ import annotations

import signal

import pytest

from planalign_orchestrator.initialization import InitializationState
from planalign_orchestrator.workspace import Workspace
from tests.support.helpers import (
    ALL_REQUIRED,
    REQUIRED_FOUNDATION,
    assert_all_required_tables_have_rows,
    initializer_for,
    kill_and_wait,
    start_script,
    table_names,
)

KILL_POINTS = {
    # during seeds: two seeds loaded, the third one just starting
    "during-seeds": "node:config_job_levels",
    # during foundation: int_baseline_workforce built, the second model (dbt builds the two
    # models that depend only on it in name order) just starting
    "during-foundation": "node:int_employee_benefits",
    # after foundation: every table built, killed as verification starts
    "after-foundation": "step:verify",
}


@pytest.fixture(scope="module")
def killed_workspaces(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Workspace]:
    workspaces = {
        point: Workspace.open(tmp_path_factory.mktemp(f"killed-{point}") / "workspace") for point in KILL_POINTS
    }
    processes = {
        point: start_script("initialize_workspace.py", str(workspaces[point].root), "--kill-on", spec)
        for point, spec in KILL_POINTS.items()
    }
    try:
        for point, process in processes.items():
            stdout, stderr = process.communicate(timeout=120)
            assert process.returncode == -signal.SIGKILL, (point, process.returncode, stdout, stderr)
    finally:
        for process in processes.values():
            kill_and_wait(process)
    return workspaces


@pytest.mark.dbt
@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_point11_initialization_killed_with_sigkill_is_repaired(
    killed_workspaces: dict[str, Workspace], point: str
) -> None:
    """Point 11: after kill -9 at this point, the next ensure_initialized() repairs to COMPLETED."""
    workspace = killed_workspaces[point]
    present_after_kill = table_names(workspace.database_path)

    result = initializer_for(workspace).ensure_initialized()

    assert result.state is InitializationState.COMPLETED
    assert_all_required_tables_have_rows(workspace.database_path)
    if point == "after-foundation":
        assert set(ALL_REQUIRED) <= present_after_kill
        assert result.missing_tables_found == []
    else:
        assert not set(ALL_REQUIRED) <= present_after_kill, "the kill came too late to leave work undone"
        assert result.missing_tables_found
        # Tables the killed run built but could not record are rebuilt too, as unknown.
        assert set(result.tables_created) == set(result.missing_tables_found) | set(result.stale_tables_found)
        assert all(why.startswith("unknown") for why in result.stale_tables_found.values())
    if point == "during-foundation":
        assert "int_baseline_workforce" in present_after_kill
        assert result.missing_tables_found == REQUIRED_FOUNDATION[1:]
