"""Static renderings shared by every widget: state words, icons, colours, bars, errors, paths.

A widget's live view and its final record are drawn by the same functions here, so
they look alike: the live view is the record plus what only makes sense while work
runs (percent, elapsed seconds, an estimate of what is left). The record (text/plain
and text/html) is what nbval compares, what `nbconvert --to html` and GitHub show,
what a saved notebook keeps and what a plain Python process prints. Records are
therefore deterministic when the timings are switched off (PLANALIGN_NB_RECORD_TIMINGS=0,
which the shipped notebooks are executed with): no widget ids and no absolute paths
(paths inside the workspace are shown relative to it).

Every style is written inline, on the element it styles. A notebook from a clone or
from GitHub is untrusted, and JupyterLab's sanitizer then drops <style> blocks, CSS
variables and `inherit` (it keeps plain inline declarations); a record styled by a
stylesheet would lose its alignment, bars and colours until the notebook was saved
once. For the same reason colours are literal, and chosen to read on JupyterLab's light
and dark themes alike: text keeps the theme's own colour, muted text is translucent,
backgrounds are translucent tints, and the state colours are mid-tones.

Live views and records carry the same stable CSS classes, so browser tests never
depend on ipywidgets internals:
  planalign-status, -summary, -tier and -tier-<seed|foundation>, -table and
  -table-<name> and -table-<present|missing|empty|stale|unknown>, -refresh,
  -initialize, -recreate, -confirm;
  planalign-progress, -progress-header, -bar (-bar-<outcome>), -bar-fill, -meta,
  -node, -step and -step-<name>; planalign-simulation, -year and -year-<year>;
  rows add -state-<state>; error panels: -error-panel, -error, -error-message,
  -remediation; records add planalign-record.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ipywidgets import DOMWidget

from planalign_orchestrator.progress import ItemState

CSS_PREFIX = "planalign"
RECORD_TIMINGS_ENV = "PLANALIGN_NB_RECORD_TIMINGS"


_ICONS = {
    ItemState.PENDING: "○",
    ItemState.RUNNING: "▶",
    ItemState.DONE: "✓",
    ItemState.FAILED: "✗",
    ItemState.CANCELLED: "⊘",
    ItemState.SKIPPED: "–",
}


def icon(state: ItemState) -> str:
    """The symbol a step or year row leads with."""
    return _ICONS[state]


def state_class(state: ItemState) -> str:
    """The CSS class of a step or year row in this state."""
    return f"{CSS_PREFIX}-state-{state.value}"


TABLE_STATE_ICONS = {"present": "✓", "missing": "✗", "empty": "!", "stale": "↻", "unknown": "?"}

# Mid-tones: at least 3:1 against white and against JupyterLab Dark's near-black.
GREEN = "#3a9d4a"
RED = "#e53935"
ORANGE = "#e65100"
BLUE = "#1e88e5"
TRACK = "rgba(128,128,128,.3)"
ERROR_TINT = "rgba(229,57,53,.12)"
CODE_TINT = "rgba(128,128,128,.18)"
MUTED = "opacity:.7"

# The frame of every view, its one-line header and its tables. The table and cell
# declarations outrank JupyterLab's rendered-HTML table style (centred, right-aligned,
# striped), which records would otherwise get and live views do not.
FRAME = "font-size:13px;line-height:1.45;max-width:760px"
HEADER = "white-space:nowrap;overflow:hidden;text-overflow:ellipsis"
TABLE = "border-collapse:collapse;table-layout:auto;width:auto;margin:2px 0;border:none;font-size:13px"
ROW = "background:transparent"
CELL = "text-align:left;padding:1px 12px 1px 0;vertical-align:top;border:none;line-height:1.45"
CODE = f"font-family:monospace;background:{CODE_TINT};padding:0 3px;border-radius:2px"

# Colours of a step or year row by state: the whole row, or only its icon.
ROW_COLOURS = {ItemState.FAILED: RED, ItemState.CANCELLED: ORANGE}
ICON_COLOURS = {ItemState.DONE: GREEN}
TABLE_STATE_COLOURS = {"present": GREEN, "missing": RED, "empty": ORANGE, "stale": ORANGE, "unknown": ORANGE}
_BAR_COLOURS = {"completed": GREEN, "failed": RED, "cancelled": ORANGE}


def record_timings() -> bool:
    """Whether records show seconds (the default; the shipped notebooks are executed without)."""
    return os.environ.get(RECORD_TIMINGS_ENV, "1").strip().lower() not in {"0", "false", "no", "off"}


def css(*names: str) -> str:
    """Prefixed CSS classes for a static HTML class attribute, e.g. for "step", "step-verify"."""
    return " ".join(f"{CSS_PREFIX}-{name}" for name in names)


W = TypeVar("W", bound=DOMWidget)


def styled(widget: W, *names: str) -> W:
    """Give a live widget stable, prefixed CSS classes (one add_class per class, as the DOM requires)."""
    for name in names:
        widget.add_class(f"{CSS_PREFIX}-{name}")
    return widget


def escape(text: object) -> str:
    return html.escape(str(text), quote=True)


def show_error(panel: Any, error: ErrorReport | None) -> None:
    """Fill a live error panel (an HTML widget), or hide it when there is no error."""
    panel.value = error.html() if error else ""
    panel.layout.display = None if error else "none"


def frame(classes: str, body: str) -> str:
    """A view or record as a whole: its classes and the font, spacing and width every view shares."""
    return f"<div class='{classes}' style='{FRAME}'>{body}</div>"


def header(title: str, name: str = "progress-header") -> str:
    """A view's bold title on one line that never wraps (an ellipsis when it is too long)."""
    return f"<div class='{css(name)}' style='{HEADER}'><b>{escape(title)}</b></div>"


def muted(text: str, name: str, *, nowrap: bool = True) -> str:
    """Secondary text (seconds, figures, why): translucent, so it reads in either theme."""
    wrap = ";white-space:nowrap" if nowrap else ""
    return f"<span class='{css(name)}' style='{MUTED}{wrap}'>{escape(text)}</span>"


def row(classes: str, *cells: str, colour: str | None = None, icon_colour: str | None = None) -> str:
    """One table row of a live view or record; cells are HTML already, the first is the row's icon.

    `colour` colours the whole row (a failed step), `icon_colour` only its icon (a done step).
    """
    row_style = ROW + (f";color:{colour}" if colour else "")
    first = CELL + (f";color:{icon_colour};font-weight:bold" if icon_colour else "")
    tds = [f"<td style='{first if index == 0 else CELL}'>{cell}</td>" for index, cell in enumerate(cells)]
    return f"<tr class='{classes}' style='{row_style}'>{''.join(tds)}</tr>"


def state_row(classes: str, state: ItemState, *cells: str) -> str:
    """A step or year row, coloured by its state."""
    return row(classes, *cells, colour=ROW_COLOURS.get(state), icon_colour=ICON_COLOURS.get(state))


def table(rows: list[str]) -> str:
    return f"<table class='{css('rows')}' style='{TABLE}'>{''.join(rows)}</table>" if rows else ""


def bar(fraction: float, outcome: str | None) -> str:
    """A progress bar as static HTML, coloured by how the run ended (blue while it runs)."""
    percent = max(0.0, min(1.0, fraction)) * 100
    classes = css("bar", f"bar-{outcome or 'running'}")
    track = (
        f"flex:1 1 auto;min-width:120px;max-width:420px;height:8px;border-radius:4px;background:{TRACK};overflow:hidden"
    )
    fill = f"height:100%;width:{percent:.1f}%;background:{_BAR_COLOURS.get(outcome or '', BLUE)}"
    return f"<div class='{classes}' style='{track}'><div class='{css('bar-fill')}' style='{fill}'></div></div>"


def barline(fraction: float, outcome: str | None, meta: list[str]) -> str:
    """The bar with its figures beside it (percent, elapsed, estimate), on one line that never wraps."""
    figures = muted(" · ".join(meta), "meta") if meta else ""
    style = "display:flex;align-items:center;gap:10px;margin:4px 0"
    return f"<div class='{css('barline')}' style='{style}'>{bar(fraction, outcome)}{figures}</div>"


def node_line(text: str) -> str:
    """The dbt node a view is on (or stopped at), muted, on one line."""
    style = f"{MUTED};white-space:nowrap;overflow:hidden;text-overflow:ellipsis"
    return f"<div class='{css('node')}' style='{style}'>{escape(text)}</div>" if text else ""


def seconds_cell(seconds: float | None) -> str:
    return muted(format_seconds(seconds), "seconds") if seconds is not None else ""


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
    return "" if seconds is None else f"{seconds:.1f} s"


def estimate(elapsed: float, expected: float | None) -> str | None:
    """What is left of a step that took `expected` seconds last time, in words (None without history)."""
    if expected is None:
        return None
    left = expected - elapsed
    if left >= 0.5:
        return f"about {left:.0f} s left"
    return f"longer than last time ({expected:.1f} s)"


_CODE_SPAN = re.compile(r"`([^`]+)`")


def code(text: str) -> str:
    """Text set as code (a command or call), escaped."""
    return f"<code style='{CODE}'>{escape(text)}</code>"


def with_code(text: str) -> str:
    """Escaped text whose `backticked` spans become <code> (remediations name commands that way)."""
    return _CODE_SPAN.sub(lambda match: f"<code style='{CODE}'>{match.group(1)}</code>", escape(text))


_NOTEBOOK_CALLS = {
    "initialize": "nb.initialize",
    "simulate": "nb.simulate",
    "status": "nb.status",
    "plan": "nb.plan",
    "optimize": "nb.optimize",
}
_POSITIONAL = {"simulate": ("start_year", "end_year"), "plan": ("start_year", "end_year")}


def notebook_call(action: str | None, options: Mapping[str, Any], workspace: str) -> str | None:
    """An engine remedy's call in the notebook's words, e.g. nb.initialize('ws', recreate_corrupt=True)."""
    if action not in _NOTEBOOK_CALLS:
        return None
    rest = dict(options)
    arguments = [repr(workspace)] + [str(rest.pop(name)) for name in _POSITIONAL.get(action, ()) if name in rest]
    arguments += [f"{name}={value!r}" for name, value in rest.items()]
    return f"{_NOTEBOOK_CALLS[action]}({', '.join(arguments)})"


def workspace_reference(root: Path | None) -> str:
    """How a notebook names the workspace in a call: relative to the kernel's folder, else by its name."""
    if root is None:
        return "workspace"
    try:
        return root.relative_to(Path.cwd()).as_posix() or "."
    except ValueError:
        return root.name


@dataclass(frozen=True)
class ErrorReport:
    """An error as the panels show it: what went wrong and what to do about it.

    `action` and `options` are the engine remedy's call (see exceptions.Remedy), which
    a widget may offer as a button.
    """

    message: str
    remediation: str | None = None
    action: str | None = None
    options: Mapping[str, Any] | None = None

    def text_lines(self) -> list[str]:
        lines = [f"Error: {self.message}"]
        if self.remediation:
            lines.append(f"To fix: {self.remediation}")
        return lines

    def html(self) -> str:
        """A panel that stands out in either theme: a red rule and label on a translucent red tint."""
        fix = (
            f"<div class='{css('remediation')}' style='margin-top:4px'><b>To fix:</b> "
            f"{with_code(self.remediation)}</div>"
            if self.remediation
            else ""
        )
        panel = f"margin:6px 0;padding:6px 10px;border-left:4px solid {RED};background:{ERROR_TINT};border-radius:2px"
        label = f"<span class='{css('error-label')}' style='color:{RED};font-weight:bold'>Error:</span>"
        return (
            f"<div class='{css('error')}' style='{panel}'>"
            f"<div class='{css('error-message')}' style='white-space:pre-wrap'>{label} {escape(self.message)}</div>"
            f"{fix}</div>"
        )


def error_report(error: BaseException, root: Path | None) -> ErrorReport:
    """The engine's message and its remedy in the notebook's words (PlanAlignError), else the exception text."""
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    remedy = getattr(error, "remedy", None)
    return report_of(message, remedy, getattr(error, "remediation", None), root)


def report_of(message: str, remedy: Any, remediation: str | None, root: Path | None) -> ErrorReport:
    """An ErrorReport from an engine message and remedy: a remedy's call is worded for the notebook."""
    action = getattr(remedy, "action", None)
    options = dict(getattr(remedy, "options", None) or {})
    call = notebook_call(action, options, workspace_reference(root)) if remedy is not None else None
    text = remedy.render(f"`{call}`") if call else remediation
    return ErrorReport(
        relative_to_workspace(message, root),
        relative_to_workspace(text, root) if text else None,
        action if call else None,
        options if call else None,
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
