"""The backtest: start the model from one snapshot of a history, simulate to the last, and score every year.

The starting snapshot (dated 31 December of `from_year`) becomes the census of a
scratch workspace under the workspace folder (`.planalign_backtest/`, removed when the
backtest ends); the scenario's config simulates from_year + 1 to the year of the last
snapshot there, with its own seed or with an ensemble of seeds (one dbt invocation a
year for every seed, the engine's yearly step). Each year's figures (calibration.scoring)
are compared with what the history's year-end snapshot shows:

    error           simulated - actual (the median over the seeds with an ensemble)
    relative_error  error / actual
    p10, p90        the seeds' 10th and 90th percentiles (with at least min_seeds seeds)
    covered         whether the actual lies within [p10, p90]

Coverage is the share of scored cells (figure x year) covered. If the model and its
spread were right, about 80% of cells would be; far fewer means the model misses the
history (or its bands are too narrow), nearly all means bands wider than the history needs.
"""

from __future__ import annotations

import contextlib
import shutil
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planalign_orchestrator.assumption_tables import check_assumption_tables
from planalign_orchestrator.calibration.expected import CurrentAssumptions
from planalign_orchestrator.calibration.history import CensusHistory
from planalign_orchestrator.calibration.results import (
    MODEL_FIGURES,
    SCORECARD_COLUMNS,
    BacktestResult,
    figure_metric,
)
from planalign_orchestrator.calibration.scoring import figure_names, history_year_rows, year_figures
from planalign_orchestrator.census import REQUIRED_COLUMNS
from planalign_orchestrator.config import CONFIG_FILE_NAME, SimulationConfig, validate_config
from planalign_orchestrator.database import DatabaseConnectionManager
from planalign_orchestrator.ensemble.metrics import DEFAULT_MIN_SEEDS
from planalign_orchestrator.ensemble.runner import ensemble_seeds
from planalign_orchestrator.exceptions import HistoryValidationError
from planalign_orchestrator.factory import create_orchestrator
from planalign_orchestrator.metrics import read_year_metrics
from planalign_orchestrator.pipeline.yearly_step import run_year
from planalign_orchestrator.progress import EnsembleYearFinished, ProgressObserver, YearStarted

SCRATCH_FOLDER = ".planalign_backtest"
SNAPSHOT_TABLE = "main.fct_workforce_snapshot"


def year_end_snapshots(history: CensusHistory) -> dict[int, int]:
    """The history's 31 December snapshots: year -> snapshot index."""
    return {s.as_of.year: index for index, s in enumerate(history.snapshots) if s.as_of == date(s.as_of.year, 12, 31)}


def run_backtest(
    config: SimulationConfig,
    history: CensusHistory,
    from_year: int,
    *,
    workspace_root: Path,
    seeds: int | Sequence[int] | None = None,
    min_seeds: int = DEFAULT_MIN_SEEDS,
    threads: int = 1,
    initializer_options: Mapping[str, Any] | None = None,
    on_progress: ProgressObserver | None = None,
) -> BacktestResult:
    """Simulate the scenario from the snapshot of 31 December `from_year` to the last one; its scorecard."""
    ends = year_end_snapshots(history)
    first, last = _years(history, ends, from_year)
    chosen = (config.simulation.random_seed,) if seeds is None else ensemble_seeds(config, seeds)
    current = CurrentAssumptions.of(config)
    scratch = Path(workspace_root) / SCRATCH_FOLDER / f"{config.scenario}-{uuid.uuid4().hex[:8]}"
    try:
        run_config = _scratch_workspace(config, history, ends[from_year], scratch, first, last)
        orchestrator = create_orchestrator(
            run_config, threads=threads, initializer_options=dict(initializer_options or {})
        )
        if on_progress is not None:
            orchestrator.subscribe(on_progress)
        orchestrator.hook_manager.run_pre_simulation_hooks()
        db = orchestrator.db_manager
        simulated = []
        total = last - first + 1
        for index, year in enumerate(range(first, last + 1), start=1):
            started = time.perf_counter()
            if on_progress is not None:
                on_progress(YearStarted(year, index, total, reason=f"{len(chosen)} seed(s)", scenario=config.scenario))
            run_year(
                orchestrator.dbt_runner, run_config, year, seeds=chosen, with_events=False, columns_checked=index > 1
            )
            simulated.append(_simulated(db, run_config.scenario, year, current))
            if on_progress is not None:
                seconds = time.perf_counter() - started
                on_progress(EnsembleYearFinished(year, index, total, len(chosen), seconds, scenario=config.scenario))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        _remove_if_empty(scratch.parent)
    actual = history_figures(history, first, last, current)
    scorecard = _scorecard(
        pd.concat(simulated, ignore_index=True),
        actual,
        figure_names(current.tenure, current.age),
        banded=len(chosen) >= min_seeds,
    )
    start = history.snapshots[ends[from_year]].as_of.isoformat()
    return BacktestResult(config.scenario, history.describe(), start, first, last, chosen, min_seeds, scorecard)


def backtest_years(history: CensusHistory, from_year: int) -> tuple[int, int]:
    """The first and last year a backtest from the snapshot of 31 December `from_year` simulates."""
    return _years(history, year_end_snapshots(history), from_year)


def _years(history: CensusHistory, ends: dict[int, int], from_year: int) -> tuple[int, int]:
    if from_year not in ends:
        listed = ", ".join(str(year) for year in sorted(ends)) or "none"
        raise HistoryValidationError(
            history.snapshots[0].path.parent,
            f"there is no snapshot of 31 December {from_year} to start the backtest from "
            f"(year-end snapshots: {listed})",
            remediation="Start from the year of a year-end snapshot, e.g. --from "
            f"{min(ends) if ends else from_year}, or add that year's census.",
        )
    later = [year for year in sorted(ends) if year > from_year]
    if not later:
        raise HistoryValidationError(
            history.snapshots[ends[from_year]].path,
            f"no year-end snapshot after 31 December {from_year}: nothing to score",
            remediation="Start from an earlier year-end snapshot.",
        )
    missing = [year for year in range(from_year + 1, later[-1] + 1) if year not in ends]
    if missing:
        raise HistoryValidationError(
            history.snapshots[ends[later[-1]]].path.parent,
            f"the history has no snapshot of 31 December {', '.join(map(str, missing))}: a backtest scores "
            "every year from the start to the last snapshot",
            remediation="Add the missing year-end censuses (named census_YYYY-12-31.csv).",
        )
    return from_year + 1, later[-1]


def _scratch_workspace(
    config: SimulationConfig, history: CensusHistory, snapshot: int, scratch: Path, first: int, last: int
) -> SimulationConfig:
    """A workspace whose census is the starting snapshot's active employees and whose config is the scenario's."""
    scratch.mkdir(parents=True)
    rows = history.rows
    start = rows[(rows["snapshot"] == snapshot) & rows["termination_date"].isna()]
    census = pd.DataFrame(
        {
            "employee_id": start["employee_id"],
            "birth_date": start["birth_date"].dt.strftime("%Y-%m-%d"),
            "hire_date": start["hire_date"].dt.strftime("%Y-%m-%d"),
            "termination_date": "",
            "level_id": start["level_id"].astype("int64"),
            "annual_compensation": start["compensation"].map("{:.2f}".format),
            "deferral_rate": start["deferral_rate"].map(lambda v: f"{v:.4f}"),
        },
        columns=list(REQUIRED_COLUMNS),
    )
    census.to_csv(scratch / "census.csv", index=False, lineterminator="\n")
    raw = config.model_dump(mode="json")
    raw["simulation"].update({"start_year": first, "end_year": last})
    # the seed's salary ranges keep the workspace's anchoring (its start year unless set)
    base = config.compensation.salary_range_base_year or config.simulation.start_year
    raw["compensation"]["salary_range_base_year"] = base
    raw["paths"] = {"census": "census.csv", "database": "simulation.duckdb"}
    import yaml

    (scratch / CONFIG_FILE_NAME).write_text(yaml.safe_dump(raw, sort_keys=False))
    run_config = validate_config(raw, workspace_dir=scratch, config_path=scratch / CONFIG_FILE_NAME)
    check_assumption_tables(run_config)
    return run_config.model_copy(update={"scenario": config.scenario})


def _simulated(db: DatabaseConnectionManager, scenario: str, year: int, current: CurrentAssumptions) -> pd.DataFrame:
    """Every seed's figures of a simulated year: the metrics model's, and the breakdowns from its snapshot."""
    metrics = pd.DataFrame(read_year_metrics(db, [scenario], year, year))
    with db.connection() as conn:
        relation = (
            f"(select random_seed, employee_id, birth_date, hire_date, termination_date, compensation, deferral_rate "
            f"from {SNAPSHOT_TABLE} where scenario_id = '{scenario}' and simulation_year = {int(year)})"
        )
        figures = year_figures(conn, relation, year, current.tenure, current.age)
        # only this year's rows are read by the next year: keep the scratch database small
        conn.execute(f"delete from {SNAPSHOT_TABLE} where simulation_year < ?", [year])
    model = metrics.rename(columns={"simulation_year": "year"})[["random_seed", *MODEL_FIGURES]]
    figures = figures.drop(columns=list(MODEL_FIGURES)).merge(model, on="random_seed")
    return figures.assign(year=year)


def history_figures(history: CensusHistory, first: int, last: int, current: CurrentAssumptions) -> pd.DataFrame:
    """The history's figures for every scored year (first..last), computed as the simulated ones are."""
    ends = year_end_snapshots(history)
    frames = []
    experienced = history.experience.experienced
    for year in range(first, last + 1):
        later = ends[year]
        missing_ids = experienced.loc[
            (experienced["interval"] == later - 1) & (experienced["outcome"] == "unknown"), "employee_id"
        ]
        rows = history.rows
        earlier = rows[(rows["snapshot"] == later - 1) & rows["employee_id"].isin(missing_ids)]
        missing = earlier[["employee_id", "birth_date", "hire_date", "compensation", "deferral_rate"]].assign(
            termination_date=pd.Timestamp(date(year, 12, 31))
        )
        shaped = history_year_rows(rows, [later], missing, pd.Timestamp(history.snapshots[later - 1].as_of))
        with DatabaseConnectionManager.in_memory() as conn:
            conn.register("history_year", shaped)
            figures = year_figures(conn, "history_year", year, current.tenure, current.age)
        frames.append(figures.assign(year=year))
    return pd.concat(frames, ignore_index=True)


def _scorecard(simulated: pd.DataFrame, actual: pd.DataFrame, names: list[str], *, banded: bool) -> pd.DataFrame:
    rows = []
    for year in sorted(actual["year"].unique()):
        seeds = simulated[simulated["year"] == year]
        truth = actual[actual["year"] == year].iloc[0]
        for name in names:
            values = seeds[name].to_numpy(dtype=float)
            values = values[np.isfinite(values)]
            observed = float(truth[name]) if pd.notna(truth[name]) else float("nan")
            middle = float(np.median(values)) if values.size else float("nan")
            p10 = float(np.quantile(values, 0.10)) if banded and values.size else float("nan")
            p90 = float(np.quantile(values, 0.90)) if banded and values.size else float("nan")
            covered: bool | None = None
            if banded and values.size and observed == observed:
                covered = bool(p10 <= observed <= p90)
            rows.append(
                {
                    "year": int(year),
                    "figure": name,
                    "label": figure_metric(name).label,
                    "actual": observed,
                    "simulated": middle,
                    "error": middle - observed,
                    "relative_error": (middle - observed) / observed if observed else float("nan"),
                    "p10": p10,
                    "p90": p90,
                    "covered": covered,
                }
            )
    frame = pd.DataFrame(rows, columns=list(SCORECARD_COLUMNS))
    frame["covered"] = frame["covered"].astype(object)
    return frame


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):  # another backtest may still be running beside it
        folder.rmdir()
