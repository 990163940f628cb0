"""Census data dbt would accept but simulate wrongly is refused first (issue 15, defect 6).

Each bad census meets a workspace whose foundation must be rebuilt (its seeds are
loaded, its foundation tables dropped): validation refuses it before dbt runs, names
the rows or the column, and the database file stays byte-identical.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from planalign_orchestrator.dbt_runner import DbtRunner
from planalign_orchestrator.exceptions import CensusValidationError, InitializationError
from planalign_orchestrator.workspace import Workspace
from tests.support.helpers import REQUIRED_FOUNDATION, execute, initializer_for, query, sha256

Rows = list[dict[str, str]]


def _rewrite_census(path: Path, edit: Callable[[Rows], Rows | None]) -> None:
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    fieldnames = list(rows[0])
    edited = edit(rows)
    rows = rows if edited is None else edited
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else fieldnames)
        writer.writeheader()
        writer.writerows(rows)


def _ids_equal_once_trimmed(rows: Rows) -> None:
    rows[7]["employee_id"] = f"  {rows[3]['employee_id']} "


def _unknown_level(rows: Rows) -> None:
    rows[20]["level_id"] = "99"


def _deferral_above_one(rows: Rows) -> None:
    rows[30]["deferral_rate"] = "1.5"


def _header_only(rows: Rows) -> Rows:
    return []


def _hours_beyond_a_year(rows: Rows) -> Rows:
    return [{**row, "annual_hours": "9000" if index == 40 else "2080"} for index, row in enumerate(rows)]


def _weekly_hours_beyond_a_week(rows: Rows) -> Rows:
    return [{**row, "standard_weekly_hours": "200" if index == 41 else ""} for index, row in enumerate(rows)]


def _negative_balance(rows: Rows) -> Rows:
    return [{**row, "match_balance": "-25.00" if index == 42 else "1000.00"} for index, row in enumerate(rows)]


def _nobody_active_at_start(rows: Rows) -> None:
    for row in rows:
        row["termination_date"] = "2024-06-30"


BAD_CENSUSES = [
    pytest.param(_ids_equal_once_trimmed, "duplicate employee_id", "line 9", id="ids-equal-once-trimmed"),
    pytest.param(_unknown_level, "level_id not among the job levels", "'99'", id="unknown-level"),
    pytest.param(_deferral_above_one, "deferral_rate outside [0, 1]", "'1.5'", id="deferral-above-one"),
    pytest.param(_header_only, "no employee rows", "header", id="header-only"),
    pytest.param(_nobody_active_at_start, "nobody is active on 2025-01-01", "termination dates", id="nobody-active"),
    pytest.param(_hours_beyond_a_year, "annual_hours outside 0-8,784", "line 42", id="hours-beyond-a-year"),
    pytest.param(
        _weekly_hours_beyond_a_week, "standard_weekly_hours outside 0-168", "'200'", id="weekly-hours-beyond-a-week"
    ),
    pytest.param(_negative_balance, "match_balance negative", "line 44", id="negative-balance"),
]


@pytest.fixture
def foundation_to_rebuild(initialized_workspace: Workspace) -> Workspace:
    execute(initialized_workspace.database_path, *(f"drop table main.{name}" for name in REQUIRED_FOUNDATION))
    return initialized_workspace


@pytest.mark.parametrize(("edit", "problem", "hint"), BAD_CENSUSES)
def test_bad_census_is_refused_before_dbt_and_the_database_stays_byte_identical(
    foundation_to_rebuild: Workspace, edit, problem: str, hint: str
) -> None:
    workspace = foundation_to_rebuild
    _rewrite_census(workspace.config.census_path, edit)
    digest = sha256(workspace.database_path)
    invocations = DbtRunner.invocation_count

    with pytest.raises(InitializationError) as caught:
        initializer_for(workspace).ensure_initialized()

    assert isinstance(caught.value.original_error, CensusValidationError)
    assert problem in str(caught.value)
    assert hint in str(caught.value)
    assert DbtRunner.invocation_count == invocations
    assert sha256(workspace.database_path) == digest


@pytest.mark.dbt
def test_extra_census_columns_are_ignored_with_a_note_naming_them(
    foundation_to_rebuild: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    workspace = foundation_to_rebuild

    def add_columns(rows: Rows) -> Rows:
        return [{**row, "department": "Finance", "cost center": "C-17"} for row in rows]

    _rewrite_census(workspace.config.census_path, add_columns)

    with caplog.at_level(logging.WARNING, logger="planalign_orchestrator.census"):
        result = initializer_for(workspace).ensure_initialized()

    assert result.success, result
    assert result.tables_created == REQUIRED_FOUNDATION
    assert "department, cost center" in caplog.text
    assert "ignored" in caplog.text
    assert query(workspace.database_path, "select count(*) from main.int_baseline_workforce") == [(5_000,)]
