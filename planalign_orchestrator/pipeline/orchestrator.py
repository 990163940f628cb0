"""PipelineOrchestrator: pre-simulation hooks once, then one dbt invocation per year.

Year N reads year N-1's snapshot, so years run in order and a run may only start
after the last simulated year or at the configured start year.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from planalign_orchestrator.config import SimulationConfig
from planalign_orchestrator.database import DatabaseConnectionManager
from planalign_orchestrator.dbt_runner import DbtRunner
from planalign_orchestrator.exceptions import SimulationError
from planalign_orchestrator.pipeline.hooks import HookManager
from planalign_orchestrator.pipeline.results import (
    SimulationSummary,
    simulated_years,
    year_summary,
)
from planalign_orchestrator.progress import (
    ProgressEmitter,
    ProgressObserver,
    YearFinished,
    YearStarted,
)

if TYPE_CHECKING:
    from planalign_orchestrator.self_healing.auto_initializer import AutoInitializer

logger = logging.getLogger(__name__)

YEARLY_SELECTOR = "tag:yearly"


class PipelineOrchestrator:
    """Runs multi-year simulations for one workspace."""

    def __init__(
        self,
        config: SimulationConfig,
        db_manager: DatabaseConnectionManager,
        dbt_runner: DbtRunner,
        hook_manager: HookManager | None = None,
    ) -> None:
        self.config = config
        self.db_manager = db_manager
        self.dbt_runner = dbt_runner
        self.hook_manager = hook_manager or HookManager()
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
        """Run the pre-simulation hooks once, then every year from start to end inclusive."""
        first = self.config.simulation.start_year if start_year is None else int(start_year)
        last = self.config.simulation.end_year if end_year is None else int(end_year)
        self._check_year_range(first, last)
        self.hook_manager.run_pre_simulation_hooks()
        self._check_prior_year(first)
        years = list(range(first, last + 1))
        summaries = []
        for index, year in enumerate(years, start=1):
            self._progress.emit(YearStarted(year, index, len(years)))
            started = time.perf_counter()
            self.dbt_runner.run([YEARLY_SELECTOR], vars=self.config.dbt_vars(year))
            summary = year_summary(self.db_manager, year)
            duration = time.perf_counter() - started
            logger.info("Simulated %s in %.2fs: %s active", year, duration, summary.headcount_end)
            summaries.append(summary)
            self._progress.emit(YearFinished(year, index, len(years), duration, summary))
        return SimulationSummary(tuple(summaries))

    def _check_year_range(self, first: int, last: int) -> None:
        base = self.config.simulation.start_year
        if last < first:
            raise SimulationError(
                f"End year {last} is before start year {first}.",
                remediation="Pass the years in order, e.g. `planalign simulate 2025-2027`.",
            )
        if first < base:
            raise SimulationError(
                f"Start year {first} is before the workspace's simulation.start_year {base}; "
                "the baseline workforce is built as of that year.",
                remediation=f"Simulate from {base}, or create a new workspace whose "
                f"simulation_config.yaml sets simulation.start_year to {first}.",
            )

    def _check_prior_year(self, first: int) -> None:
        if first == self.config.simulation.start_year:
            return
        if first - 1 not in simulated_years(self.db_manager):
            raise SimulationError(
                f"Year {first} needs year {first - 1}'s workforce snapshot, which has not been simulated.",
                remediation=f"Simulate from {self.config.simulation.start_year} (or from the year after "
                "the last simulated year).",
            )
