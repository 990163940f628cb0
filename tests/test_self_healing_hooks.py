"""create_orchestrator(auto_initialize=...) and the pre-simulation hook (acceptance points 12 and 14)."""

from __future__ import annotations

import pytest

from planalign_orchestrator.dbt_runner import DbtRunner
from planalign_orchestrator.exceptions import HookError, InitializationError
from planalign_orchestrator.factory import AUTO_INITIALIZE_HOOK
from planalign_orchestrator.progress import InitializationFinished, YearStarted
from planalign_orchestrator.workspace import Workspace
from tests.support.helpers import EventRecorder, assert_remediation, execute, table_names

SIMULATION_TABLES = {"fct_yearly_events", "fct_workforce_snapshot"}


def test_point12_auto_initialize_registers_ensure_initialized_as_pre_simulation_hook(
    workspace: Workspace, orchestrator_for
) -> None:
    """Point 12: auto_initialize=True (the default) registers the initializer's ensure_initialized."""
    orchestrator = orchestrator_for(workspace)

    assert orchestrator.hook_manager.pre_simulation_hook_names == [AUTO_INITIALIZE_HOOK]
    [registered] = orchestrator.hook_manager._pre_simulation
    assert registered.hook == orchestrator.auto_initializer.ensure_initialized


def test_point12_auto_initialize_false_registers_nothing(workspace: Workspace, orchestrator_for) -> None:
    """Point 12: with auto_initialize=False no hook and no initializer exist."""
    orchestrator = orchestrator_for(workspace, auto_initialize=False)

    assert orchestrator.hook_manager.pre_simulation_hook_names == []
    assert orchestrator.auto_initializer is None


def test_point12_failing_initialization_stops_the_simulation_before_any_year(
    initialized_workspace: Workspace, orchestrator_for
) -> None:
    """Point 12 and 14: a failing initialization stops the simulation before any year.

    A missing census raises HookError caused by the InitializationError; no year starts,
    no dbt command runs, no simulation table appears.
    """
    execute(initialized_workspace.database_path, "drop table main.int_employee_benefits")
    initialized_workspace.config.census_path.unlink()
    recorder = EventRecorder()
    orchestrator = orchestrator_for(initialized_workspace, on_progress=recorder)
    invocations = DbtRunner.invocation_count

    with pytest.raises(HookError) as raised:
        orchestrator.execute_multi_year_simulation(2025, 2026)

    cause = raised.value.__cause__
    assert isinstance(cause, InitializationError)
    assert raised.value.original_error is cause
    assert raised.value.hook_name == AUTO_INITIALIZE_HOOK
    assert str(initialized_workspace.config.census_path) in str(raised.value)
    assert_remediation(raised.value)
    assert_remediation(cause)
    assert raised.value.remediation == cause.remediation
    assert recorder.of_type(YearStarted) == []
    assert DbtRunner.invocation_count == invocations
    assert not SIMULATION_TABLES & table_names(initialized_workspace.database_path)


@pytest.mark.dbt
def test_point12_simulation_heals_the_workspace_before_its_first_year(
    initialized_workspace: Workspace, orchestrator_for
) -> None:
    """Point 12: the hook heals first; the first year starts only after initialization finished."""
    execute(initialized_workspace.database_path, "drop table main.int_employee_benefits")
    recorder = EventRecorder()
    orchestrator = orchestrator_for(initialized_workspace, on_progress=recorder)

    summary = orchestrator.execute_multi_year_simulation(2025, 2025)

    assert len(summary) == 1
    kinds = [type(event) for event in recorder.events]
    assert kinds.index(InitializationFinished) < kinds.index(YearStarted)
    [finished] = recorder.of_type(InitializationFinished)
    assert finished.result.tables_created == ["int_employee_benefits"]
    assert table_names(initialized_workspace.database_path) >= SIMULATION_TABLES
