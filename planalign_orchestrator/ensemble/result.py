"""EnsembleResult: an ensemble's per-seed metrics and what is derived from them, for every face.

Bands (the distribution per metric and year), threshold probabilities and the Excel
workbook are computed here, once; the notebook view only draws them.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planalign_orchestrator.ensemble.metrics import DEFAULT_MIN_SEEDS, METRICS, distribution, exceedance
from planalign_orchestrator.metrics import KEY_METRICS, Metric, metric

if TYPE_CHECKING:
    import pandas as pd

# The nondiscrimination tests' flags (fct_year_metrics) and the test each one is.
COMPLIANCE_FLAGS = {"adp_fail": "adp", "acp_fail": "acp", "coverage_fail": "coverage", "top_heavy": "top_heavy"}


@dataclass(frozen=True, repr=False)
class EnsembleResult:
    """Per (seed, year) metrics of one scenario's ensemble, with its distribution per metric and year."""

    scenario: str
    seeds: tuple[int, ...]
    first_year: int
    last_year: int
    metrics: pd.DataFrame
    built_at: datetime
    min_seeds: int = DEFAULT_MIN_SEEDS
    mode: str = "in-process"

    @property
    def n_seeds(self) -> int:
        return len(self.seeds)

    @property
    def withheld(self) -> bool:
        """True when there are fewer seeds than min_seeds: the bands are null, not shown."""
        return self.n_seeds < self.min_seeds

    @property
    def bands(self) -> pd.DataFrame:
        """mean, std, P10, P25, P50, P75, P90 and n_seeds per metric and year (null when withheld)."""
        return distribution(self.metrics, self.min_seeds)

    def exceedance(self, metric: str, threshold: float) -> pd.Series:
        """Per year, the probability (share of seeds) that `metric` is above `threshold`."""
        return exceedance(self.metrics, metric, threshold)

    def failing_shares(self) -> pd.DataFrame:
        """Per year (rows) and nondiscrimination test (columns), the share of seeds where it fails.

        The mean over the seeds of each test's flag (DOMAIN.md "Nondiscrimination
        testing"): the probability, under this ensemble's assumptions, that the plan
        fails the test that year. Margins have their bands in `bands` and `table`.
        """
        shares = self.metrics.groupby("year")[list(COMPLIANCE_FLAGS)].mean().astype("float64")
        return shares.rename(columns=COMPLIANCE_FLAGS)

    def seed_metrics(self, seed: int) -> pd.DataFrame:
        """One seed's metrics per year."""
        return self.metrics[self.metrics["seed"] == seed].set_index("year")[list(METRICS)]

    def to_excel(self, path: Path | str, *, config_rows: dict[str, Any] | None = None) -> Path:
        """A workbook: the bands, every seed's metrics, and what the run was (seeds, years, config)."""
        import pandas as pd

        from planalign_orchestrator.export import write_workbook

        about = {
            "scenario": self.scenario,
            "years": f"{self.first_year}-{self.last_year}",
            "seeds": ",".join(str(seed) for seed in self.seeds),
            "n_seeds": self.n_seeds,
            "min_seeds": self.min_seeds,
            "bands withheld": self.withheld,
            "built_at": self.built_at.isoformat(),
            **(config_rows or {}),
        }
        return write_workbook(
            path,
            {
                "bands": self.bands.set_index(["metric", "year"]),
                "seed_metrics": self.metrics.set_index(["seed", "year"]),
                "run": pd.DataFrame({"value": [str(v) for v in about.values()]}, index=list(about)),
            },
        )

    @property
    def headline(self) -> str:
        span = f"{self.first_year}-{self.last_year}"
        text = f"Ensemble of {self.n_seeds} seeds, scenario {self.scenario!r}, {span} ({self.mode})."
        if self.withheld:
            text += f" Bands withheld: fewer than {self.min_seeds} seeds (min_seeds)."
        return text

    def __repr__(self) -> str:
        return str(self)

    def key_bands(self) -> pd.DataFrame:
        """The bands of the key metrics (what comparisons lead with), in catalogue order."""
        bands = self.bands
        return bands[bands["metric"].isin([m.column for m in KEY_METRICS])].reset_index(drop=True)

    def table(self, *, full: bool = False, metrics: Sequence[str] | None = None) -> BandTable:
        """The bands formatted as the metric catalogue formats each metric (counts, $, %).

        Compact (the default): P10, P50 and P90 of the key metrics. Full: mean, standard
        deviation, every percentile and the number of seeds, for every metric. `metrics`
        (columns, e.g. ["participation_rate"]) narrows either to those metrics.
        """
        bands = self.bands if full or metrics else self.key_bands()
        if metrics:
            for name in metrics:
                metric(name)  # KeyError naming the known metrics
            bands = bands[bands["metric"].isin(list(metrics))].reset_index(drop=True)
        return BandTable(bands, full=full)

    def __str__(self) -> str:
        return "\n".join([self.headline, f"Seeds: {_seed_list(self.seeds)}", str(self.table())])

    def _repr_html_(self) -> str:
        return (
            f"<div class='planalign-ensemble'><b>{html.escape(self.headline)}</b>"
            f"<div>Seeds: {html.escape(_seed_list(self.seeds))}</div>{self.table()._repr_html_()}</div>"
        )


_COMPACT = ("p10", "p50", "p90")
_FULL = ("mean", "std", "p10", "p25", "p50", "p75", "p90", "n_seeds")
_HEADINGS = {"mean": "mean", "std": "std", "n_seeds": "n"} | {f"p{p}": f"P{p}" for p in (10, 25, 50, 75, 90)}


@dataclass(frozen=True, repr=False)
class BandTable:
    """Bands as a reader sees them: one row per metric and year, each figure in its metric's format.

    Percentiles and the mean read like the metric ($, %, counts); the standard
    deviation of a fraction reads in percentage points; a flag's mean reads as the share
    of seeds where it is set ("35% of seeds"), its percentiles yes/no; a withheld band
    reads "withheld", never 0.
    """

    bands: pd.DataFrame
    full: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        return _FULL if self.full else _COMPACT

    def rows(self) -> list[tuple[str, int, list[str]]]:
        """(metric label, year, the formatted figures) in catalogue order."""
        rows = []
        for row in self.bands.itertuples(index=False):
            shown = metric(str(row.metric))
            cells = [_cell(shown, name, getattr(row, name)) for name in self.columns]
            rows.append((shown.label, int(str(row.year)), cells))
        return rows

    def __str__(self) -> str:
        rows = self.rows()
        label = max([len("metric"), *(len(name) for name, _, _ in rows)])
        width = max([12, *(len(cell) for _, _, cells in rows for cell in cells)])
        header = f"{'metric':<{label}} {'year':>5}" + "".join(f" {_HEADINGS[c]:>{width}}" for c in self.columns)
        lines = [header]
        for name, year, cells in rows:
            lines.append(f"{name:<{label}} {year:>5}" + "".join(f" {cell:>{width}}" for cell in cells))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        right = "text-align:right;padding:1px 0 1px 14px"
        head = "".join(f"<th style='{right}'>{_HEADINGS[c]}</th>" for c in self.columns)
        body, current = [], None
        for name, year, cells in self.rows():
            shown = "" if name == current else html.escape(name)
            current = name
            body.append(
                f"<tr><td style='text-align:left;padding:1px 8px 1px 0'>{shown}</td>"
                f"<td style='{right}'>{year}</td>"
                + "".join(f"<td style='{right}'>{html.escape(c)}</td>" for c in cells)
                + "</tr>"
            )
        head = f"<tr><th style='text-align:left'>metric</th><th style='{right}'>year</th>{head}</tr>"
        table = "<table class='planalign-bands' style='margin:4px 0;border-collapse:collapse'>"
        return f"{table}{head}{''.join(body)}</table>"


def _cell(shown: Metric, column: str, value: float) -> str:
    """One figure of a band table: the metric's own format, a spread for std, a count for n."""
    if column == "n_seeds":
        return f"{int(value):,}"
    if value != value:  # NaN: withheld
        return "withheld"
    if shown.kind == "flag" and column == "mean":
        return f"{value:.0%} of seeds"
    if shown.kind == "flag" and column == "std":
        return f"{value:.2f}"
    if column != "std":
        return shown.format(value)
    if shown.kind == "fraction":
        return f"{value * 100:.2f} pp"
    return f"{'$' if shown.kind == 'money' else ''}{value:,.{0 if shown.kind == 'money' else 1}f}"


def _seed_list(seeds: tuple[int, ...]) -> str:
    """The seeds that ran, as a range when they are consecutive."""
    if len(seeds) > 2 and seeds == tuple(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ", ".join(str(seed) for seed in seeds)
