"""Reading simulation results back: per-year summaries, snapshots and events.

The yearly figures come from the metrics model (fct_year_metrics, read through
planalign_orchestrator.metrics), so every face (CLI table, notebook DataFrames and
plots, compare, ensembles) reports the same numbers; the per-employee tables are read
here as they are.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from planalign_orchestrator.config import BASELINE_SCENARIO
from planalign_orchestrator.database import DatabaseConnectionManager
from planalign_orchestrator.metrics import KEY_COLUMNS, SUMMARY_METRICS, read_year_metrics

if TYPE_CHECKING:
    import duckdb
    import pandas as pd  # imported where a DataFrame is built: the year loop itself never needs pandas


@dataclass(frozen=True)
class YearSummary:
    """One simulated year, as every face reports it: its row of fct_year_metrics.

    `metrics` holds every column of the metrics model (see planalign_orchestrator.metrics);
    the properties name the figures the engine and the faces word themselves.
    `terminations` counts every leaver: experienced (including census terminations),
    retirements, reductions in force and new-hire terminations.
    """

    year: int
    metrics: Mapping[str, Any]
    target_warning: str | None = None

    def __getitem__(self, column: str) -> Any:
        return self.metrics[column]

    def __getattr__(self, name: str) -> Any:
        """Any other metric of the model by name (year.retirements), as `year["retirements"]`."""
        metrics = self.__dict__.get("metrics")
        if metrics is None or name.startswith("__") or name not in metrics:
            raise AttributeError(f"{type(self).__name__!r} has no metric or attribute {name!r}")
        return metrics[name]

    @property
    def headcount_start(self) -> int:
        return int(self.metrics["headcount_start"])

    @property
    def headcount_end(self) -> int:
        return int(self.metrics["headcount_end"])

    @property
    def target_headcount(self) -> int:
        return int(self.metrics["target_headcount"])

    @property
    def hires(self) -> int:
        return int(self.metrics["hires"])

    @property
    def terminations(self) -> int:
        return int(self.metrics["terminations"])

    @property
    def promotions(self) -> int:
        return int(self.metrics["promotions"])

    @property
    def growth_rate(self) -> float:
        return float(self.metrics["growth_rate"])

    @property
    def target_growth_rate(self) -> float:
        return float(self.metrics["target_growth_rate"])

    @property
    def average_compensation(self) -> float:
        return float(self.metrics["average_compensation"])

    @property
    def employee_contributions(self) -> float:
        return float(self.metrics["employee_contributions"])

    @property
    def employer_contributions(self) -> float:
        return float(self.metrics["employer_contributions"])

    @property
    def irs_limits_estimated(self) -> bool:
        return bool(self.metrics["irs_limits_estimated"])

    @property
    def target_missed_by(self) -> int:
        """Active employees above (+) or below (-) the growth target at year end."""
        return self.headcount_end - self.target_headcount

    def figures(self) -> str:
        """The year in one line, as the terminal and the notebook's progress rows word it."""
        return (
            f"{self.headcount_start:,} -> {self.headcount_end:,} active ({self.growth_rate:+.2%}), "
            f"{self.hires:,} hires, {self.terminations:,} terminations"
        )


@dataclass(frozen=True)
class SimulationSummary:
    """Per-year results of one execute_multi_year_simulation() call.

    `stale_later_years` are years after the range, simulated before, that this run made
    stale (they were built on a year it re-simulated with other inputs): nothing
    refreshes them until the range is run through them, so every face says so.
    """

    years: tuple[YearSummary, ...]
    scenario: str = BASELINE_SCENARIO
    stale_later_years: tuple[int, ...] = ()

    @property
    def first_year(self) -> int:
        return self.years[0].year

    @property
    def last_year(self) -> int:
        return self.years[-1].year

    @property
    def warnings(self) -> list[str]:
        """What an analyst must not miss: missed growth targets, and later years this run made stale."""
        warnings = [y.target_warning for y in self.years if y.target_warning]
        if self.stale_later_years:
            warnings.append(self.stale_later_years_warning(self.refresh_command()))
        return warnings

    def stale_later_years_warning(self, command: str) -> str:
        """The stale-later-years warning with `command` (each face words the refresh its own way)."""
        years = self.stale_later_years
        named = f"{years[0]}" if len(years) == 1 else f"{years[0]}-{years[-1]}"
        return (
            f"{named} {'is' if len(years) == 1 else 'are'} now stale: simulated before on the earlier "
            f"{self.last_year} this run replaced. Run {command} to bring {'it' if len(years) == 1 else 'them'} "
            "up to date."
        )

    def refresh_command(self) -> str:
        """The terminal command that brings the stale later years up to date."""
        scenario = "" if self.scenario == BASELINE_SCENARIO else f" --scenario {self.scenario}"
        return f"`planalign simulate {self.first_year}-{self.stale_later_years[-1]}{scenario}`"

    @property
    def notes(self) -> list[str]:
        """Caveats on the figures: years whose IRS limits are projections, not published values."""
        estimated = [str(y.year) for y in self.years if y.irs_limits_estimated]
        if not estimated:
            return []
        return [
            f"IRS limits for {', '.join(estimated)} are estimates, projected from the last published year "
            "at plan.irs_indexing_rate."
        ]

    def to_dataframe(self) -> pd.DataFrame:
        """One row per year (index `year`), a column per metric of fct_year_metrics."""
        from planalign_orchestrator.metrics import metrics_frame

        rows = [
            {"scenario_id": self.scenario, "random_seed": 0, "simulation_year": y.year, **y.metrics} for y in self.years
        ]
        frame = metrics_frame(rows).drop(columns=["scenario_id", "random_seed"])
        return frame.rename(columns={"simulation_year": "year"}).set_index("year")

    def __len__(self) -> int:
        return len(self.years)

    def __str__(self) -> str:
        header = (
            f"{'year':>6} {'start':>7} {'end':>7} {'hires':>6} {'terms':>6} {'promos':>6} "
            f"{'growth':>7} {'avg comp':>10} {'ee contrib':>12} {'er contrib':>12}"
        )
        rows = [
            f"{y.year:>6} {y.headcount_start:>7,} {y.headcount_end:>7,} {y.hires:>6,} "
            f"{y.terminations:>6,} {y.promotions:>6,} {y.growth_rate:>7.2%} "
            f"{y.average_compensation:>10,.0f} {y.employee_contributions:>12,.0f} "
            f"{y.employer_contributions:>12,.0f}"
            for y in self.years
        ]
        return "\n".join(
            [header, *rows, *(f"Warning: {w}" for w in self.warnings), *(f"Note: {n}" for n in self.notes)]
        )

    def _repr_html_(self) -> str:
        """Transposed (a row per figure, a column per year) and formatted, so it fits a notebook."""
        head = "".join(f"<th style='text-align:right'>{y.year}</th>" for y in self.years)
        body = "".join(
            f"<tr class='planalign-metric-{metric.column}'><td style='text-align:left'>{html.escape(metric.label)}</td>"
            + "".join(
                f"<td style='text-align:right'>{html.escape(metric.format(y[metric.column]))}</td>" for y in self.years
            )
            + "</tr>"
            for metric in SUMMARY_METRICS
        )
        remarks = [("warning", "Warning", w) for w in self.warnings] + [("note", "Note", n) for n in self.notes]
        return (
            f"<div class='planalign-summary'><b>Simulation summary</b><table><tr><th></th>{head}</tr>{body}</table>"
            + "".join(
                f"<p class='planalign-{kind}'><b>{label}:</b> {html.escape(text)}</p>" for kind, label, text in remarks
            )
            + "</div>"
        )


def year_summaries(
    db: DatabaseConnectionManager,
    scenario: str,
    first: int,
    last: int,
    *,
    conn: duckdb.DuckDBPyConnection | None = None,
) -> dict[int, YearSummary]:
    """The summaries of a scenario's years first..last, from fct_year_metrics (one query; on `conn` if given)."""
    summaries = {}
    for row in read_year_metrics(db, [scenario], first, last, conn=conn):
        year = int(str(row["simulation_year"]))
        values = {name: value for name, value in row.items() if name not in KEY_COLUMNS}
        summary = YearSummary(year, values)
        summaries[year] = replace(summary, target_warning=_target_warning(summary))
    return summaries


def _target_warning(year: YearSummary) -> str | None:
    """Why a year ended off its growth target, in the analyst's terms, or None when it did not."""
    missed = year.target_missed_by
    if missed == 0:
        return None
    reached = (
        f"{year.year}: growth target missed by {abs(missed):,} employees: {year.target_headcount:,} active "
        f"planned ({year.target_growth_rate:+.2%}), {year.headcount_end:,} reached ({year.growth_rate:+.2%})"
    )
    if missed > 0 and not year["allow_layoffs"]:
        return (
            f"{reached}. Attrition left more people than the target and workforce.allow_layoffs is false, "
            "so nobody was laid off. Set workforce.allow_layoffs: true for reductions in force, "
            "or choose a growth target attrition can reach."
        )
    return f"{reached}."


def workforce_snapshot(
    db: DatabaseConnectionManager, years: Sequence[int] | None = None, scenario: str = BASELINE_SCENARIO
) -> pd.DataFrame:
    return _by_years(db, "fct_workforce_snapshot", years, scenario, "simulation_year, employee_id")


def yearly_events(
    db: DatabaseConnectionManager, years: Sequence[int] | None = None, scenario: str = BASELINE_SCENARIO
) -> pd.DataFrame:
    return _by_years(db, "fct_yearly_events", years, scenario, "simulation_year, employee_id, event_type")


def _by_years(
    db: DatabaseConnectionManager, table: str, years: Sequence[int] | None, scenario: str, order: str
) -> pd.DataFrame:
    where = "where scenario_id = ?"
    params: list[object] = [scenario]
    if years:
        where += " and simulation_year in (" + ", ".join("?" for _ in years) + ")"
        params += [int(y) for y in years]
    with db.connection(read_only=True) as conn:
        return conn.execute(f"select * from main.{table} {where} order by {order}", params).df()
