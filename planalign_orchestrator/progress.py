"""The progress vocabulary shared by every face (terminal lines, notebook widgets).

The engine emits these events and never knows who listens, in the spirit of
SQLMesh's console: one engine, many faces. Events may be emitted from dbt's worker
threads, so observers must be quick and thread-safe; an observer that raises is
logged and ignored, because an exception escaping into dbt's callback machinery can
hang the run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from planalign_orchestrator.exceptions import Remedy
    from planalign_orchestrator.self_healing.models import InitializationResult

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
