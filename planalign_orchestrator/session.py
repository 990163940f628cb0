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

Everything that writes (initialize, simulate, ensemble, saving a scenario's
overrides) first takes the workspace's run lock (`run_lock`), before it reads or
builds anything: a second writer is refused with WorkspaceBusyError naming the run
that holds it, or waits for it up to `wait_seconds`, with progress. Any "No space left
on device" that escapes a step's own handling still ends as a DiskFullError.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planalign_orchestrator.comparison import (
    Comparison,
    LeftOutYears,
    compare_scenarios,
    scenario_metrics_frame,
    simulate_commands,
)
from planalign_orchestrator.compliance import ComplianceReport, read_compliance
from planalign_orchestrator.config import BASELINE_SCENARIO, CONFIG_FILE_NAME, SimulationConfig, check_year_bounds
from planalign_orchestrator.database import DatabaseConnectionManager
from planalign_orchestrator.diskspace import disk_full_error, disk_full_translated, export_estimate, is_disk_full
from planalign_orchestrator.ensemble.metrics import DEFAULT_MIN_SEEDS
from planalign_orchestrator.ensemble.result import EnsembleResult
from planalign_orchestrator.exceptions import ConfigurationError, DiskFullError, SimulationError, WorkspaceBusyError
from planalign_orchestrator.export import flat_config, write_frames, write_workbook, written_in_place
from planalign_orchestrator.factory import create_orchestrator
from planalign_orchestrator.freshness.checker import Inspection
from planalign_orchestrator.freshness.inputs import package_version
from planalign_orchestrator.freshness.report import BuildPlan, PlannedTable, WorkspaceStatus
from planalign_orchestrator.freshness.sources import history_changes
from planalign_orchestrator.freshness.state import read_build_state
from planalign_orchestrator.initialization import InitializationResult
from planalign_orchestrator.interrupts import CommandLineInterrupts
from planalign_orchestrator.levers import lever_overrides, lever_values
from planalign_orchestrator.pipeline.orchestrator import PipelineOrchestrator
from planalign_orchestrator.pipeline.results import SimulationSummary, workforce_snapshot, yearly_events
from planalign_orchestrator.progress import ProgressEmitter, ProgressObserver, WaitingForWorkspace, WorkspaceAcquired
from planalign_orchestrator.run_lock import active_runs, recorded_run
from planalign_orchestrator.scenarios import OverrideChange, Scenario, ScenarioStore, parse_assignment
from planalign_orchestrator.self_healing.step_log import last_durations, read_step_log
from planalign_orchestrator.tables import TableState
from planalign_orchestrator.workspace import Workspace

if TYPE_CHECKING:
    import pandas as pd

    from planalign_orchestrator.calibration.generator import GeneratedHistory
    from planalign_orchestrator.calibration.history import CensusHistory
    from planalign_orchestrator.calibration.results import BacktestResult, ExperienceStudy, FitResult
    from planalign_orchestrator.optimize.result import OptimizationResult
    from planalign_orchestrator.optimize.space import LeverRange
    from planalign_orchestrator.optimize.study import Evaluation

# A census history: a folder of dated censuses, or the files themselves in date order.
HistoryFiles = Path | str | Sequence[Path | str]

__all__ = [
    "CommandLineInterrupts",
    "ScenarioInfo",
    "WorkspaceSession",
    "connect_cluster",
    "disk_full",
    "generate_census",
    "generate_history",
    "release_engine",
]


@dataclass(frozen=True)
class ScenarioInfo:
    """One scenario as `scenarios()` lists it: its overrides and the freshness of its years."""

    scenario: Scenario
    years: dict[int, TableState]
    # A fitted scenario whose history files changed since the fit: why (its overrides are out of date).
    stale_fit: str | None = None

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def freshness(self) -> str:
        if self.stale_fit is not None:
            return f"stale: {self.stale_fit}"
        if not self.years:
            return "not simulated"
        stale = [year for year, state in self.years.items() if state.needs_build]
        span = f"{min(self.years)}-{max(self.years)}"
        if not stale:
            return f"{span} up to date"
        return f"{span}: {len(stale)} of {len(self.years)} year(s) out of date"


class WorkspaceSession:
    """Status, plan, initialize, simulate, scenarios, compare, ensembles and calibration for one workspace and scenario.

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

    def for_scenario(
        self,
        name: str,
        overrides: Mapping[str, Any] | None = None,
        *,
        overwrite: bool = False,
        wait_seconds: float = 0.0,
        on_progress: ProgressObserver | None = None,
    ) -> WorkspaceSession:
        """The session of scenario `name`; given overrides create its scenario file first.

        Overrides that differ from the ones saved under `name` replace them only with
        `overwrite` (ScenarioExistsError says what would change otherwise). Saving takes
        the workspace's run lock (see run_lock), so a run in another process is never
        given a scenario file changed under it.
        """
        if overrides is None:
            opened = self._store.open(name)
        else:
            with self.run_lock("save scenario", name, wait_seconds=wait_seconds, on_progress=on_progress):
                opened = self._store.save(name, overrides, overwrite=overwrite)
        return WorkspaceSession(
            self.workspace,
            threads=self.threads,
            initializer_options=self.initializer_options,
            opened=opened,
        )

    def with_assignments(
        self,
        name: str,
        assignments: Sequence[str],
        *,
        overwrite: bool = False,
        wait_seconds: float = 0.0,
        on_progress: ProgressObserver | None = None,
    ) -> WorkspaceSession:
        """The session of scenario `name` with `KEY=VALUE` assignments merged into its saved overrides.

        A new scenario starts empty; assignments update its overrides key by key (the
        terminal's `--set`), and changing a saved scenario takes `overwrite`. Saved under
        the run lock, like for_scenario.
        """
        overrides = dict(parse_assignment(text) for text in assignments)
        with self.run_lock("save scenario", name, wait_seconds=wait_seconds, on_progress=on_progress):
            existing = self._store.read(name).overrides if name in self._store.names() else {}
            return self.for_scenario(name, {**existing, **overrides}, overwrite=overwrite)

    def scenario_config(self, name: str, overrides: Mapping[str, Any]) -> SimulationConfig:
        """The config scenario `name` would run with these overrides, validated; nothing is written."""
        return self._store.validate(name, overrides)

    def scenario_changes(self, name: str, overrides: Mapping[str, Any]) -> list[OverrideChange]:
        """What saving these overrides as scenario `name` would change in the one saved there (empty: nothing)."""
        return self._store.changes(name, overrides)

    def scenario_exists(self, name: str) -> bool:
        """Whether `name` is the baseline or a saved scenario of this workspace (nothing is validated)."""
        return name in self._store.names()

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
            infos.append(ScenarioInfo(session.scenario, years, session.stale_fit()))
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
        fresh = {session.scenario.name: session._require_fresh_years(first, last) for session in sessions}
        return compare_scenarios(
            self._db,
            [session.scenario for session in sessions],
            {session.scenario.name: session.config for session in sessions},
            first,
            last,
            left_out=LeftOutYears.of(fresh, first, last, asked=start_year is not None or end_year is not None),
        )

    def compliance(self, start_year: int | None = None, end_year: int | None = None) -> ComplianceReport:
        """The nondiscrimination tests of this scenario's years (its config's random_seed), per year and test.

        Every year must be up to date, as for a comparison. A failing test is a result,
        not an error: the report says what it would cost to correct.
        """
        first, last = self.resolve_years(start_year, end_year)
        self.require_idle()
        self._require_fresh_years(first, last)
        return read_compliance(self._db, self.scenario.name, self.config.simulation.random_seed, first, last)

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

    @staticmethod
    def write_frames(folder: Path | str, frames: Mapping[str, pd.DataFrame], format: str) -> list[Path]:
        """Each frame as `<folder>/<name>.<format>` (csv or parquet); DiskFullError when the folder has no room."""
        return write_frames(folder, frames, format)

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

    @contextmanager
    def run_lock(
        self,
        command: str,
        detail: str = "",
        *,
        wait_seconds: float = 0.0,
        on_progress: ProgressObserver | None = None,
    ) -> Iterator[None]:
        """Hold the workspace's run lock for the block: one writer per workspace, for its whole run.

        Taken before anything is read or built. When another process holds it, raises
        WorkspaceBusyError ("busy: simulate 2025-2027 running in process N since ...")
        at once, or after waiting up to `wait_seconds`; meanwhile `on_progress` hears
        WaitingForWorkspace (at the start, then every 15 s) and WorkspaceAcquired when
        it comes free. Nested calls in this process (simulate -> its initialization)
        keep the outer lock. A "No space left on device" the block lets escape ends as
        a DiskFullError naming the workspace's file system.
        """
        waited: list[float] = []

        def waiting(runs: list[str], seconds: float) -> None:
            waited.append(seconds)
            if on_progress is not None:
                on_progress(WaitingForWorkspace(tuple(runs), seconds, wait_seconds))

        folder = self.workspace.lock_path.parent
        started = time.monotonic()
        with recorded_run(folder, command, detail, wait_seconds=wait_seconds, on_wait=waiting):
            if waited and on_progress is not None:
                on_progress(WorkspaceAcquired(time.monotonic() - started))
            with disk_full_translated(folder, purpose=" ".join([command, detail]).strip(), workspace=self.root):
                yield

    def initialize(
        self, *, on_progress: ProgressObserver | None = None, wait_seconds: float = 0.0
    ) -> InitializationResult:
        """Build what the workspace lacks (missing, empty, stale or unknown tables).

        Refused (WorkspaceBusyError) while another process runs in the workspace,
        unless it ends within `wait_seconds`.
        """
        with (
            self.run_lock("initialize", wait_seconds=wait_seconds, on_progress=on_progress),
            self._observed(on_progress) as orchestrator,
        ):
            initializer = orchestrator.auto_initializer
            assert initializer is not None  # the session's engine always auto-initializes
            return initializer.ensure_initialized()

    def simulate(
        self,
        start_year: int | None = None,
        end_year: int | None = None,
        *,
        on_progress: ProgressObserver | None = None,
        wait_seconds: float = 0.0,
    ) -> SimulationSummary:
        """Heal, then simulate this scenario's years that are not up to date; summaries of start..end.

        Refused (WorkspaceBusyError) while another process runs in the workspace,
        unless it ends within `wait_seconds`.
        """
        first, last = self.resolve_years(start_year, end_year)
        self._require_current_fit()
        with (
            self.run_lock("simulate", f"{first}-{last}", wait_seconds=wait_seconds, on_progress=on_progress),
            self._observed(on_progress) as orchestrator,
        ):
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
        wait_seconds: float = 0.0,
    ) -> EnsembleResult:
        """Heal, then simulate many seeds of this scenario; per-seed metrics and their bands.

        In-process by default (one dbt invocation per year for every seed); with a
        dask.distributed `client`, seed chunks run on its workers. `detail_seed` keeps
        that seed's per-employee rows (ensemble_detail_* tables). Refused
        (WorkspaceBusyError) while another process runs in the workspace, unless it
        ends within `wait_seconds`.
        """
        from planalign_orchestrator.ensemble.runner import EnsembleRunner, ensemble_seeds

        first, last = self.resolve_years(start_year, end_year)
        self._require_current_fit()
        chosen = ensemble_seeds(self.config, seeds)
        with (
            self.run_lock("ensemble", f"{first}-{last}", wait_seconds=wait_seconds, on_progress=on_progress),
            self._observed(on_progress) as orchestrator,
        ):
            orchestrator.check_year_range(first, last)
            runner = EnsembleRunner(orchestrator, self.root, threads=self.threads)
            if on_progress is not None:
                runner.subscribe(on_progress)
            return runner.run(
                chosen, first, last, client=client, chunks=chunks, min_seeds=min_seeds, detail_seed=detail_seed
            )

    # -- optimization: the plan design that meets the goals ----------------------------------

    def optimize(
        self,
        objectives: Sequence[str] = (),
        constraints: Sequence[str] = (),
        levers: Mapping[str, LeverRange] | Sequence[str] = (),
        *,
        study: str | None = None,
        trials: int | None = None,
        minutes: float | None = None,
        seeds: int = 10,
        start_year: int | None = None,
        end_year: int | None = None,
        min_seeds: int = DEFAULT_MIN_SEEDS,
        sampler_seed: int = 0,
        top: int = 3,
        on_progress: ProgressObserver | None = None,
        wait_seconds: float = 0.0,
    ) -> OptimizationResult:
        """Search the levers for the designs that best meet the objectives under the constraints (a study).

        Each trial's design is a scenario of this one (named after the study), evaluated
        as an ensemble of `seeds` seeds over start..end (the config's years by default);
        objectives and constraints read its per-seed metrics (optimize.spec). The study
        stops at `trials` trials (its total, earlier runs included; 20 when neither budget
        is given) or after `minutes`, is kept in optimize/<study>.journal, and resumes
        with the same call; with only `study` given it resumes with the spec it has.
        `study` defaults to a name derived from the spec, so the same call resumes too.
        The `top` best designs are then simulated with the config's seed, so `compare`
        takes their scenario names. Everything asked is checked before anything runs
        (ConfigurationError: what, which, what to do); a study whose trials met no
        constraint set returns with `result.infeasible` saying why. Holds the run lock.
        """
        from planalign_orchestrator.ensemble.runner import ensemble_seeds
        from planalign_orchestrator.optimize.space import check_study_name, dimensions_from
        from planalign_orchestrator.optimize.spec import build_spec
        from planalign_orchestrator.optimize.study import StudyRunner, stored_spec

        stored = stored_spec(self.root, check_study_name(study)) if study else None
        if not objectives and stored is not None:  # resumed by name: the spec the study has
            objectives, constraints, levers = stored["objectives"], stored["constraints"], stored["levers"]
            seeds, sampler_seed = int(stored["seeds"]), int(stored["sampler_seed"])
            start_year, end_year = stored["years"]
            if stored["base"] != self.scenario.name:  # and the scenario its designs start from
                return self.for_scenario(stored["base"]).optimize(
                    objectives,
                    constraints,
                    levers,
                    study=study,
                    trials=trials,
                    minutes=minutes,
                    seeds=seeds,
                    start_year=start_year,
                    end_year=end_year,
                    min_seeds=min_seeds,
                    sampler_seed=sampler_seed,
                    top=top,
                    on_progress=on_progress,
                    wait_seconds=wait_seconds,
                )
        first, last = self.resolve_years(start_year, end_year)
        self.check_years(first, last)
        if first < self.config.simulation.start_year:
            raise ConfigurationError(
                f"a study's years {first}-{last} start before the config's first year "
                f"{self.config.simulation.start_year} (simulation.start_year)",
                remediation=f"Study years from {self.config.simulation.start_year} on.",
            )
        _check_budget(trials, minutes, top)
        spec = build_spec(
            list(objectives),
            list(constraints),
            dimensions_from(levers, self.config),
            seeds=seeds,
            first_year=first,
            last_year=last,
            min_seeds=min_seeds,
            sampler_seed=sampler_seed,
            base=self.scenario.name,
        )
        name = check_study_name(study or f"opt-{spec.digest()}")
        self._require_current_fit()
        self.require_writable()
        chosen = ensemble_seeds(self.config, seeds)
        progress = ProgressEmitter([on_progress] if on_progress is not None else [])
        evaluator = _StudyEvaluator(self, chosen, first, last, min_seeds, on_progress)
        with self.run_lock("optimize", name, wait_seconds=wait_seconds, on_progress=on_progress):
            runner = StudyRunner(name, spec, self.root, self.config, self.scenario.overrides, evaluator, progress)
            return runner.run(trials=20 if trials is None and minutes is None else trials, minutes=minutes, top=top)

    def _twins(self, overrides: Mapping[str, Any], *, besides: str) -> list[str]:
        """The other scenarios saved with exactly these overrides: the same design under another name.

        A scenario file that cannot be read is no twin (it is refused where it is opened).
        """
        twins = []
        for name in self._store.names():
            try:
                same = name != besides and self._store.read(name).overrides == dict(overrides)
            except ConfigurationError:
                continue
            if same:
                twins.append(name)
        return twins

    def _stale_ensemble(self) -> str | None:
        """Why the session's scenario's stored ensemble is not current (None when it is, or when there is none)."""
        from planalign_orchestrator.ensemble.store import inspect_ensemble

        found = inspect_ensemble(self._db, self._engine.freshness, self.scenario.name, with_metrics=False)
        if found is None or found[2].state is TableState.PRESENT:
            return None
        return found[2].reason or found[2].state.value

    def _current_ensemble(self, seeds: tuple[int, ...], first: int, last: int) -> pd.DataFrame | None:
        """The stored ensemble metrics of the session's scenario when current, of these seeds, covering first..last."""
        from planalign_orchestrator.ensemble.store import inspect_ensemble

        found = inspect_ensemble(self._db, self._engine.freshness, self.scenario.name)
        if found is None:
            return None
        record, metrics, freshness = found
        current = freshness.state is TableState.PRESENT and record.seeds == seeds
        return metrics if current and record.first_year <= first and last <= record.last_year else None

    # -- calibration: a census history's experience study, fit and backtest ---------------

    def load_history(self, history: HistoryFiles | CensusHistory) -> CensusHistory:
        """A census history read and validated; HistoryValidationError names the file and rows (calibration.history).

        Every calibration call takes the files or a history loaded once by this call.
        """
        from planalign_orchestrator.assumption_tables import seed_path
        from planalign_orchestrator.calibration.history import CensusHistory, load_history

        if isinstance(history, CensusHistory):
            return history
        return load_history(history, job_levels_csv=seed_path("config_job_levels"))

    def backtest_years(self, history: HistoryFiles | CensusHistory, from_year: int) -> tuple[int, int]:
        """The years a backtest from the snapshot of 31 December `from_year` simulates and scores (refused if none)."""
        from planalign_orchestrator.calibration.backtest import backtest_years

        return backtest_years(self.load_history(history), int(from_year))

    def experience_study(self, history: HistoryFiles | CensusHistory) -> ExperienceStudy:
        """Actual vs expected under this scenario's config, by tenure band, age band and level; writes nothing."""
        from planalign_orchestrator.calibration.expected import CurrentAssumptions
        from planalign_orchestrator.calibration.study import study_history

        return study_history(self.load_history(history), CurrentAssumptions.of(self.config))

    def fit(self, history: HistoryFiles | CensusHistory, scenario: str | None = None) -> FitResult:
        """Fit assumptions to a census history and save them as a new scenario (never over an existing one).

        The current assumptions are this session's scenario (the baseline unless named);
        the fitted scenario is it with the fitted values as overrides, records the history
        files it came from (stale when one changes), and its report (every value with its
        interval and data) is written beside it as scenarios/NAME.fit.csv. `scenario`
        defaults to fitted_<year of the last snapshot>.
        """
        from dataclasses import replace

        from planalign_orchestrator.calibration.expected import CurrentAssumptions
        from planalign_orchestrator.calibration.fit import default_name, fit_history, provenance_of, write_report
        from planalign_orchestrator.calibration.study import study_history

        chosen = self._store.require_new(scenario) if scenario else None  # refused before any work
        loaded = self.load_history(history)
        name = chosen or self._store.require_new(default_name(loaded))
        self.require_writable()
        current = CurrentAssumptions.of(self.config)
        fitted = fit_history(study_history(loaded, current), loaded, current)
        overrides = {**self.scenario.overrides, **fitted.overrides}
        report = f"{name}.fit.csv"
        with self.run_lock("save scenario", name):
            self._store.save_fitted(name, overrides, provenance_of(loaded, self.root), report=report)
            write_report(fitted, self._store.folder / report)
        folder = self._store.folder.name
        return replace(
            fitted,
            scenario=name,
            overrides=overrides,
            scenario_file=f"{folder}/{name}.yaml",
            report_file=f"{folder}/{report}",
        )

    def backtest(
        self,
        history: HistoryFiles | CensusHistory,
        from_year: int,
        *,
        seeds: int | Sequence[int] | None = None,
        min_seeds: int = DEFAULT_MIN_SEEDS,
        on_progress: ProgressObserver | None = None,
    ) -> BacktestResult:
        """Simulate this scenario from the history's snapshot of 31 December `from_year` to its last; score each year.

        In a scratch workspace under this one (removed afterwards): this workspace's
        database and results are never touched. With `seeds` (a count or a list), every
        year is simulated for every seed and scored against its P10-P90 band.
        """
        from planalign_orchestrator.calibration.backtest import run_backtest

        self._require_current_fit()
        self.require_writable()
        loaded = self.load_history(history)
        with self.run_lock("backtest", f"from {int(from_year)}", on_progress=on_progress):
            return run_backtest(
                self.config,
                loaded,
                int(from_year),
                workspace_root=self.root,
                seeds=seeds,
                min_seeds=min_seeds,
                threads=self.threads,
                initializer_options=self.initializer_options,
                on_progress=on_progress,
            )

    def stale_fit(self) -> str | None:
        """For a fitted scenario: why its overrides no longer match its history files (None while they do)."""
        fitted_from = self.scenario.fitted_from
        return history_changes(fitted_from, self.root) if fitted_from is not None else None

    def _require_current_fit(self) -> None:
        """Refuse to run a fitted scenario whose history changed: re-running cannot make its overrides current."""
        reason = self.stale_fit()
        if reason is None:
            return
        name = self.scenario.name
        raise ConfigurationError(
            f"scenario {name!r} was fitted from a census history that changed since: {reason}",
            remediation=(
                f"Fit the history again under a new name (`planalign fit --history DIR --scenario {name}_2`, or "
                f"nb.fit(ws, history, scenario={name + '_2'!r})), or restore the history files as they were."
            ),
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
        """The contract's orchestrator for this workspace and scenario, wired once per session.

        A fitted scenario's freshness also follows its history files (freshness.sources).
        """
        orchestrator = create_orchestrator(
            self.config,
            self._db,
            threads=self.threads,
            auto_initialize=True,
            initializer_options=self.initializer_options,
        )
        orchestrator.freshness.source_changes = self.stale_fit
        return orchestrator

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

    def _require_fresh_years(self, first: int, last: int) -> set[int]:
        """Every up-to-date simulated year of this scenario; SimulationError unless first..last all are."""
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
                remediation=f"Simulate it first: {simulate_commands(name, first, last)}.",
            )
        return {year for year, status in years.items() if not status.state.needs_build}


class _StudyEvaluator:
    """How a study evaluates a design in this workspace: as a scenario of the session's, by its seed ensemble.

    A design is simulated only when no scenario saved with the same overrides (its own,
    another study's trial, the baseline) has a current ensemble of the study's seeds and
    years; otherwise that ensemble is read. So the same design is never simulated twice
    in a workspace, whichever study or run asks for it.
    """

    def __init__(
        self,
        session: WorkspaceSession,
        seeds: tuple[int, ...],
        first: int,
        last: int,
        min_seeds: int,
        on_progress: ProgressObserver | None,
    ) -> None:
        self.session, self.seeds, self.first, self.last = session, seeds, first, last
        self.min_seeds, self.on_progress = min_seeds, on_progress

    def check(self, scenario: str, overrides: Mapping[str, Any]) -> None:
        self.session.scenario_config(scenario, overrides)

    def evaluate(self, scenario: str, overrides: Mapping[str, Any]) -> Evaluation:
        from planalign_orchestrator.optimize.study import Evaluation

        trial = self.session.for_scenario(scenario, overrides)
        for name in [scenario, *self.session._twins(overrides, besides=scenario)]:
            source = trial if name == scenario else self.session.for_scenario(name)
            stored = source._current_ensemble(self.seeds, self.first, self.last)
            if stored is not None:
                return Evaluation(stored, simulated=False, source=name)
        result = trial.ensemble(
            self.first, self.last, seeds=list(self.seeds), min_seeds=self.min_seeds, on_progress=self.on_progress
        )
        return Evaluation(result.metrics, simulated=True, source=scenario)

    def prepare_compare(self, scenario: str) -> None:
        self.session.for_scenario(scenario).simulate(self.first, self.last, on_progress=self.on_progress)

    def stale(self, scenario: str) -> str | None:
        if not self.session.scenario_exists(scenario):
            return None  # its file was removed: nothing left to judge the figures by
        return self.session.for_scenario(scenario)._stale_ensemble()


def _check_budget(trials: int | None, minutes: float | None, top: int) -> None:
    """Refuse a budget no study can run with, before anything runs."""
    if trials is not None and (isinstance(trials, bool) or not isinstance(trials, int) or trials < 1):
        raise ConfigurationError(
            f"a study's budget of trials must be a positive whole number, got {trials!r}",
            remediation="Pass e.g. --trials 30 (trials=30).",
        )
    if minutes is not None and not (isinstance(minutes, int | float) and 0 < minutes < float("inf")):
        raise ConfigurationError(
            f"a study's time budget must be a positive number of minutes, got {minutes!r}",
            remediation="Pass e.g. --minutes 10 (minutes=10).",
        )
    if isinstance(top, bool) or not isinstance(top, int) or top < 0:
        raise ConfigurationError(
            f"the number of top designs must be a whole number >= 0, got {top!r}",
            remediation="Pass e.g. --top 3 (top=3); 0 simulates none of them for compare.",
        )


def disk_full(error: BaseException, folder: Path | str = ".") -> DiskFullError | None:
    """The DiskFullError a face reports for an error that says the disk is full (None for any other error).

    For a face's last line of defence: the engine reports a full disk itself, but a
    write outside a session call (a census file, say) must not end in a traceback.
    """
    if not is_disk_full(error):
        return None
    return disk_full_error(error, Path(folder), purpose="the command")


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
    census = generate(employees, seed, part_time_share=part_time_share)
    # Checked for room and written under a temporary name: a full disk leaves no half census.
    needed = export_estimate(int(census.memory_usage(deep=True).sum()))
    with written_in_place(path, needed, purpose=f"write the census {path.name}") as temporary:
        write_census(census, temporary)
    return path


def generate_history(
    out: Path | str,
    *,
    employees: int,
    years: int,
    seed: int = 42,
    first_year: int = 2025,
    assumptions: Mapping[str, Any] | Sequence[str] | None = None,
    file_format: str = "csv",
    on_progress: ProgressObserver | None = None,
) -> GeneratedHistory:
    """Simulate a generated census for `years` years under known assumptions and write its year-end censuses.

    `assumptions` are config overrides (dotted keys), as a mapping or as `KEY=VALUE`
    texts (the terminal's --set; a list value is written [1.8, 0.6, ...]). The snapshots
    go into `out` (a new or empty folder), the generating truth into out/generator/.
    """
    from planalign_orchestrator.calibration.generator import generate_history as generate

    if assumptions is None or isinstance(assumptions, Mapping):
        known = dict(assumptions or {})
    else:
        known = dict(parse_assignment(text) for text in assumptions)
    return generate(
        out,
        employees=employees,
        years=years,
        seed=seed,
        first_year=first_year,
        overrides=known,
        file_format=file_format,
        on_progress=on_progress,
    )


def connect_cluster(address: str) -> Any:
    """A dask.distributed Client of the scheduler at `address`, for `ensemble(client=...)`."""
    from planalign_orchestrator.ensemble.distributed import connect

    return connect(address)


def release_engine() -> None:
    """Let go of what dbt holds in this process (parsed projects, adapters, their locks): before a process exits."""
    from planalign_orchestrator.dbt_runner import release_dbt

    release_dbt()
