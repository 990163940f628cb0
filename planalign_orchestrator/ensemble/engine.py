"""The vectorized ensemble engine: every seed of a chunk in one dbt invocation per year.

A chunk runs in a scratch database of its own (a copy of the base database, which
holds only the tables the yearly models read: the seeds and the foundation), so the
workspace's own results are never touched and chunks never share a writable file.
After each year the chunk keeps its metric rows and prunes the fact tables to the
roster the next year starts from, so the scratch file holds about one year of every
seed's rows, not all of them. The same function runs in-process and on a Dask worker
(it is a plain, picklable call), which is why results are identical either way.
"""

from __future__ import annotations

import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from planalign_orchestrator.config import SimulationConfig
from planalign_orchestrator.database import DatabaseConnectionManager
from planalign_orchestrator.exceptions import SimulationError
from planalign_orchestrator.factory import create_dbt_runner
from planalign_orchestrator.metrics import METRICS_MODEL, read_year_metrics
from planalign_orchestrator.pipeline.yearly_step import EVENTS_MODEL, run_year
from planalign_orchestrator.progress import EnsembleYearFinished, ProgressObserver, YearStarted

BALANCES_MODEL = "fct_terminated_vested_balances"
DETAIL_TABLES = ("fct_workforce_snapshot", EVENTS_MODEL, "fct_year_plan", BALANCES_MODEL)
DETAIL_PREFIX = "ensemble_detail_"


@dataclass(frozen=True)
class ChunkTask:
    """One chunk of an ensemble's seeds, everything a worker needs to run it (picklable).

    The scenario's validated config travels with it, so a worker neither reopens the
    workspace nor validates anything again.
    """

    config: SimulationConfig
    seeds: tuple[int, ...]
    last_year: int
    base_database: str
    work_dir: str
    label: str
    threads: int = 1
    detail_seed: int | None = None


@dataclass(frozen=True)
class ChunkResult:
    """A finished chunk: the fct_year_metrics rows of every seed and year, and where it ran."""

    label: str
    seeds: tuple[int, ...]
    rows: list[dict[str, object]] = field(default_factory=list)
    database: str = ""
    seconds: float = 0.0


def chunk_label(seeds: tuple[int, ...]) -> str:
    """How a chunk is named in progress and errors: its seeds, as a range when contiguous."""
    if len(seeds) > 2 and seeds == tuple(range(seeds[0], seeds[-1] + 1)):
        return f"seeds {seeds[0]}-{seeds[-1]}"
    return "seeds " + ",".join(str(seed) for seed in seeds)


def run_chunk(task: ChunkTask, on_progress: ProgressObserver | None = None) -> ChunkResult:
    """Simulate start_year..last_year for every seed of the chunk; its metric rows per (seed, year)."""
    started = time.perf_counter()
    config = task.config
    work = Path(task.work_dir)
    database = work / Path(task.base_database).name
    if database.resolve() != Path(task.base_database).resolve():
        # A folder per attempt: a chunk Dask re-runs never shares files with an attempt
        # whose worker it only believes dead.
        work = work / f"attempt-{uuid.uuid4().hex[:8]}"
        database = work / Path(task.base_database).name
        work.mkdir(parents=True)
        shutil.copyfile(task.base_database, database)
    runner = create_dbt_runner(config, database, threads=task.threads, work_dir=work)
    db = DatabaseConnectionManager(database)
    first = config.simulation.start_year
    total = task.last_year - first + 1
    rows: list[dict[str, object]] = []
    for index, year in enumerate(range(first, task.last_year + 1), start=1):
        year_started = time.perf_counter()
        if on_progress is not None:
            on_progress(YearStarted(year, index, total, reason=f"{len(task.seeds)} seeds", scenario=config.scenario))
        # The event log is built only when a seed's full detail is kept.
        run_year(
            runner, config, year, seeds=task.seeds, with_events=task.detail_seed is not None, columns_checked=index > 1
        )
        year_rows = read_year_metrics(db, [config.scenario], year, year)
        with db.connection() as conn:
            _keep_detail(conn, task.detail_seed, year, created=index == 1)
            _prune(conn, year)
        found = {int(str(row["random_seed"])) for row in year_rows}
        if found != set(task.seeds):
            missing = sorted(set(task.seeds) - found)
            raise SimulationError(
                f"Ensemble chunk {task.label}: year {year} produced no rows for seed(s) {missing[:10]}.",
                remediation="This is a bug in the yearly models; report it with the workspace's logs/dbt/dbt.log.",
            )
        rows.extend(year_rows)
        if on_progress is not None:
            on_progress(
                EnsembleYearFinished(
                    year,
                    index,
                    total,
                    len(task.seeds),
                    time.perf_counter() - year_started,
                    scenario=config.scenario,
                )
            )
    return ChunkResult(task.label, task.seeds, rows, str(database), time.perf_counter() - started)


def _keep_detail(conn: duckdb.DuckDBPyConnection, seed: int | None, year: int, *, created: bool) -> None:
    """Copy one seed's full rows of the year aside (the per-employee detail kept on request)."""
    if seed is None:
        return
    for table in DETAIL_TABLES:
        target = f"main.{DETAIL_PREFIX}{table}"
        if created:
            conn.execute(f"create or replace table {target} as select * from main.{table} where false")
        conn.execute(
            f"insert into {target} select * from main.{table} where random_seed = ? and simulation_year = ?",
            [seed, year],
        )


def _prune(conn: duckdb.DuckDBPyConnection, year: int) -> None:
    """Keep only what the next year reads (the year's snapshot and terminated-vested accounts).

    The year's metrics and detail are already taken.
    """
    conn.execute("delete from main.fct_workforce_snapshot where simulation_year < ?", [year])
    conn.execute(f"delete from main.{BALANCES_MODEL} where simulation_year < ?", [year])
    conn.execute("delete from main.fct_year_plan where simulation_year <= ?", [year])
    conn.execute(f"delete from main.{METRICS_MODEL} where simulation_year <= ?", [year])
    built = conn.execute(
        "select count(*) from information_schema.tables where table_schema = 'main' and table_name = ?", [EVENTS_MODEL]
    ).fetchone()
    if built and built[0]:
        conn.execute(f"delete from main.{EVENTS_MODEL} where simulation_year <= ?", [year])
