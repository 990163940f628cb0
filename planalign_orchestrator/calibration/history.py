"""A census history: two or more dated censuses of one workforce, read, validated and matched by id.

Each snapshot is a census file (CSV or Parquet, the census columns, plus an optional
`termination_reason`) whose name carries its date: an ISO date (`census_2025-12-31.csv`)
or a year alone (`2025.csv`, read as 31 December). A snapshot lists everyone employed
at some point in the period it closes: the active (no termination date) and those who
left since the previous snapshot, with their termination date. Snapshots are given as
a folder (every .csv/.parquet file directly in it, ordered by date) or as files in
date order.

Refused before anything is derived, naming the file and the rows: a file whose name
carries no date, two files of one date, files given out of date order, a single
snapshot, every census problem (duplicate ids, unparsable dates, unknown levels, ...),
a row dated after its snapshot's date, a birth date that changes between snapshots,
and an employee whom a later snapshot shows as having left before an earlier one, or
as active again after leaving (the signs of snapshots out of order or misdated).

From consecutive snapshots (an interval from date S to date E), as the engine measures
a year (tenure on the day after S, age on E):
- the experienced at risk: active on S; each either stays, leaves (by the reason the
  later snapshot gives: termination, retirement or reduction in force; without a
  reason column every leaver is a termination), or is missing from the later snapshot
  (a leaver of unknown date and reason, counted as a termination);
- promotions (a higher level on E), raises (pay on E over pay on S, not promoted) and
  deferral changes of those present in both;
- hires: hired after S (with their termination date if they left by E, and their
  deferral rate on E); and headcount on S and E.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planalign_orchestrator.census import census_reader_sql, validate_census
from planalign_orchestrator.database import DatabaseConnectionManager
from planalign_orchestrator.exceptions import CensusValidationError, HistoryValidationError

SNAPSHOT_SUFFIXES = (".csv", ".parquet", ".pq")
REASON_COLUMN = "termination_reason"
# The engine's own separation types (fct_workforce_snapshot.termination_reason).
REASONS = ("termination", "retirement", "reduction_in_force", "new_hire", "census")
_ISO_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")
_SAMPLE = 5
_NAMING = "Name each snapshot by its date, e.g. census_2025-12-31.csv (or 2025.csv for 31 December 2025)."


@dataclass(frozen=True)
class Snapshot:
    """One census of the history: its file, the date it describes and its number of rows."""

    path: Path
    as_of: date
    rows: int = 0

    @property
    def name(self) -> str:
        return self.path.name


def snapshot_date(path: Path) -> date:
    """The date a snapshot's file name carries (an ISO date, or a year meaning 31 December); refused otherwise."""
    stem = path.name
    found = _ISO_DATE.search(stem)
    if found:
        try:
            return date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
        except ValueError:
            raise HistoryValidationError(
                path, f"its name holds {found.group(0)!r}, which is not a date", remediation=_NAMING
            ) from None
    years = _YEAR.findall(stem)
    if len(years) == 1:
        return date(int(years[0]), 12, 31)
    raise HistoryValidationError(
        path,
        "the snapshot's date cannot be read from its file name"
        + (f" (it holds several years: {', '.join(years)})" if years else ""),
        remediation=_NAMING,
    )


def history_files(source: Path | str | Sequence[Path | str]) -> list[Snapshot]:
    """The snapshots of a folder (by date) or of files given in date order; refused when there are fewer than two."""
    given = [Path(source)] if isinstance(source, str | Path) else [Path(item) for item in source]
    if not given:
        raise HistoryValidationError(Path("."), "no census history was given", remediation=_ONE_PER_DATE)
    if len(given) == 1 and given[0].is_dir():
        folder = given[0]
        files = sorted(path for path in folder.iterdir() if path.is_file() and path.suffix.lower() in SNAPSHOT_SUFFIXES)
        snapshots = sorted((Snapshot(path, snapshot_date(path)) for path in files), key=lambda s: s.as_of)
        where = folder
    else:
        for path in given:
            if not path.is_file():
                raise HistoryValidationError(
                    path,
                    "the file does not exist" if not path.is_dir() else "a folder among files",
                    remediation="Give one folder holding the snapshots, or the snapshot files themselves.",
                )
        snapshots = [Snapshot(path, snapshot_date(path)) for path in given]
        where = given[0].parent
        for before, after in pairwise(snapshots):
            if after.as_of < before.as_of:
                raise HistoryValidationError(
                    after.path,
                    f"snapshots out of order: {after.name} ({after.as_of}) is given after {before.name} "
                    f"({before.as_of})",
                    remediation="Give the snapshot files in date order (or give their folder, which is read in "
                    "date order).",
                )
    for before, after in pairwise(snapshots):
        if after.as_of == before.as_of:
            raise HistoryValidationError(
                after.path, f"two snapshots of {after.as_of}: {before.name} and {after.name}", remediation=_ONE_PER_DATE
            )
    if len(snapshots) < 2:
        found = f"only {snapshots[0].name}" if snapshots else "no .csv or .parquet file"
        raise HistoryValidationError(
            where,
            f"a census history needs at least two dated snapshots; found {found}",
            remediation="Add the census of at least one other date (e.g. the year-end before), named by its date.",
        )
    return snapshots


_ONE_PER_DATE = "Keep one census per date, named by its date (e.g. census_2025-12-31.csv)."


@dataclass(frozen=True)
class CensusHistory:
    """Validated snapshots and their rows (one row per employee and snapshot)."""

    snapshots: tuple[Snapshot, ...]
    rows: pd.DataFrame
    has_reasons: bool

    @property
    def dates(self) -> list[date]:
        return [snapshot.as_of for snapshot in self.snapshots]

    @property
    def span(self) -> str:
        return f"{self.snapshots[0].as_of} .. {self.snapshots[-1].as_of}"

    def describe(self) -> str:
        employees = self.rows["employee_id"].nunique()
        return f"{len(self.snapshots)} snapshots ({self.span}), {employees:,} employees"

    @cached_property
    def experience(self) -> Experience:
        return derive_experience(self)


def load_history(source: Path | str | Sequence[Path | str], *, job_levels_csv: Path | None = None) -> CensusHistory:
    """Read and validate a census history (see the module); HistoryValidationError names the file and rows."""
    snapshots = history_files(source)
    checked = []
    for snapshot in snapshots:
        try:
            rows = validate_census(
                snapshot.path,
                snapshot.as_of.year + 1,
                job_levels_csv=job_levels_csv,
                known_extra_columns=(REASON_COLUMN,),
            )
        except HistoryValidationError:
            raise
        except CensusValidationError as error:
            raise HistoryValidationError(
                snapshot.path, f"{error.problem} (snapshot of {snapshot.as_of})", offending_rows=error.offending_rows
            ) from None
        checked.append(Snapshot(snapshot.path, snapshot.as_of, rows))
    with DatabaseConnectionManager.in_memory() as conn:
        has_reasons = _load(conn, checked)
        _check_rows(conn, checked, has_reasons)
        frame = conn.execute(
            "select snapshot, line, employee_id, birth, hire, termination, level, compensation, deferral, reason "
            "from history order by snapshot, line"
        ).df()
    frame.columns = pd.Index(
        [
            "snapshot",
            "line",
            "employee_id",
            "birth_date",
            "hire_date",
            "termination_date",
            "level_id",
            "compensation",
            "deferral_rate",
            "termination_reason",
        ]
    )
    for column in ("birth_date", "hire_date", "termination_date"):
        frame[column] = pd.to_datetime(frame[column])
    return CensusHistory(tuple(checked), frame, has_reasons)


def _load(conn: Any, snapshots: Sequence[Snapshot]) -> bool:
    """Every snapshot's rows, typed, into one table `history`; whether every file has a termination_reason column."""
    with_reasons = []
    selects = []
    for index, snapshot in enumerate(snapshots):
        reader = census_reader_sql(snapshot.path)
        columns = {
            name for (name,) in conn.execute(f"select column_name from (describe select * from {reader})").fetchall()
        }
        with_reasons.append(REASON_COLUMN in columns)
        reason = f"nullif(lower(trim(cast({REASON_COLUMN} as varchar))), '')" if REASON_COLUMN in columns else "null"
        selects.append(
            f"""select {index} as snapshot, date '{snapshot.as_of.isoformat()}' as as_of,
                   row_number() over () + 1 as line,
                   trim(cast(employee_id as varchar)) as employee_id,
                   cast(birth_date as date) as birth,
                   cast(hire_date as date) as hire,
                   try_cast(nullif(trim(cast(termination_date as varchar)), '') as date) as termination,
                   cast(level_id as integer) as level,
                   cast(annual_compensation as double) as compensation,
                   coalesce(try_cast(nullif(trim(cast(deferral_rate as varchar)), '') as double), 0) as deferral,
                   cast({reason} as varchar) as reason
               from {reader}"""
        )
    conn.execute("create temp table history as " + " union all ".join(selects))
    return all(with_reasons)


def _check_rows(conn: Any, snapshots: Sequence[Snapshot], has_reasons: bool) -> None:
    """The cross-row and cross-snapshot checks; the first problem found is raised with its file and rows."""
    checks: list[tuple[str, str, str]] = [
        (
            "a row is dated after the snapshot's own date {as_of} (hire or termination): are the snapshots "
            "out of order, or is the file misdated?",
            """select snapshot, line, employee_id, hire, termination from history
               where hire > as_of or termination > as_of order by snapshot, line""",
            "Correct the dates in these rows, or the date in the file's name.",
        ),
        (
            "an employee's birth_date differs from the earlier snapshot {earlier}",
            """select snapshot, line, employee_id, previous_birth, birth, previous_snapshot from (
                   select *, lag(birth) over w as previous_birth, lag(snapshot) over w as previous_snapshot
                   from history window w as (partition by employee_id order by snapshot)
               ) where previous_birth <> birth order by snapshot, line""",
            "An employee keeps one birth date: correct it in this file (or in the earlier one), or check that "
            "the employee_id is not reused for another person.",
        ),
        (
            "an employee active on {earlier_date} in {earlier} has left before that date here: "
            "are the snapshots out of order?",
            """select b.snapshot, b.line, b.employee_id, b.termination, a.snapshot from history as a
               inner join history as b on b.employee_id = a.employee_id and b.snapshot = a.snapshot + 1
                   and b.hire = a.hire
               where a.termination is null and b.termination <= a.as_of order by b.snapshot, b.line""",
            "Check the snapshots' dates (their file names) and the termination dates in these rows.",
        ),
        (
            "an employee who had left in {earlier} is active here again with the same hire_date: are the "
            "snapshots out of order?",
            """select b.snapshot, b.line, b.employee_id, a.termination, a.snapshot from history as a
               inner join history as b on b.employee_id = a.employee_id and b.snapshot > a.snapshot
                   and b.hire = a.hire
               where a.termination is not null and b.termination is null order by b.snapshot, b.line""",
            "Check the snapshots' dates (their file names); a rehire needs its new hire_date.",
        ),
    ]
    if has_reasons:
        allowed = ", ".join(REASONS)
        checks.insert(
            0,
            (
                f"termination_reason is not one of {allowed} (or empty)",
                f"""select snapshot, line, employee_id, reason from history
                    where reason is not null and reason not in ({", ".join(f"'{r}'" for r in REASONS)})
                    order by snapshot, line""",
                f"Use one of {allowed} in termination_reason, or leave it empty.",
            ),
        )
    for problem, sql, remediation in checks:
        offending = conn.execute(f"{sql} limit {_SAMPLE}").fetchall()
        if not offending:
            continue
        snapshot = snapshots[int(offending[0][0])]
        in_file = [row for row in offending if row[0] == offending[0][0]]
        earlier = snapshots[int(in_file[0][-1])] if "{earlier" in problem else None
        raise HistoryValidationError(
            snapshot.path,
            problem.format(
                as_of=snapshot.as_of,
                earlier=earlier.name if earlier else "",
                earlier_date=earlier.as_of if earlier else "",
            ),
            offending_rows=[_describe(row[:-1] if earlier else row) for row in in_file],
            remediation=remediation,
        )


def _describe(row: tuple[Any, ...]) -> str:
    """`line N: employee_id='X' (values)`, without the snapshot index (and the earlier one's, where named)."""
    _snapshot, line, employee_id, *values = row
    shown = ", ".join(str(value) for value in values if value is not None)
    return f"line {line}: employee_id={employee_id!r}" + (f" ({shown})" if shown else "")


# -- what consecutive snapshots show ----------------------------------------------------


@dataclass(frozen=True)
class Experience:
    """What the history shows, interval by interval (see the module).

    `experienced`: one row per employee at risk per interval (interval, year, exposure,
    employee_id, age, tenure, level_id, outcome, present, level_end, promoted, raise,
    deferral_start, deferral_end). `hires`: one row per hire (interval, year, hire_date,
    days_left, days_employed, left, level_id, deferral_rate). `headcount`: per interval
    (start, end, active_start, active_end, growth, years).
    """

    experienced: pd.DataFrame
    hires: pd.DataFrame
    headcount: pd.DataFrame


def years_between(start: pd.Series, end: date) -> pd.Series:
    """Completed whole years from each start date to `end` (the engine's age and service convention)."""
    before_birthday = (end.month * 100 + end.day) < (start.dt.month * 100 + start.dt.day)
    years: pd.Series = (end.year - start.dt.year - before_birthday.astype(int)).astype("int64")
    return years


def interval_years(start: date, end: date) -> float:
    """An interval's length in years: whole calendar years plus the days left over (31 Dec to 31 Dec is 1.0)."""
    whole = end.year - start.year
    try:
        anniversary = start.replace(year=start.year + whole)
    except ValueError:  # 29 February
        anniversary = start.replace(year=start.year + whole, day=28)
    if anniversary > end:
        whole -= 1
        try:
            anniversary = start.replace(year=start.year + whole)
        except ValueError:
            anniversary = start.replace(year=start.year + whole, day=28)
    return whole + (end - anniversary).days / 365.25


def derive_experience(history: CensusHistory) -> Experience:
    rows = history.rows
    experienced, hires, headcount = [], [], []
    for index, (start, end) in enumerate(pairwise(history.dates)):
        before = rows[(rows["snapshot"] == index) & rows["termination_date"].isna()]
        after = rows[rows["snapshot"] == index + 1]
        start_ts = pd.Timestamp(start)
        years = interval_years(start, end)
        joined = before.merge(after, on="employee_id", how="left", suffixes=("", "_end"))
        # the same employment in both snapshots (a later hire date is a rehire: the earlier one ended)
        present = joined["snapshot_end"].notna() & ~(joined["hire_date_end"] > start_ts)
        left = present & joined["termination_date_end"].notna()
        reason = joined["termination_reason_end"].where(present).fillna("termination")
        outcome = np.where(
            ~present,
            "unknown",
            np.where(left, reason.where(reason.isin(["retirement", "reduction_in_force"]), "termination"), "stay"),
        )
        level_end = joined["level_id_end"].where(present)
        promoted = present & (level_end > joined["level_id"])
        raised = present & (level_end == joined["level_id"]) & (joined["compensation"] > 0)
        experienced.append(
            pd.DataFrame(
                {
                    "interval": index,
                    "year": end.year,
                    "exposure": years,
                    "employee_id": joined["employee_id"],
                    "age": years_between(joined["birth_date"], end),
                    "tenure": years_between(joined["hire_date"], start + timedelta(days=1)),
                    "level_id": joined["level_id"].astype("int64"),
                    "outcome": outcome,
                    "present": present.to_numpy(),
                    "level_end": level_end,
                    "promoted": promoted.to_numpy(),
                    "raise": np.where(raised, joined["compensation_end"] / joined["compensation"] - 1, np.nan),
                    "deferral_start": joined["deferral_rate"],
                    "deferral_end": joined["deferral_rate_end"].where(present),
                }
            )
        )
        hired = after[after["hire_date"] > start_ts]
        end_ts = pd.Timestamp(end)
        last_day = hired["termination_date"].fillna(end_ts)
        hires.append(
            pd.DataFrame(
                {
                    "interval": index,
                    "year": end.year,
                    "employee_id": hired["employee_id"],
                    "hire_date": hired["hire_date"],
                    "days_left": (end_ts - hired["hire_date"]).dt.days + 1,
                    "days_employed": (last_day - hired["hire_date"]).dt.days + 1,
                    "left": hired["termination_date"].notna(),
                    "level_id": hired["level_id"].astype("int64"),
                    "deferral_rate": hired["deferral_rate"],
                }
            )
        )
        active_end = int((after["termination_date"].isna()).sum())
        headcount.append(
            {
                "interval": index,
                "start": start,
                "end": end,
                "years": years,
                "active_start": len(before),
                "active_end": active_end,
                "growth": (active_end / len(before)) ** (1 / years) - 1 if len(before) and years > 0 else np.nan,
            }
        )
    return Experience(
        pd.concat(experienced, ignore_index=True),
        pd.concat(hires, ignore_index=True),
        pd.DataFrame(headcount),
    )
