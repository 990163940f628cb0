"""EnsembleResult: an ensemble's per-seed metrics and what is derived from them, for every face.

Bands (the distribution per metric and year), threshold probabilities and the Excel
workbook are computed here, once; the notebook view only draws them.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planalign_orchestrator.ensemble.metrics import DEFAULT_MIN_SEEDS, METRICS, distribution, exceedance
from planalign_orchestrator.metrics import KEY_METRICS, Metric, metric

if TYPE_CHECKING:
    import pandas as pd


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

    def __str__(self) -> str:
        lines = [self.headline, f"Seeds: {_seed_list(self.seeds)}"]
        header = f"{'metric':<34} {'year':>5} {'P10':>14} {'P50':>14} {'P90':>14} {'n':>4}"
        lines.append(header)
        for row in self.key_bands().itertuples(index=False):
            shown = metric(str(row.metric))
            p10, p50, p90 = (_figure(shown, getattr(row, name)) for name in ("p10", "p50", "p90"))
            lines.append(f"{shown.label:<34} {row.year:>5} {p10:>14} {p50:>14} {p90:>14} {row.n_seeds:>4}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        table = (
            self.key_bands()
            .set_index(["metric", "year"])
            .to_html(float_format=lambda v: f"{v:,.2f}", na_rep="withheld")
        )
        return f"<div class='planalign-ensemble'><b>{html.escape(self.headline)}</b>{table}</div>"


def _seed_list(seeds: tuple[int, ...]) -> str:
    """The seeds that ran, as a range when they are consecutive."""
    if len(seeds) > 2 and seeds == tuple(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ", ".join(str(seed) for seed in seeds)


def _figure(shown: Metric, value: float) -> str:
    if value != value:  # NaN: withheld
        return "withheld"
    return shown.format(value)
