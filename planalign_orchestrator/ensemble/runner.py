"""Running an ensemble: heal, build the base database, run the chunks, combine, record.

In-process (the default) the whole ensemble is one chunk: one dbt invocation per
year covers every seed. With a `dask.distributed.Client` the seeds are split into
chunks, each simulated by the same `run_chunk` on a worker, in a copy of the base
database of its own (under the workspace, so workers need the workspace's folder:
the same machine, or a shared file system). Results are combined only when every
seed of every year is there; a chunk whose worker failed or died is retried by Dask
(`retries`), and if it still fails the run stops naming the chunk. Nothing is
written to the workspace until the whole ensemble is complete.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planalign_orchestrator.config import SimulationConfig
from planalign_orchestrator.database import DatabaseConnectionManager, attached
from planalign_orchestrator.diskspace import (
    disk_full_error,
    disk_full_translated,
    ensemble_estimate,
    is_disk_full,
    require_free_space,
)
from planalign_orchestrator.ensemble.engine import ChunkResult, ChunkTask, chunk_label, run_chunk
from planalign_orchestrator.ensemble.metrics import DEFAULT_MIN_SEEDS, seed_metrics
from planalign_orchestrator.ensemble.result import EnsembleResult
from planalign_orchestrator.ensemble.store import write_ensemble
from planalign_orchestrator.exceptions import ConfigurationError, SimulationError
from planalign_orchestrator.freshness.recipes import ProjectRecipes
from planalign_orchestrator.freshness.state import read_build_state
from planalign_orchestrator.pipeline.orchestrator import PipelineOrchestrator
from planalign_orchestrator.progress import EnsembleChunkFinished, ProgressEmitter, ProgressObserver
from planalign_orchestrator.run_lock import recorded_run
from planalign_orchestrator.workspace import lock_path_for

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

SCRATCH_FOLDER = ".planalign_ensemble"
MAX_SEEDS = 10_000
# How often Dask re-runs a chunk whose worker failed or died before the run stops.
CHUNK_RETRIES = 2


def ensemble_seeds(config: SimulationConfig, seeds: int | Sequence[int]) -> tuple[int, ...]:
    """The seeds to run: a count N means the config's random_seed and the N-1 after it."""
    if isinstance(seeds, bool) or not isinstance(seeds, int | list | tuple | range):
        raise ConfigurationError(
            f"seeds must be a number of seeds or a list of seeds, got {seeds!r}",
            remediation="Pass e.g. seeds=100, or seeds=[1, 2, 3] (CLI: --seeds 100 or --seed-list 1,2,3).",
        )
    if isinstance(seeds, int):
        if not 1 <= seeds <= MAX_SEEDS:
            raise ConfigurationError(
                f"the number of seeds must be between 1 and {MAX_SEEDS:,}, got {seeds}",
                remediation="Pass e.g. seeds=100 (CLI: --seeds 100).",
            )
        base = config.simulation.random_seed
        return tuple(range(base, base + seeds))
    chosen = tuple(seeds)
    bad = [s for s in chosen if isinstance(s, bool) or not isinstance(s, int) or s < 0]
    if not chosen or bad or len(set(chosen)) != len(chosen) or len(chosen) > MAX_SEEDS:
        raise ConfigurationError(
            f"a seed list must hold 1 to {MAX_SEEDS:,} different whole numbers >= 0, got {list(chosen)[:20]}",
            remediation="Pass e.g. seeds=[1, 2, 3] (CLI: --seed-list 1,2,3).",
        )
    return tuple(sorted(chosen))


def split_chunks(seeds: tuple[int, ...], chunks: int) -> list[tuple[int, ...]]:
    """`seeds` in `chunks` contiguous parts of nearly equal size (none empty)."""
    count = max(1, min(chunks, len(seeds)))
    size, extra = divmod(len(seeds), count)
    parts, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        parts.append(seeds[start:end])
        start = end
    return parts


class EnsembleRunner:
    """Runs one scenario's ensemble for a workspace, in-process or on a Dask cluster."""

    def __init__(self, orchestrator: PipelineOrchestrator, workspace_root: Path, *, threads: int = 1) -> None:
        self.orchestrator = orchestrator
        self.config = orchestrator.config
        self.workspace_root = Path(workspace_root)
        self.threads = threads
        self._progress = ProgressEmitter()

    def subscribe(self, observer: ProgressObserver) -> None:
        self._progress.subscribe(observer)

    @property
    def scratch_root(self) -> Path:
        return self.workspace_root / SCRATCH_FOLDER / self.config.scenario

    def run(
        self,
        seeds: tuple[int, ...],
        first_year: int,
        last_year: int,
        *,
        client: Any = None,
        chunks: int | None = None,
        min_seeds: int = DEFAULT_MIN_SEEDS,
        detail_seed: int | None = None,
    ) -> EnsembleResult:
        """Simulate start_year..last_year for every seed; store and return first..last."""
        if detail_seed is not None and detail_seed not in seeds:
            raise ConfigurationError(
                f"detail_seed {detail_seed} is not one of the ensemble's seeds",
                remediation=f"Pick one of them, e.g. detail_seed={seeds[0]}.",
            )
        db = self.orchestrator.db_manager
        with recorded_run(lock_path_for(db.db_path).parent, "ensemble", f"{first_year}-{last_year}"):
            self.orchestrator.hook_manager.run_pre_simulation_hooks()
            runner = self.orchestrator.dbt_runner
            recipe = ProjectRecipes(runner.project_nodes(), runner.base_vars).year()
            with db.connection(read_only=True) as conn:
                state = read_build_state(conn)
            components = self.orchestrator.freshness.ensemble_components(recipe, state, seeds, last_year)
            if components is None:
                raise SimulationError(
                    "The workspace's tables have no build records, so an ensemble could not be recorded as current.",
                    remediation="Run `planalign init` to rebuild them, then run the ensemble again.",
                )
            needed = ensemble_estimate(len(seeds), self.orchestrator.workforce_size())
            purpose = f"run the ensemble of {len(seeds):,} seeds"
            require_free_space(self.scratch_root, needed, purpose=purpose, workspace=self.workspace_root)
            mode = "in-process" if client is None else "distributed"
            try:
                with disk_full_translated(
                    self.scratch_root, purpose=purpose, needed_bytes=needed, workspace=self.workspace_root
                ):
                    base = self._build_base(recipe.upstream)
                    if client is None:
                        results = [self._run_in_process(seeds, last_year, base, detail_seed)]
                    else:
                        results = self._run_distributed(client, seeds, last_year, base, chunks, detail_seed)
                metrics = self._combine(results, seeds, last_year)
                detail = None
                if detail_seed is not None:
                    holder = next(result for result in results if detail_seed in result.seeds)
                    detail = (detail_seed, holder.database)
                record = write_ensemble(
                    db, self.config.scenario, seeds, first_year, last_year, metrics, recipe, components, detail
                )
            except BaseException:
                # Nothing of a failed ensemble is kept: its scratch space goes back at once
                # (on a full disk, it is what filled it).
                self._remove_scratch()
                raise
            logger.info(
                "Ensemble of %d seeds, scenario %s, %s-%s (%s): %d metric rows stored",
                len(seeds),
                self.config.scenario,
                first_year,
                last_year,
                mode,
                len(metrics),
            )
            self._remove_scratch()
        shown = metrics[metrics["year"].between(first_year, last_year)].reset_index(drop=True)
        return EnsembleResult(
            self.config.scenario, seeds, first_year, last_year, shown, record.built_at, min_seeds, mode
        )

    # -- steps --------------------------------------------------------------------------

    def _remove_scratch(self) -> None:
        shutil.rmtree(self.scratch_root, ignore_errors=True)
        with contextlib.suppress(OSError):  # another scenario's scratch folder may be beside it
            self.scratch_root.parent.rmdir()

    def _build_base(self, tables: Sequence[str]) -> Path:
        """A fresh scratch database holding copies of the tables the yearly models read."""
        shutil.rmtree(self.scratch_root, ignore_errors=True)
        base = self.scratch_root / "base" / self.orchestrator.db_manager.db_path.name
        base.parent.mkdir(parents=True)
        with (
            DatabaseConnectionManager(base).connection() as conn,
            attached(conn, self.orchestrator.db_manager.db_path, "workspace"),
        ):
            for table in tables:
                conn.execute(f"create table main.{table} as select * from workspace.main.{table}")
        return base

    def _task(self, seeds: tuple[int, ...], last_year: int, base: Path, work: Path, detail: int | None) -> ChunkTask:
        return ChunkTask(
            config=self.config,
            seeds=seeds,
            last_year=last_year,
            base_database=str(base),
            work_dir=str(work),
            label=chunk_label(seeds),
            threads=self.threads,
            detail_seed=detail if detail in seeds else None,
        )

    def _run_in_process(self, seeds: tuple[int, ...], last_year: int, base: Path, detail: int | None) -> ChunkResult:
        task = self._task(seeds, last_year, base, base.parent, detail)
        return run_chunk(task, on_progress=self._progress.emit)

    def _run_distributed(
        self,
        client: Any,
        seeds: tuple[int, ...],
        last_year: int,
        base: Path,
        chunks: int | None,
        detail: int | None,
    ) -> list[ChunkResult]:
        from dask.distributed import as_completed

        workers = len(client.scheduler_info().get("workers", {})) or 1
        parts = split_chunks(seeds, chunks or 2 * workers)
        run_id = uuid.uuid4().hex[:8]
        futures = {}
        for index, part in enumerate(parts):
            task = self._task(part, last_year, base, self.scratch_root / f"chunk-{index:03d}", detail)
            future = client.submit(
                run_chunk, task, key=f"planalign-ensemble-{run_id}-{index:03d}", retries=CHUNK_RETRIES, pure=False
            )
            futures[future] = task
        results: list[ChunkResult] = []
        started = time.perf_counter()
        try:
            for done, future in enumerate(as_completed(list(futures)), start=1):  # type: ignore[no-untyped-call]
                task = futures[future]
                try:
                    result = future.result()
                except Exception as error:
                    seconds = time.perf_counter() - started
                    self._progress.emit(EnsembleChunkFinished(task.label, done, len(parts), seconds, str(error)))
                    if is_disk_full(error):  # the chunks write under the workspace: no retry gives it room
                        raise disk_full_error(
                            error, self.scratch_root, purpose=f"run ensemble chunk {task.label}"
                        ) from error
                    raise SimulationError(
                        f"Ensemble chunk {task.label} failed on the Dask cluster ({type(error).__name__}: {error}); "
                        f"Dask re-ran it after a worker failure or loss, up to its limits. "
                        "No ensemble results were stored.",
                        remediation="Check the cluster's workers (their memory and logs), then run the ensemble "
                        "again; or run it in-process (without client= / --scheduler).",
                    ) from error
                results.append(result)
                self._progress.emit(EnsembleChunkFinished(task.label, done, len(parts), result.seconds))
        finally:
            if len(results) < len(parts):  # failed or interrupted: nothing of this run keeps running
                for future in futures:
                    future.cancel()
        return results

    def _combine(self, results: Sequence[ChunkResult], seeds: tuple[int, ...], last_year: int) -> pd.DataFrame:
        """Every chunk's rows as one frame; refused unless every (seed, year) is there exactly once."""
        rows = [row for result in results for row in result.rows]
        metrics = seed_metrics(rows)
        years = range(self.config.simulation.start_year, last_year + 1)
        expected = {(seed, year) for seed in seeds for year in years}
        found = list(zip(metrics["seed"], metrics["year"], strict=True))
        if set(found) != expected or len(found) != len(expected):
            missing = sorted({seed for seed, _ in expected - set(found)})
            raise SimulationError(
                f"The ensemble is incomplete: {len(expected) - len(set(found) & expected)} (seed, year) results "
                f"missing (seeds {missing[:10]}), or duplicated. No ensemble results were stored.",
                remediation="Run the ensemble again; if it recurs, report it with the workspace's logs.",
            )
        return metrics
