"""WorkspaceSession: the one door into the engine, for every face.

The terminal (cli.py) and the notebook (planalign_nb) call only this facade, the
progress vocabulary, the exceptions and the read-only views
(planalign_orchestrator.views), in the spirit of SQLMesh's Context: each capability is
one method that returns a value, and a face parses input, calls it and renders what
comes back. A new capability is therefore written once, here or below, and rendered
twice. An import contract (pyproject.toml, `lint-imports`) keeps it so.

A session is bound to one workspace and one scenario (the baseline unless named). It
reads and validates the config and the scenario once, and wires the engine once, as
the contract's factory does (`create_orchestrator`): one dbt runner and one freshness
checker serve every call of the session, so the initializer, the year loop and the
read-only views judge the same inputs. The read-only views (`status`, `plan`,
`scenarios`, `compare`, results) never build, never write, and never import dbt.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planalign_orchestrator.activity import active_runs
from planalign_orchestrator.comparison import Comparison, compare_scenarios, scenario_metrics_frame
from planalign_orchestrator.config import BASELINE_SCENARIO, CONFIG_FILE_NAME, SimulationConfig, check_year_bounds
from planalign_orchestrator.database import DatabaseConnectionManager
from planalign_orchestrator.ensemble.metrics import DEFAULT_MIN_SEEDS
from planalign_orchestrator.ensemble.result import EnsembleResult
from planalign_orchestrator.exceptions import ConfigurationError, SimulationError, WorkspaceBusyError
from planalign_orchestrator.export import flat_config, write_workbook
from planalign_orchestrator.factory import create_orchestrator
from planalign_orchestrator.freshness.checker import Inspection
from planalign_orchestrator.freshness.inputs import package_version
from planalign_orchestrator.freshness.report import BuildPlan, PlannedTable, WorkspaceStatus
from planalign_orchestrator.freshness.state import read_build_state
from planalign_orchestrator.initialization import InitializationResult
from planalign_orchestrator.interrupts import CommandLineInterrupts
from planalign_orchestrator.levers import lever_overrides, lever_values
from planalign_orchestrator.pipeline.orchestrator import PipelineOrchestrator
from planalign_orchestrator.pipeline.results import SimulationSummary, workforce_snapshot, yearly_events
from planalign_orchestrator.progress import ProgressObserver
from planalign_orchestrator.scenarios import Scenario, ScenarioStore, parse_assignment
from planalign_orchestrator.self_healing.step_log import last_durations, read_step_log
from planalign_orchestrator.tables import TableState
from planalign_orchestrator.workspace import Workspace

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CommandLineInterrupts",
    "ScenarioInfo",
    "WorkspaceSession",
    "connect_cluster",
    "generate_census",
    "release_engine",
]


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
    """Status, plan, initialize, simulate, scenarios, compare and ensembles for one workspace folder and scenario.

    `initializer_options` are AutoInitializer keyword arguments (timeout_seconds,
    recreate_corrupt, verbose, ...); `threads` is dbt's thread count.
    """

    def __init__(
        self,
        workspace: Workspace,
        *,
        scenario: str = BASELINE_SCENARIO,
        threads: int = 1,
        initializer_options: Mapping[str, Any] | None = None,
        opened: tuple[Scenario, SimulationConfig] | None = None,
    ) -> None:
        self.workspace = workspace
        self.threads = threads
        self.initializer_options = dict(initializer_options or {})
        self._store = ScenarioStore(workspace, shared_vars=self._recorded_shared_vars)
        self.scenario, self.config = opened or self._store.open(scenario)

    @classmethod
    def open(cls, folder: Path | str = ".", *, create: bool = True, **options: Any) -> WorkspaceSession:
        """The session of a workspace folder; a new folder becomes a workspace unless create=False."""
        return cls(Workspace.open(folder, create=create), **options)

    @staticmethod
    def check_years(first: int, last: int) -> None:
        """Refuse years no simulation accepts, before a workspace is opened (or created) for them."""
        check_year_bounds(first, last)

    @staticmethod
    def is_workspace(folder: Path | str) -> bool:
        """Whether a folder holds a workspace's config (checked without opening or creating anything)."""
        return (Path(folder) / CONFIG_FILE_NAME).is_file()

    def with_options(self, **initializer_options: Any) -> WorkspaceSession:
        """The same session with other AutoInitializer options (a face's "recreate" button, a timeout)."""
        if not initializer_options:
            return self
        return WorkspaceSession(
            self.workspace,
            threads=self.threads,
            initializer_options={**self.initializer_options, **initializer_options},
            opened=(self.scenario, self.config),
        )

    def for_scenario(self, name: str, overrides: Mapping[str, Any] | None = None) -> WorkspaceSession:
        """The session of scenario `name`; given overrides create or replace its scenario file first."""
        opened = self._store.save(name, overrides) if overrides is not None else self._store.open(name)
        return WorkspaceSession(
            self.workspace,
            threads=self.threads,
            initializer_options=self.initializer_options,
            opened=opened,
        )

    def with_assignments(self, name: str, assignments: Sequence[str]) -> WorkspaceSession:
        """The session of scenario `name` with `KEY=VALUE` assignments merged into its saved overrides.

        A new scenario starts empty; assignments update its overrides key by key (the
        terminal's `--set`).
        """
        existing = self._store.read(name).overrides if name in self._store.names() else {}
        return self.for_scenario(name, {**existing, **dict(parse_assignment(text) for text in assignments)})

    def scenario_config(self, name: str, overrides: Mapping[str, Any]) -> SimulationConfig:
        """The config scenario `name` would run with these overrides, validated; nothing is written."""
        return self._store.validate(name, overrides)

    @property
    def root(self) -> Path:
        return self.workspace.root

    @property
    def database_path(self) -> Path:
        """The workspace's DuckDB file (for an analyst's own queries; the engine opens it itself)."""
        return self.workspace.database_path

    def require_writable(self) -> None:
        """Refuse, naming the folder, before a run that must write into the workspace starts."""
        self.workspace.require_writable()

    # -- levers ------------------------------------------------------------------------

    def lever_values(self) -> dict[str, Any]:
        """The value of every lever (planalign_orchestrator.levers.LEVERS) in this scenario's config."""
        return lever_values(self.config)

    def lever_overrides(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The overrides of this scenario's config that a set of lever values makes (changed keys only)."""
        return lever_overrides(self.config, values)

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
        inspection = self._inspect()
        return WorkspaceStatus(self.root, inspection.tables, inspection.years)

    def plan(self, start_year: int | None = None, end_year: int | None = None) -> BuildPlan:
        """What `simulate(start_year, end_year)` would build and why, without building anything.

        Years default to the config's simulation.start_year/end_year.
        """
        first, last = self.resolve_years(start_year, end_year)
        self.require_idle()
        orchestrator = self._engine
        inspection = orchestrator.freshness.inspect(read_only=True)
        return BuildPlan(_planned_tables(inspection), orchestrator.plan_years(first, last), (first, last))

    def initialization_plan(self) -> BuildPlan:
        """What `initialize()` would build and why (tables only)."""
        return BuildPlan(_planned_tables(self._inspect()))

    def scenarios(self) -> list[ScenarioInfo]:
        """Every scenario of the workspace (baseline first), its overrides and the freshness of its years."""
        infos = []
        for name in self._store.names():
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
            self._db,
            [session.scenario for session in sessions],
            {session.scenario.name: session.config for session in sessions},
            first,
            last,
        )

    def snapshot(self, years: Sequence[int] | None = None) -> pd.DataFrame:
        """The workforce snapshot of this scenario's simulated years: one row per employee and year."""
        return workforce_snapshot(self._db, years, self.scenario.name)

    def events(self, years: Sequence[int] | None = None) -> pd.DataFrame:
        """The yearly events (hires, terminations, promotions, raises, ...) of this scenario's years."""
        return yearly_events(self._db, years, self.scenario.name)

    def metrics(self, first: int, last: int) -> pd.DataFrame:
        """The metrics model's rows of this scenario, one per year (index `year`)."""
        frame = scenario_metrics_frame(self._db, [self.scenario.name], first, last)
        return frame.drop(columns="scenario").set_index("year")

    def write_run_workbook(self, path: Path | str, summary: SimulationSummary, created_at: datetime) -> Path:
        """A run's workbook: its summary, the metrics per year, the full config and overrides, run metadata."""
        import pandas as pd

        years = [year.year for year in summary.years]
        first, last = min(years), max(years)
        with self._db.connection(read_only=True) as conn:
            state = read_build_state(conn)
        name = self.scenario.name
        metadata = [
            ("scenario", name),
            ("package_version", package_version()),
            ("random_seed", self.config.simulation.random_seed),
            ("created_at", created_at.isoformat(timespec="seconds")),
            ("years", f"{first}-{last}"),
            *(
                (f"{year}.input_fingerprint", state.years[(name, year)].fingerprint)
                for year in years
                if (name, year) in state.years
            ),
        ]
        overrides = pd.DataFrame(list(self.scenario.overrides.items()), columns=["key", "value"])
        return write_workbook(
            path,
            {
                "summary": summary.to_dataframe(),
                "metrics": self.metrics(first, last),
                "config": pd.Series(flat_config(self.config), name="value").to_frame(),
                "overrides": overrides.set_index("key"),
                "metadata": pd.DataFrame(metadata, columns=["item", "value"]).set_index("item"),
            },
        )

    def step_log(self) -> list[dict[str, Any]]:
        """The structured initialization step records of this workspace, oldest first (empty before any)."""
        return read_step_log(self.workspace.step_log_path)

    def expected_step_seconds(self) -> dict[str, float]:
        """Each step's duration on its last successful run here: the basis of a live estimate."""
        return last_durations(self.workspace.step_log_path)

    def ensemble_result(
        self, start_year: int | None = None, end_year: int | None = None, *, min_seeds: int = DEFAULT_MIN_SEEDS
    ) -> EnsembleResult:
        """The stored ensemble of this scenario, read only; refused when it is stale or missing."""
        from planalign_orchestrator.ensemble.store import current_ensemble

        first, last = self.resolve_years(start_year, end_year)
        self.require_idle()
        return current_ensemble(self._db, self._engine.freshness, self.scenario.name, first, last, min_seeds)

    def ensemble_status(self) -> tuple[str, bool] | None:
        """One line on this scenario's stored ensemble, and whether it needs a run; None if there is none."""
        from planalign_orchestrator.ensemble.store import describe_ensemble, inspect_ensemble

        found = inspect_ensemble(self._db, self._engine.freshness, self.scenario.name, with_metrics=False)
        if found is None:
            return None
        record, _metrics, freshness = found
        return describe_ensemble(record, freshness), freshness.state.needs_build

    # -- building ----------------------------------------------------------------------

    def initialize(self, *, on_progress: ProgressObserver | None = None) -> InitializationResult:
        """Build what the workspace lacks (missing, empty, stale or unknown tables)."""
        with self._observed(on_progress) as orchestrator:
            initializer = orchestrator.auto_initializer
            assert initializer is not None  # the session's engine always auto-initializes
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
        with self._observed(on_progress) as orchestrator:
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
        with self._observed(on_progress) as orchestrator:
            orchestrator.check_year_range(first, last)
            runner = EnsembleRunner(orchestrator, self.root, threads=self.threads)
            if on_progress is not None:
                runner.subscribe(on_progress)
            return runner.run(
                chosen, first, last, client=client, chunks=chunks, min_seeds=min_seeds, detail_seed=detail_seed
            )

    # -- helpers -------------------------------------------------------------------------

    def resolve_years(self, start_year: int | None, end_year: int | None) -> tuple[int, int]:
        """The years asked for, or the config's simulation.start_year/end_year where not given."""
        settings = self.config.simulation
        first = settings.start_year if start_year is None else int(start_year)
        last = settings.end_year if end_year is None else int(end_year)
        return first, last

    @cached_property
    def _db(self) -> DatabaseConnectionManager:
        return DatabaseConnectionManager(self.workspace.database_path)

    @cached_property
    def _engine(self) -> PipelineOrchestrator:
        """The contract's orchestrator for this workspace and scenario, wired once per session."""
        return create_orchestrator(
            self.config,
            self._db,
            threads=self.threads,
            auto_initialize=True,
            initializer_options=self.initializer_options,
        )

    @contextmanager
    def _observed(self, on_progress: ProgressObserver | None) -> Iterator[PipelineOrchestrator]:
        """The engine with `on_progress` subscribed for one call."""
        orchestrator = self._engine
        if on_progress is not None:
            orchestrator.subscribe(on_progress)
        try:
            yield orchestrator
        finally:
            if on_progress is not None:
                orchestrator.unsubscribe(on_progress)

    def _inspect(self) -> Inspection:
        self.require_idle()
        return self._engine.freshness.inspect(read_only=True)

    def _recorded_shared_vars(self) -> set[str]:
        """The config values the workspace's shared tables (seeds, foundation) were recorded as reading.

        Read only when the database exists and no other process runs in it (a reader
        would make that run's writes fail); then the static shared keys still apply.
        """
        if not self._db.exists() or self._db.is_empty_file() or self.active_runs():
            return set()
        with self._db.connection(read_only=True) as conn:
            state = read_build_state(conn)
        return {var for record in state.tables.values() for var in record.recipe.vars}

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


def _planned_tables(inspection: Inspection) -> list[PlannedTable]:
    return [PlannedTable(s.table.name, s.table.tier, s.state, s.explanation) for s in inspection.tables_needing_build]


def generate_census(employees: int, seed: int, out: Path | str, *, part_time_share: float = 0.0) -> Path:
    """Write a deterministic synthetic census of `employees` (.csv or .parquet by the file's suffix).

    With `part_time_share`, that share of the workforce is part-time (an annual_hours column).
    """
    from planalign_orchestrator.census_generator import generate_census as generate
    from planalign_orchestrator.census_generator import write_census

    if employees <= 0:
        raise ConfigurationError(
            f"the number of employees must be positive (got {employees})",
            remediation="Pass a positive count, e.g. --employees 5000.",
        )
    if not 0.0 <= part_time_share <= 1.0:
        raise ConfigurationError(
            f"the part-time share must be between 0 and 1 (got {part_time_share})",
            remediation="Pass a fraction, e.g. --part-time-share 0.15.",
        )
    path = Path(out)
    write_census(generate(employees, seed, part_time_share=part_time_share), path)
    return path


def connect_cluster(address: str) -> Any:
    """A dask.distributed Client of the scheduler at `address`, for `ensemble(client=...)`."""
    from planalign_orchestrator.ensemble.distributed import connect

    return connect(address)


def release_engine() -> None:
    """Let go of what dbt holds in this process (parsed projects, adapters, their locks): before a process exits."""
    from planalign_orchestrator.dbt_runner import release_dbt

    release_dbt()
