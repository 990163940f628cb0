"""PipelineOrchestrator: pre-simulation hooks once, then one dbt invocation per year that needs it.

Year N reads year N-1's snapshot, so years run in order. A year is simulated when it
is missing, stale (built from inputs that have changed since, including the year
before it) or of unknown build state; a year still fresh is reused as it is, because
the same inputs give the same rows. Years before the requested range are re-run first
when the range needs them and they are not fresh, so a result is never reported from
a year built on different inputs than the year before it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING

from planalign_orchestrator.config import SimulationConfig, check_year_bounds
from planalign_orchestrator.database import DatabaseConnectionManager
from planalign_orchestrator.dbt_runner import DbtRunner
from planalign_orchestrator.diskspace import (
    DBT_TARGET_BYTES,
    disk_full_translated,
    require_free_space,
    same_file_system,
    year_estimate,
)
from planalign_orchestrator.exceptions import Remedy, SimulationError
from planalign_orchestrator.freshness.checker import FreshnessChecker, Inspection
from planalign_orchestrator.freshness.inputs import Recipe
from planalign_orchestrator.freshness.recorder import BuildRecorder
from planalign_orchestrator.freshness.report import PlannedYear
from planalign_orchestrator.pipeline.hooks import HookManager
from planalign_orchestrator.pipeline.results import SimulationSummary, year_summaries
from planalign_orchestrator.pipeline.yearly_step import run_year, yearly_recipe
from planalign_orchestrator.progress import (
    SIMULATE_STEP,
    DbtEvent,
    ProgressEmitter,
    ProgressObserver,
    YearFinished,
    YearStarted,
)
from planalign_orchestrator.run_lock import recorded_run
from planalign_orchestrator.tables import TableState
from planalign_orchestrator.workspace import lock_path_for

if TYPE_CHECKING:
    from planalign_orchestrator.self_healing.auto_initializer import AutoInitializer

logger = logging.getLogger(__name__)


class PipelineOrchestrator:
    """Runs multi-year simulations for one workspace."""

    def __init__(
        self,
        config: SimulationConfig,
        db_manager: DatabaseConnectionManager,
        dbt_runner: DbtRunner,
        hook_manager: HookManager | None = None,
        *,
        freshness: FreshnessChecker | None = None,
    ) -> None:
        self.config = config
        self.db_manager = db_manager
        self.dbt_runner = dbt_runner
        self.hook_manager = hook_manager or HookManager()
        self.freshness = freshness or FreshnessChecker.for_runner(db_manager, dbt_runner)
        self.auto_initializer: AutoInitializer | None = None  # set by the factory when auto-initializing
        self._progress = ProgressEmitter()

    def subscribe(self, observer: ProgressObserver) -> None:
        """Receive year events, and initialization events when auto-initialization is on."""
        self._progress.subscribe(observer)
        if self.auto_initializer is not None:
            self.auto_initializer.subscribe(observer)

    def unsubscribe(self, observer: ProgressObserver) -> None:
        self._progress.unsubscribe(observer)
        if self.auto_initializer is not None:
            self.auto_initializer.unsubscribe(observer)

    def execute_multi_year_simulation(
        self, start_year: int | None = None, end_year: int | None = None
    ) -> SimulationSummary:
        """Run the pre-simulation hooks once, then every year from start to end that needs it.

        Returns the summaries of start..end inclusive (years reused as they were, or
        just simulated). Earlier years the range depends on are simulated first when
        they are missing, stale or unknown.
        """
        first = self.config.simulation.start_year if start_year is None else int(start_year)
        last = self.config.simulation.end_year if end_year is None else int(end_year)
        self.check_year_range(first, last)
        # Recorded for the whole run, so `planalign status` never opens the database under it.
        with recorded_run(lock_path_for(self.db_manager.db_path).parent, "simulate", f"{first}-{last}"):
            return self._simulate(first, last)

    def _simulate(self, first: int, last: int) -> SimulationSummary:
        self.hook_manager.run_pre_simulation_hooks()
        # The initializer's last look (under its lock, after anything it built) is the
        # database as it is now; without one (nothing had changed), look once here.
        initializer = self.auto_initializer
        inspection = (initializer.last_inspection if initializer else None) or self.freshness.inspect()
        plan = self._plan(first, last, inspection)
        scenario = self.config.scenario
        # Tables written before scenarios existed lack the scenario key: the first year
        # run replaces them (all their years are unknown, so the run starts there).
        full_refresh = any(p.runs for p in plan) and inspection.unkeyed_results
        reused = [p.year for p in plan if not p.runs]
        summaries = year_summaries(self.db_manager, scenario, min(reused), max(reused)) if reused else {}
        recipe: Recipe | None = None
        recorded: dict[int, str | None] = {}
        headcount = self.workforce_size() if any(p.runs for p in plan) else 0
        for index, planned in enumerate(plan, start=1):
            if not planned.runs:
                summary = summaries[planned.year]
                self._progress.emit(
                    YearFinished(planned.year, index, len(plan), 0.0, summary, reused=True, scenario=scenario)
                )
                continue
            with self._room_for_year(planned.year, headcount):
                self._progress.emit(
                    YearStarted(planned.year, index, len(plan), reason=planned.reason, scenario=scenario)
                )
                started = time.perf_counter()
                run_year(
                    self.dbt_runner,
                    self.config,
                    planned.year,
                    full_refresh=full_refresh,
                    columns_checked=recipe is not None,
                    on_node=self._on_node,
                )
                full_refresh = False
                recipe = recipe or yearly_recipe(self.dbt_runner)
                # One open of the file for the year's build record and its summary.
                with self.db_manager.connection() as conn:
                    BuildRecorder(self.db_manager, self.freshness).record_year(
                        planned.year, recipe, recorded, conn=conn
                    )
                    summaries.update(year_summaries(self.db_manager, scenario, planned.year, planned.year, conn=conn))
            summary = summaries[planned.year]
            duration = time.perf_counter() - started
            logger.info("Simulated %s in %.2fs: %s active", planned.year, duration, summary.headcount_end)
            self._progress.emit(YearFinished(planned.year, index, len(plan), duration, summary, scenario=scenario))
        return SimulationSummary(
            tuple(summaries[year] for year in range(first, last + 1)),
            scenario,
            self._stale_later_years(last, inspection, ran=recipe is not None),
        )

    def _stale_later_years(self, last: int, before: Inspection, *, ran: bool) -> tuple[int, ...]:
        """Years after `last`, simulated before, that need a run now (a re-run year changed what they stand on).

        Looked up again only when this run simulated something and such years exist.
        """
        if not ran or not any(status.year > last for status in before.years):
            return ()
        return tuple(s.year for s in self.freshness.inspect().years if s.year > last and s.state.needs_build)

    def workforce_size(self) -> int:
        """Employees at the start (the baseline workforce; 0 before it is built): what disk estimates scale with."""
        if not self.db_manager.exists():
            return 0
        with self.db_manager.connection(read_only=True) as conn:
            found = conn.execute(
                "select count(*) from information_schema.tables "
                "where table_schema = 'main' and table_name = 'int_baseline_workforce'"
            ).fetchone()
            if not found or not found[0]:
                return 0
            rows = conn.execute("select count(*) from main.int_baseline_workforce").fetchone()
        return int(rows[0]) if rows else 0

    @contextmanager
    def _room_for_year(self, year: int, headcount: int) -> Iterator[None]:
        """Check the free space a year needs before it starts; a disk that fills up under it is reported as such."""
        growth = max(self.config.simulation.target_growth_rate, 0.0)
        years_in = year - self.config.simulation.start_year + 1
        needed = year_estimate(round(headcount * (1 + growth) ** years_in))
        database_folder = self.db_manager.db_path.parent
        workspace = self.config.workspace_dir
        purpose = f"simulate {year}"
        require_free_space(database_folder, needed, purpose=purpose, workspace=workspace)
        target = self.dbt_runner.target_dir
        if not same_file_system(target, database_folder):
            require_free_space(target, DBT_TARGET_BYTES, purpose=f"{purpose} (dbt's files)", workspace=workspace)
        with disk_full_translated(database_folder, purpose=purpose, needed_bytes=needed, workspace=workspace):
            yield

    def _on_node(self, event: DbtEvent) -> None:
        """A running year's dbt events (its nodes, dbt's first load), marked as the simulate step."""
        self._progress.emit(replace(event, step_name=SIMULATE_STEP))

    def plan_years(self, first: int, last: int) -> list[PlannedYear]:
        """Which years a simulation of first..last runs, and why; reads the database only."""
        self.check_year_range(first, last)
        return self._plan(first, last, self.freshness.inspect())

    def _plan(self, first: int, last: int, inspection: Inspection) -> list[PlannedYear]:
        statuses = {status.year: status for status in inspection.years}
        begin = first
        for year in range(self.config.simulation.start_year, first):
            status = statuses.get(year)
            if status is None or status.state.needs_build:
                begin = year
                break
        plan = []
        for year in range(begin, last + 1):
            status = statuses.get(year)
            if status is None:
                reason = "not simulated yet" + (f" (year {first} needs it)" if year < first else "")
            elif status.state is TableState.PRESENT:
                reason = None
            else:
                reason = f"{status.state.value}: {status.explanation}"
            plan.append(PlannedYear(year, reason))
        return plan

    def check_year_range(self, first: int, last: int) -> None:
        """SimulationError, with the command to run instead, for years this workspace cannot simulate."""
        base = self.config.simulation.start_year
        check_year_bounds(first, last, example_start=base)
        if last < first:
            raise SimulationError(
                f"End year {last} is before start year {first}.",
                remedy=Remedy(
                    "Pass the years in order: {command}.",
                    action="simulate",
                    options={"start_year": last, "end_year": first},
                    cli=f"planalign simulate {last}-{first}",
                ),
            )
        if first < base:
            raise SimulationError(
                f"Start year {first} is before the workspace's simulation.start_year {base}; "
                "the baseline workforce is built as of that year.",
                remediation=f"Simulate from {base}, or set simulation.start_year to {first} in "
                "simulation_config.yaml (the foundation is rebuilt for the new start year).",
            )
