"""Census validation: refuse a census that cannot be simulated, before dbt builds on it.

Checks run in an in-memory DuckDB over the file itself, so the simulation database is
never touched by a bad census, and each problem lists the first offending rows. What
the staging model would read differently from what the user meant (ids equal once
trimmed, a level the config does not know, a rate of 150%) is refused here too: dbt
would accept it and quietly produce a wrong simulation.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from pathlib import Path
from typing import Any

from planalign_orchestrator.database import DatabaseConnectionManager, is_interrupt
from planalign_orchestrator.exceptions import CensusValidationError

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = (
    "employee_id",
    "birth_date",
    "hire_date",
    "termination_date",
    "level_id",
    "annual_compensation",
    "deferral_rate",
)
# Optional columns the simulation reads when present: scheduled hours (annual_hours wins
# over standard_weekly_hours; without either, 190 hours per month employed) and the
# account balances by source on the start date (zero when absent), and who owns part of
# the employer (ownership_share, 0.05 is 5%) or is an officer: the 5% owners are highly
# compensated whatever their pay (IRC 414(q)(1)(A)), and owners and officers may be key
# employees for the top-heavy test (IRC 416(i)(1)); absent, nobody is.
HOURS_COLUMNS = ("annual_hours", "standard_weekly_hours")
BALANCE_COLUMNS = ("deferral_balance", "roth_balance", "match_balance", "nonelective_balance")
OWNERSHIP_COLUMNS = ("ownership_share", "is_officer")
OPTIONAL_COLUMNS = (*HOURS_COLUMNS, *BALANCE_COLUMNS, *OWNERSHIP_COLUMNS)
# A year has at most 366 x 24 hours; a week 7 x 24.
MAX_ANNUAL_HOURS = 8784
MAX_WEEKLY_HOURS = 168
_SAMPLE = 5


def census_reader_sql(census_path: Path) -> str:
    """A DuckDB table function reading the census as text columns, with the path safely quoted."""
    literal = "'" + str(census_path).replace("'", "''") + "'"
    if census_path.suffix.lower() in {".parquet", ".pq"}:
        return f"read_parquet({literal})"
    return f"read_csv({literal}, header = true, all_varchar = true)"


def validate_census(
    census_path: Path,
    start_year: int,
    *,
    job_levels_csv: Path | None = None,
    known_extra_columns: Collection[str] = (),
) -> int:
    """Raise CensusValidationError for the first problem found; return the row count.

    `job_levels_csv` is the config_job_levels seed; when given, every level_id must be
    one of its levels. `known_extra_columns` are read by the caller (a census history's
    termination_reason), so they are not reported as ignored.
    """
    census_path = Path(census_path)
    if not census_path.is_file():
        raise CensusValidationError(
            census_path,
            "the file does not exist",
            remediation="Set paths.census in simulation_config.yaml to an existing CSV or Parquet file.",
        )
    with DatabaseConnectionManager.in_memory() as conn:
        columns = _read_columns(conn, census_path)
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise CensusValidationError(
                census_path,
                f"missing column(s) {', '.join(missing)}; found {', '.join(columns)}",
                remediation=f"Add the column(s) {', '.join(missing)} to {census_path} (header names are "
                "case-sensitive; termination_date and deferral_rate may be left empty in each row).",
            )
        extra = [
            c
            for c in columns
            if c not in REQUIRED_COLUMNS and c not in OPTIONAL_COLUMNS and c not in known_extra_columns
        ]
        if extra:
            logger.warning(
                "Census %s has column(s) the simulation does not use: %s. They are ignored.",
                census_path,
                ", ".join(extra),
            )
        absent_balances = [c for c in BALANCE_COLUMNS if c not in columns]
        if absent_balances:
            logger.warning(
                "Census %s has no %s column: %s start at zero on the start date.",
                census_path.name,
                " / ".join(absent_balances),
                "account balances" if len(absent_balances) == len(BALANCE_COLUMNS) else "those balances",
            )
        absent_ownership = [c for c in OWNERSHIP_COLUMNS if c not in columns]
        if absent_ownership:
            logger.warning(
                "Census %s has no %s column: nobody is taken to be %s. The nondiscrimination tests find "
                "highly compensated and key employees by pay alone; add the column(s) to name them.",
                census_path.name,
                " / ".join(absent_ownership),
                " or ".join(
                    {"ownership_share": "a 5% or 1% owner", "is_officer": "an officer"}[c] for c in absent_ownership
                ),
            )
        _create_typed_view(conn, job_levels_csv, [c for c in OPTIONAL_COLUMNS if c in columns])
        counted = conn.execute("select count(*) from census").fetchone()
        rows = int(counted[0]) if counted else 0
        if rows == 0:
            raise CensusValidationError(
                census_path,
                "it has a header but no employee rows",
                remediation=f"Fill {census_path} with the workforce (one row per employee), or generate one with "
                "`planalign census generate --employees 5000 --out census.csv`.",
            )
        for problem, sql in _row_checks(start_year, job_levels_csv) + _optional_checks(columns):
            offending = conn.execute(f"{sql} limit {_SAMPLE}").fetchall()
            if offending:
                raise CensusValidationError(
                    census_path,
                    problem,
                    offending_rows=[_describe(row) for row in offending],
                )
        active = conn.execute(
            "select count(*) from typed where hire < make_date(?, 1, 1) "
            "and (termination is null or termination >= make_date(?, 1, 1))",
            [int(start_year), int(start_year)],
        ).fetchone()
        if not active or active[0] == 0:
            raise CensusValidationError(
                census_path,
                f"nobody is active on {int(start_year)}-01-01, the simulation start (every employee is hired "
                "on or after it, or terminated before it)",
                remediation=f"Check the hire and termination dates in {census_path}, or set simulation.start_year "
                "in simulation_config.yaml to a year the census describes.",
            )
    return rows


def _read_columns(conn: Any, census_path: Path) -> list[str]:
    try:
        # Read (and sniffed) once: every check below scans this table, not the file.
        conn.execute(f"create temp table census as select * from {census_reader_sql(census_path)}")
        return [
            name
            for (name,) in conn.execute(
                "select column_name from information_schema.columns "
                "where table_name = 'census' order by ordinal_position"
            ).fetchall()
        ]
    except Exception as exc:  # DuckDB's reader errors name the line; keep them
        if is_interrupt(exc):
            raise KeyboardInterrupt from exc
        raise CensusValidationError(census_path, f"the file cannot be read: {exc}") from exc


def _create_typed_view(conn: Any, job_levels_csv: Path | None, optional: list[str]) -> None:
    """The census with each value as written and as parsed; optional columns only where present."""
    levels = (
        f"select distinct try_cast(level_id as integer) as level_id from {census_reader_sql(job_levels_csv)}"
        if job_levels_csv is not None
        else "select null::integer as level_id where false"
    )
    conn.execute(f"create temp table known_levels as {levels}")
    optional_values = "".join(_optional_values(column) for column in optional)
    conn.execute(
        f"""
        create temp table typed as
        select row_number() over () + 1 as line,
               cast(employee_id as varchar) as employee_id,
               trim(cast(employee_id as varchar)) as trimmed_id,
               cast(birth_date as varchar) as birth_date, try_cast(birth_date as date) as birth,
               cast(hire_date as varchar) as hire_date, try_cast(hire_date as date) as hire,
               nullif(trim(cast(termination_date as varchar)), '') as termination_date,
               try_cast(nullif(trim(cast(termination_date as varchar)), '') as date) as termination,
               cast(level_id as varchar) as level_id, try_cast(level_id as integer) as level,
               cast(annual_compensation as varchar) as annual_compensation,
               try_cast(annual_compensation as double) as comp,
               nullif(trim(cast(deferral_rate as varchar)), '') as deferral_rate,
               try_cast(nullif(trim(cast(deferral_rate as varchar)), '') as double) as deferral{optional_values}
        from census
        """
    )


def _optional_values(column: str) -> str:
    """An optional column as written (empty = not given) and parsed, for the typed view."""
    text = f"nullif(trim(cast({column} as varchar)), '')"
    return f",\n               {text} as {column}, try_cast({text} as double) as {column}_value"


def _optional_checks(columns: list[str]) -> list[tuple[str, str]]:
    """Checks of the optional columns present, each with the rule its values must meet.

    Hours inside a year or a week, balances a non-negative amount, an ownership share
    between 0 and 1, an officer flag true or false.
    """
    bounds = {"annual_hours": MAX_ANNUAL_HOURS, "standard_weekly_hours": MAX_WEEKLY_HOURS}
    checks = []
    for column in OPTIONAL_COLUMNS:
        if column not in columns:
            continue
        upper = bounds.get(column)
        if column == "is_officer":
            checks.append(
                (
                    "is_officer is not true or false (also accepted: 1/0, yes/no; empty means false)",
                    "select line, employee_id, is_officer from typed where is_officer is not null "
                    "and try_cast(is_officer as boolean) is null order by line",
                )
            )
            continue
        if column == "ownership_share":
            problem = "ownership_share outside 0-1 or unparsable (0.05 is 5% of the employer; empty means 0)"
            bad = "ownership_share_value < 0 or ownership_share_value > 1"
        elif upper is not None:
            per = "a year" if column == "annual_hours" else "a week"
            problem = f"{column} outside 0-{upper:,} or unparsable (hours {per}; empty: 190 hours per month employed)"
            bad = f"{column}_value < 0 or {column}_value > {upper}"
        else:
            problem = f"{column} negative or unparsable (dollars on the start date; empty means 0)"
            bad = f"{column}_value < 0"
        sql = (
            f"select line, employee_id, {column} from typed where {column} is not null "
            f"and ({column}_value is null or not isfinite({column}_value) or {bad}) order by line"
        )
        checks.append((problem, sql))
    return checks


def _row_checks(start_year: int, job_levels_csv: Path | None) -> list[tuple[str, str]]:
    checks: list[tuple[str, str]] = [
        (
            "missing employee_id",
            "select line, employee_id from typed where trimmed_id is null or trimmed_id = '' order by line",
        ),
        (
            "duplicate employee_id (compared without surrounding spaces)",
            """select line, employee_id from typed
               where trimmed_id in (select trimmed_id from typed group by 1 having count(*) > 1)
               order by trimmed_id, line""",
        ),
        (
            "missing or unparsable birth_date (expected YYYY-MM-DD)",
            "select line, employee_id, birth_date from typed where birth is null order by line",
        ),
        (
            "missing or unparsable hire_date (expected YYYY-MM-DD)",
            "select line, employee_id, hire_date from typed where hire is null order by line",
        ),
        (
            "unparsable termination_date (expected YYYY-MM-DD, or empty for an active employee)",
            "select line, employee_id, termination_date from typed "
            "where termination_date is not null and termination is null order by line",
        ),
        (
            "hire_date before birth_date",
            "select line, employee_id, birth_date, hire_date from typed where hire < birth order by line",
        ),
        (
            f"hire_date after the simulation start year {start_year}",
            f"select line, employee_id, hire_date from typed where year(hire) > {int(start_year)} order by line",
        ),
        (
            "missing or non-integer level_id",
            "select line, employee_id, level_id from typed where level is null order by line",
        ),
        *(
            [
                (
                    f"level_id not among the job levels of the config_job_levels seed ({job_levels_csv})",
                    "select line, employee_id, level_id from typed "
                    "where level is not null and level not in (select level_id from known_levels) order by line",
                )
            ]
            if job_levels_csv is not None
            else []
        ),
        (
            "negative or unparsable annual_compensation",
            "select line, employee_id, annual_compensation from typed "
            "where comp is null or comp < 0 or not isfinite(comp) order by line",
        ),
        (
            "deferral_rate outside [0, 1] or unparsable (a fraction: 0.06 means 6%; empty means 0)",
            "select line, employee_id, deferral_rate from typed where deferral_rate is not null "
            "and (deferral is null or not isfinite(deferral) or deferral < 0 or deferral > 1) order by line",
        ),
    ]
    return checks


def _describe(row: tuple[Any, ...]) -> str:
    line, employee_id, *values = row
    shown = ", ".join(repr(v) for v in values)
    return f"line {line}: employee_id={employee_id!r}" + (f" ({shown})" if shown else "")
