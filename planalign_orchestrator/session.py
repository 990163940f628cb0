"""WorkspaceSession: one workspace and everything done with it, for every face to call.

The terminal and the notebook both go through this facade (status, plan, initialize,
simulate), so a capability lands in one place and the faces only render. It wires
the engine exactly as `create_orchestrator` does (the contract's factory), and adds
the read-only views: `status()` and `plan()` never build, never write and never
import dbt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from planalign_orchestrator.database import DatabaseConnectionManager
from planalign_orchestrator.factory import create_dbt_runner, create_freshness_checker, create_orchestrator
from planalign_orchestrator.freshness.checker import FreshnessChecker
from planalign_orchestrator.freshness.report import BuildPlan, PlannedTable, WorkspaceStatus
from planalign_orchestrator.pipeline.orchestrator import PipelineOrchestrator
from planalign_orchestrator.pipeline.results import SimulationSummary
from planalign_orchestrator.progress import ProgressObserver
from planalign_orchestrator.self_healing.models import InitializationResult
from planalign_orchestrator.workspace import Workspace


class WorkspaceSession:
    """Status, plan, initialize and simulate for one workspace folder.

    `initializer_options` are AutoInitializer keyword arguments (timeout_seconds,
    recreate_corrupt, verbose, ...); `threads` is dbt's thread count.
    """

    def __init__(
        self,
        workspace: Workspace,
        *,
        threads: int = 1,
        initializer_options: dict[str, Any] | None = None,
    ) -> None:
        self.workspace = workspace
        self.threads = threads
        self.initializer_options = dict(initializer_options or {})

    @classmethod
    def open(cls, folder: Path | str = ".", *, create: bool = True, **options: Any) -> WorkspaceSession:
        """The session of a workspace folder; a new folder becomes a workspace unless create=False."""
        return cls(Workspace.open(folder, create=create), **options)

    @property
    def root(self) -> Path:
        return self.workspace.root

    # -- read-only views -------------------------------------------------------------

    def status(self) -> WorkspaceStatus:
        """Every required table and simulated year: present, missing, empty, stale or unknown, and why."""
        inspection = self._freshness().inspect(read_only=True)
        return WorkspaceStatus(self.root, inspection.tables, inspection.years)

    def plan(self, start_year: int | None = None, end_year: int | None = None) -> BuildPlan:
        """What `simulate(start_year, end_year)` would build and why, without building anything.

        Years default to the config's simulation.start_year/end_year.
        """
        config = self.workspace.config.simulation
        first = config.start_year if start_year is None else int(start_year)
        last = config.end_year if end_year is None else int(end_year)
        orchestrator = self.orchestrator(auto_initialize=False)
        inspection = orchestrator.freshness.inspect(read_only=True)
        tables = [
            PlannedTable(s.table.name, s.table.tier, s.state, s.explanation) for s in inspection.tables_needing_build
        ]
        return BuildPlan(tables, orchestrator.plan_years(first, last), (first, last))

    def initialization_plan(self) -> BuildPlan:
        """What `initialize()` would build and why (tables only)."""
        inspection = self._freshness().inspect(read_only=True)
        return BuildPlan(
            [PlannedTable(s.table.name, s.table.tier, s.state, s.explanation) for s in inspection.tables_needing_build]
        )

    # -- building ----------------------------------------------------------------------

    def orchestrator(
        self, *, on_progress: ProgressObserver | None = None, auto_initialize: bool = True
    ) -> PipelineOrchestrator:
        """The contract's orchestrator for this workspace, with the session's options."""
        return create_orchestrator(
            self.workspace.config,
            threads=self.threads,
            auto_initialize=auto_initialize,
            on_progress=on_progress,
            initializer_options=self.initializer_options,
        )

    def initialize(self, *, on_progress: ProgressObserver | None = None) -> InitializationResult:
        """Build what the workspace lacks (missing, empty, stale or unknown tables)."""
        initializer = self.orchestrator(on_progress=on_progress).auto_initializer
        assert initializer is not None  # create_orchestrator(auto_initialize=True) always sets it
        return initializer.ensure_initialized()

    def simulate(
        self,
        start_year: int | None = None,
        end_year: int | None = None,
        *,
        on_progress: ProgressObserver | None = None,
    ) -> SimulationSummary:
        """Heal, then simulate the years that are not up to date; summaries of start..end."""
        return self.orchestrator(on_progress=on_progress).execute_multi_year_simulation(start_year, end_year)

    @property
    def db_manager(self) -> DatabaseConnectionManager:
        return DatabaseConnectionManager(self.workspace.database_path)

    def _freshness(self) -> FreshnessChecker:
        runner = create_dbt_runner(self.workspace.config, self.workspace.database_path)
        return create_freshness_checker(self.workspace.config, self.db_manager, runner)
