"""Synthetic employee census for examples, tests and benchmarks.

Real census files hold personal data, so the product ships a generated one
(``planalign_orchestrator/data/example_census.csv``, 5,000 employees, seed 42) and
benchmarks generate larger ones on the fly. The output has exactly the columns the
dbt staging model ``stg_census`` reads:

    employee_id, birth_date, hire_date, termination_date, level_id,
    annual_compensation, deferral_rate

and, when a share of the workforce is part-time, the optional column annual_hours
(2,080 for full-time staff; part-timers between 400 and 1,400 hours, so some reach the
1,000-hour year of service, some only the 500 hours of the long-term part-time rule and
some neither). Without part-timers the column is left out and the census is the same,
byte for byte, as before the option existed.

Generation is vectorised with numpy (100k rows well under a second) and deterministic:
the same ``employees``/``seed``/``as_of`` always give the same frame.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from planalign_orchestrator.census import REQUIRED_COLUMNS
from planalign_orchestrator.database import DatabaseConnectionManager
from planalign_orchestrator.exceptions import ConfigurationError
from planalign_orchestrator.workspace import dbt_project_dir

CENSUS_COLUMNS = REQUIRED_COLUMNS

# Share of the workforce per level: a typical pyramid (45% staff ... 3% VP).
LEVEL_MIX: tuple[float, ...] = (0.45, 0.28, 0.16, 0.08, 0.03)
# Seniority goes with age and service: mean age and mean tenure (years) per level.
_MEAN_AGE_BY_LEVEL = np.array([34.0, 39.0, 44.0, 48.0, 52.0])
_MEAN_TENURE_BY_LEVEL = np.array([3.5, 5.5, 7.5, 9.5, 11.0])
_AGE_SD = 9.0
_MIN_AGE, _MAX_AGE = 20.0, 66.0
_DAYS_PER_YEAR = 365.25
# Hire no earlier than the day after the 18th birthday (18 calendar years <= 6575 days).
_MIN_AGE_AT_HIRE_DAYS = 6576

PARTICIPATION_RATE = 0.80
# Deferral rates cluster at round numbers, the common auto-enrollment default (3%) and
# the match cap (6%), as in real plans.
_DEFERRAL_RATES = np.round(np.arange(0.02, 0.151, 0.01), 2)
_DEFERRAL_WEIGHTS = np.array([4, 12, 8, 10, 22, 6, 8, 3, 10, 2, 4, 1, 1, 9], dtype=float)
FULL_TIME_HOURS = 2080
PART_TIME_HOURS = (400, 1400)
HOURS_COLUMN = "annual_hours"


def generate_census(
    employees: int, seed: int, as_of: date = date(2025, 1, 1), *, part_time_share: float = 0.0
) -> pd.DataFrame:
    """Return a census of ``employees`` active employees as of ``as_of``.

    Deterministic for a given (employees, seed, as_of, part_time_share) via
    ``numpy.random.default_rng``; every employee is active (empty termination_date), was
    hired before ``as_of`` and after turning 18, is 20-66 years old and paid inside the
    level's salary range. With ``part_time_share`` above 0 that share (drawn per
    employee) is part-time and the census gets an annual_hours column; the draws come
    after all the others, so the other columns do not change.
    """
    if not 0.0 <= part_time_share <= 1.0:
        raise ValueError(f"part_time_share must be between 0 and 1, got {part_time_share}")
    if employees < 0:
        raise ValueError(f"employees must be >= 0, got {employees}")
    rng = np.random.default_rng(seed)
    n = int(employees)
    as_of_day = np.datetime64(as_of, "D")

    level_index = rng.choice(len(LEVEL_MIX), size=n, p=np.array(LEVEL_MIX) / sum(LEVEL_MIX))
    level_id = (level_index + 1).astype(np.int64)

    # Age in days at as_of; the clip keeps completed age inside [20, 66].
    age_years = np.clip(rng.normal(_MEAN_AGE_BY_LEVEL[level_index], _AGE_SD), _MIN_AGE, _MAX_AGE + 0.99)
    age_days = np.floor(age_years * _DAYS_PER_YEAR).astype(np.int64)
    birth_date = as_of_day - age_days

    # Service: exponential (many short tenures, a long tail), bounded by age at hire >= 18.
    tenure_years = rng.exponential(_MEAN_TENURE_BY_LEVEL[level_index])
    max_tenure_days = age_days - _MIN_AGE_AT_HIRE_DAYS
    tenure_days = np.clip(np.floor(tenure_years * _DAYS_PER_YEAR).astype(np.int64), 1, max_tenure_days)
    hire_date = as_of_day - tenure_days

    ranges = _level_compensation_ranges()
    low, high = ranges[level_index, 0], ranges[level_index, 1]
    # Beta(2, 3): most people sit in the lower half of their range.
    position = rng.beta(2.0, 3.0, size=n)
    compensation = np.clip(np.round(low + position * (high - low), 2), low, high)

    participating = rng.random(n) < PARTICIPATION_RATE
    rates = rng.choice(_DEFERRAL_RATES, size=n, p=_DEFERRAL_WEIGHTS / _DEFERRAL_WEIGHTS.sum())
    deferral_rate = np.where(participating, rates, 0.0)

    frame = pd.DataFrame(
        {
            "employee_id": pd.Series(
                np.char.add("EMP", np.char.zfill(np.arange(1, n + 1).astype(str), 6)), dtype=object
            ),
            "birth_date": pd.Series(birth_date.astype("datetime64[s]")),
            "hire_date": pd.Series(hire_date.astype("datetime64[s]")),
            "termination_date": pd.Series(np.full(n, np.datetime64("NaT"), dtype="datetime64[s]")),
            "level_id": level_id,
            "annual_compensation": compensation,
            "deferral_rate": np.round(deferral_rate, 4),
        },
        columns=list(CENSUS_COLUMNS),
    )
    if part_time_share > 0:
        part_time = rng.random(n) < part_time_share
        part_time_hours = rng.integers(PART_TIME_HOURS[0], PART_TIME_HOURS[1] + 1, size=n)
        frame[HOURS_COLUMN] = np.where(part_time, part_time_hours, FULL_TIME_HOURS).astype(np.int64)
    return frame


def write_census(df: pd.DataFrame, path: Path) -> None:
    """Write a census as CSV (``.csv``) or Parquet (``.parquet``), as stg_census reads it.

    CSV uses ISO dates, an empty termination_date for active employees and two-decimal
    money. Parquet is written by an in-memory DuckDB with DATE/DECIMAL types, matching
    what stg_census casts to.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ConfigurationError(
            f"census output {path} must end with .csv or .parquet",
            remediation="Pass --out census.csv or --out census.parquet.",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    hours = [HOURS_COLUMN] if HOURS_COLUMN in df.columns else []
    frame = df.loc[:, [*CENSUS_COLUMNS, *hours]]

    if suffix == ".csv":
        out = pd.DataFrame(
            {
                "employee_id": frame["employee_id"].astype(str),
                "birth_date": _iso_dates(frame["birth_date"]),
                "hire_date": _iso_dates(frame["hire_date"]),
                "termination_date": _iso_dates(frame["termination_date"]),
                "level_id": frame["level_id"].astype("int64"),
                "annual_compensation": frame["annual_compensation"].map("{:.2f}".format),
                "deferral_rate": frame["deferral_rate"].map(_format_rate),
                **{column: frame[column].astype("int64") for column in hours},
            }
        )
        out.to_csv(path, index=False, lineterminator="\n")
        return

    with DatabaseConnectionManager.in_memory() as con:
        con.register("census_frame", frame)
        target = "'" + str(path).replace("'", "''") + "'"
        con.execute(
            f"""
            copy (
                select
                    cast(employee_id as varchar) as employee_id,
                    cast(birth_date as date) as birth_date,
                    cast(hire_date as date) as hire_date,
                    cast(termination_date as date) as termination_date,
                    cast(level_id as integer) as level_id,
                    cast(annual_compensation as decimal(14, 2)) as annual_compensation,
                    cast(deferral_rate as decimal(7, 4)) as deferral_rate{"".join(f", {c}" for c in hours)}
                from census_frame
            ) to {target} (format parquet)
            """
        )


def _level_compensation_ranges() -> np.ndarray:
    """[min, max] pay per level, read from the dbt seed so the two can never disagree."""
    levels = pd.read_csv(dbt_project_dir() / "seeds" / "config_job_levels.csv").sort_values("level_id")
    if len(levels) != len(LEVEL_MIX):
        raise ValueError(f"config_job_levels has {len(levels)} levels; LEVEL_MIX has {len(LEVEL_MIX)}")
    return levels[["min_compensation", "max_compensation"]].to_numpy(dtype=float)


def _iso_dates(values: pd.Series) -> pd.Series:
    """YYYY-MM-DD strings; missing dates become empty strings (active employees)."""
    dates = pd.to_datetime(values)
    return dates.dt.strftime("%Y-%m-%d").fillna("")


def _format_rate(value: float) -> str:
    """Shortest exact decimal for a rate (0.06, 0.035), and '0' for non-participants."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return text or "0"
