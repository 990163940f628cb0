"""Per-(seed, year) key metrics and their distributions: all ensemble result arithmetic.

The per-seed metrics are defined as `pipeline.results.scenario_metrics` defines them for
a single run (a test holds the two to equal figures), counted per random_seed so one
query covers every seed of a year, from the snapshot alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    import pandas as pd

# The metrics an ensemble keeps per seed and year, in display order.
METRICS: tuple[str, ...] = (
    "headcount",
    "hires",
    "terminations",
    "total_pay",
    "participation_rate",
    "employee_contributions",
    "employer_contributions",
)
DEFAULT_MIN_SEEDS = 10
PERCENTILES: tuple[int, ...] = (10, 25, 50, 75, 90)

_SEED_METRICS_SQL = """
select
    random_seed as seed,
    simulation_year as year,
    count(*) filter (where employment_status = 'active') as headcount,
    -- every hire and every leaver of the year has exactly one snapshot row in it, so
    -- these equal the event log's counts (scenario_metrics), without building the log
    count(*) filter (where is_new_hire) as hires,
    count(*) filter (where employment_status = 'terminated') as terminations,
    cast(coalesce(sum(compensation) filter (where employment_status = 'active'), 0) as double) as total_pay,
    count(*) filter (where employment_status = 'active' and enrolled)
        / nullif(count(*) filter (where employment_status = 'active'), 0) as participation_rate,
    cast(coalesce(sum(employee_contribution), 0) as double) as employee_contributions,
    cast(coalesce(sum(employer_contribution), 0) as double) as employer_contributions
from main.fct_workforce_snapshot
where scenario_id = $scenario and simulation_year = $year
group by random_seed, simulation_year
order by random_seed
"""


def year_seed_metrics(conn: duckdb.DuckDBPyConnection, scenario: str, year: int) -> list[tuple[object, ...]]:
    """(seed, year, *METRICS) rows of one simulated year, one per seed, from the run's fact tables."""
    return conn.execute(_SEED_METRICS_SQL, {"scenario": scenario, "year": year}).fetchall()


def metrics_frame(rows: Sequence[Sequence[object]]) -> pd.DataFrame:
    """Rows of (seed, year, *METRICS) as a DataFrame sorted by seed and year, with stable dtypes."""
    import pandas as pd

    return typed_metrics(pd.DataFrame([tuple(row) for row in rows], columns=["seed", "year", *METRICS]))


def typed_metrics(frame: pd.DataFrame) -> pd.DataFrame:
    """Metric rows with the same dtypes whether just computed or read back from the database."""
    frame = frame.copy()
    integers = ["seed", "year", "headcount", "hires", "terminations"]
    frame[integers] = frame[integers].astype("int64")
    floats = [name for name in METRICS if name not in integers]
    frame[floats] = frame[floats].astype("float64")
    return frame.sort_values(["seed", "year"], ignore_index=True)


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
