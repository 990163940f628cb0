"""LiveDisplay: a widget shown while a synchronous call runs, then frozen into its record.

Why a record: an output's text/plain and text/html are fixed when it is displayed,
and nbval (which compares them) does not replay display updates. So the live widget
is displayed when work starts, and when the work ends it is hidden and its final
static rendering is displayed after it. Live front-ends see the widget turn into
the record; nbconvert, GitHub and nbval see the record, with the final step states,
and both runs of a notebook produce the same outputs.
"""

from __future__ import annotations

from typing import Any, Generic, Protocol, TypeVar

from IPython import get_ipython
from IPython.display import display

from planalign_nb.rendering import Snapshot


class LiveView(Protocol):
    layout: Any

    def snapshot(self) -> Snapshot: ...


V = TypeVar("V", bound=LiveView)


class LiveDisplay(Generic[V]):
    """Shows a view live (only inside IPython) and leaves its final record when finished."""

    def __init__(self, view: V) -> None:
        self.view = view
        self.requested = False
        self._displayed = False
        self._finished = False

    def show(self) -> None:
        """Display the live view now (idempotent). Call it from the cell's own thread."""
        if self.requested:
            return
        self.requested = True
        if get_ipython() is not None:
            display(self.view)
            self._displayed = True

    def finish(self) -> None:
        """Hide the live view and display its record (printed as text outside IPython); idempotent."""
        if not self.requested or self._finished:
            return
        self._finished = True
        if self._displayed:
            self.view.layout.display = "none"
        display(self.view.snapshot())
