"""Live views that leave their final record behind, in the saved notebook too.

A widget output is only as good as the kernel behind it: saved and reopened after a
restart it shows "Error displaying widget: model not found". So a live view never
stays in the notebook. Two ways out, both built on display ids (which JupyterLab,
Notebook 7 and nbclient/nbconvert all honour when they keep a notebook's outputs):

- LiveDisplay, for work a cell waits on (initialize, simulate): the live widget is
  displayed as a bare widget view; when the work ends, that output is emptied in
  place and the record (text/plain and text/html) is displayed right after it.
  nbval does not replay display updates, so it compares what it saw: an empty
  widget view (skipped) and the record, which equal the saved outputs.
- display_interactive, for views with buttons (status): the widget is displayed with
  its record beside it in the same output, and stays interactive until the next cell
  runs; then that output is updated in place to the record alone. Until something is
  clicked, the record is the same text nbval saw when the cell ran.

In terminal IPython and plain Python there is no live front-end: only the record is
shown (printed outside IPython), once, when the work ends.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

import ipywidgets as widgets
from IPython import get_ipython
from IPython.display import display

from planalign_nb.rendering import Snapshot

logger = logging.getLogger(__name__)

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
HEARTBEAT_SECONDS = 0.5


def live_frontend() -> bool:
    """True in a Jupyter kernel (a front-end that may render widgets); False in terminal IPython or plain Python."""
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def widget_view(widget: widgets.Widget) -> dict[str, Any]:
    """The bundle entry that makes a front-end render this widget (ipywidgets' own, without its text)."""
    bundle: dict[str, Any] = widgets.Widget._repr_mimebundle_(widget) or {}
    return {WIDGET_VIEW: bundle[WIDGET_VIEW]} if WIDGET_VIEW in bundle else {}


def close_tree(widget: widgets.Widget) -> None:
    """Close a widget and every widget inside it, freeing their models in kernel and browser."""
    for child in getattr(widget, "children", ()):
        close_tree(child)
    widget.close()


class Heartbeat:
    """Calls `beat` every interval on a daemon thread, so elapsed time moves while nothing else does."""

    def __init__(self, beat: Callable[[], None], interval: float = HEARTBEAT_SECONDS) -> None:
        self._beat = beat
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="planalign-heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2 * self._interval)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._beat()
            except Exception:  # a drawing bug must not kill the heartbeat, nor reach the kernel
                logger.exception("Live view heartbeat failed")


class LiveView(Protocol):
    """A widget with a static record of its current state, and a tick that redraws the clock."""

    def snapshot(self) -> Snapshot: ...

    def tick(self) -> None: ...

    def close(self) -> None: ...


V = TypeVar("V", bound=LiveView)


class LiveDisplay(Generic[V]):
    """Shows a view live while a cell waits on work, then leaves only its record."""

    def __init__(self, view: V) -> None:
        self.view = view
        self.requested = False
        self._handle: Any = None
        self._heartbeat = Heartbeat(view.tick)
        self._finished = False

    def show(self) -> None:
        """Display the live view now (idempotent). Call it from the cell's own thread."""
        if self.requested:
            return
        self.requested = True
        if live_frontend():
            assert isinstance(self.view, widgets.Widget)
            self._handle = display(widget_view(self.view), raw=True, display_id=True)
            self._heartbeat.start()

    def finish(self) -> None:
        """Replace the live view by its record (printed as text outside IPython); idempotent."""
        if not self.requested or self._finished:
            return
        self._finished = True
        self._heartbeat.stop()
        if self._handle is not None:
            self._handle.update({}, raw=True)
        display(self.view.snapshot())
        if self._handle is not None:
            assert isinstance(self.view, widgets.Widget)
            close_tree(self.view)


_to_freeze: list[Callable[[], None]] = []
_hooked_shells: set[int] = set()


def display_interactive(view: widgets.Widget, snapshot: Callable[[], Snapshot], on_freeze: Callable[[], None]) -> None:
    """Display an interactive view with its record; at the next cell, leave the record alone in its place.

    Outside a live front-end only the record is displayed. `on_freeze` runs when the
    view stops being interactive (before its widgets are closed).
    """
    record = snapshot()
    shell = get_ipython()
    if not live_frontend() or shell is None:
        display(record)
        return
    handle = display({**widget_view(view), **record._repr_mimebundle_()}, raw=True, display_id=True)

    def freeze() -> None:
        on_freeze()
        handle.update(snapshot())
        close_tree(view)

    _to_freeze.append(freeze)
    if id(shell) not in _hooked_shells:
        shell.events.register("pre_run_cell", _freeze_interactive_views)
        _hooked_shells.add(id(shell))


def _freeze_interactive_views(*_info: object) -> None:
    """pre_run_cell: every interactive view of the cells before becomes its record."""
    while _to_freeze:
        freeze = _to_freeze.pop(0)
        try:
            freeze()
        except Exception:  # one broken view must not stop the next cell
            logger.exception("Could not replace an interactive view by its record")
