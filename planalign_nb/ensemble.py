"""Seed ensembles in a notebook: `nb.ensemble(...)` with live progress, and the view it returns.

The engine (WorkspaceSession.ensemble) simulates the seeds and computes the bands,
threshold probabilities and the workbook; this module only shows progress and draws
the fan charts.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planalign_nb.charts import chart_style, metric_axis, neutral_figure, title
from planalign_nb.errors import raise_for_notebook
from planalign_nb.live import LiveDisplay
from planalign_nb.rendering import MUTED, code, notebook_call, workspace_reference
from planalign_nb.runs import RunObserver, WaitNotice, initialization_view
from planalign_nb.simulation_widget import SimulationProgress

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from planalign_nb.api import WorkspaceLike
    from planalign_orchestrator.views import BandTable, EnsembleResult


class EnsembleProgress(SimulationProgress):
    """SimulationProgress for an ensemble: a year's row says how many seeds it ran; chunks in the title."""

    def __init__(self, start_year: int, end_year: int, seeds: int, **options: Any) -> None:
        self._seeds = seeds
        super().__init__(start_year, end_year, seeds=seeds, **options)

    def _title(self) -> str:
        title = super()._title().replace("Simulation", f"Ensemble of {self._seeds:,} seeds", 1)
        chunks = self.run.chunks
        if chunks is not None and self.run.outcome is None:
            title += f" · {chunks[0]} of {chunks[1]} chunks done on the cluster"
        return title


class EnsembleView:
    """An ensemble's results: shows as a compact band table; `.table(full=True)`, `.fan_chart()`, `.bands`, ...

    The compact table is P10, P50 and P90 of the key metrics, each in its metric's
    format (80.78%, $11,085,868); `.table(full=True)` adds the mean, the standard
    deviation, P25, P75 and the number of seeds for every metric, and `.bands` holds
    the same numbers as a DataFrame.
    """

    def __init__(self, result: EnsembleResult) -> None:
        self.result = result

    @property
    def bands(self) -> pd.DataFrame:
        """Per metric and year: mean, std, P10, P25, P50, P75, P90, n_seeds (null and withheld below min_seeds)."""
        return self.result.bands

    def table(self, *, full: bool = False, metrics: Sequence[str] | None = None) -> BandTable:
        """The bands formatted per metric: compact (P10, P50, P90 of the key metrics) or full (every figure).

        `metrics` narrows the table to those columns, e.g. ["participation_rate"].
        """
        return self.result.table(full=full, metrics=metrics)

    @property
    def metrics(self) -> pd.DataFrame:
        """One row per (seed, year) with every metric: the tidy form, for your own analysis."""
        return self.result.metrics

    def exceedance(self, metric: str, threshold: float) -> pd.Series:
        """Per year, the probability that `metric` is above `threshold` (the share of seeds)."""
        return self.result.exceedance(metric, threshold)

    def to_excel(self, path: Path | str) -> Path:
        """A workbook: bands, every seed's metrics, and the run (seeds, years)."""
        return self.result.to_excel(path)

    def fan_chart(self, metrics: Sequence[str] | None = None) -> Figure:
        """One panel per metric: the P50 line with the P25-P75 and P10-P90 bands over the years.

        When the bands are withheld (fewer seeds than min_seeds) each seed's line is
        drawn instead, so a handful of draws never reads as a measured range. A flag
        (such as adp_fail) is drawn as the share of seeds where it is set, 0-100%.
        """
        from planalign_orchestrator.views import KEY_METRICS, Metric, metric

        chosen = list(metrics or [m.column for m in KEY_METRICS])
        columns = min(4, len(chosen))
        rows = -(-len(chosen) // columns)
        figure, axes = neutral_figure(rows, columns, figsize=(3.9 * columns, 3.2 * rows), squeeze=False)
        bands = self.bands
        for axis, name in zip(axes.flat, chosen, strict=False):
            title(axis, metric(name).label)
            axis.set_xticks(sorted(set(self.metrics["year"])))
            if metric(name).kind == "flag":
                share = Metric(name, f"{metric(name).label}: share of seeds", "fraction")
                shares = self.metrics.groupby("year")[name].mean()
                metric_axis(axis, share, [0.0, 1.0])
                axis.set_ylim(-0.02, 1.02)
                axis.plot(shares.index, shares.to_numpy(), color="C3", marker="o", linewidth=1.8, label="share")
                continue
            metric_axis(axis, metric(name), self.metrics[name])
            if self.result.withheld:
                for _seed, rows_of_seed in self.metrics.groupby("seed"):
                    axis.plot(rows_of_seed["year"], rows_of_seed[name], color="C0", alpha=0.5, linewidth=1)
                continue
            band = bands[bands["metric"] == name]
            years = band["year"]
            axis.fill_between(years, band["p10"], band["p90"], color="C0", alpha=0.18, label="P10-P90")
            axis.fill_between(years, band["p25"], band["p75"], color="C0", alpha=0.35, label="P25-P75")
            axis.plot(years, band["p50"], color="C0", marker="o", linewidth=1.8, label="P50")
        for axis in list(axes.flat)[len(chosen) :]:
            axis.set_visible(False)
        if not self.result.withheld:
            axes.flat[0].legend()
        figure.suptitle(self.result.headline, fontsize=chart_style["figure.titlesize"])
        return figure

    def __repr__(self) -> str:
        return str(self.result)

    def _repr_html_(self) -> str:
        full, numbers = code(".table(full=True)"), code(".bands")
        more = f"The full table (mean, std, every percentile, n): {full}; as numbers: {numbers}."
        return f"{self.result._repr_html_()}<div style='{MUTED}'>{more}</div>"


def ensemble(
    workspace: WorkspaceLike,
    start_year: int | None = None,
    end_year: int | None = None,
    *,
    seeds: int | Sequence[int] = 100,
    scenario: str | None = None,
    client: Any = None,
    min_seeds: int = 10,
    detail_seed: int | None = None,
    wait_seconds: float = 0.0,
    **initializer_options: Any,
) -> EnsembleView:
    """Simulate many seeds of a scenario (default: the baseline) with live per-year progress; their bands.

    `seeds` is a count (the config's random_seed and the ones after it) or a list.
    One dbt invocation per year covers every seed, in this process; with a
    dask.distributed `client` the seeds run in chunks on its workers (live per chunk).
    Below `min_seeds` seeds the bands are withheld (null). `detail_seed` also keeps
    that seed's per-employee rows. Returns an EnsembleView. While another process runs
    in the workspace the call is refused (WorkspaceBusyError), unless that run ends
    within `wait_seconds`.
    """
    from planalign_nb.api import _folder, open_workspace

    try:
        session = open_workspace(workspace, **initializer_options)
        if scenario is not None:
            session = session.for_scenario(scenario)
        first, last = session.resolve_years(start_year, end_year)
        count = seeds if isinstance(seeds, int) else len(list(seeds))
    except BaseException as error:
        raise_for_notebook(error, cancelled="ensemble cancelled", root=_folder(workspace), panel=False)
    root = session.root
    named = None if session.scenario.is_baseline else session.scenario.name
    initialization = initialization_view(session)
    years = LiveDisplay(EnsembleProgress(session.config.simulation.start_year, last, count, root=root, scenario=named))
    observer = WaitNotice(RunObserver(initialization, years))
    try:
        if client is not None:
            years.show()
        result = session.ensemble(
            first,
            last,
            seeds=seeds,
            client=client,
            min_seeds=min_seeds,
            detail_seed=detail_seed,
            on_progress=observer,
            wait_seconds=wait_seconds,
        )
    except BaseException as error:
        years.show()
        years.view.fail(error)
        options: dict[str, Any] = {"start_year": first, "end_year": last, "seeds": seeds}
        options.update({"scenario": named} if named else {})
        call = notebook_call("ensemble", options, workspace_reference(root))
        raise_for_notebook(error, cancelled=f"ensemble cancelled; run {call} again", root=root)
    finally:
        initialization.finish()
        years.finish()
    return EnsembleView(result)
