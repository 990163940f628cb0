"""A year's figures from snapshot rows: what a backtest compares, computed the same way for history and simulation.

A backtest scores, per year: headcount at year end, hires, terminations (every leaver),
average pay and participation (the metrics model's figures: fct_year_metrics defines
them, and the simulated side reads them from it), the average deferral rate of the
participants, and the experienced leavers by tenure band and by age band. The history
has no metrics model, so `year_figures` computes each figure from a year's employee
rows with the metrics model's definitions (a test holds the two equal on simulated
rows); the breakdowns and the deferral rate, which the metrics model does not keep,
are computed by it for both sides.

A year's rows are everyone employed at some point in it: employee_id, birth_date,
hire_date, termination_date (null while active), compensation (annual pay at year end
or on leaving) and deferral_rate, with a random_seed column (0 for the history).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from planalign_orchestrator.calibration.expected import Bands
from planalign_orchestrator.calibration.results import DEFERRAL, MODEL_FIGURES


def year_figures(conn: Any, relation: str, year: int, tenure: Bands, age: Bands) -> pd.DataFrame:
    """One row per random_seed of `relation` (SQL naming a year's rows): every scored figure as a column."""
    year_start, year_end = f"make_date({int(year)}, 1, 1)", f"make_date({int(year)}, 12, 31)"
    active = "termination_date is null"
    totals = conn.execute(
        f"""
        select
            random_seed,
            count(*) filter (where {active}) as headcount_end,
            count(*) filter (where hire_date >= {year_start}) as hires,
            count(*) filter (where termination_date is not null) as terminations,
            cast(round(coalesce(sum(compensation) filter (where {active})
                                / nullif(count(*) filter (where {active}), 0), 0), 2) as double)
                as average_compensation,
            cast(count(*) filter (where {active} and deferral_rate > 0) as double)
                / nullif(count(*) filter (where {active}), 0) as participation_rate,
            cast(avg(deferral_rate) filter (where {active} and deferral_rate > 0) as double) as average_deferral_rate
        from {relation}
        group by random_seed
        order by random_seed
        """
    ).df()
    frame = totals.set_index("random_seed")
    for dimension, bands, value in (
        ("leavers_tenure", tenure, _years_between("hire_date", f"coalesce(termination_date, {year_end})")),
        ("leavers_age", age, _years_between("birth_date", year_end)),
    ):
        counts = conn.execute(
            f"""
            select random_seed, band, count(*) as leavers
            from (
                select random_seed, {_band_case(bands, value)} as band
                from {relation}
                where termination_date is not null and hire_date < {year_start}
            )
            where band is not null
            group by random_seed, band
            """
        ).df()
        wide = counts.pivot_table(index="random_seed", columns="band", values="leavers", aggfunc="sum")
        for label in bands.labels:
            column = f"{dimension}:{label}"
            frame[column] = wide[label].reindex(frame.index).fillna(0).astype("int64") if label in wide else 0
    result: pd.DataFrame = frame.reset_index()
    return result


def figure_names(tenure: Bands, age: Bands) -> list[str]:
    """Every scored figure, in the order a scorecard lists them."""
    return [
        *MODEL_FIGURES,
        DEFERRAL.column,
        *(f"leavers_tenure:{label}" for label in tenure.labels),
        *(f"leavers_age:{label}" for label in age.labels),
    ]


def _years_between(start: str, end: str) -> str:
    """The engine's completed-years rule (dbt macro years_between), in SQL."""
    return (
        f"(year({end}) - year({start}) - case when month({end}) * 100 + day({end}) "
        f"< month({start}) * 100 + day({start}) then 1 else 0 end)"
    )


def _band_case(bands: Bands, value: str) -> str:
    whens = " ".join(
        f"when {value} >= {low} and {value} < {high} then {_literal(label)}"
        for label, low, high in zip(bands.labels, bands.lower, bands.upper, strict=True)
    )
    return f"case {whens} end"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def history_year_rows(
    rows: pd.DataFrame, snapshots: Sequence[int], missing: pd.DataFrame, since: pd.Timestamp
) -> pd.DataFrame:
    """A history year's rows in the scored shape: the later snapshot's rows of the year, plus those missing from it.

    Rows of people who left on or before `since` (the earlier snapshot's date: an extract
    that still lists last year's leavers) are not the year's. Employees active in the
    earlier snapshot and absent from the later one left at an unknown date; they count
    as leavers on the later snapshot's date.
    """
    later = rows[rows["snapshot"].isin(snapshots)]
    later = later[later["termination_date"].isna() | (later["termination_date"] > since)]
    shaped = later[["employee_id", "birth_date", "hire_date", "termination_date", "compensation", "deferral_rate"]]
    return pd.concat([shaped, missing], ignore_index=True).assign(random_seed=0)
