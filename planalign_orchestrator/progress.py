"""The progress vocabulary shared by every face (terminal lines, notebook widgets).

The engine emits these events and never knows who listens, in the spirit of
SQLMesh's console: one engine, many faces. Events may be emitted from dbt's worker
threads, so observers must be quick and thread-safe; an observer that raises is
logged and ignored, because an exception escaping into dbt's callback machinery can
hang the run.

What a run's events add up to (which step or year is running, done or failed, the
current dbt node, how it ended and why) is kept by one state model, InitializationRun
and SimulationRun, which every face renders: the notebook's widgets draw it, the
terminal prints its changes. The words faces share about tables and initializations
(TableState, TableTier, STANDARD_STEPS, InitializationResult) are re-exported here,
so a face needs this module and the session, nothing deeper.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Literal, assert_never

from planalign_orchestrator.exceptions import Remedy
from planalign_orchestrator.initialization import STANDARD_STEPS, InitializationResult
from planalign_orchestrator.tables import TableState, TableTier

__all__ = [
    "CANCELLED",
    "SIMULATE_STEP",
    "STANDARD_STEPS",
    "DbtEvent",
    "DbtPreparationFinished",
    "DbtPreparationStarted",
    "EnsembleChunkFinished",
    "EnsembleYearFinished",
    "Failure",
    "InitializationFinished",
    "InitializationResult",
    "InitializationRun",
    "ItemState",
    "NodeFinished",
    "NodeStarted",
    "OptimizationRun",
    "ProgressEmitter",
    "ProgressEvent",
    "ProgressObserver",
    "SimulationRun",
    "StepFinished",
    "StepStarted",
    "StudyFinished",
    "StudyStarted",
    "TableState",
    "TableTier",
    "TopDesignStarted",
    "TrialFinished",
    "TrialProgress",
    "TrialStarted",
    "YearFinished",
    "YearStarted",
    "utc_now",
]

logger = logging.getLogger(__name__)


# The error of a step an interrupt (Ctrl-C, a kernel interrupt) stopped: not a failure to report.
CANCELLED = "cancelled"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class StepStarted:
    step_name: str
    display_name: str
    index: int
    total: int
    at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class StepFinished:
    step_name: str
    display_name: str
    index: int
    total: int
    success: bool
    duration_seconds: float
    error: str | None = None
    remediation: str | None = None
    at: datetime = field(default_factory=utc_now)
    # The failed step's remediation, structured so each face can word it (see exceptions.Remedy).
    remedy: Remedy | None = None


@dataclass(frozen=True)
class DbtPreparationStarted:
    """dbt is loaded before its first run in this process: imported (when `importing`) and the project parsed.

    That takes seconds during which no node runs; faces name the wait so it never
    looks frozen. Sent to the same observer as the node events, with the step (or
    SIMULATE_STEP) it happens in.
    """

    importing: bool
    step_name: str | None = None
    at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class DbtPreparationFinished:
    """dbt is ready (or failed to load, and the step reports why); nodes follow."""

    duration_seconds: float
    step_name: str | None = None
    at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class NodeStarted:
    """A dbt node (seed or model) began; index/total count within one dbt invocation."""

    node_name: str
    resource_type: str
    index: int
    total: int
    step_name: str | None = None
    at: datetime = field(default_factory=utc_now)

    @property
    def label(self) -> str:
        return f"{self.resource_type} {self.index}/{self.total} {self.node_name}"


@dataclass(frozen=True)
class NodeFinished:
    node_name: str
    resource_type: str
    index: int
    total: int
    status: str
    duration_seconds: float
    step_name: str | None = None
    at: datetime = field(default_factory=utc_now)

    @property
    def label(self) -> str:
        return f"{self.resource_type} {self.index}/{self.total} {self.node_name}"


@dataclass(frozen=True)
class InitializationFinished:
    """The final result, successful or not. `cancelled` marks a kernel interrupt."""

    result: InitializationResult
    cancelled: bool = False
    at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class YearStarted:
    """A year begins simulating; `reason` says why it runs (missing, stale: what changed)."""

    year: int
    index: int
    total: int
    at: datetime = field(default_factory=utc_now)
    reason: str | None = None
    scenario: str = "baseline"


@dataclass(frozen=True)
class YearFinished:
    year: int
    index: int
    total: int
    duration_seconds: float
    summary: Any = None
    at: datetime = field(default_factory=utc_now)
    # True when the year was fresh and its stored results were reused, not re-simulated.
    reused: bool = False
    scenario: str = "baseline"


@dataclass(frozen=True)
class EnsembleYearFinished:
    """A year of a seed ensemble finished for `seeds` seeds (in distributed mode, for one chunk of them)."""

    year: int
    index: int
    total: int
    seeds: int
    duration_seconds: float
    chunk: str | None = None
    at: datetime = field(default_factory=utc_now)
    scenario: str = "baseline"


@dataclass(frozen=True)
class EnsembleChunkFinished:
    """A chunk of an ensemble's seeds finished on a distributed worker (or failed, with the error)."""

    chunk: str
    index: int
    total: int
    duration_seconds: float
    error: str | None = None
    at: datetime = field(default_factory=utc_now)


# How long a run asked to wait for a busy workspace (`--wait` without S) waits by default.
DEFAULT_WAIT_SECONDS = 600.0


@dataclass(frozen=True)
class WaitingForWorkspace:
    """Another process holds the workspace; this run waits for it (sent when the wait starts, then periodically).

    `runs` describe the holder(s) ("simulate 2025-2027 running in process 4242 since
    ..."); `waited_seconds` is 0 on the first event; `limit_seconds` is the most it waits.
    """

    runs: tuple[str, ...]
    waited_seconds: float
    limit_seconds: float
    at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class WorkspaceAcquired:
    """The workspace came free after a wait; the run starts now."""

    waited_seconds: float
    at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class StudyStarted:
    """A study (planalign optimize) begins or resumes: what it asks, and how many trials it already has.

    Texts come from the engine (objectives "minimize employer_cost_rate", constraints
    with their bounds formatted, levers as --lever takes them). `budget` is the number
    of trials the study stops at (None: time only), `minutes` its time budget.
    """

    study: str
    objectives: tuple[str, ...]
    constraints: tuple[str, ...]
    levers: tuple[str, ...]
    resumed: int
    budget: int | None
    minutes: float | None
    seeds: int
    years: tuple[int, int]
    at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class TrialStarted:
    """A design new to the study is evaluated: trial `number` of the `budget` (None: a time budget)."""

    study: str
    number: int
    budget: int | None
    design: str
    scenario: str
    at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class TrialFinished:
    """A trial's outcome and the study's best so far.

    `outcome`: simulated, reused (its scenario's ensemble was current) or refused (by
    the config; `note` says why). `figures` are its terms, formatted; `best` the best
    design so far (one objective) or the front's size (several), in the engine's words.
    """

    study: str
    number: int
    budget: int | None
    design: str
    scenario: str
    outcome: str
    figures: str
    feasible: bool | None
    best: str
    duration_seconds: float
    note: str | None = None
    at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class TopDesignStarted:
    """After the trials: one of the top designs is simulated with the config's seed, so `compare` takes it."""

    study: str
    scenario: str
    index: int
    total: int
    at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class StudyFinished:
    """The study stopped (`reason`: its budget of trials or time, or nothing left to try) with its trials."""

    study: str
    trials: int
    feasible: int
    reason: str
    at: datetime = field(default_factory=utc_now)


StudyEvent = StudyStarted | TrialStarted | TrialFinished | TopDesignStarted | StudyFinished


# The step name dbt events carry while a simulation year runs (initialization steps carry their own).
SIMULATE_STEP = "simulate"

DbtEvent = NodeStarted | NodeFinished | DbtPreparationStarted | DbtPreparationFinished
ProgressEvent = (
    StepStarted
    | StepFinished
    | NodeStarted
    | NodeFinished
    | DbtPreparationStarted
    | DbtPreparationFinished
    | InitializationFinished
    | YearStarted
    | YearFinished
    | EnsembleYearFinished
    | EnsembleChunkFinished
    | WaitingForWorkspace
    | WorkspaceAcquired
    | StudyStarted
    | TrialStarted
    | TrialFinished
    | TopDesignStarted
    | StudyFinished
)
ProgressObserver = Callable[[ProgressEvent], None]


class ProgressEmitter:
    """Fans events out to observers, isolating the engine from observer failures."""

    def __init__(self, observers: list[ProgressObserver] | None = None) -> None:
        self._observers: list[ProgressObserver] = list(observers or [])
        self._lock = threading.Lock()

    def subscribe(self, observer: ProgressObserver) -> None:
        with self._lock:
            self._observers.append(observer)

    def unsubscribe(self, observer: ProgressObserver) -> None:
        with self._lock:
            if observer in self._observers:
                self._observers.remove(observer)

    def emit(self, event: ProgressEvent) -> None:
        with self._lock:
            observers = list(self._observers)
        for observer in observers:
            try:
                observer(event)
            except Exception:  # an observer bug must never break or hang the engine
                logger.exception("Progress observer %r failed on %s", observer, type(event).__name__)


# -- the state a run's events add up to ----------------------------------------------

_SUCCESS_NODE_STATUSES = {"success", "pass"}
CANCELLED_MESSAGE = "Cancelled by interrupt."
RunOutcome = Literal["completed", "failed", "cancelled"]


class ItemState(str, Enum):
    """The state of one step or one simulated year, as every face words it."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Failure:
    """Why a run stopped: the engine's message and its remedy (each face words the remedy)."""

    message: str
    remedy: Remedy | None = None
    remediation: str | None = None
    cancelled: bool = False

    @classmethod
    def of(cls, error: BaseException) -> Failure:
        """The failure an exception reports (a PlanAlign error carries its remedy)."""
        message = getattr(error, "message", None) or str(error) or type(error).__name__
        return cls(message, getattr(error, "remedy", None), getattr(error, "remediation", None))


@dataclass
class StepProgress:
    name: str
    display_name: str
    state: ItemState = ItemState.PENDING
    started_at: datetime | None = None
    seconds: float | None = None


@dataclass
class YearProgress:
    year: int
    state: ItemState = ItemState.PENDING
    seconds: float | None = None
    started_at: datetime | None = None
    reused: bool = False
    summary: Any = None
    # An ensemble year: how many seeds it simulated (its figures are bands, shown elsewhere).
    seeds: int | None = None


@dataclass
class _DbtActivity:
    """The dbt side of a running step or year: the current node, and dbt's load before the first one."""

    node_label: str = ""
    node_fraction: float = 0.0
    # While dbt is imported and the project parsed: "importing" or "parsing", since `phase_started`.
    phase: Literal["importing", "parsing"] | None = None
    phase_started: datetime | None = None

    def apply(self, event: DbtEvent, *, report_status: bool) -> None:
        match event:
            case DbtPreparationStarted():
                self.phase, self.phase_started = ("importing" if event.importing else "parsing"), event.at
            case DbtPreparationFinished():
                self.phase = None
            case NodeStarted():
                self.node_label = event.label
            case NodeFinished():
                self.node_label = event.label
                if report_status and event.status not in _SUCCESS_NODE_STATUSES:
                    self.node_label = f"{event.label} {event.status}"
                self.node_fraction = event.index / event.total if event.total else 0.0
            case _:
                assert_never(event)

    def clear(self) -> None:
        self.node_label, self.node_fraction, self.phase = "", 0.0, None


class InitializationRun:
    """One initialization as its events tell it: the four steps, the running dbt node, how it ended.

    Not thread-safe by itself: a face applies events under its own lock.
    """

    def __init__(self) -> None:
        self.steps = {name: StepProgress(name, display) for name, display in STANDARD_STEPS}
        self.dbt = _DbtActivity()
        self.outcome: RunOutcome | None = None
        self.failure: Failure | None = None
        self.result: InitializationResult | None = None
        self.started_at: datetime | None = None

    def apply(self, event: ProgressEvent) -> bool:
        """Apply one event; False when it is not this run's (a simulated year's, say)."""
        match event:
            case StepStarted():
                started = self.steps[event.step_name]
                started.state, started.started_at, started.seconds = ItemState.RUNNING, event.at, None
                self.started_at = self.started_at or event.at
                self.dbt.clear()
            case StepFinished():
                self._step_finished(event)
            case NodeStarted() | NodeFinished() | DbtPreparationStarted() | DbtPreparationFinished():
                step = self.steps.get(event.step_name) if event.step_name else self.running()
                if self.outcome is not None or step is None or step.state is not ItemState.RUNNING:
                    return False
                self.dbt.apply(event, report_status=True)
            case InitializationFinished():
                self._finished(event)
            case YearStarted() | YearFinished() | EnsembleYearFinished() | EnsembleChunkFinished():
                return False
            case WaitingForWorkspace() | WorkspaceAcquired():
                return False  # before the run starts: the faces say whom they wait for
            case StudyStarted() | TrialStarted() | TrialFinished() | TopDesignStarted() | StudyFinished():
                return False  # a study's: OptimizationRun's
            case _:
                assert_never(event)
        return True

    def fail(self, error: BaseException) -> None:
        """End the run with the exception its caller received: the engine's final word on it."""
        if isinstance(error, KeyboardInterrupt):
            if self.outcome != "cancelled":
                self._end("cancelled", _cancelled(Remedy(_RERUN_INIT, action="initialize", cli="planalign init")))
        else:
            self._end("failed", Failure.of(error))

    def running(self) -> StepProgress | None:
        running = [step for step in self.steps.values() if step.state is ItemState.RUNNING]
        return running[-1] if running else None

    @property
    def fraction(self) -> float:
        """How far the run got, 0..1: finished steps, plus the running step's share of its dbt nodes."""
        states = [step.state for step in self.steps.values()]
        if self.outcome == "completed":
            return 1.0
        done = float(sum(state is ItemState.DONE for state in states))
        if self.outcome in ("failed", "cancelled"):  # the step that stopped it counts
            done += any(state in (ItemState.FAILED, ItemState.CANCELLED) for state in states)
        elif self.running() is not None:
            done += self.dbt.node_fraction
        return done / len(states)

    def _step_finished(self, event: StepFinished) -> None:
        step = self.steps[event.step_name]
        step.seconds = event.duration_seconds
        self.dbt.phase = None
        if event.success:
            step.state = ItemState.DONE
            self.dbt.node_label = ""  # the next step's first node replaces it; never shown beside another step
            return
        step.state = ItemState.FAILED
        self.failure = Failure(event.error or "step failed", event.remedy, event.remediation)

    def _finished(self, event: InitializationFinished) -> None:
        result = event.result
        if event.cancelled:
            self._end("cancelled", _cancelled(Remedy(_RERUN_INIT, action="initialize", cli="planalign init")))
        elif result.success:
            self._end("completed", None)
        elif self.failure is not None and result.error in (None, self.failure.message):
            # The result's error is the final word; a step's remedy is kept when it answers that error.
            self._end("failed", self.failure)
        else:
            self._end("failed", Failure(result.error or "Initialization failed."))
        self.result = result

    def _end(self, outcome: RunOutcome, failure: Failure | None) -> None:
        self.outcome, self.failure = outcome, failure
        self.dbt.phase = None
        if outcome == "completed":
            self.dbt.node_label = ""
        for step in self.steps.values():
            if step.state is ItemState.PENDING:
                step.state = ItemState.SKIPPED
            elif outcome == "cancelled" and step.state in (ItemState.RUNNING, ItemState.FAILED):
                step.state = ItemState.CANCELLED
            elif step.state is ItemState.RUNNING:
                step.state = ItemState.FAILED


class SimulationRun:
    """A multi-year run (or a seed ensemble) as its events tell it: one entry per year, the node, the outcome.

    Not thread-safe by itself: a face applies events under its own lock.
    """

    def __init__(
        self, start_year: int, end_year: int, *, scenario: str | None = None, seeds: int | None = None
    ) -> None:
        self.first, self.last = start_year, end_year
        self.scenario = scenario
        self.seeds = seeds  # an ensemble's number of seeds
        # Empty for a reversed range, which the engine refuses.
        self.years = {year: YearProgress(year) for year in range(start_year, end_year + 1)}
        self.dbt = _DbtActivity()
        self.outcome: RunOutcome | None = None
        self.failure: Failure | None = None
        self.started_at: datetime | None = None
        # A distributed ensemble: (chunks done, chunks) while its years run on the workers.
        self.chunks: tuple[int, int] | None = None

    def apply(self, event: ProgressEvent) -> bool:
        """Apply one event; False when it is not this run's (an initialization step's, say)."""
        match event:
            case YearStarted():
                year = self.year(event.year)
                year.state, year.started_at = ItemState.RUNNING, event.at
                self.started_at = self.started_at or event.at
                self.dbt.clear()
            case YearFinished():
                self._year_done(event.year, None if event.reused else event.duration_seconds, event.summary)
                self.year(event.year).reused = event.reused
            case EnsembleYearFinished():
                self._year_done(event.year, event.duration_seconds, None, seeds=event.seeds)
            case EnsembleChunkFinished():
                self.chunks = (event.index, event.total)
                if event.index == event.total and event.error is None:
                    for year in self.years.values():
                        year.state, year.seeds = ItemState.DONE, self.seeds
                    self.outcome = "completed"
            case NodeStarted() | NodeFinished() | DbtPreparationStarted() | DbtPreparationFinished():
                if event.step_name != SIMULATE_STEP or self.running() is None:
                    return False  # an initialization step's
                self.dbt.apply(event, report_status=False)
            case StepStarted() | StepFinished() | InitializationFinished():
                return False
            case WaitingForWorkspace() | WorkspaceAcquired():
                return False  # before the run starts: the faces say whom they wait for
            case StudyStarted() | TrialStarted() | TrialFinished() | TopDesignStarted() | StudyFinished():
                return False  # a study's: OptimizationRun's
            case _:
                assert_never(event)
        return True

    def fail(self, error: BaseException) -> None:
        """End the run on an error or interrupt: the running year failed (or was cancelled)."""
        cancelled = isinstance(error, KeyboardInterrupt)
        self.outcome = "cancelled" if cancelled else "failed"
        self.dbt.phase = None
        self.failure = _cancelled(self._rerun_remedy()) if cancelled else Failure.of(error)
        for year in self.years.values():
            if year.state is ItemState.RUNNING:
                year.state = ItemState.CANCELLED if cancelled else ItemState.FAILED
            elif year.state is ItemState.PENDING:
                year.state = ItemState.SKIPPED

    def year(self, number: int) -> YearProgress:
        """The entry of a year; an earlier year the engine re-runs first (it was stale) gets one too."""
        if number not in self.years:
            self.years = dict(sorted({**self.years, number: YearProgress(number)}.items()))
        return self.years[number]

    def running(self) -> YearProgress | None:
        running = [y for y in self.years.values() if y.state is ItemState.RUNNING]
        return running[-1] if running else None

    @property
    def fraction(self) -> float:
        if self.chunks is not None and self.outcome is None:
            return self.chunks[0] / self.chunks[1]
        if not self.years:
            return 0.0
        states = [year.state for year in self.years.values()]
        done = float(sum(state is ItemState.DONE for state in states))
        if self.outcome in ("failed", "cancelled"):
            done += any(state in (ItemState.FAILED, ItemState.CANCELLED) for state in states)
        elif self.running() is not None:
            done += self.dbt.node_fraction
        return done / len(states)

    def _year_done(self, number: int, seconds: float | None, summary: Any, *, seeds: int | None = None) -> None:
        year = self.year(number)
        year.state, year.seconds, year.summary, year.seeds = ItemState.DONE, seconds, summary, seeds
        self.dbt.clear()
        if all(y.state is ItemState.DONE for y in self.years.values()):
            self.outcome = "completed"

    def _rerun_remedy(self) -> Remedy:
        options: dict[str, Any] = {"start_year": self.first, "end_year": self.last}
        scenario = f" --scenario {self.scenario}" if self.scenario else ""
        options.update({"scenario": self.scenario} if self.scenario else {})
        return Remedy(
            "Years already finished are kept; run {command} again to simulate the rest (up-to-date years are reused).",
            action="simulate",
            options=options,
            cli=f"planalign simulate {self.first}-{self.last}{scenario}",
        )


@dataclass
class TrialProgress:
    """One trial of a study as the faces list it."""

    number: int
    design: str
    scenario: str
    state: ItemState = ItemState.RUNNING
    started_at: datetime | None = None
    outcome: str | None = None
    figures: str = ""
    feasible: bool | None = None
    seconds: float | None = None
    note: str | None = None

    def describe(self) -> str:
        """What the trial found, in words: its figures and feasibility, or why it was refused or repeated."""
        if self.state is not ItemState.DONE:
            return ""
        if self.outcome == "refused":
            return self.note or "refused by the config"
        met = "" if self.feasible is None else (" (feasible)" if self.feasible else " (infeasible)")
        return f"{self.figures}{met}" + (f"; {self.note}" if self.note else "")


class OptimizationRun:
    """A study as its events tell it: the trials of this call, the best so far, what is being simulated, the outcome.

    Not thread-safe by itself: a face applies events under its own lock.
    """

    def __init__(self) -> None:
        self.started: StudyStarted | None = None
        self.trials: list[TrialProgress] = []
        self.best = ""
        # What is being simulated: a trial, or a top design for compare; and its year.
        self.step = ""
        self.year = ""
        self.outcome: RunOutcome | None = None
        self.failure: Failure | None = None
        self.finished: StudyFinished | None = None
        self.started_at: datetime | None = None

    def apply(self, event: ProgressEvent) -> bool:
        """Apply one event; False when it is not this study's (an initialization step's, say)."""
        match event:
            case StudyStarted():
                self.started, self.started_at = event, event.at
            case TrialStarted():
                self.trials.append(TrialProgress(event.number, event.design, event.scenario, started_at=event.at))
                self.step, self.year = f"trial {event.number}", ""
            case TrialFinished():
                trial = self.trial(event.number)
                if trial is None:
                    return False
                trial.state, trial.outcome, trial.figures = ItemState.DONE, event.outcome, event.figures
                trial.feasible, trial.seconds, trial.note = event.feasible, event.duration_seconds, event.note
                self.best, self.step, self.year = event.best, "", ""
            case TopDesignStarted():
                self.step = f"top design {event.index} of {event.total} ({event.scenario}), for compare"
                self.year = ""
            case StudyFinished():
                self.finished, self.outcome, self.step, self.year = event, "completed", "", ""
            case YearStarted():
                if not self.step or self.outcome is not None:
                    return False
                self.year = f"{event.year} ({event.index}/{event.total})"
            case (
                YearFinished()
                | EnsembleYearFinished()
                | EnsembleChunkFinished()
                | StepStarted()
                | StepFinished()
                | NodeStarted()
                | NodeFinished()
                | DbtPreparationStarted()
                | DbtPreparationFinished()
                | InitializationFinished()
                | WaitingForWorkspace()
                | WorkspaceAcquired()
            ):
                return False
            case _:
                assert_never(event)
        return True

    @property
    def stage(self) -> str:
        """What is being simulated now, in words ('trial 4: simulating 2026 (2/3)'); empty between trials."""
        return f"{self.step}: simulating {self.year}" if self.year else self.step

    def trial(self, number: int) -> TrialProgress | None:
        return next((trial for trial in self.trials if trial.number == number), None)

    def running(self) -> TrialProgress | None:
        running = [trial for trial in self.trials if trial.state is ItemState.RUNNING]
        return running[-1] if running else None

    @property
    def done(self) -> int:
        """Trials of the study counted toward its budget: those it had, and those finished in this call."""
        resumed = self.started.resumed if self.started is not None else 0
        return resumed + sum(trial.state is ItemState.DONE for trial in self.trials)

    @property
    def fraction(self) -> float:
        """How far the trial budget is used, 0..1 (0 while a study has a time budget only)."""
        if self.outcome == "completed":
            return 1.0
        budget = self.started.budget if self.started is not None else None
        return min(1.0, self.done / budget) if budget else 0.0

    def fail(self, error: BaseException) -> None:
        """End the study on an error or interrupt: the trial under way is cancelled (or failed), finished ones stay."""
        cancelled = isinstance(error, KeyboardInterrupt)
        self.outcome = "cancelled" if cancelled else "failed"
        study = self.started.study if self.started is not None else None
        again = f" --study {study}" if study else ""
        remedy = Remedy(
            "Its finished trials are kept; run {command} again to continue from them (they are not simulated again).",
            action="optimize",
            options={"study": study} if study else {},
            cli=f"planalign optimize{again}",
        )
        self.failure = _cancelled(remedy) if cancelled else Failure.of(error)
        for trial in self.trials:
            if trial.state is ItemState.RUNNING:
                trial.state = ItemState.CANCELLED if cancelled else ItemState.FAILED
        self.step = self.year = ""


_RERUN_INIT = "Run {command} again: it finds what is missing or incomplete and builds only that."


def _cancelled(remedy: Remedy) -> Failure:
    return Failure(CANCELLED_MESSAGE, remedy, remedy.for_terminal(), cancelled=True)
