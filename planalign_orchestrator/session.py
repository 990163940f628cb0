"""WorkspaceSession: one workspace and everything done with it, for every face to call.

The terminal and the notebook both go through this facade (status, plan, initialize,
simulate, scenarios, compare), so a capability lands in one place and the faces only
render. It wires the engine exactly as `create_orchestrator` does (the contract's
factory), and adds the read-only views: `status()`, `plan()`, `scenarios()` and
`compare()` never build and never write, and none of them imports dbt.

Seed ensembles (`ensemble()`, `ensemble_result()`) are here too; their engine lives in
planalign_orchestrator.ensemble.

A session is bound to one scenario (the baseline unless named); `for_scenario`
gives the session of another, creating or updating its overrides first.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planalign_orchestrator.activity import active_runs
from planalign_orchestrator.comparison import Comparison, compare_scenarios
from planalign_orchestrator.config import BASELINE_SCENARIO, SimulationConfig
from planalign_orchestrator.database import DatabaseConnectionManager
from planalign_orchestrator.ensemble.metrics import DEFAULT_MIN_SEEDS
from planalign_orchestrator.ensemble.result import EnsembleResult
from planalign_orchestrator.exceptions import ConfigurationError, SimulationError, WorkspaceBusyError
from planalign_orchestrator.factory import create_dbt_runner, create_freshness_checker, create_orchestrator
from planalign_orchestrator.freshness.checker import FreshnessChecker, Inspection
from planalign_orchestrator.freshness.report import BuildPlan, PlannedTable, WorkspaceStatus
from planalign_orchestrator.pipeline.orchestrator import PipelineOrchestrator
from planalign_orchestrator.pipeline.results import SimulationSummary
from planalign_orchestrator.progress import ProgressObserver
from planalign_orchestrator.scenarios import Scenario, ScenarioStore
from planalign_orchestrator.self_healing.models import InitializationResult, TableState
from planalign_orchestrator.workspace import Workspace


@dataclass(frozen=True)
class ScenarioInfo:
    """One scenario as `scenarios()` lists it: its overrides and the freshness of its years."""

    scenario: Scenario
    years: dict[int, TableState]

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def freshness(self) -> str:
        if not self.years:
            return "not simulated"
        stale = [year for year, state in self.years.items() if state.needs_build]
        span = f"{min(self.years)}-{max(self.years)}"
        if not stale:
            return f"{span} up to date"
        return f"{span}: {len(stale)} of {len(self.years)} year(s) out of date"


class WorkspaceSession:
    """Status, plan, initialize, simulate and compare for one workspace folder and scenario.

    `initializer_options` are AutoInitializer keyword arguments (timeout_seconds,
    recreate_corrupt, verbose, ...); `threads` is dbt's thread count.
    """

    def __init__(
        self,
        workspace: Workspace,
        *,
        scenario: str = BASELINE_SCENARIO,
        threads: int = 1,
        initializer_options: dict[str, Any] | None = None,
    ) -> None:
        self.workspace = workspace
        self.scenarios_store = ScenarioStore(workspace)
        self.scenario = self.scenarios_store.load(scenario)
        self.config: SimulationConfig = self.scenarios_store.config(self.scenario)
        self.threads = threads
        self.initializer_options = dict(initializer_options or {})

    @classmethod
    def open(cls, folder: Path | str = ".", *, create: bool = True, **options: Any) -> WorkspaceSession:
        """The session of a workspace folder; a new folder becomes a workspace unless create=False."""
        return cls(Workspace.open(folder, create=create), **options)

    def for_scenario(self, name: str, overrides: Mapping[str, Any] | None = None) -> WorkspaceSession:
        """The session of scenario `name`; given overrides create or replace its scenario file first."""
        if overrides is not None:
            self.scenarios_store.save(name, overrides)
        return WorkspaceSession(
            self.workspace, scenario=name, threads=self.threads, initializer_options=self.initializer_options
        )

    def scenario_config(self, name: str, overrides: Mapping[str, Any]) -> SimulationConfig:
        """The config scenario `name` would run with these overrides, validated; nothing is written."""
        return self.scenarios_store.validate(name, overrides)

    @property
    def root(self) -> Path:
        return self.workspace.root

    @property
    def db_manager(self) -> DatabaseConnectionManager:
        return DatabaseConnectionManager(self.workspace.database_path)

    # -- read-only views -------------------------------------------------------------

    def active_runs(self) -> list[str]:
        """Other processes initializing or simulating this workspace now, described; reads only."""
        return [run.describe() for run in active_runs(self.workspace.lock_path.parent) if run.pid != os.getpid()]

    def require_idle(self) -> None:
        """WorkspaceBusyError when another process runs in the workspace: readers must not open it then."""
        runs = self.active_runs()
        if runs:
            raise WorkspaceBusyError(self.root, runs)

    def status(self) -> WorkspaceStatus:
        """Every required table and this scenario's simulated years: present, missing, empty, stale or unknown.

        Raises WorkspaceBusyError instead of looking while another process runs in it.
        """
        self.require_idle()
        inspection = self._freshness().inspect(read_only=True)
        return WorkspaceStatus(self.root, inspection.tables, inspection.years)

    def plan(self, start_year: int | None = None, end_year: int | None = None) -> BuildPlan:
        """What `simulate(start_year, end_year)` would build and why, without building anything.

        Years default to the config's simulation.start_year/end_year.
        """
        first, last = self.resolve_years(start_year, end_year)
        self.require_idle()
        orchestrator = self.orchestrator(auto_initialize=False)
        inspection = orchestrator.freshness.inspect(read_only=True)
        return BuildPlan(_planned_tables(inspection), orchestrator.plan_years(first, last), (first, last))

    def initialization_plan(self) -> BuildPlan:
        """What `initialize()` would build and why (tables only)."""
        self.require_idle()
        return BuildPlan(_planned_tables(self._freshness().inspect(read_only=True)))

    def scenarios(self) -> list[ScenarioInfo]:
        """Every scenario of the workspace (baseline first), its overrides and the freshness of its years."""
        infos = []
        for name in self.scenarios_store.names():
            session = self if name == self.scenario.name else self.for_scenario(name)
            years = {status.year: status.state for status in session.status().years}
            infos.append(ScenarioInfo(session.scenario, years))
        return infos

    def compare(self, names: Sequence[str], start_year: int | None = None, end_year: int | None = None) -> Comparison:
        """Key metrics of several scenarios side by side, per year, with deltas against the first.

        Every compared year must be up to date: a comparison is never made from a year
        built on other inputs than the scenario's current ones.
        """
        if len(names) < 2:
            raise ConfigurationError(
                "a comparison needs at least two scenarios",
                remediation="Name two or more, e.g. compare(['baseline', 'high_match']).",
            )
        first, last = self.resolve_years(start_year, end_year)
        self.require_idle()
        sessions = [self if name == self.scenario.name else self.for_scenario(name) for name in names]
        for session in sessions:
            session._require_fresh_years(first, last)
        return compare_scenarios(
            self.db_manager,
            [session.scenario for session in sessions],
            {session.scenario.name: session.config for session in sessions},
            first,
            last,
        )

    # -- building ----------------------------------------------------------------------

    def orchestrator(
        self, *, on_progress: ProgressObserver | None = None, auto_initialize: bool = True
    ) -> PipelineOrchestrator:
        """The contract's orchestrator for this workspace and scenario, with the session's options."""
        return create_orchestrator(
            self.config,
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
        """Heal, then simulate this scenario's years that are not up to date; summaries of start..end."""
        first, last = self.resolve_years(start_year, end_year)
        orchestrator = self.orchestrator(on_progress=on_progress)
        self._refuse_overrides_of_shared_inputs(orchestrator.freshness.inspect(read_only=True))
        return orchestrator.execute_multi_year_simulation(first, last)

    def ensemble(
        self,
        start_year: int | None = None,
        end_year: int | None = None,
        *,
        seeds: int | Sequence[int] = 100,
        client: Any = None,
        chunks: int | None = None,
        min_seeds: int = DEFAULT_MIN_SEEDS,
        detail_seed: int | None = None,
        on_progress: ProgressObserver | None = None,
    ) -> EnsembleResult:
        """Heal, then simulate many seeds of this scenario; per-seed metrics and their bands.

        In-process by default (one dbt invocation per year for every seed); with a
        dask.distributed `client`, seed chunks run on its workers. `detail_seed` keeps
        that seed's per-employee rows (ensemble_detail_* tables).
        """
        from planalign_orchestrator.ensemble.runner import EnsembleRunner, ensemble_seeds

        first, last = self.resolve_years(start_year, end_year)
        chosen = ensemble_seeds(self.config, seeds)
        orchestrator = self.orchestrator(on_progress=on_progress)
        orchestrator.plan_years(first, last)  # the same year checks as simulate
        self._refuse_overrides_of_shared_inputs(orchestrator.freshness.inspect(read_only=True))
        runner = EnsembleRunner(orchestrator, self.root, threads=self.threads)
        if on_progress is not None:
            runner.subscribe(on_progress)
        return runner.run(
            chosen, first, last, client=client, chunks=chunks, min_seeds=min_seeds, detail_seed=detail_seed
        )

    def ensemble_result(
        self, start_year: int | None = None, end_year: int | None = None, *, min_seeds: int = DEFAULT_MIN_SEEDS
    ) -> EnsembleResult:
        """The stored ensemble of this scenario, read only; refused when it is stale or missing."""
        from planalign_orchestrator.ensemble.store import current_ensemble

        first, last = self.resolve_years(start_year, end_year)
        self.require_idle()
        return current_ensemble(self.db_manager, self._freshness(), self.scenario.name, first, last, min_seeds)

    def ensemble_status(self) -> str | None:
        """One line on this scenario's stored ensemble (seeds, years, current or stale and why); None if none."""
        from planalign_orchestrator.ensemble.store import describe_ensemble, inspect_ensemble

        found = inspect_ensemble(self.db_manager, self._freshness(), self.scenario.name, with_metrics=False)
        return None if found is None else describe_ensemble(found[0], found[2])

    # -- helpers -------------------------------------------------------------------------

    def resolve_years(self, start_year: int | None, end_year: int | None) -> tuple[int, int]:
        settings = self.config.simulation
        first = settings.start_year if start_year is None else int(start_year)
        last = settings.end_year if end_year is None else int(end_year)
        return first, last

    def _freshness(self) -> FreshnessChecker:
        runner = create_dbt_runner(self.config, self.workspace.database_path)
        return create_freshness_checker(self.config, self.db_manager, runner)

    def _require_fresh_years(self, first: int, last: int) -> None:
        years = {status.year: status for status in self.status().years}
        problems = []
        for year in range(first, last + 1):
            status = years.get(year)
            if status is None:
                problems.append(f"{year} not simulated")
            elif status.state.needs_build:
                problems.append(f"{year} {status.state.value} ({status.explanation})")
        if problems:
            name = self.scenario.name
            raise SimulationError(
                f"Scenario {name!r} has no up-to-date results for {first}-{last}: {'; '.join(problems)}.",
                remediation=(
                    f"Simulate it first: `planalign simulate {first}-{last} --scenario {name}` "
                    f"(or nb.simulate(ws, {first}, {last}, scenario={name!r}))."
                ),
            )

    def _refuse_overrides_of_shared_inputs(self, inspection: Inspection) -> None:
        """A scenario may not change a value the shared tables (seeds, foundation) are built from."""
        if self.scenario.is_baseline:
            return
        shared_vars = {var: name for name, record in inspection.state.tables.items() for var in record.recipe.vars}
        for key in self.scenario.overrides:
            var = key.split(".", 1)[-1]
            if var in shared_vars:
                raise ConfigurationError(
                    f"scenario {self.scenario.name!r} overrides a value the shared table "
                    f"{shared_vars[var]} is built from; every scenario shares it",
                    key=key,
                    value=self.scenario.overrides[key],
                    config_path=self.scenarios_store.path(self.scenario.name),
                    remediation=f"Set {key} in simulation_config.yaml instead, or remove it from the scenario.",
                )


def _planned_tables(inspection: Inspection) -> list[PlannedTable]:
    return [PlannedTable(s.table.name, s.table.tier, s.state, s.explanation) for s in inspection.tables_needing_build]
