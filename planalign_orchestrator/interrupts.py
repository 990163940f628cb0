"""A deadline that stops running work, not only the gaps between steps.

When it expires it raises KeyboardInterrupt in the thread that armed it, exactly
what Ctrl-C or Jupyter's stop button do. dbt reacts to that by cancelling the
running DuckDB query, so a timeout and a user interrupt share one, well-tested path;
the caller tells them apart with `expired`.
"""

from __future__ import annotations

import ctypes
import threading
import time
from types import TracebackType


def interrupt_thread(thread_ident: int) -> None:
    """Raise KeyboardInterrupt in the given thread (a signal for the main thread)."""
    if thread_ident == threading.main_thread().ident:
        import _thread

        _thread.interrupt_main()
        return
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_ident), ctypes.py_object(KeyboardInterrupt)
    )


class Deadline:
    """Context manager: interrupts the entering thread once `seconds` have passed."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
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
        interrupt_thread(ident)

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
