"""The yearly metrics: how each column of the fct_year_metrics model is labelled, formatted and read.

The figures themselves are defined once, in SQL, by the dbt model fct_year_metrics;
the run summary, compare, the Excel exports and the seed ensembles all read that
table through `read_year_metrics`. This catalogue only says how a face shows a column
("$1,234,567", "3.00%"), and which columns are the key figures that comparisons and
ensemble bands lead with. A new plan rule adds its column to the model and a Metric
here; a test keeps the two in step.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from planalign_orchestrator.database import DatabaseConnectionManager

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

METRICS_MODEL = "fct_year_metrics"
KEY_COLUMNS = ("scenario_id", "random_seed", "simulation_year")
MetricKind = Literal["count", "money", "fraction", "flag"]


@dataclass(frozen=True)
class Metric:
    """A column of fct_year_metrics as every face shows it.

    `kind`: a count, money, a fraction (0.03 is 3%) or a flag (true/false). `key`
    metrics lead comparisons and ensemble views; `summary` metrics are the rows of a
    run's summary.
    """

    column: str
    label: str
    kind: MetricKind
    key: bool = False
    summary: bool = True

    @property
    def numeric(self) -> bool:
        return self.kind != "flag"

    def format(self, value: float | None) -> str:
        if value is None or value != value:  # None or NaN
            return "–"
        if self.kind == "fraction":
            return f"{value:.2%}"
        if self.kind == "money":
            return f"${value:,.0f}"
        if self.kind == "flag":
            return "yes" if value else "no"
        return f"{value:,.0f}"

    def format_delta(self, absolute: float | None, relative: float | None) -> str:
        if absolute is None or absolute != absolute:
            return "–"
        if self.kind == "fraction":
            return f"{absolute * 100:+.2f} pp"
        text = f"{'+' if absolute >= 0 else '-'}{'$' if self.kind == 'money' else ''}{abs(absolute):,.0f}"
        if relative is not None and relative == relative:
            text += f" ({relative:+.1%})"
        return text


# In the order an analyst reads a year.
METRICS: tuple[Metric, ...] = (
    Metric("headcount_start", "Active on Jan 1", "count"),
    Metric("headcount_end", "Headcount (active at year end)", "count", key=True),
    Metric("target_headcount", "Growth target (active at year end)", "count"),
    Metric("growth_rate", "Growth", "fraction"),
    Metric("target_growth_rate", "Growth target", "fraction", summary=False),
    Metric("hires", "Hires", "count", key=True),
    Metric("terminations", "Terminations (all leavers)", "count", key=True, summary=False),
    Metric("experienced_terminations", "Experienced terminations", "count"),
    Metric("retirements", "Retirements", "count"),
    Metric("reductions_in_force", "Reductions in force", "count"),
    Metric("new_hire_terminations", "New-hire terminations", "count"),
    Metric("promotions", "Promotions", "count"),
    Metric("promotions_raised_to_minimum", "Promotions topped up to the range minimum", "count"),
    Metric("deferral_escalations", "Deferral escalations", "count"),
    Metric("total_compensation", "Total pay (annual, active)", "money", key=True),
    Metric("average_compensation", "Average pay (active)", "money"),
    Metric("participants", "Participants (active, enrolled)", "count", summary=False),
    Metric("participation_rate", "Participation (active, enrolled)", "fraction", key=True),
    Metric("employee_contributions", "Employee contributions", "money", key=True),
    Metric("employer_contributions", "Employer contributions", "money", key=True),
    Metric("employer_cost_rate", "Employer cost (% of pay)", "fraction", key=True),
    Metric("catch_up_pre_tax", "Catch-up, pre-tax", "money"),
    Metric("catch_up_roth", "Catch-up, Roth", "money"),
    Metric("allow_layoffs", "Layoffs allowed", "flag", summary=False),
    Metric("irs_limits_estimated", "IRS limits estimated", "flag", summary=False),
    # The plan as sponsors run it: eligibility, forfeitures, account balances.
    Metric("eligible_headcount", "Eligible to defer (active)", "count"),
    Metric("eligible_participation_rate", "Participation among the eligible", "fraction"),
    Metric("forfeitures", "Forfeitures (non-vested, of leavers)", "money", key=True),
    Metric("forfeitures_used", "Forfeitures used (last year's)", "money"),
    Metric("employer_contributions_net", "Employer contributions net of forfeitures", "money", key=True),
    Metric("investment_return", "Investment return", "fraction"),
    Metric("investment_earnings", "Investment earnings", "money"),
    Metric("distributions", "Distributions (cash-outs and payouts)", "money"),
    Metric("total_plan_assets", "Total plan assets (year end)", "money", key=True),
    Metric("average_balance", "Average account balance", "money"),
    # Employer contribution designs and their true cost.
    Metric("match_contributions", "Match (true-up included)", "money"),
    Metric("true_up_contributions", "Match true-up at year end", "money"),
    Metric("core_contributions", "Core (non-elective) contributions", "money"),
    Metric("eligible_compensation", "Eligible pay (for employer money)", "money"),
    Metric("net_employer_cost_rate", "Net employer cost (% of eligible pay)", "fraction", key=True),
    Metric("credited_participants", "Participants credited (deferral or employer money)", "count", summary=False),
    Metric("cost_per_participant", "Net employer cost per participant credited", "money"),
    Metric("is_safe_harbor", "Safe harbor plan", "flag", summary=False),
    # Nondiscrimination tests (fct_compliance): margins are limit minus the HCE figure, negative fails.
    Metric("hce_count", "Highly compensated employees (HCEs)", "count", summary=False),
    Metric("key_employee_count", "Key employees", "count", summary=False),
    Metric("adp_hce_average", "ADP, HCEs", "fraction", summary=False),
    Metric("adp_nhce_average", "ADP, NHCEs", "fraction", summary=False),
    Metric("adp_limit", "ADP limit for HCEs", "fraction", summary=False),
    Metric("adp_margin", "ADP margin", "fraction", summary=False),
    Metric("adp_fail", "ADP test fails", "flag", summary=False),
    Metric("adp_excess", "ADP excess refunded to HCEs", "money", summary=False),
    Metric("adp_qnec_cost", "QNEC to pass ADP instead", "money", summary=False),
    Metric("acp_hce_average", "ACP, HCEs", "fraction", summary=False),
    Metric("acp_nhce_average", "ACP, NHCEs", "fraction", summary=False),
    Metric("acp_limit", "ACP limit for HCEs", "fraction", summary=False),
    Metric("acp_margin", "ACP margin", "fraction", summary=False),
    Metric("acp_fail", "ACP test fails", "flag", summary=False),
    Metric("acp_excess", "ACP excess refunded to HCEs", "money", summary=False),
    Metric("acp_qmac_cost", "QMAC to pass ACP instead", "money", summary=False),
    Metric("coverage_ratio", "Coverage ratio (410(b), lower of the two)", "fraction", summary=False),
    Metric("coverage_margin", "Coverage margin", "fraction", summary=False),
    Metric("coverage_fail", "Coverage test fails", "flag", summary=False),
    Metric("key_employee_share", "Key employees' share of balances", "fraction", summary=False),
    Metric("top_heavy", "Top-heavy", "flag", summary=False),
    Metric("top_heavy_minimum_cost", "Top-heavy minimum contribution owed", "money", summary=False),
)
KEY_METRICS: tuple[Metric, ...] = tuple(metric for metric in METRICS if metric.key)
SUMMARY_METRICS: tuple[Metric, ...] = tuple(metric for metric in METRICS if metric.summary)
NUMERIC_METRICS: tuple[Metric, ...] = tuple(metric for metric in METRICS if metric.numeric)
_BY_COLUMN = {metric.column: metric for metric in METRICS}
_DTYPES = {"count": "int64", "flag": "bool"}


def metric(column: str) -> Metric:
    """The catalogue entry of a column; KeyError naming the known columns otherwise."""
    try:
        return _BY_COLUMN[column]
    except KeyError:
        raise KeyError(f"unknown metric {column!r}; one of: {', '.join(_BY_COLUMN)}") from None


def read_year_metrics(
    db: DatabaseConnectionManager,
    scenarios: Sequence[str],
    first: int,
    last: int,
    *,
    conn: duckdb.DuckDBPyConnection | None = None,
) -> list[dict[str, object]]:
    """The fct_year_metrics rows of these scenarios and years, by scenario, seed and year (on `conn` when given)."""
    with nullcontext(conn) if conn is not None else db.connection(read_only=True) as conn:
        cursor = conn.execute(
            f"select * from main.{METRICS_MODEL} where scenario_id in (select unnest($scenarios)) "
            "and simulation_year between $first and $last order by scenario_id, random_seed, simulation_year",
            {"scenarios": list(scenarios), "first": first, "last": last},
        )
        names = [column[0] for column in cursor.description]
        return [{name: _plain(value) for name, value in zip(names, row, strict=True)} for row in cursor.fetchall()]


def _plain(value: object) -> object:
    """Money arrives as Decimal: the faces format, chart and export floats."""
    return float(value) if isinstance(value, Decimal) else value


def metrics_frame(rows: Sequence[dict[str, object]]) -> pd.DataFrame:
    """fct_year_metrics rows as a DataFrame: its key columns, then every metric with its dtype."""
    import pandas as pd

    frame = pd.DataFrame(list(rows), columns=[*KEY_COLUMNS, *(m.column for m in METRICS)])
    frame[["random_seed", "simulation_year"]] = frame[["random_seed", "simulation_year"]].astype("int64")
    return typed_metrics(frame)


def typed_metrics(frame: pd.DataFrame) -> pd.DataFrame:
    """The metric columns present in `frame` with their catalogue dtypes: counts int64, flags bool, else float64.

    The same whether the figures were just computed or read back from a store.
    """
    dtypes = {m.column: _DTYPES.get(m.kind, "float64") for m in METRICS if m.column in frame}
    return frame.astype(dtypes)
