"""The contract's exception classes keep their arguments and always show a remediation (point 14).

The behaviour tests (points 5-12) check the remediation of every error they provoke
for real; this file pins the contract's constructor signatures and attributes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from planalign_orchestrator.exceptions import (
    ConcurrentInitializationError,
    DatabaseCorruptionError,
    HookError,
    InitializationError,
    InitializationTimeoutError,
    NavigatorError,
)
from tests.support.helpers import assert_remediation


def test_point14_initialization_error_keeps_its_context() -> None:
    cause = OSError("disk full")

    error = InitializationError("seeds failed", step="load_seeds", missing_tables=["comp_levers"], original_error=cause)

    assert isinstance(error, NavigatorError)
    assert (error.step, error.missing_tables, error.original_error) == ("load_seeds", ["comp_levers"], cause)
    assert "load_seeds" in str(error)
    assert "comp_levers" in str(error)
    assert_remediation(error)


def test_point14_timeout_error_keeps_timeout_and_elapsed() -> None:
    error = InitializationTimeoutError(2.0, 2.04)

    assert isinstance(error, InitializationError)
    assert (error.timeout_seconds, error.elapsed_seconds) == (2.0, 2.04)
    assert "--timeout" in error.remediation
    assert_remediation(error)


def test_point14_concurrent_error_keeps_the_lock_file(tmp_path: Path) -> None:
    lock = tmp_path / ".planalign_init.lock"

    error = ConcurrentInitializationError(lock)

    assert isinstance(error, InitializationError)
    assert error.lock_file == lock
    assert str(lock) in str(error)
    assert_remediation(error)


def test_point14_corruption_error_keeps_the_path_and_names_the_recreate_option(tmp_path: Path) -> None:
    db_path = tmp_path / "simulation.duckdb"
    cause = RuntimeError("not a valid DuckDB database file")

    error = DatabaseCorruptionError(db_path, original_error=cause)

    assert isinstance(error, InitializationError)
    assert (error.db_path, error.original_error) == (db_path, cause)
    assert "--recreate" in error.remediation
    assert "recreate_corrupt=True" in error.remediation
    assert_remediation(error)


@pytest.mark.parametrize(
    "cause",
    [InitializationError("census missing", remediation="Set paths.census."), ValueError("plain bug")],
    ids=["planalign-error", "plain-exception"],
)
def test_point14_hook_error_carries_a_remediation_whatever_its_cause(cause: Exception) -> None:
    error = HookError("auto_initialize", cause)

    assert error.original_error is cause
    assert_remediation(error)
    if isinstance(cause, NavigatorError):
        assert error.remediation == cause.remediation


def test_a_remedy_carries_the_call_that_fixes_the_error_and_the_terminal_keeps_its_wording(tmp_path: Path) -> None:
    error = DatabaseCorruptionError(tmp_path / "simulation.duckdb")

    assert (error.remedy.action, dict(error.remedy.options)) == ("initialize", {"recreate_corrupt": True})
    assert error.remedy.cli == "planalign init --recreate"
    assert error.remediation == error.remedy.for_terminal()
    assert error.remediation.startswith(
        "Run `planalign init --recreate` (or AutoInitializer(..., recreate_corrupt=True)): it moves the file aside"
    )
    assert error.remedy.render("`nb.initialize('ws', recreate_corrupt=True)`").startswith(
        "Run `nb.initialize('ws', recreate_corrupt=True)`: it moves the file aside"
    )


def test_a_plain_remediation_is_a_remedy_without_a_call_and_causes_pass_theirs_on() -> None:
    plain = NavigatorError("it broke", remediation="Fix it.")
    timeout = InitializationTimeoutError(2.0, 2.04)

    wrapped = InitializationError("seeds failed", original_error=timeout)
    hooked = HookError("auto_initialize", timeout)

    assert (plain.remedy.text, plain.remedy.action, plain.remediation) == ("Fix it.", None, "Fix it.")
    assert wrapped.remedy is timeout.remedy
    assert wrapped.remediation == timeout.remediation
    assert hooked.remedy is timeout.remedy
    assert hooked.remediation == timeout.remediation
    assert InitializationError("x").remedy.cli == "planalign init"


def test_a_quoted_message_ending_in_its_own_stop_gets_no_second_one(tmp_path: Path) -> None:
    cause = RuntimeError('IO Error: The file "x" exists, but it is not a valid DuckDB database file!')

    error = DatabaseCorruptionError(tmp_path / "simulation.duckdb", original_error=cause)

    assert "database file! It was left untouched." in error.message
    assert "!." not in error.message
