"""A census history simulated from known assumptions: test data whose truth is known.

`planalign census history` generates a census (census_generator), simulates it for a
number of years with the engine itself, under the default config plus the overrides
given (the "known assumptions"), in a scratch workspace, and writes what an HR system
would have kept: one census per year end, `census_<YYYY>-12-31.<csv|parquet>`, with
the census columns plus termination_reason (the first, the generated census, dated the
31 December before the first simulated year). Each year-end census lists the year's
whole population: the active, and those who left in the year with their termination
date and reason.

Beside the snapshots, `generator/` keeps the truth a fit should recover:
`assumptions.yaml` (the overrides and the effective tables) and `hazards.parquet`, one
row per employee at risk per year with the model's own retirement and termination
probabilities (int_yearly_experienced_changes), so a test can compute the generating
rate of any cell exactly. The history loader reads only files directly in the folder,
so `generator/` is never taken for a snapshot.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from planalign_orchestrator.assumption_tables import ASSUMPTION_TABLES, table_labels
from planalign_orchestrator.census_generator import generate_census
from planalign_orchestrator.config import CONFIG_FILE_NAME, MAX_YEAR, MIN_YEAR, default_config_yaml
from planalign_orchestrator.database import DatabaseConnectionManager
from planalign_orchestrator.exceptions import ConfigurationError
from planalign_orchestrator.factory import create_orchestrator
from planalign_orchestrator.progress import ProgressObserver
from planalign_orchestrator.scenarios import ScenarioStore
from planalign_orchestrator.workspace import Workspace

GENERATING_SCENARIO = "generating"
TRUTH_FOLDER = "generator"
FORMATS = ("csv", "parquet")
MAX_EMPLOYEES = 2_000_000
MAX_YEARS = 50


@dataclass(frozen=True, repr=False)
class GeneratedHistory:
    """A generated census history: its snapshot files and where the generating truth is kept."""

    folder: Path
    snapshots: tuple[Path, ...]
    employees: int
    first_year: int
    last_year: int
    seed: int
    overrides: Mapping[str, Any]

    @property
    def assumptions_path(self) -> Path:
        return self.folder / TRUTH_FOLDER / "assumptions.yaml"

    @property
    def hazards_path(self) -> Path:
        return self.folder / TRUTH_FOLDER / "hazards.parquet"

    def __repr__(self) -> str:
        return str(self)

    def __str__(self) -> str:
        known = ", ".join(f"{key}={value!r}" for key, value in self.overrides.items()) or "the default config"
        return (
            f"Census history of {self.employees:,} employees, {self.first_year}-{self.last_year} "
            f"({len(self.snapshots)} year-end snapshots, seed {self.seed}) in {self.folder.name}/, "
            f"simulated with {known}; the generating truth is in {TRUTH_FOLDER}/."
        )


def generate_history(
    out: Path | str,
    *,
    employees: int,
    years: int,
    seed: int = 42,
    first_year: int = 2025,
    overrides: Mapping[str, Any] | None = None,
    file_format: str = "csv",
    on_progress: ProgressObserver | None = None,
) -> GeneratedHistory:
    """Simulate `years` years of a generated census from known assumptions and write its year-end censuses."""
    folder = Path(out).expanduser().resolve()
    known = dict(overrides or {})
    _check_request(folder, employees, years, first_year, file_format)
    scratch = Path(tempfile.mkdtemp(prefix="planalign-history-"))
    try:
        config = _generating_config(scratch, employees, seed, first_year, first_year + years - 1, known)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / TRUTH_FOLDER).mkdir(exist_ok=True)
        first = _write_start(config.census_path, folder / f"census_{first_year - 1}-12-31.{file_format}")
        snapshots = [first]
        orchestrator = create_orchestrator(config)
        if on_progress is not None:
            orchestrator.subscribe(on_progress)
        db = DatabaseConnectionManager(config.database_path)
        hazards = []
        for year in range(first_year, first_year + years):
            orchestrator.execute_multi_year_simulation(year, year)
            target = folder / f"census_{year}-12-31.{file_format}"
            with db.connection(read_only=True) as conn:
                _copy(conn, _snapshot_sql(year), target)
                hazards.append(conn.execute(_HAZARDS_SQL, [seed]).df().assign(year=year))
        import pandas as pd

        truth = pd.concat(hazards, ignore_index=True)
        truth.to_parquet(folder / TRUTH_FOLDER / "hazards.parquet", index=False)
        snapshots.extend(
            folder / f"census_{year}-12-31.{file_format}" for year in range(first_year, first_year + years)
        )
        result = GeneratedHistory(folder, tuple(snapshots), employees, first_year, first_year + years - 1, seed, known)
        _write_truth(result, config)
        return result
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _check_request(folder: Path, employees: int, years: int, first_year: int, file_format: str) -> None:
    if not 0 < employees <= MAX_EMPLOYEES:
        raise ConfigurationError(
            f"the number of employees must be between 1 and {MAX_EMPLOYEES:,} (got {employees})",
            remediation="Pass e.g. --employees 20000.",
        )
    if not 1 <= years <= MAX_YEARS:
        raise ConfigurationError(
            f"the number of simulated years must be between 1 and {MAX_YEARS} (got {years})",
            remediation="Pass e.g. --years 5 (five year-ends after the starting census).",
        )
    if not MIN_YEAR + 1 <= first_year <= MAX_YEAR - years + 1:
        raise ConfigurationError(
            f"the first simulated year must let every year lie in {MIN_YEAR + 1}-{MAX_YEAR} (got {first_year})",
            remediation="Pass e.g. --first-year 2025.",
        )
    if file_format not in FORMATS:
        raise ConfigurationError(
            f"unknown snapshot format {file_format!r}", remediation="Pass --format csv or --format parquet."
        )
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ConfigurationError(
            f"{folder} exists and is not an empty folder; a history is never written over files",
            remediation="Give a new or empty folder, e.g. --out history_2.",
        )


def _generating_config(
    scratch: Path, employees: int, seed: int, first_year: int, last_year: int, overrides: Mapping[str, Any]
) -> Any:
    """The scratch workspace's config: the default, the years and seed asked for, and the known assumptions."""
    raw = yaml.safe_load(default_config_yaml())
    raw["simulation"].update({"start_year": first_year, "end_year": last_year, "random_seed": seed})
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / CONFIG_FILE_NAME).write_text(yaml.safe_dump(raw, sort_keys=False))
    census = generate_census(employees, seed, as_of=date(first_year, 1, 1))
    from planalign_orchestrator.census_generator import write_census

    write_census(census, scratch / "census.csv")
    store = ScenarioStore(Workspace.open(scratch, create=False))
    return store.validate(GENERATING_SCENARIO, overrides)


def _snapshot_sql(year: int) -> str:
    return f"""
        select
            employee_id,
            birth_date,
            hire_date,
            termination_date,
            level_id,
            compensation as annual_compensation,
            deferral_rate,
            termination_reason
        from main.fct_workforce_snapshot
        where scenario_id = '{GENERATING_SCENARIO}' and simulation_year = {int(year)}
        order by employee_id
    """


_HAZARDS_SQL = """
    select
        employee_id,
        tenure_at_start,
        age,
        starting_level_id as level_id,
        retirement_probability,
        termination_probability,
        separation_type
    from main.int_yearly_experienced_changes
    where random_seed = ?
    order by employee_id
"""


def _write_start(census: Path, target: Path) -> Path:
    """The generated census as the first snapshot, with an empty termination_reason column."""
    with DatabaseConnectionManager.in_memory() as conn:
        literal = "'" + str(census).replace("'", "''") + "'"
        _copy(
            conn,
            f"select *, cast(null as varchar) as termination_reason from read_csv({literal}, header = true, "
            "all_varchar = true)",
            target,
        )
    return target


def _copy(conn: Any, select_sql: str, target: Path) -> None:
    literal = "'" + str(target).replace("'", "''") + "'"
    options = "(format parquet)" if target.suffix == ".parquet" else "(header, delimiter ',')"
    conn.execute(f"copy ({select_sql}) to {literal} {options}")


def _write_truth(result: GeneratedHistory, config: Any) -> None:
    """generator/assumptions.yaml: what the history was simulated with, tables spelled out by seed row."""
    from planalign_orchestrator.calibration.expected import CurrentAssumptions

    current = CurrentAssumptions.of(config)
    tables = {
        table.name: dict(zip(table_labels(table), values, strict=True))
        for table, values in (
            (ASSUMPTION_TABLES[0], current.tenure.values),
            (ASSUMPTION_TABLES[1], current.age.values),
            (ASSUMPTION_TABLES[2], current.level_factors),
            (ASSUMPTION_TABLES[3], current.retirement_rates),
        )
    }
    content = {
        "employees": result.employees,
        "seed": result.seed,
        "years": [result.first_year, result.last_year],
        "overrides": dict(result.overrides),
        "workforce": config.workforce.model_dump(mode="json"),
        "tables": {name: {str(k): float(v) for k, v in rows.items()} for name, rows in tables.items()},
    }
    result.assumptions_path.write_text(
        "# The known assumptions this census history was simulated with (planalign census history).\n"
        + yaml.safe_dump(content, sort_keys=False)
    )
