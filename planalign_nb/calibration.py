"""Calibration in a notebook: `nb.experience_study`, `nb.fit`, `nb.backtest` and `nb.generate_history`.

The engine (WorkspaceSession) reads and validates the history, computes every rate,
interval and credibility weight, writes the fitted scenario and runs the backtest;
this module shows progress and draws: actual/expected bars with their intervals, the
fitted multipliers against the current ones, and each scored figure against its band.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planalign_nb.charts import neutral_figure
from planalign_nb.errors import raise_for_notebook
from planalign_nb.live import LiveDisplay
from planalign_nb.runs import RunObserver, initialization_view

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from planalign_nb.api import WorkspaceLike
    from planalign_orchestrator.session import HistoryFiles
    from planalign_orchestrator.views import BacktestResult, ExperienceStudy, FitResult

# The tables an A/E chart shows by default (those present in the study).
AE_TABLES = (
    "terminations by tenure band",
    "terminations by age band",
    "terminations by level",
    "retirements by age band",
    "new-hire terminations",
    "promotions by level",
)
MULTIPLIER_KEYS = (
    "assumptions.tenure_termination_multipliers",
    "assumptions.age_termination_multipliers",
    "assumptions.level_termination_factors",
)
BACKTEST_FIGURES = (
    "headcount_end",
    "hires",
    "terminations",
    "average_compensation",
    "participation_rate",
    "average_deferral_rate",
)


class ExperienceStudyView:
    """An experience study: shows as its tables; `.chart()` draws A/E with intervals, `.table(name)` one table."""

    def __init__(self, study: ExperienceStudy) -> None:
        self.study = study

    @property
    def names(self) -> list[str]:
        return self.study.names

    def table(self, name: str) -> pd.DataFrame:
        """One table (see `.names`): exposure, actual, expected, rates with intervals, A/E, credibility, small."""
        return self.study.table(name)

    def report(self, name: str) -> pd.DataFrame:
        """One table formatted for reading: rates and their 95% intervals in percent, A/E, credibility, small."""
        return self.study.report(name)

    def chart(self, names: Sequence[str] | None = None) -> Figure:
        """Actual / expected per group, bars with their 95% intervals; small cells pale, 1.0 = as expected."""
        chosen = [name for name in (names or AE_TABLES) if name in self.study.tables]
        columns = min(3, len(chosen))
        rows = -(-len(chosen) // columns)
        figure, axes = neutral_figure(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
        for axis, name in zip(axes.flat, chosen, strict=False):
            table = self.study.table(name).reset_index()
            labels = [" / ".join(str(v) for v in row) for row in table[list(self.study.tables[name].groups)].values]
            _interval_bars(axis, labels, table["ae"], table["ae_lower"], table["ae_upper"], table["small"])
            axis.axhline(1.0, color="C3", linewidth=1, linestyle="--")
            axis.set_title(f"{name}: A/E", fontsize=9)
        for axis in list(axes.flat)[len(chosen) :]:
            axis.set_visible(False)
        figure.suptitle(self.study.headline, fontsize=10)
        return figure

    def __repr__(self) -> str:
        return str(self.study)

    def _repr_html_(self) -> str:
        return self.study._repr_html_()


class FitView:
    """A fit: shows as its change report; `.changes`, `.cells`, `.study` and `.chart()` (fitted vs current)."""

    def __init__(self, result: FitResult) -> None:
        self.result = result

    @property
    def scenario(self) -> str:
        return self.result.scenario

    @property
    def overrides(self) -> Mapping[str, Any]:
        return self.result.overrides

    @property
    def changes(self) -> pd.DataFrame:
        """Every fitted value: key, item, current, fitted, its 95% interval, exposure, events, credibility, basis."""
        return self.result.changes

    @property
    def cells(self) -> pd.DataFrame:
        """Termination rates by tenure band x age band, with the fitted rate and its 95% interval."""
        return self.result.cells

    @property
    def study(self) -> ExperienceStudyView:
        return ExperienceStudyView(self.result.study)

    def chart(self) -> Figure:
        """The termination multipliers by tenure band, age band and level: current (x) and fitted with 95% interval."""
        changes = self.changes
        figure, axes = neutral_figure(1, len(MULTIPLIER_KEYS), figsize=(4.4 * len(MULTIPLIER_KEYS), 3.2))
        for axis, key in zip(axes, MULTIPLIER_KEYS, strict=True):
            rows = changes[changes["key"] == key]
            _interval_bars(axis, list(rows["item"]), rows["fitted"], rows["lower"], rows["upper"], rows["small"])
            axis.plot(range(len(rows)), rows["current"], "x", color="C3", label="current")
            axis.set_title(key.split(".", 1)[1].replace("_", " "), fontsize=9)
        axes[0].legend(fontsize=8)
        figure.suptitle(self.result.headline, fontsize=9)
        return figure

    def __repr__(self) -> str:
        return str(self.result)

    def _repr_html_(self) -> str:
        return self.result._repr_html_()


class BacktestView:
    """A backtest: shows as its scorecard; `.scorecard`, `.coverage`, `.chart()` (actual vs the band per figure)."""

    def __init__(self, result: BacktestResult) -> None:
        self.result = result

    @property
    def scorecard(self) -> pd.DataFrame:
        """Per year and figure: actual, simulated (median over seeds), error, P10, P90 and whether it is covered."""
        return self.result.scorecard

    @property
    def coverage(self) -> float | None:
        """Share of scored cells whose actual lies within P10-P90 (None without enough seeds)."""
        return self.result.coverage

    def chart(self, figures: Sequence[str] | None = None) -> Figure:
        """Per figure, the simulated median with its P10-P90 band over the years, and the actual history as dots."""
        from planalign_orchestrator.views import metric

        chosen = list(figures or BACKTEST_FIGURES)
        columns = min(3, len(chosen))
        rows = -(-len(chosen) // columns)
        figure, axes = neutral_figure(rows, columns, figsize=(4.0 * columns, 3.0 * rows), squeeze=False)
        card = self.scorecard
        for axis, name in zip(axes.flat, chosen, strict=False):
            scored = card[card["figure"] == name]
            years = list(scored["year"])
            if self.result.banded:
                axis.fill_between(years, scored["p10"], scored["p90"], color="C0", alpha=0.2, label="P10-P90")
            axis.plot(years, scored["simulated"], color="C0", marker="o", linewidth=1.5, label="simulated")
            axis.plot(years, scored["actual"], "o", color="C3", label="actual")
            axis.set_xticks(years)
            label = scored["label"].iloc[0] if len(scored) else metric(name).label
            axis.set_title(str(label), fontsize=9)
        for axis in list(axes.flat)[len(chosen) :]:
            axis.set_visible(False)
        axes.flat[0].legend(fontsize=8)
        figure.suptitle(self.result.headline, fontsize=9)
        return figure

    def __repr__(self) -> str:
        return str(self.result)

    def _repr_html_(self) -> str:
        return self.result._repr_html_()


def _interval_bars(axis: Axes, labels: list[str], values: Any, lower: Any, upper: Any, small: Any) -> None:
    """Bars with their intervals as error bars; small cells pale and hatched."""
    import numpy as np

    value = np.asarray(values, dtype=float)
    low = np.nan_to_num(value - np.asarray(lower, dtype=float), nan=0.0)
    high = np.nan_to_num(np.asarray(upper, dtype=float) - value, nan=0.0)
    thin = np.asarray(small, dtype=bool)
    positions = np.arange(len(labels))
    for position, height, is_small in zip(positions, np.nan_to_num(value), thin, strict=True):
        axis.bar(position, height, color="C0", alpha=0.3 if is_small else 0.75, hatch="//" if is_small else None)
    axis.errorbar(
        positions,
        np.nan_to_num(value),
        yerr=[np.clip(low, 0, None), np.clip(high, 0, None)],
        fmt="none",
        ecolor="#555",
        capsize=3,
    )
    axis.set_xticks(positions, labels, rotation=45, ha="right", fontsize=7)


def _session(workspace: WorkspaceLike, scenario: str | None, **options: Any) -> Any:
    from planalign_nb.api import open_workspace

    session = open_workspace(workspace, **options)
    return session.for_scenario(scenario) if scenario is not None else session


def experience_study(
    workspace: WorkspaceLike, history: HistoryFiles, *, scenario: str | None = None
) -> ExperienceStudyView:
    """Actual vs expected of a census history under a scenario's assumptions (default: the baseline); writes nothing.

    `history` is a folder of dated censuses (census_2025-12-31.csv, ...) or the files in
    date order. A malformed history is refused naming the file and the rows.
    """
    from planalign_nb.api import _folder

    try:
        return ExperienceStudyView(_session(workspace, scenario, create=False).experience_study(history))
    except BaseException as error:
        raise_for_notebook(error, cancelled="study cancelled", root=_folder(workspace), panel=False)


def fit(
    workspace: WorkspaceLike, history: HistoryFiles, *, scenario: str | None = None, base: str | None = None
) -> FitView:
    """Fit assumptions to a census history and save them as the new scenario `scenario` (never over an existing one).

    `base` names the scenario whose assumptions are the current ones (default: the
    baseline). The fitted scenario records the history files it came from and is stale
    when one of them changes. Returns a FitView (the change report, `.chart()`).
    """
    from planalign_nb.api import _folder

    try:
        return FitView(_session(workspace, base).fit(history, scenario))
    except BaseException as error:
        raise_for_notebook(error, cancelled="fit cancelled", root=_folder(workspace), panel=False)


def backtest(
    workspace: WorkspaceLike,
    history: HistoryFiles,
    from_year: int,
    *,
    seeds: int | Sequence[int] | None = None,
    scenario: str | None = None,
    min_seeds: int = 10,
    **initializer_options: Any,
) -> BacktestView:
    """Simulate a scenario from the history's snapshot of 31 December `from_year` to its last; score every year.

    With `seeds` (a count or a list) every year runs for every seed and each actual is
    checked against the seeds' P10-P90. Live progress per year; returns a BacktestView.
    """
    from planalign_nb.api import _folder
    from planalign_nb.ensemble import EnsembleProgress

    try:
        session = _session(workspace, scenario, **initializer_options)
        loaded = session.load_history(history)
        first, last = session.backtest_years(loaded, from_year)
    except BaseException as error:
        raise_for_notebook(error, cancelled="backtest cancelled", root=_folder(workspace), panel=False)
    root = session.root
    named = None if session.scenario.is_baseline else session.scenario.name
    count = 1 if seeds is None else seeds if isinstance(seeds, int) else len(list(seeds))
    initialization = initialization_view(session)
    years = LiveDisplay(EnsembleProgress(first, last, count, root=root, scenario=named))
    try:
        result = session.backtest(
            loaded, from_year, seeds=seeds, min_seeds=min_seeds, on_progress=RunObserver(initialization, years)
        )
    except BaseException as error:
        years.show()
        years.view.fail(error)
        raise_for_notebook(error, cancelled="backtest cancelled; run it again", root=root)
    finally:
        initialization.finish()
        years.finish()
    return BacktestView(result)


def generate_history(
    out: Path | str,
    *,
    employees: int,
    years: int,
    seed: int = 42,
    first_year: int = 2025,
    assumptions: Mapping[str, Any] | None = None,
    file_format: str = "csv",
) -> Any:
    """Simulate a generated census for `years` years under known `assumptions`; write its year-end censuses to `out`.

    Test data whose truth is known: `out/generator/` keeps the assumptions and each
    employee-year's generating hazards. Returns the GeneratedHistory (its files).
    """
    from planalign_orchestrator.session import generate_history as generate

    try:
        return generate(
            out,
            employees=employees,
            years=years,
            seed=seed,
            first_year=first_year,
            assumptions=assumptions,
            file_format=file_format,
        )
    except BaseException as error:
        raise_for_notebook(error, cancelled="history generation cancelled", root=None, panel=False)
