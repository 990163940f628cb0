"""Static renderings shared by every widget: state words, icons, CSS, bars, errors, paths.

A widget's live view and its final record are drawn by the same functions here, so
they look alike: the live view is the record plus what only makes sense while work
runs (percent, elapsed seconds, an estimate of what is left). The record (text/plain
and text/html) is what nbval compares, what `nbconvert --to html` and GitHub show,
what a saved notebook keeps and what a plain Python process prints. Records are
therefore deterministic when the timings are switched off (PLANALIGN_NB_RECORD_TIMINGS=0,
which the shipped notebooks are executed with): no widget ids and no absolute paths
(paths inside the workspace are shown relative to it).

Live views and records carry the same stable CSS classes, so browser tests and
stylesheets never depend on ipywidgets internals:
  planalign-status, -summary, -tier and -tier-<seed|foundation>, -table and
  -table-<name> and -table-<present|missing|empty|stale|unknown>, -refresh,
  -initialize, -recreate, -confirm;
  planalign-progress, -progress-header, -bar (-bar-<outcome>), -bar-fill, -meta,
  -node, -step and -step-<name>; planalign-simulation, -year and -year-<year>;
  rows add -state-<state>; error panels: -error-panel, -error, -error-message,
  -remediation; records add planalign-record.
Colours come from JupyterLab's theme variables (with fallbacks for other viewers),
so panels read the same in light and dark themes.
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

# One stylesheet for live views and records. Every colour is a JupyterLab theme
# variable with a light-theme fallback (nbconvert HTML, other front-ends). The table
# rules repeat a class to outrank JupyterLab's rendered-HTML table style (centred,
# right-aligned, striped), which records would otherwise get and live views do not.
STYLE = """<style>
.planalign-progress, .planalign-simulation, .planalign-status {
  font-family: var(--jp-ui-font-family, sans-serif); font-size: var(--jp-ui-font-size1, 13px);
  color: var(--jp-content-font-color1, rgba(0,0,0,.87)); max-width: 760px; line-height: 1.45; }
.planalign-progress-header, .planalign-summary { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.planalign-barline { display: flex; align-items: center; gap: 10px; margin: 4px 0; }
.planalign-bar { flex: 1 1 auto; max-width: 420px; height: 8px; border-radius: 4px;
  background: var(--jp-layout-color3, #bdbdbd); overflow: hidden; }
.planalign-bar-fill { height: 100%; background: var(--jp-brand-color1, #1976d2); }
.planalign-bar-completed .planalign-bar-fill { background: var(--jp-success-color1, #388e3c); }
.planalign-bar-failed .planalign-bar-fill { background: var(--jp-error-color1, #d32f2f); }
.planalign-bar-cancelled .planalign-bar-fill { background: var(--jp-warn-color1, #f57c00); }
.planalign-meta, .planalign-node, .planalign-seconds, .planalign-why {
  color: var(--jp-content-font-color2, rgba(0,0,0,.54)); white-space: nowrap; }
.planalign-node { overflow: hidden; text-overflow: ellipsis; }
table.planalign-rows.planalign-rows { border-collapse: collapse; table-layout: auto; margin: 2px 0;
  color: inherit; font-size: inherit; }
table.planalign-rows.planalign-rows tr:nth-child(n) { background: transparent; }
table.planalign-rows.planalign-rows td:nth-child(n) { text-align: left; padding: 1px 12px 1px 0;
  vertical-align: top; line-height: inherit; }
.planalign-state-failed td, .planalign-table-missing td:first-child { color: var(--jp-error-color1, #d32f2f); }
.planalign-state-cancelled td { color: var(--jp-warn-color1, #f57c00); }
.planalign-state-done td:first-child, .planalign-table-present td:first-child {
  color: var(--jp-success-color1, #388e3c); }
.planalign-table-stale td:first-child, .planalign-table-empty td:first-child,
.planalign-table-unknown td:first-child { color: var(--jp-warn-color1, #f57c00); }
.planalign-error { margin: 6px 0; padding: 6px 10px; border-left: 4px solid var(--jp-error-color1, #d32f2f);
  background: var(--jp-rendermime-error-background, #fdd); border-radius: 2px; }
.planalign-error-label { color: var(--jp-error-color1, #d32f2f); font-weight: bold; }
.planalign-error-message { white-space: pre-wrap; }
.planalign-remediation { margin-top: 4px; }
.planalign-error code, .planalign-status code { font-family: var(--jp-code-font-family, monospace);
  background: var(--jp-layout-color2, #eee); padding: 0 3px; border-radius: 2px; }
</style>"""


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
    panel.value = STYLE + error.html() if error else ""
    panel.layout.display = None if error else "none"


def row(classes: str, *cells: str) -> str:
    """One table row of a live view or record; cells are HTML already."""
    return f"<tr class='{classes}'>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


def table(rows: list[str]) -> str:
    return f"<table class='{css('rows')}'>{''.join(rows)}</table>" if rows else ""


def bar(fraction: float, outcome: str | None) -> str:
    """A progress bar as static HTML, coloured by how the run ended (the brand colour while it runs)."""
    percent = max(0.0, min(1.0, fraction)) * 100
    classes = css("bar", f"bar-{outcome or 'running'}")
    return f"<div class='{classes}'><div class='{css('bar-fill')}' style='width:{percent:.1f}%'></div></div>"


def barline(fraction: float, outcome: str | None, meta: list[str]) -> str:
    """The bar with its figures beside it (percent, elapsed, estimate), on one line that never wraps."""
    figures = f"<span class='{css('meta')}'>{escape(' · '.join(meta))}</span>" if meta else ""
    return f"<div class='{css('barline')}'>{bar(fraction, outcome)}{figures}</div>"


def seconds_cell(seconds: float | None) -> str:
    return f"<span class='{css('seconds')}'>{escape(format_seconds(seconds))}</span>" if seconds is not None else ""


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


def with_code(text: str) -> str:
    """Escaped text whose `backticked` spans become <code> (remediations name commands that way)."""
    return _CODE_SPAN.sub(lambda match: f"<code>{match.group(1)}</code>", escape(text))


_NOTEBOOK_CALLS = {"initialize": "nb.initialize", "simulate": "nb.simulate", "status": "nb.status", "plan": "nb.plan"}
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
        fix = (
            f"<div class='{css('remediation')}'><b>To fix:</b> {with_code(self.remediation)}</div>"
            if self.remediation
            else ""
        )
        return (
            f"<div class='{css('error')}'><div class='{css('error-message')}'>"
            f"<span class='{css('error-label')}'>Error:</span> {escape(self.message)}</div>{fix}</div>"
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
