"""Census validation: refuse a census that cannot be simulated, before dbt builds on it.

Checks run in an in-memory DuckDB over the file itself, so the simulation database is
never touched by a bad census, and each problem lists the first offending rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from planalign_orchestrator.database import DatabaseConnectionManager
from planalign_orchestrator.exceptions import CensusValidationError

REQUIRED_COLUMNS = (
    "employee_id",
    "birth_date",
    "hire_date",
    "level_id",
    "annual_compensation",
    "deferral_rate",
)
_SAMPLE = 5


def census_reader_sql(census_path: Path) -> str:
    """A DuckDB table function reading the census as text columns, with the path safely quoted."""
    literal = "'" + str(census_path).replace("'", "''") + "'"
    if census_path.suffix.lower() == ".parquet":
        return f"read_parquet({literal})"
    return f"read_csv({literal}, header = true, all_varchar = true)"


def validate_census(census_path: Path, start_year: int) -> int:
    """Raise CensusValidationError for the first problem found; return the row count."""
    census_path = Path(census_path)
    if not census_path.is_file():
        raise CensusValidationError(
            census_path,
            "the file does not exist",
            remediation="Set paths.census in simulation_config.yaml to an existing CSV or Parquet file.",
        )
    with DatabaseConnectionManager.in_memory() as conn:
        try:
            conn.execute(f"create temp view census as select * from {census_reader_sql(census_path)}")
            columns = {
                name
                for (name,) in conn.execute(
                    "select column_name from information_schema.columns where table_name = 'census'"
                ).fetchall()
            }
        except Exception as exc:  # DuckDB's reader errors name the line; keep them
            raise CensusValidationError(census_path, f"the file cannot be read: {exc}") from exc
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise CensusValidationError(
                census_path,
                f"missing column(s) {', '.join(missing)}; found {', '.join(sorted(columns))}",
            )
        conn.execute(
            """
            create temp view typed as
            select row_number() over () + 1 as line, employee_id::varchar as employee_id,
                   birth_date, try_cast(birth_date as date) as birth,
                   hire_date, try_cast(hire_date as date) as hire,
                   annual_compensation, try_cast(annual_compensation as double) as comp
            from census
            """
        )
        checks = (
            (
                "duplicate employee_id",
                """select line, employee_id from typed
                   where employee_id in (select employee_id from typed group by 1 having count(*) > 1)
                   order by employee_id, line""",
            ),
            (
                "missing employee_id",
                "select line, employee_id from typed where employee_id is null or trim(employee_id) = ''",
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
                "hire_date before birth_date",
                "select line, employee_id, birth_date, hire_date from typed where hire < birth order by line",
            ),
            (
                f"hire_date after the simulation start year {start_year}",
                f"select line, employee_id, hire_date from typed where year(hire) > {int(start_year)} order by line",
            ),
            (
                "negative or unparsable annual_compensation",
                "select line, employee_id, annual_compensation from typed where comp is null or comp < 0 order by line",
            ),
        )
        for problem, sql in checks:
            rows = conn.execute(f"{sql} limit {_SAMPLE}").fetchall()
            if rows:
                raise CensusValidationError(
                    census_path,
                    problem,
                    offending_rows=[_describe(row) for row in rows],
                )
        counted = conn.execute("select count(*) from census").fetchone()
    return int(counted[0]) if counted else 0


def _describe(row: tuple[Any, ...]) -> str:
    line, employee_id, *values = row
    shown = ", ".join(repr(v) for v in values)
    return f"line {line}: employee_id={employee_id!r}" + (f" ({shown})" if shown else "")
