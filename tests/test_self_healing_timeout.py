"""The timeout and the kernel interrupt stop the running dbt work (acceptance points 7 and 14).

A test-only variant of the dbt project, assembled in a temporary folder, makes
int_employee_benefits deliberately slow (a query of ~10^10 rows, about 45 s on one
core), so the deadline and the interrupt are bound to land while DuckDB executes it.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import filelock
import pytest

from planalign_orchestrator.exceptions import InitializationTimeoutError
from planalign_orchestrator.initialization import InitializationState
from planalign_orchestrator.progress import InitializationFinished, NodeFinished, NodeStarted, StepFinished
from planalign_orchestrator.self_healing.auto_initializer import AutoInitializer
from planalign_orchestrator.workspace import Workspace
from tests.support.helpers import (
    EventRecorder,
    assert_database_free_for_other_processes,
    assert_remediation,
    execute,
    initializer_for,
    make_slow_project,
)

SLOW_MODEL = "int_employee_benefits"


@pytest.fixture(scope="session")
def slow_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_slow_project(tmp_path_factory.mktemp("slow_project") / "dbt", SLOW_MODEL)


@pytest.fixture
def damaged_workspace(initialized_workspace: Workspace) -> Workspace:
    """An initialized workspace missing only the model that is slow in the test project."""
    execute(initialized_workspace.database_path, f"drop table main.{SLOW_MODEL}")
    return initialized_workspace


def _slow_initializer(workspace: Workspace, project: Path, **options) -> tuple[AutoInitializer, EventRecorder]:
    recorder = EventRecorder()
    initializer = initializer_for(workspace, project_dir=project, on_progress=recorder, **options)
    # Warm-up outside the measured call: dbt's one-time parse of the variant project
    # must not eat the 2 s budget, which is meant for the slow model.
    initializer.dbt_runner.project_nodes()
    return initializer, recorder


def _assert_lock_is_free(workspace: Workspace) -> None:
    probe = filelock.FileLock(workspace.lock_path, fallback_to_soft=False)
    probe.acquire(blocking=False)  # raises filelock.Timeout if still held
    probe.release()
    # dbt's DuckDB connection was released too, not leaked by the interrupted run.
    assert_database_free_for_other_processes(workspace.database_path)


def _assert_slow_model_was_stopped_while_running(recorder: EventRecorder) -> None:
    assert SLOW_MODEL in [e.node_name for e in recorder.of_type(NodeStarted)], "the slow model never started"
    finished = [e for e in recorder.of_type(NodeFinished) if e.node_name == SLOW_MODEL]
    assert all(e.status != "success" for e in finished), "the slow model ran to completion"


def _heal_with_the_real_project(workspace: Workspace) -> None:
    result = initializer_for(workspace, timeout_seconds=60).ensure_initialized()
    assert result.state is InitializationState.COMPLETED
    assert result.tables_created == [SLOW_MODEL]


@pytest.mark.dbt
def test_point7_timeout_cancels_the_running_model_and_the_retry_heals(
    damaged_workspace: Workspace, slow_project: Path
) -> None:
    """Point 7 and 14: timeout_seconds=2 stops the running query; lock free; a normal retry completes."""
    initializer, recorder = _slow_initializer(damaged_workspace, slow_project, timeout_seconds=2)

    started = time.monotonic()
    with pytest.raises(InitializationTimeoutError) as raised:
        initializer.ensure_initialized()
    elapsed = time.monotonic() - started

    assert elapsed < 5.0
    assert raised.value.timeout_seconds == 2
    assert 2.0 <= raised.value.elapsed_seconds < 5.0
    assert_remediation(raised.value)
    _assert_slow_model_was_stopped_while_running(recorder)
    [finished] = recorder.of_type(InitializationFinished)
    assert finished.result.state is InitializationState.FAILED
    [failed_step] = [e for e in recorder.of_type(StepFinished) if not e.success]
    assert failed_step.step_name == "build_foundation"
    assert "timeout" in failed_step.error
    assert failed_step.remediation == raised.value.remediation
    _assert_lock_is_free(damaged_workspace)
    _heal_with_the_real_project(damaged_workspace)


@pytest.mark.dbt
def test_point7_timeout_also_stops_work_started_from_a_worker_thread(
    damaged_workspace: Workspace, slow_project: Path
) -> None:
    """Point 7: a deadline in a non-main thread cancels the running queries.

    A signal cannot wake a non-main thread blocked on dbt's job queue; the deadline cancels
    the running queries instead (e.g. a widget running initialization in a thread).
    """
    initializer, recorder = _slow_initializer(damaged_workspace, slow_project, timeout_seconds=2)
    outcome: dict[str, object] = {}

    def work() -> None:
        started = time.monotonic()
        try:
            initializer.ensure_initialized()
        except BaseException as error:
            outcome["error"] = error
        outcome["elapsed"] = time.monotonic() - started

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(timeout=60)

    assert not worker.is_alive()
    assert isinstance(outcome.get("error"), InitializationTimeoutError), outcome
    assert outcome["elapsed"] < 5.0
    _assert_slow_model_was_stopped_while_running(recorder)
    _assert_lock_is_free(damaged_workspace)
    _heal_with_the_real_project(damaged_workspace)


@pytest.mark.dbt
def test_point7_kernel_interrupt_mid_dbt_ends_cleanly_and_propagates(
    damaged_workspace: Workspace, slow_project: Path
) -> None:
    """Point 7: SIGINT while dbt runs raises KeyboardInterrupt promptly and the next call heals.

    SIGINT is what Ctrl-C and Jupyter's stop button send to the kernel; the run is
    reported cancelled and the lock freed.
    """
    initializer, recorder = _slow_initializer(damaged_workspace, slow_project, timeout_seconds=60)
    interrupts: list[threading.Timer] = []

    def interrupt_once_the_slow_model_runs(event: object) -> None:
        if isinstance(event, NodeStarted) and event.node_name == SLOW_MODEL:
            timer = threading.Timer(0.5, os.kill, args=(os.getpid(), signal.SIGINT))
            interrupts.append(timer)
            timer.start()

    initializer.subscribe(interrupt_once_the_slow_model_runs)

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        initializer.ensure_initialized()
    elapsed = time.monotonic() - started

    assert len(interrupts) == 1
    assert elapsed < 10.0, "the interrupt waited for the slow query instead of cancelling it"
    _assert_slow_model_was_stopped_while_running(recorder)
    [finished] = recorder.of_type(InitializationFinished)
    assert finished.cancelled
    assert finished.result.state is InitializationState.FAILED
    [failed_step] = [e for e in recorder.of_type(StepFinished) if not e.success]
    assert failed_step.step_name == "build_foundation"
    assert failed_step.error == "cancelled"
    _assert_lock_is_free(damaged_workspace)
    _heal_with_the_real_project(damaged_workspace)


def test_timeout_during_dbts_first_import_leaves_the_process_able_to_heal(workspace: Workspace, run_python) -> None:
    # A fresh interpreter, so dbt is imported (seconds) inside the deadline: the import
    # must finish before the interrupt lands, or dbt stays half-imported in the process.
    script = f"""
from planalign_orchestrator.exceptions import InitializationTimeoutError
from planalign_orchestrator.factory import create_orchestrator
from planalign_orchestrator.workspace import Workspace

workspace = Workspace.open({str(workspace.root)!r})
try:
    orchestrator = create_orchestrator(workspace.config, initializer_options={{"timeout_seconds": 0.5}})
    orchestrator.auto_initializer.ensure_initialized()
except InitializationTimeoutError as error:
    print("timed out after", round(error.elapsed_seconds, 1))
result = create_orchestrator(workspace.config).auto_initializer.ensure_initialized()
print("healed", result.state.value, len(result.tables_created))
"""
    completed = run_python(script, timeout=180)

    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "timed out after" in completed.stdout
    assert "healed completed 10" in completed.stdout
