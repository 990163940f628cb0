"""The distribution of an ensemble's per-(seed, year) metrics: bands and threshold probabilities.

Each seed's figures are its rows of the metrics model (fct_year_metrics), exactly as a
single run's are, so an ensemble seed and a single run of that seed report the same
numbers by construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from planalign_orchestrator.metrics import METRICS as CATALOGUE
from planalign_orchestrator.metrics import metrics_frame

if TYPE_CHECKING:
    import pandas as pd

# Every metric, in catalogue order: what an ensemble keeps per seed and year. A flag is
# kept as 0/1, so its mean over the seeds is the share of seeds where it is set (for
# adp_fail, the probability that the ADP test fails that year).
METRICS: tuple[str, ...] = tuple(m.column for m in CATALOGUE)
DEFAULT_MIN_SEEDS = 10
PERCENTILES: tuple[int, ...] = (10, 25, 50, 75, 90)


def seed_metrics(rows: Sequence[dict[str, object]]) -> pd.DataFrame:
    """fct_year_metrics rows of an ensemble as (seed, year, *METRICS), sorted by seed and year."""
    frame = metrics_frame(rows).rename(columns={"random_seed": "seed", "simulation_year": "year"})
    return frame[["seed", "year", *METRICS]].sort_values(["seed", "year"], ignore_index=True)


def distribution(metrics: pd.DataFrame, min_seeds: int = DEFAULT_MIN_SEEDS) -> pd.DataFrame:
    """Per metric and year: mean, std, P10, P25, P50, P75, P90 and the number of seeds.

    Percentiles interpolate linearly between order statistics (numpy's default, DuckDB's
    quantile_cont). With fewer than `min_seeds` seeds the bands are withheld: every
    statistic is null (NaN) and `withheld` is True. Never zero: a band from three draws
    would look like a measured range.
    """
    import pandas as pd

    rows = []
    for (metric, year), values in metrics.melt(
        id_vars=["seed", "year"], value_vars=list(METRICS), var_name="metric"
    ).groupby(["metric", "year"], sort=False)["value"]:
        series = values.dropna().astype("float64")
        count = int(series.size)
        withheld = count < min_seeds
        stats: dict[str, object] = {"metric": metric, "year": year, "n_seeds": count, "withheld": withheld}
        stats["mean"] = None if withheld else float(series.mean())
        stats["std"] = None if withheld else float(series.std(ddof=1)) if count > 1 else 0.0
        for p in PERCENTILES:
            stats[f"p{p}"] = None if withheld else float(series.quantile(p / 100))
        rows.append(stats)
    columns = ["metric", "year", "mean", "std", *(f"p{p}" for p in PERCENTILES), "n_seeds", "withheld"]
    frame = pd.DataFrame(rows, columns=columns)
    order = {name: index for index, name in enumerate(METRICS)}
    frame = frame.sort_values(["metric", "year"], key=lambda c: c.map(order) if c.name == "metric" else c)
    numeric = ["mean", "std", *(f"p{p}" for p in PERCENTILES)]
    frame[numeric] = frame[numeric].astype("float64")
    return frame.reset_index(drop=True)


def exceedance(metrics: pd.DataFrame, metric: str, threshold: float) -> pd.Series:
    """Per year, the share of seeds whose `metric` is above `threshold` (a probability in [0, 1])."""
    if metric not in METRICS:
        raise KeyError(f"unknown ensemble metric {metric!r}; one of: {', '.join(METRICS)}")
    above = metrics[metric] > threshold
    result = above.groupby(metrics["year"]).mean().astype("float64")
    result.name = f"P({metric} > {threshold:,})"
    return result
