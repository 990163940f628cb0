"""Static renderings shared by every widget: state words, icons, CSS classes, paths.

A widget's live view lives in the browser; its static rendering (text/plain and
text/html) is what nbval compares, what `nbconvert --to html` and GitHub show, and
what a plain Python process prints. Static renderings are therefore deterministic:
no timings, no widget ids, and no absolute paths (paths inside the workspace are
shown relative to it, so a notebook run in a temporary folder renders the same
words everywhere).

Live widgets and static renderings carry the same stable CSS classes, so browser
tests and stylesheets never depend on ipywidgets internals:
  planalign-status, -summary, -tier and -tier-<seed|foundation>, -table and
  -table-<name> and -table-<present|missing|empty>, -refresh, -initialize;
  planalign-progress, -progress-header, -bar, -node, -step and -step-<name>;
  planalign-simulation, -year and -year-<year>; rows add -state-<state>;
  error panels: -error-panel, -error, -error-message, -remediation;
  static renderings add planalign-record.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from ipywidgets import DOMWidget

CSS_PREFIX = "planalign"


class ItemState(str, Enum):
    """The state of one step or one simulated year, as every face words it."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"

    @property
    def icon(self) -> str:
        return _ICONS[self]

    @property
    def css_class(self) -> str:
        return f"{CSS_PREFIX}-state-{self.value}"


_ICONS = {
    ItemState.PENDING: "○",
    ItemState.RUNNING: "▶",
    ItemState.DONE: "✓",
    ItemState.FAILED: "✗",
    ItemState.CANCELLED: "⊘",
    ItemState.SKIPPED: "–",
}

TABLE_STATE_ICONS = {"present": "✓", "missing": "✗", "empty": "!", "stale": "↻", "unknown": "?"}


_BAR_STYLES = {"completed": "success", "failed": "danger", "cancelled": "warning"}


def bar_style(outcome: str | None) -> str:
    """The progress bar colour for a run's outcome (info while it runs)."""
    return _BAR_STYLES.get(outcome or "", "info")


def mark_state(row: DOMWidget, state: ItemState) -> None:
    """Keep exactly one planalign-state-<state> class on a live row."""
    for other in ItemState:
        if other is not state and other.css_class in row._dom_classes:
            row.remove_class(other.css_class)
    row.add_class(state.css_class)


def show_error(panel: Any, error: ErrorReport | None) -> None:
    """Fill the live error panel, or hide it when there is no error."""
    panel.value = error.html() if error else ""
    panel.layout.display = None if error else "none"


def css(*names: str) -> str:
    """Prefixed CSS classes for a static HTML class attribute, e.g. for "step", "step-verify"."""
    return " ".join(f"{CSS_PREFIX}-{name}" for name in names)


W = TypeVar("W", bound=DOMWidget)


def styled(widget: W, *names: str) -> W:
    """Give a live widget stable, prefixed CSS classes (one add_class per class, as the DOM requires)."""
    for name in names:
        widget.add_class(f"{CSS_PREFIX}-{name}")
    return widget


def row_cells(*contents: object) -> str:
    """Table cells for a static record, left-aligned (Jupyter right-aligns table cells by default)."""
    return "".join(f"<td style='text-align:left'>{content}</td>" for content in contents)


def escape(text: object) -> str:
    return html.escape(str(text), quote=True)


def relative_to_workspace(text: str, root: Path | None) -> str:
    """Show paths inside the workspace relative to it (the folder itself by its name).

    Engine messages name absolute paths because a terminal user needs them; in a
    notebook the workspace is the context, and absolute temporary paths would make
    every executed notebook differ.
    """
    if root is None or not text:
        return text
    prefix = str(root)
    return text.replace(prefix + os.sep, "").replace(prefix, root.name)


def format_seconds(seconds: float | None) -> str:
    """Elapsed time for the live view only (never part of a static rendering)."""
    return "" if seconds is None else f"{seconds:.1f} s"


@dataclass(frozen=True)
class ErrorReport:
    """An error as the panels show it: what went wrong and what to do about it."""

    message: str
    remediation: str | None = None

    def text_lines(self) -> list[str]:
        lines = [f"Error: {self.message}"]
        if self.remediation:
            lines.append(f"To fix: {self.remediation}")
        return lines

    def html(self) -> str:
        fix = (
            f"<div class='{css('remediation')}'><b>To fix:</b> {escape(self.remediation)}</div>"
            if self.remediation
            else ""
        )
        return (
            f"<div class='{css('error')}'><div class='{css('error-message')}'><b>Error:</b> "
            f"{escape(self.message)}</div>{fix}</div>"
        )


def error_report(error: BaseException, root: Path | None) -> ErrorReport:
    """The engine's message and remediation (NavigatorError), else the exception text."""
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    remediation = getattr(error, "remediation", None)
    return ErrorReport(
        relative_to_workspace(message, root),
        relative_to_workspace(remediation, root) if remediation else None,
    )


@dataclass(frozen=True)
class Snapshot:
    """A static rendering: displayed on its own it has no widget view, only text and HTML."""

    text: str
    html: str

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, str]:
        return {"text/plain": self.text, "text/html": self.html}

    def __str__(self) -> str:
        return self.text
