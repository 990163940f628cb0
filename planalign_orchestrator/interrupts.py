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
from collections.abc import Callable
from types import TracebackType


def interrupt_thread(thread_ident: int) -> bool:
    """Raise KeyboardInterrupt in the given thread.

    Returns True when a real signal was sent, which also wakes the thread from a
    blocking wait; False when the interrupt lands only once the thread runs Python code.
    """
    if thread_ident == threading.main_thread().ident:
        if callable(signal.getsignal(signal.SIGINT)):
            # A real signal, as Ctrl-C sends: it also wakes a thread blocked in a lock
            # or condition wait (dbt's main thread waits on its job queue while a worker
            # runs the query), which `_thread.interrupt_main()` alone does not: that
            # only sets a flag checked once the thread runs Python code again.
            signal.pthread_kill(thread_ident, signal.SIGINT)
            return True
        import _thread

        _thread.interrupt_main()  # a no-op when SIGINT is ignored; on_expire still stops the work
        return False
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_ident), ctypes.py_object(KeyboardInterrupt)
    )
    return False


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

    @property
    def elapsed_seconds(self) -> float:
        return time.monotonic() - self._started

    def __enter__(self) -> "Deadline":
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
            self.expired = True
            self._armed = False
        if not interrupt_thread(ident) and self.on_expire is not None:
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
        self._disarm()
        if self.expired and not (exc_type and issubclass(exc_type, KeyboardInterrupt)):
            # The interrupt was sent but has not landed yet: let it land here, inside
            # the caller's handler, rather than somewhere after the protected work.
            time.sleep(1.0)
