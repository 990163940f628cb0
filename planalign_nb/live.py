"""Live views that leave their record behind, in the saved notebook too.

A widget output is only as good as the kernel behind it: saved and reopened after a
restart it shows "Error displaying widget: model not found". So every output a view
displays is marked (planalign_nb.saving.LIVE_VIEW_METADATA) and the notebook is saved
with its record instead of its widget view. Two kinds of view, both built on display
ids (which JupyterLab, Notebook 7 and nbclient/nbconvert all honour):

- LiveDisplay, for work a cell waits on (initialize, simulate, ensemble): the live
  widget is displayed as a bare widget view; when the work ends, that output is
  emptied in place and the record (text/plain and text/html) is displayed right after
  it. nbval does not replay display updates, so it compares what it saw: an empty
  widget view (skipped) and the record, which equal the saved outputs. Work started by
  a button shows its live views inside the widget instead (WidgetArea).
- InteractiveDisplay, for views with controls (status, levers): the widget is displayed
  with its record beside it in the same output, and stays interactive for as long as
  its kernel runs; whenever the view's state changes (a refresh, a build, a run), the
  output is updated in place with the new record, so the record a save keeps is
  always the current one.

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
from planalign_nb.saving import LIVE_VIEW_METADATA, WIDGET_VIEW

logger = logging.getLogger(__name__)

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


class Place(Protocol):
    """Where a live view shows while its work runs, and where its record stays when the work ends."""

    def show(self, view: widgets.Widget) -> bool:
        """Show the live view; whether it is live there (a clock worth moving)."""
        ...

    def finish(self, view: widgets.Widget, record: Snapshot) -> None:
        """Put the record where the live view was, and let the view go."""
        ...


class CellOutput:
    """The running cell's output: the live view in an output of its own, emptied in place for the record after it.

    Without a live front-end (terminal IPython, plain Python) only the record is shown
    (printed outside IPython), once.
    """

    def __init__(self) -> None:
        self._handle: Any = None

    def show(self, view: widgets.Widget) -> bool:
        if not live_frontend():
            return False
        self._handle = display(widget_view(view), raw=True, display_id=True, metadata=LIVE_VIEW_METADATA)
        return True

    def finish(self, view: widgets.Widget, record: Snapshot) -> None:
        if self._handle is not None:
            self._handle.update({}, raw=True)
        display(record)
        if self._handle is not None:
            close_tree(view)


class WidgetArea:
    """A box inside an interactive view (the levers' results): the live view as a child, then its record.

    A button's work has no cell to write to. Widget children are kernel state, so the
    area reads the same in every view of the widget (also re-rendered ones), which
    captured outputs would not: a captured widget view outlives the widget it shows.
    """

    def __init__(self, box: widgets.Box) -> None:
        self.box = box

    def show(self, view: widgets.Widget) -> bool:
        self.box.children = (*self.box.children, view)
        return True

    def finish(self, view: widgets.Widget, record: Snapshot) -> None:
        shown = widgets.HTML(record.html)
        self.box.children = tuple(shown if child is view else child for child in self.box.children)
        close_tree(view)


class LiveDisplay(Generic[V]):
    """Shows a view live while its work runs (in the cell's output unless given another place), then its record."""

    def __init__(self, view: V, place: Place | None = None) -> None:
        self.view = view
        self.requested = False
        self._place = place or CellOutput()
        self._heartbeat = Heartbeat(view.tick)
        self._finished = False

    def show(self) -> None:
        """Display the live view now (idempotent). Call it from the cell's own thread."""
        if self.requested:
            return
        self.requested = True
        assert isinstance(self.view, widgets.Widget)
        if self._place.show(self.view):
            self._heartbeat.start()

    def finish(self) -> None:
        """Replace the live view by its record (printed as text outside IPython); idempotent."""
        if not self.requested or self._finished:
            return
        self._finished = True
        self._heartbeat.stop()
        assert isinstance(self.view, widgets.Widget)
        self._place.finish(self.view, self.view.snapshot())


class InteractiveDisplay:
    """The outputs that show an interactive view, each with its current record beside the widget view.

    `show()` adds an output (a view may be displayed more than once); `refresh()`
    updates every one of them after the view changed. Outside a live front-end only
    the record is displayed, and refresh has nothing to update.
    """

    def __init__(self, view: widgets.Widget, snapshot: Callable[[], Snapshot]) -> None:
        self._view = view
        self._snapshot = snapshot
        self._handles: list[Any] = []

    def show(self) -> None:
        record = self._snapshot()
        if not live_frontend():
            display(record)
            return
        handle = display(self._bundle(record), raw=True, display_id=True, metadata=LIVE_VIEW_METADATA)
        self._handles.append(handle)

    def refresh(self) -> None:
        """Put the view's current record beside it in every output that shows it."""
        if not self._handles:
            return
        bundle = self._bundle(self._snapshot())
        for handle in self._handles:
            handle.update(bundle, raw=True, metadata=LIVE_VIEW_METADATA)

    def _bundle(self, record: Snapshot) -> dict[str, Any]:
        return {**widget_view(self._view), **record._repr_mimebundle_()}
