"""What the calibration returns, for every face: the experience study, the fit and the backtest.

Kept apart from the computations so that the read-only views (planalign_orchestrator.views,
which every command imports) stay light: pandas is imported when a result is shown or
its tables are built, never when this module is.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from planalign_orchestrator.metrics import Metric, metric

if TYPE_CHECKING:
    import pandas as pd


def _empty_frame() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame()


# -- the experience study ----------------------------------------------------------------

TERMINATION_OUTCOMES = ("termination", "unknown")
STAT_COLUMNS = (
    "exposure",
    "actual",
    "expected",
    "actual_rate",
    "lower",
    "upper",
    "expected_rate",
    "ae",
    "ae_lower",
    "ae_upper",
    "credibility",
    "fitted_rate",
    "fitted_lower",
    "fitted_upper",
    "small",
)
TENURE_BY_AGE = "terminations by tenure and age band"
SEPARATIONS = "experienced separations"
RETIREMENTS_BY_AGE = "retirements by age"
NEW_HIRE_TERMINATIONS = "new-hire terminations"
PROMOTIONS = "promotions by level"
ENROLLMENT = "new-hire enrollment"
ESCALATIONS = "deferral escalations"


@dataclass(frozen=True)
class StudyTable:
    """One table of the study: its rows, what its rate means, and the columns that name a group."""

    name: str
    rate: str
    frame: pd.DataFrame
    groups: tuple[str, ...]


@dataclass(frozen=True, repr=False)
class ExperienceStudy:
    """Actual vs expected for every decrement and change a census history shows (see the module)."""

    scenario: str
    history: str
    snapshots: tuple[str, ...]
    tables: Mapping[str, StudyTable]
    notes: tuple[str, ...] = ()
    experienced: pd.DataFrame = field(default_factory=_empty_frame)
    hires: pd.DataFrame = field(default_factory=_empty_frame)

    def table(self, name: str) -> pd.DataFrame:
        """One table by name (see `names`), indexed by its group columns."""
        try:
            found = self.tables[name]
        except KeyError:
            raise KeyError(f"no study table {name!r}; one of: {', '.join(self.tables)}") from None
        return found.frame.set_index(list(found.groups))

    def report(self, name: str) -> pd.DataFrame:
        """One table as a person reads it: rates with their intervals in percent, A/E, Z and the small flag."""
        self.table(name)  # refuses an unknown name, listing the known ones
        return _shown(self.tables[name])

    @property
    def names(self) -> list[str]:
        return list(self.tables)

    @property
    def headline(self) -> str:
        return f"Experience study of {self.history} against scenario {self.scenario!r}."

    def __repr__(self) -> str:
        return str(self)

    def __str__(self) -> str:
        lines = [self.headline]
        for table in self.tables.values():
            lines.append("")
            lines.append(f"{table.name} ({table.rate})")
            lines.extend(_text_table(table))
        lines.extend(f"Note: {note}" for note in self.notes)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        parts = [f"<div class='planalign-study'><b>{html.escape(self.headline)}</b>"]
        for table in self.tables.values():
            parts.append(f"<h4>{html.escape(table.name)} <small>({html.escape(table.rate)})</small></h4>")
            parts.append(_shown(table).to_html(index=False, na_rep="–"))
        parts.extend(f"<p>Note: {html.escape(note)}</p>" for note in self.notes)
        return "".join(parts) + "</div>"


def _shown(table: StudyTable) -> pd.DataFrame:
    """A table as a person reads it: counts whole, rates in percent, A/E as ratios, small as a mark."""
    import pandas as pd

    frame = table.frame
    shown = pd.DataFrame({column: frame[column].astype(str) for column in table.groups})
    shown["exposure"] = frame["exposure"].map(lambda v: f"{v:,.0f}")
    shown["actual"] = frame["actual"].map(lambda v: f"{v:,.0f}")
    shown["expected"] = frame["expected"].map(lambda v: f"{v:,.1f}")
    percent = table.rate != "mean raise"
    rate = _percent if percent else _percent2
    shown["actual rate [95%]"] = [
        f"{rate(r)} [{rate(lo)}, {rate(hi)}]"
        for r, lo, hi in zip(frame["actual_rate"], frame["lower"], frame["upper"], strict=True)
    ]
    shown["expected rate"] = frame["expected_rate"].map(rate)
    shown["A/E [95%]"] = [
        f"{_ratio(r)} [{_ratio(lo)}, {_ratio(hi)}]"
        for r, lo, hi in zip(frame["ae"], frame["ae_lower"], frame["ae_upper"], strict=True)
    ]
    shown["Z"] = frame["credibility"].map(lambda v: "–" if v != v else f"{v:.2f}")
    shown["fitted [95%]"] = [
        f"{rate(r)} [{rate(lo)}, {rate(hi)}]"
        for r, lo, hi in zip(frame["fitted_rate"], frame["fitted_lower"], frame["fitted_upper"], strict=True)
    ]
    shown["small"] = frame["small"].map(lambda v: "small" if v else "")
    return shown


def _text_table(table: StudyTable) -> list[str]:
    shown = _shown(table)
    widths = {column: max(len(column), *(len(str(v)) for v in shown[column])) for column in shown.columns}
    header = "  ".join(f"{column:<{widths[column]}}" for column in shown.columns)
    rows = ["  ".join(f"{row[c]!s:<{widths[c]}}" for c in shown.columns).rstrip() for _, row in shown.iterrows()]
    return ["  " + header.rstrip(), *("  " + row for row in rows)]


def _percent(value: float) -> str:
    return "–" if value != value else f"{value:.1%}"


def _percent2(value: float) -> str:
    return "–" if value != value else f"{value:.2%}"


def _ratio(value: float) -> str:
    return "–" if value != value or value in (float("inf"), float("-inf")) else f"{value:.2f}"


# -- the fit --------------------------------------------------------------------------------

RATE_DECIMALS = 4
MULTIPLIER_DECIMALS = 3
REPORT_COLUMNS = (
    "key",
    "item",
    "current",
    "fitted",
    "lower",
    "upper",
    "exposure",
    "events",
    "credibility",
    "small",
    "basis",
)


@dataclass(frozen=True)
class FittedValue:
    """One fitted value: the config key (and band, level or age), current -> fitted, its 95% interval, its data."""

    key: str
    item: str
    current: float
    fitted: float
    lower: float
    upper: float
    exposure: float
    events: float
    credibility: float
    small: bool
    basis: str

    def __post_init__(self) -> None:
        # plain floats: numpy scalars would reach the scenario's YAML as objects
        for name in ("current", "fitted", "lower", "upper", "exposure", "events", "credibility"):
            object.__setattr__(self, name, float(getattr(self, name)))
        object.__setattr__(self, "small", bool(self.small))

    @property
    def changed(self) -> bool:
        return abs(self.fitted - self.current) > 1e-12


@dataclass(frozen=True, repr=False)
class FitResult:
    """A fit: the scenario's overrides, every fitted value with its interval and data, and the study behind it."""

    scenario: str
    history: str
    overrides: Mapping[str, Any]
    values: tuple[FittedValue, ...]
    study: ExperienceStudy
    notes: tuple[str, ...] = ()
    scenario_file: str | None = None
    report_file: str | None = None
    base_scenario: str = "baseline"

    @property
    def changes(self) -> pd.DataFrame:
        """One row per fitted value (REPORT_COLUMNS): what changed, its interval and the data behind it."""
        import pandas as pd

        return pd.DataFrame([value.__dict__ for value in self.values], columns=list(REPORT_COLUMNS))

    @property
    def cells(self) -> pd.DataFrame:
        """Termination rates by tenure band x age band: actual, expected, and the fitted rate with its 95% interval."""
        return self.study.table(TENURE_BY_AGE).reset_index()

    @property
    def headline(self) -> str:
        changed = sum(value.changed for value in self.values)
        where = f", saved as {self.scenario_file}" if self.scenario_file else ""
        return (
            f"Fitted scenario {self.scenario!r} from {self.history} (current assumptions: {self.base_scenario!r}): "
            f"{changed} of {len(self.values)} values changed{where}."
        )

    def __repr__(self) -> str:
        return str(self)

    def __str__(self) -> str:
        shown = _shown_changes(self.changes)
        widths = {c: max(len(c), *(len(str(v)) for v in shown[c])) for c in shown.columns}
        lines = [self.headline, "", "  " + "  ".join(f"{c:<{widths[c]}}" for c in shown.columns).rstrip()]
        for _, row in shown.iterrows():
            lines.append("  " + "  ".join(f"{row[c]!s:<{widths[c]}}" for c in shown.columns).rstrip())
        lines.extend(f"Note: {note}" for note in self.notes)
        if self.report_file:
            lines.append(f"Report: {self.report_file}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        table = _shown_changes(self.changes).to_html(index=False)
        notes = "".join(f"<p>Note: {html.escape(note)}</p>" for note in self.notes)
        return f"<div class='planalign-fit'><b>{html.escape(self.headline)}</b>{table}{notes}</div>"


def _shown_changes(changes: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    def number(value: float, key: str) -> str:
        if value != value:
            return "–"
        return f"{value:.3f}" if "multipliers" in key or "factors" in key else f"{value:.2%}"

    return pd.DataFrame(
        {
            "key": changes["key"],
            "item": changes["item"],
            "current": [number(v, k) for v, k in zip(changes["current"], changes["key"], strict=True)],
            "fitted": [number(v, k) for v, k in zip(changes["fitted"], changes["key"], strict=True)],
            "95% interval": [
                f"[{number(lo, k)}, {number(hi, k)}]"
                for lo, hi, k in zip(changes["lower"], changes["upper"], changes["key"], strict=True)
            ],
            "data": changes["basis"],
            "small": changes["small"].map(lambda v: "small" if v else ""),
        }
    )


# -- the backtest ---------------------------------------------------------------------------

# The figures the metrics model defines (read from fct_year_metrics for a simulation).
MODEL_FIGURES = ("headcount_end", "hires", "terminations", "average_compensation", "participation_rate")
DEFERRAL = Metric("average_deferral_rate", "Average deferral rate (participants)", "fraction")


def figure_metric(name: str) -> Metric:
    """How a scored figure is labelled and formatted (the metrics catalogue's, or a breakdown's own)."""
    if name == DEFERRAL.column:
        return DEFERRAL
    if name.startswith(("leavers_tenure:", "leavers_age:")):
        dimension, band = name.split(":", 1)
        what = "tenure" if dimension == "leavers_tenure" else "age"
        return Metric(name, f"Experienced leavers, {what} {band}", "count")
    return metric(name)


SCORECARD_COLUMNS = (
    "year",
    "figure",
    "label",
    "actual",
    "simulated",
    "error",
    "relative_error",
    "p10",
    "p90",
    "covered",
)


@dataclass(frozen=True, repr=False)
class BacktestResult:
    """A backtest's scorecard: per year and figure, actual vs simulated, the error and (with seeds) the band."""

    scenario: str
    history: str
    start: str
    first_year: int
    last_year: int
    seeds: tuple[int, ...]
    min_seeds: int
    scorecard: pd.DataFrame

    @property
    def banded(self) -> bool:
        """Whether the run had enough seeds for P10-P90 bands (and so a coverage)."""
        return len(self.seeds) >= self.min_seeds

    @property
    def scored_cells(self) -> int:
        return int(self.scorecard["covered"].notna().sum())

    @property
    def covered_cells(self) -> int:
        return int((self.scorecard["covered"] == True).sum())  # noqa: E712  an object column of True/False/None

    @property
    def coverage(self) -> float | None:
        """Share of scored cells whose actual lies within P10-P90 (None without bands)."""
        return self.covered_cells / self.scored_cells if self.banded and self.scored_cells else None

    def coverage_by_figure(self) -> pd.Series:
        """Coverage per figure over the years (to see which figure the model misses)."""
        scored = self.scorecard[self.scorecard["covered"].notna()]
        return scored.groupby("figure", sort=False)["covered"].mean().astype(float)

    @property
    def headline(self) -> str:
        span = f"{self.first_year}-{self.last_year}"
        seeds = f"{len(self.seeds)} seeds" if len(self.seeds) > 1 else f"seed {self.seeds[0]}"
        text = f"Backtest of scenario {self.scenario!r} from the {self.start} snapshot, {span}, {seeds}"
        if self.coverage is not None:
            return (
                f"{text}: {self.covered_cells} of {self.scored_cells} cells inside P10-P90 "
                f"({self.coverage:.1%} coverage)."
            )
        if len(self.seeds) > 1:
            return f"{text}: bands withheld (fewer than {self.min_seeds} seeds), errors only."
        return f"{text}: errors only (run with seeds for P10-P90 coverage)."

    def __repr__(self) -> str:
        return str(self)

    def __str__(self) -> str:
        shown = _shown_scorecard(self.scorecard)
        widths = {c: max(len(c), *(len(str(v)) for v in shown[c])) for c in shown.columns}
        lines = [self.headline, "", "  " + "  ".join(f"{c:<{widths[c]}}" for c in shown.columns).rstrip()]
        for _, row in shown.iterrows():
            lines.append("  " + "  ".join(f"{row[c]!s:<{widths[c]}}" for c in shown.columns).rstrip())
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        table = _shown_scorecard(self.scorecard).to_html(index=False)
        return f"<div class='planalign-backtest'><b>{html.escape(self.headline)}</b>{table}</div>"


def _shown_scorecard(scorecard: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    rows = []
    for row in scorecard.to_dict("records"):
        shown = figure_metric(str(row["figure"]))
        fmt = shown.format
        relative = float(row["relative_error"])
        rows.append(
            {
                "year": row["year"],
                "figure": shown.label,
                "actual": fmt(row["actual"]),
                "simulated": fmt(row["simulated"]),
                "error": "–" if relative != relative else f"{relative:+.1%}",
                "P10": fmt(row["p10"]),
                "P90": fmt(row["p90"]),
                "inside": "–" if row["covered"] is None else ("yes" if row["covered"] else "NO"),
            }
        )
    return pd.DataFrame(rows)
