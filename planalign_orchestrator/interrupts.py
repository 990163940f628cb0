"""A deadline that stops running work, not only the gaps between steps.

When it expires it raises KeyboardInterrupt in the thread that armed it, exactly
what Ctrl-C or Jupyter's stop button do. dbt reacts to that by cancelling the
running DuckDB query, so a timeout and a user interrupt share one, well-tested path;
the caller tells them apart with `expired`.

Only the main thread can be woken by a signal. Another thread (or a main thread whose
SIGINT is ignored, e.g. a background job) notices the interrupt only once it runs
Python code again, and dbt's thread sits blocked on its job queue while a worker runs
the query; for those cases the deadline also calls `on_expire`, which cancels the
running queries so the blocked thread wakes up.
"""

from __future__ import annotations

import ctypes
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from types import FrameType, TracebackType

_active = threading.local()
# SIGINTs this process sent itself (expired deadlines), so that a command-line handler
# can tell them from the user's Ctrl-C: a timeout is an error, not a cancellation.
_self_sent = 0
_self_sent_lock = threading.Lock()
RESEND_SECONDS = 0.1


class Delivery(Enum):
    """How an interrupt reaches its thread."""

    SIGNAL = "signal"  # a real SIGINT: also wakes a thread blocked in a lock or condition wait
    ASYNC = "async"  # raised when the thread next runs Python code
    NONE = "none"  # SIGINT is ignored in this process: nothing will land


def interrupt_thread(thread_ident: int) -> Delivery:
    """Raise KeyboardInterrupt in the given thread, as Ctrl-C would."""
    if thread_ident == threading.main_thread().ident:
        if callable(signal.getsignal(signal.SIGINT)):
            # A real signal, as Ctrl-C sends: dbt's main thread waits on its job queue
            # while a worker runs the query, and only a signal wakes that wait;
            # `_thread.interrupt_main()` merely sets a flag checked at the next bytecode.
            global _self_sent
            with _self_sent_lock:
                _self_sent += 1
            signal.pthread_kill(thread_ident, signal.SIGINT)
            return Delivery.SIGNAL
        return Delivery.NONE
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_ident), ctypes.py_object(KeyboardInterrupt))
    return Delivery.ASYNC


class Deadline:
    """Context manager: interrupts the entering thread once `seconds` have passed."""

    def __init__(self, seconds: float, *, on_expire: Callable[[], None] | None = None) -> None:
        self.seconds = seconds
        self.on_expire = on_expire
        self.expired = False
        self._armed = False
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._timer: threading.Timer | None = None
        self._delivery = Delivery.NONE
        self._shield_depth = 0
        self._fired_while_shielded = False
        self._outer: Deadline | None = None

    @property
    def elapsed_seconds(self) -> float:
        return time.monotonic() - self._started

    def __enter__(self) -> Deadline:
        self._outer = getattr(_active, "deadline", None)
        _active.deadline = self
        self._started = time.monotonic()
        ident = threading.get_ident()
        self._armed = True
        self._timer = threading.Timer(self.seconds, self._fire, args=(ident,))
        self._timer.daemon = True
        self._timer.start()
        return self

    def _fire(self, ident: int) -> None:
        with self._lock:
            if not self._armed:
                return
            self._armed = False
            if self._shield_depth:
                self._fired_while_shielded = True
                return
            self.expired = True
        self._delivery = interrupt_thread(ident)
        if self._delivery is not Delivery.SIGNAL and self.on_expire is not None:
            self.on_expire()

    def _disarm(self) -> None:
        with self._lock:
            self._armed = False
        if self._timer is not None:
            self._timer.cancel()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _active.deadline = self._outer
        self._disarm()
        landed = exc_type is not None and issubclass(exc_type, KeyboardInterrupt)
        if self.expired and self._delivery is not Delivery.NONE and not landed:
            # The interrupt was sent but has not landed yet: let it land here, inside
            # the caller's handler, rather than somewhere after the protected work.
            for _ in range(100):
                time.sleep(0.01)


@contextmanager
def shielded() -> Iterator[None]:
    """Defer interrupts (the current deadline's and Ctrl-C's) until the block has finished.

    For work that must not be cut in half: an import interrupted midway leaves
    half-initialised modules behind, and every later call in the process (a notebook
    kernel, say) fails until a restart. An interrupt that arrives meanwhile is
    delivered as soon as the block ends.
    """
    deadline: Deadline | None = getattr(_active, "deadline", None)
    if deadline is not None:
        with deadline._lock:
            deadline._shield_depth += 1
    with _sigint_deferred() as deferred_signal:
        try:
            yield
        finally:
            if deadline is not None:
                with deadline._lock:
                    deadline._shield_depth -= 1
                    fired = deadline._fired_while_shielded and not deadline._shield_depth
                    if fired:
                        deadline.expired = True
            else:
                fired = False
    if fired:
        raise KeyboardInterrupt
    if deferred_signal:
        deferred_signal[0]()


@contextmanager
def _sigint_deferred() -> Iterator[list[Callable[[], None]]]:
    """Hold back SIGINT in the main thread; yields a list that receives its delivery, if any."""
    deliveries: list[Callable[[], None]] = []
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield deliveries
        return

    def hold(signum: int, frame: FrameType | None) -> None:
        if not deliveries:
            deliveries.append(lambda: previous(signum, frame))

    signal.signal(signal.SIGINT, hold)
    try:
        yield deliveries
    finally:
        signal.signal(signal.SIGINT, previous)


def _take_self_sent() -> bool:
    """Whether the SIGINT being handled is one this process sent itself (consumes it)."""
    global _self_sent
    with _self_sent_lock:
        if _self_sent:
            _self_sent -= 1
            return True
    return False


@contextmanager
def swallowed_interrupts_reraised(*, resend: bool = False) -> Iterator[None]:
    """End the block in KeyboardInterrupt if a SIGINT arrived during it, however the code inside treated it.

    Library code is not always interrupt-safe: dbt loads its saved parse through code
    that reads any exception, KeyboardInterrupt included, as "could not load" and then
    parses again from scratch; DuckDB turns one into an ordinary "Query interrupted"
    error. Either way the work would go on, or fail as something else. Signals land in
    the main thread only, so elsewhere this does nothing. With `resend`, a SIGINT that
    arrived is sent again every RESEND_SECONDS while the block still runs, so work that
    swallowed it is stopped at once rather than when it ends (only for code whose
    cleanup a second interrupt cannot harm).
    """
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield
        return
    arrived: list[int] = []
    inside = threading.Event()
    inside.set()
    main_ident = threading.get_ident()

    def send_again() -> None:
        if inside.is_set():
            interrupt_thread(main_ident)

    def noticing(signum: int, frame: FrameType | None) -> None:
        arrived.append(signum)
        if resend and inside.is_set():
            timer = threading.Timer(RESEND_SECONDS, send_again)
            timer.daemon = True
            timer.start()
        previous(signum, frame)

    signal.signal(signal.SIGINT, noticing)
    try:
        yield
    except Exception as error:
        if arrived:
            raise KeyboardInterrupt from error
        raise
    finally:
        inside.clear()
        signal.signal(signal.SIGINT, previous)
    if arrived:
        raise KeyboardInterrupt


class CommandLineInterrupts:
    """Ctrl-C for a command-line process, from its first line to its exit.

    The console script blocks SIGINT from its first line (see planalign_launcher.py) while
    modules load, so an early Ctrl-C cannot interrupt an import and dump a traceback.
    `start()` installs the handler and releases a pending Ctrl-C, which then lands as a
    KeyboardInterrupt in the command, where the engine cancels running work. Once the
    command has returned, the CLI sets `raising` to False (a plain attribute store, so
    no signal can slip in between): a later Ctrl-C is only recorded in `arrived`, and the
    process still exits as cancelled, but nothing can raise while it reports and exits.
    """

    def __init__(self) -> None:
        self.raising = True
        self.arrived = False

    def start(self) -> None:
        signal.signal(signal.SIGINT, self.handle)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if _take_self_sent():
            raise KeyboardInterrupt  # an expired deadline: the engine reports a timeout
        self.arrived = True
        if self.raising:
            raise KeyboardInterrupt
