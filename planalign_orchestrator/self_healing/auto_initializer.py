"""AutoInitializer: make a workspace's database simulation-ready, building only what it lacks.

What it lacks: required tables that are missing, empty, stale (built from inputs that
have changed since) or of unknown build state; see planalign_orchestrator.freshness.
The flow is lock -> check -> preflight -> seeds -> foundation -> verify, and every
successful build step records what it was built from. The database
is only opened under the lock: DuckDB allows one process per file, so even a peer's
read-only peek at the catalog would make a running initialization's dbt connection
fail. The check is one catalog query and never imports dbt, so an initialized
workspace still answers in milliseconds. The lock is an OS-level file lock next to the
database, so a killed holder releases it. A deadline interrupts the running dbt work
itself, and a user interrupt takes the same path, so the database is always left in
a state the next call heals.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import filelock

from planalign_orchestrator.database import DatabaseConnectionManager
from planalign_orchestrator.dbt_runner import DbtRunner
from planalign_orchestrator.exceptions import (
    ConcurrentInitializationError,
    ConfigurationError,
    DatabaseCorruptionError,
    InitializationError,
    InitializationTimeoutError,
    Remedy,
    WorkspaceBusyError,
)
from planalign_orchestrator.freshness.checker import FreshnessChecker, Inspection
from planalign_orchestrator.freshness.recipes import ProjectRecipes
from planalign_orchestrator.freshness.recorder import BuildRecorder
from planalign_orchestrator.initialization import (
    STANDARD_STEPS,
    InitializationResult,
    InitializationState,
    InitializationStep,
    standard_step,
)
from planalign_orchestrator.interrupts import Deadline
from planalign_orchestrator.progress import (
    CANCELLED,
    DbtEvent,
    InitializationFinished,
    ProgressEmitter,
    ProgressObserver,
    StepFinished,
    StepStarted,
    utc_now,
)
from planalign_orchestrator.run_lock import recorded_run
from planalign_orchestrator.self_healing import preflight
from planalign_orchestrator.self_healing.step_log import StepLog
from planalign_orchestrator.self_healing.table_checker import TableExistenceChecker
from planalign_orchestrator.tables import RequiredTable, TableState, TableStatus, TableTier
from planalign_orchestrator.workspace import STEP_LOG_FILE_NAME, lock_path_for

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Database files whose required tables were all found present and fresh, by the file's
# signature and the inputs' signature then. Any write (by any process, to the file or
# its WAL) changes the first, any edit of the census, a seed, the dbt code or a config
# value the second; while neither moved, the no-op check need not open DuckDB
# (opening alone costs about 20 ms).
_VERIFIED: dict[Path, tuple[object, ...]] = {}
LOCK_PATIENCE_SECONDS = 0.25
_STEP_INDEX = {name: index for index, (name, _) in enumerate(STANDARD_STEPS, start=1)}


class AutoInitializer:
    """Orchestrates automatic database initialization."""

    def __init__(
        self,
        db_manager: DatabaseConnectionManager,
        dbt_runner: DbtRunner,
        *,
        verbose: bool = False,
        timeout_seconds: float = 60.0,
        on_progress: ProgressObserver | None = None,
        recreate_corrupt: bool = False,
        min_free_disk_mb: float = 100.0,
        census_path: Path | None = None,
        start_year: int | None = None,
        step_log_path: Path | None = None,
        freshness: FreshnessChecker | None = None,
    ) -> None:
        self.db_manager = db_manager
        self.dbt_runner = dbt_runner
        self.verbose = verbose
        if not (math.isfinite(timeout_seconds) and timeout_seconds > 0):
            raise ConfigurationError(
                f"timeout_seconds must be a finite, positive number of seconds (got {timeout_seconds!r})",
                remediation="Pass e.g. timeout_seconds=300 (or `planalign init --timeout 300`).",
            )
        self.timeout_seconds = timeout_seconds
        self.recreate_corrupt = recreate_corrupt
        self.min_free_disk_mb = min_free_disk_mb
        base_vars = dbt_runner.base_vars
        census = census_path or dbt_runner.census_path
        self.census_path = Path(census) if census else None
        self.start_year = int(start_year or base_vars.get("start_year") or 2025)
        self.checker = TableExistenceChecker(db_manager)
        self.freshness = freshness or FreshnessChecker.for_runner(db_manager, dbt_runner)
        # The last look at the database, as of the end of ensure_initialized() (None when the
        # verified-state shortcut spared it): the year loop plans from it instead of looking again.
        self.last_inspection: Inspection | None = None
        self._pending: dict[str, TableStatus] = {}
        self.lock_file = lock_path_for(db_manager.db_path)
        self.step_log = StepLog(step_log_path or db_manager.db_path.parent / "logs" / STEP_LOG_FILE_NAME)
        self.backup_path: Path | None = None
        self._progress = ProgressEmitter([on_progress] if on_progress else [])
        if verbose:
            self._progress.subscribe(_log_event)
        self._current_step: str | None = None
        self._deadline: Deadline | None = None
        self._active_steps: list[InitializationStep] = []

    def subscribe(self, observer: ProgressObserver) -> None:
        self._progress.subscribe(observer)

    def unsubscribe(self, observer: ProgressObserver) -> None:
        self._progress.unsubscribe(observer)

    # -- public API --------------------------------------------------------------

    def ensure_initialized(self) -> InitializationResult:
        """Ensure database is fully initialized, running initialization if needed.

        The workspace's run lock comes first (a simulation calling this as its hook
        holds it already): while another process runs in the workspace this fails
        fast with ConcurrentInitializationError, naming that run.
        """
        entered = False
        try:
            with recorded_run(self.lock_file.parent, "initialize"):
                entered = True
                return self._ensure_initialized()
        except WorkspaceBusyError as busy:
            if entered:
                raise
            raise ConcurrentInitializationError(self.lock_file, runs=busy.runs) from busy

    def _ensure_initialized(self) -> InitializationResult:
        started_at = utc_now()
        self.last_inspection = None
        check = standard_step("check_tables")
        with self._guard(started_at):
            lock = self._run_in_step(check, self._acquire_lock, finish=False)
            try:
                # Checked under the lock: a peer that held it may just have finished the job.
                work = self._run_in_step(check, self._find_work, finish=False)
                if not work:
                    self._complete_step(check)
                    return self._finish(
                        InitializationResult(state=InitializationState.COMPLETED, started_at=started_at, steps=[check])
                    )
                tables = [status.table for status in work]
                self._run_in_step(check, lambda: self._preflight(tables), finish=False)
                self._complete_step(check)
                self._pending = {status.table.name: status for status in work}
                result = self.run_initialization(tables)
            finally:
                self._pending = {}
                lock.release()
            result.started_at = started_at
            result.steps.insert(0, check)
            return self._finish(result)

    def run_initialization(self, missing_tables: list[RequiredTable]) -> InitializationResult:
        """Run seeds, foundation and verify for exactly the given tables (missing, or otherwise in need)."""
        started_at = utc_now()
        steps = [standard_step(name) for name in ("load_seeds", "build_foundation", "verify")]
        outermost = self._deadline is None
        with self._guard(started_at):
            seeds = [t for t in missing_tables if t.tier is TableTier.SEED]
            foundation = [t for t in missing_tables if t.tier is TableTier.FOUNDATION]
            self._execute_step(steps[0], lambda: self._load_seeds(seeds))
            self._execute_step(steps[1], lambda: self._build_foundation(foundation))
            self._execute_step(steps[2], lambda: self._verify(missing_tables))
            pending = self._pending
            result = InitializationResult(
                state=InitializationState.COMPLETED,
                started_at=started_at,
                steps=steps,
                missing_tables_found=[
                    t.name
                    for t in missing_tables
                    if t.name not in pending or pending[t.name].state is TableState.MISSING
                ],
                stale_tables_found={
                    name: f"{status.state.value}: {status.explanation}"
                    for name, status in pending.items()
                    if status.state is not TableState.MISSING
                },
                tables_created=[t.name for t in missing_tables],
            )
            return self._finish(result) if outermost else result

    def _execute_step(
        self,
        step: InitializationStep,
        action: Callable[[], None],
    ) -> InitializationStep:
        """Execute a single initialization step with timing and error handling."""
        self._run_in_step(step, action)
        return step

    # -- steps -------------------------------------------------------------------

    def _acquire_lock(self) -> filelock.BaseFileLock:
        """Take the initialization lock, or fail fast with ConcurrentInitializationError.

        The short patience only rides out a peer's millisecond no-op check; a real
        initialization holds the lock for seconds, so the caller still fails in well
        under a second.
        """
        self.lock_file.parent.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(self.lock_file, fallback_to_soft=False)
        try:
            lock.acquire(timeout=LOCK_PATIENCE_SECONDS, poll_interval=0.01)
        except filelock.Timeout:
            raise ConcurrentInitializationError(self.lock_file) from None
        return lock

    def _find_work(self) -> list[TableStatus]:
        """The required tables that need a build (missing, empty, stale or unknown), with why."""
        try:
            # Damage a run found earlier (possibly deep in a dbt model) outranks any cached verdict.
            self.db_manager.raise_if_damaged()
            signature = self._signature()
            if signature is not None and _VERIFIED.get(self.db_manager.db_path) == signature:
                return []
            return self._checked_work()
        except DatabaseCorruptionError:
            if not self.recreate_corrupt:
                raise
            self.backup_path = self.db_manager.move_aside("corrupt")
            return self._checked_work()

    def _checked_work(self) -> list[TableStatus]:
        """Inspect; remember the signatures when all was fresh and nothing changed meanwhile."""
        before = self._signature()
        self.last_inspection = self.freshness.inspect(read_only=False)
        work = self.last_inspection.tables_needing_build
        if not work and before is not None and before == self._signature():
            _VERIFIED[self.db_manager.db_path] = before
        return work

    def _signature(self) -> tuple[object, ...] | None:
        database = _signature(self.db_manager.db_path)
        return None if database is None else (database, self.freshness.inputs.signature())

    def _preflight(self, missing: list[RequiredTable]) -> None:
        preflight.check_disk_space(self.db_manager.db_path.parent, self.min_free_disk_mb)
        preflight.check_seed_files(self.dbt_runner.seeds_dir)
        preflight.check_census(
            self.census_path,
            self.start_year,
            missing,
            job_levels_csv=self.dbt_runner.seeds_dir / "config_job_levels.csv",
        )

    def _load_seeds(self, seeds: list[RequiredTable]) -> None:
        if seeds:
            self.dbt_runner.seed([t.dbt_selector for t in seeds], full_refresh=True, on_node=self._on_node)
            self._record([t.name for t in seeds])

    def _build_foundation(self, foundation: list[RequiredTable]) -> None:
        if not foundation:
            return
        self.dbt_runner.prepare(on_node=self._on_node)  # choosing the models reads the parsed project
        models = self._models_to_build({t.dbt_selector for t in foundation})
        self.dbt_runner.run(sorted(models), on_node=self._on_node)
        self._record(sorted(models))

    def _record(self, built: list[str]) -> None:
        """Record what the tables just built were built from (dbt's manifest is parsed by now)."""
        recipes = ProjectRecipes(self.dbt_runner.project_nodes(), self.dbt_runner.base_vars)
        BuildRecorder(self.db_manager, self.freshness).record_tables(built, recipes)

    def _models_to_build(self, targets: set[str]) -> set[str]:
        """The targets plus any missing non-seed, non-ephemeral ancestors (present ones are kept)."""
        nodes = self.dbt_runner.project_nodes()
        existing = self.checker.get_existing_tables()
        selected: set[str] = set()
        pending = list(targets)
        while pending:
            name = pending.pop()
            node = nodes.get(name)
            if node is None or name in selected:
                continue
            selected.add(name)
            for parent_name in node.parents:
                parent = nodes.get(parent_name)
                if parent is None or parent.resource_type == "seed":
                    continue
                if parent.materialized == "ephemeral" or parent_name not in existing:
                    pending.append(parent_name)
        return {name for name in selected if nodes[name].materialized != "ephemeral"}

    def _verify(self, expected: list[RequiredTable]) -> None:
        unusable = {status.table.name: status for status in self._checked_work()}
        not_created = [t.name for t in expected if t.name in unusable] or sorted(unusable)
        if unusable:
            detail = "; ".join(f"{name} {unusable[name].state.value}" for name in not_created)
            raise InitializationError(
                f"Verification failed: required tables are still unusable after initialization ({detail})",
                step="verify",
                missing_tables=not_created,
                remedy=Remedy(
                    "Run {command} and read the dbt log in <workspace>/logs/dbt for the model that did not build.",
                    action="initialize",
                    options={"verbose": True},
                    cli="planalign init --verbose",
                ),
            )

    # -- step bookkeeping ----------------------------------------------------------

    def _run_in_step(self, step: InitializationStep, action: Callable[[], T], *, finish: bool = True) -> T:
        if step.started_at is None:
            step.started_at = utc_now()
            self._active_steps.append(step)
            self._current_step = step.name
            self.step_log.started(step)
            self._progress.emit(
                StepStarted(
                    step.name, step.display_name, _STEP_INDEX[step.name], len(STANDARD_STEPS), at=step.started_at
                )
            )
        try:
            value = action()
        # A KeyboardInterrupt is left to _guard, which alone knows whether it was the
        # deadline (the step failed by timeout) or the user (the step was cancelled).
        except InitializationError as error:
            self._fail_step(step, error)
            raise
        except Exception as error:
            wrapped = InitializationError(
                f"Initialization failed while {step.display_name.lower()}: {getattr(error, 'message', None) or error}",
                step=step.name,
                original_error=error,
            )
            self._fail_step(step, wrapped)
            raise wrapped from error
        if finish:
            self._complete_step(step)
        return value

    def _complete_step(self, step: InitializationStep) -> None:
        step.completed_at = utc_now()
        step.success = True
        self.step_log.completed(step)
        self._progress.emit(
            StepFinished(
                step.name,
                step.display_name,
                _STEP_INDEX[step.name],
                len(STANDARD_STEPS),
                True,
                step.duration_seconds or 0.0,
                at=step.completed_at,
            )
        )

    def _fail_step(self, step: InitializationStep, error: Exception | str) -> None:
        if step.completed_at is not None:
            return
        step.completed_at = utc_now()
        step.success = False
        step.error_message = getattr(error, "message", None) or str(error)
        self.step_log.completed(step)
        self._progress.emit(
            StepFinished(
                step.name,
                step.display_name,
                _STEP_INDEX[step.name],
                len(STANDARD_STEPS),
                False,
                step.duration_seconds or 0.0,
                error=step.error_message,
                remediation=getattr(error, "remediation", None),
                at=step.completed_at,
                remedy=getattr(error, "remedy", None),
            )
        )

    def _on_node(self, event: DbtEvent) -> None:
        self._progress.emit(replace(event, step_name=self._current_step))

    def _finish(self, result: InitializationResult) -> InitializationResult:
        result.completed_at = utc_now()
        result.backup_path = self.backup_path
        if self.backup_path is not None:
            logger.warning("The unreadable database was kept as %s", self.backup_path)
        self._progress.emit(InitializationFinished(result))
        return result

    @contextmanager
    def _guard(self, started_at: datetime) -> Iterator[None]:
        """Apply the deadline (outermost call only) and report how a failed run ended."""
        if self._deadline is not None:
            yield
            return
        deadline = Deadline(self.timeout_seconds, on_expire=self.dbt_runner.cancel_running)
        self._deadline = deadline
        self._active_steps = []
        try:
            try:
                with deadline:
                    yield
            except KeyboardInterrupt:
                if not deadline.expired:
                    self._report_failure(started_at, "Cancelled by interrupt", cancelled=True)
                    raise
                error = InitializationTimeoutError(self.timeout_seconds, deadline.elapsed_seconds)
                for step in self._active_steps:
                    self._fail_step(step, error)
                self._report_failure(started_at, error.message)
                raise error from None
            except Exception as error:
                if not deadline.expired:
                    self._report_failure(started_at, getattr(error, "message", None) or str(error))
                    raise
                # The deadline cancelled the running queries and dbt reported that as a
                # failure (the interrupt itself could not reach this thread): a timeout.
                timeout = InitializationTimeoutError(self.timeout_seconds, deadline.elapsed_seconds)
                self._report_failure(started_at, timeout.message)
                raise timeout from error
            except BaseException as error:
                self._report_failure(started_at, getattr(error, "message", None) or str(error))
                raise
        finally:
            self._deadline = None
            self._current_step = None

    def _report_failure(self, started_at: datetime, message: str, *, cancelled: bool = False) -> None:
        for step in self._active_steps:
            self._fail_step(step, CANCELLED if cancelled else message)
        self._progress.emit(
            InitializationFinished(
                InitializationResult(
                    state=InitializationState.FAILED,
                    started_at=started_at,
                    completed_at=utc_now(),
                    steps=list(self._active_steps),
                    error=message,
                ),
                cancelled=cancelled,
            )
        )


def _signature(db_path: Path) -> tuple[int, int, int] | None:
    """(inode, size, mtime) of the database file, or None while it has a WAL or does not exist."""
    try:
        stat = db_path.stat()
    except FileNotFoundError:
        return None
    if db_path.with_name(db_path.name + ".wal").exists():
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _log_event(event: object) -> None:
    logger.info("%s", event)
