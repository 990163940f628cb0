"""A census that cannot be simulated is refused before anything builds on it."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from planalign_orchestrator.census import validate_census
from planalign_orchestrator.census_generator import generate_census, write_census
from planalign_orchestrator.exceptions import CensusValidationError, InitializationError
from planalign_orchestrator.workspace import BUNDLED_CENSUS, Workspace


def _rewrite_census(path: Path, edit) -> None:
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    edit(rows)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _duplicate_id(rows: list[dict]) -> None:
    rows[7]["employee_id"] = rows[3]["employee_id"]


def _unparsable_birth_date(rows: list[dict]) -> None:
    rows[10]["birth_date"] = "31/02/1980"


def _missing_hire_date(rows: list[dict]) -> None:
    rows[11]["hire_date"] = ""


def _hire_before_birth(rows: list[dict]) -> None:
    rows[12]["hire_date"] = "1950-01-01"
    rows[12]["birth_date"] = "1960-01-01"


def _hire_after_start_year(rows: list[dict]) -> None:
    rows[13]["hire_date"] = "2031-06-01"


def _negative_compensation(rows: list[dict]) -> None:
    rows[14]["annual_compensation"] = "-5000"


BAD_CENSUSES = [
    pytest.param(_duplicate_id, "duplicate employee_id", "line 5", id="duplicate-id"),
    pytest.param(_unparsable_birth_date, "birth_date", "31/02/1980", id="unparsable-date"),
    pytest.param(_missing_hire_date, "hire_date", "line 13", id="missing-date"),
    pytest.param(_hire_before_birth, "hire_date before birth_date", "line 14", id="hire-before-birth"),
    pytest.param(_hire_after_start_year, "after the simulation start year", "2031-06-01", id="hire-after-start"),
    pytest.param(_negative_compensation, "negative", "-5000", id="negative-compensation"),
]


@pytest.mark.parametrize(("edit", "problem", "row_hint"), BAD_CENSUSES)
def test_bad_census_is_refused_listing_offending_rows(tmp_path: Path, edit, problem: str, row_hint: str) -> None:
    census = tmp_path / "census.csv"
    shutil.copyfile(BUNDLED_CENSUS, census)
    _rewrite_census(census, edit)

    with pytest.raises(CensusValidationError) as caught:
        validate_census(census, start_year=2025)

    message = str(caught.value)
    assert problem in message
    assert row_hint in message
    assert str(census) in message
    assert caught.value.offending_rows


@pytest.mark.parametrize(("edit", "problem", "row_hint"), BAD_CENSUSES)
def test_bad_census_stops_initialization_before_the_database_exists(
    workspace: Workspace, edit, problem: str, row_hint: str
) -> None:
    from planalign_orchestrator.dbt_runner import DbtRunner
    from planalign_orchestrator.factory import create_orchestrator

    _rewrite_census(workspace.config.census_path, edit)
    invocations = DbtRunner.invocation_count

    with pytest.raises(InitializationError) as caught:
        create_orchestrator(workspace.config).auto_initializer.ensure_initialized()

    assert isinstance(caught.value.original_error, CensusValidationError)
    assert problem in str(caught.value)
    assert caught.value.remediation
    assert DbtRunner.invocation_count == invocations
    assert not workspace.database_path.exists()


def test_bundled_census_is_valid() -> None:
    assert validate_census(BUNDLED_CENSUS, start_year=2025) == 5_000


def test_generated_census_is_deterministic_and_valid_as_parquet(tmp_path: Path) -> None:
    first, second = generate_census(2_000, seed=7), generate_census(2_000, seed=7)
    path = tmp_path / "census.parquet"

    write_census(first, path)

    assert first.equals(second)
    assert not first.equals(generate_census(2_000, seed=8))
    assert validate_census(path, start_year=2025) == 2_000


def test_bundled_census_is_reproducible_from_the_generator(tmp_path: Path) -> None:
    regenerated = tmp_path / "census.csv"

    write_census(generate_census(5_000, seed=42), regenerated)

    assert regenerated.read_bytes() == BUNDLED_CENSUS.read_bytes()


def test_bad_census_leaves_an_existing_database_byte_identical(initialized_workspace: Workspace) -> None:
    from planalign_orchestrator.database import DatabaseConnectionManager
    from planalign_orchestrator.factory import create_orchestrator

    DatabaseConnectionManager(initialized_workspace.database_path).execute("drop table main.int_employee_benefits")
    _rewrite_census(initialized_workspace.config.census_path, _negative_compensation)
    before = initialized_workspace.database_path.read_bytes()

    with pytest.raises(InitializationError, match="negative"):
        create_orchestrator(initialized_workspace.config).auto_initializer.ensure_initialized()

    assert initialized_workspace.database_path.read_bytes() == before
