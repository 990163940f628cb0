"""TableStatusWidget: the required tables grouped by tier and the simulated years, with actions.

The widget holds no table logic: it is given a loader (the engine's
WorkspaceSession.status: every table and year, present/missing/empty/stale/unknown,
with why) and a healer (AutoInitializer.ensure_initialized with the widget's progress
view subscribed), so tests can drive it with recorded data and the notebook face
wires it to a real workspace.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from planalign_nb.progress_widget import InitializationProgress
from planalign_nb.rendering import (
    TABLE_STATE_ICONS,
    ErrorReport,
    Snapshot,
    css,
    error_report,
    escape,
    row_cells,
    styled,
)
from planalign_orchestrator.exceptions import NavigatorError
from planalign_orchestrator.progress import ProgressObserver
from planalign_orchestrator.self_healing.models import REQUIRED_TABLES, InitializationResult, TableState, TableTier

if TYPE_CHECKING:
    from planalign_orchestrator.freshness.checker import YearStatus
    from planalign_orchestrator.freshness.report import WorkspaceStatus
    from planalign_orchestrator.self_healing.table_checker import TableStatus

StatusLoader = Callable[[], "WorkspaceStatus"]
Healer = Callable[[ProgressObserver], InitializationResult]
_STATE_CLASSES = tuple(css(f"table-{state}") for state in TABLE_STATE_ICONS)
_STATE_ORDER = list(TABLE_STATE_ICONS)


def _rows_text(status: TableStatus) -> str:
    return f"{status.row_count:,} rows" if status.row_count is not None else ""


def _line(icon: str, name: str, state: object, rows: str, why: str) -> str:
    """One text row of the record: icon, name, state, row count and, when it needs a build, why."""
    line = f"  {icon} {name:<36} {state!s:<8} {rows}".rstrip()
    return f"{line}  ({why})" if why else line


def _why(status: TableStatus | YearStatus) -> str:
    """Why a stale or unknown table or year needs a build (missing and empty say it themselves)."""
    return status.explanation if status.state in (TableState.STALE, TableState.UNKNOWN) else ""


class TableStatusWidget(widgets.VBox):
    """Required tables by tier and simulated years, each present / missing / empty / stale / unknown.

    A table or year that needs a build shows why (e.g. "census.csv changed since the
    build on ..."). The action button says what it will do ("Build 2 missing, rebuild
    3 stale") and is disabled when there is nothing to build; it runs the healer
    synchronously with an embedded progress view and refreshes the states when it
    ends. A kernel interrupt during that run shows "cancelled"; clicking again heals.
    Stale years are re-run by simulate, which the widget says.
    """

    def __init__(self, load: StatusLoader, heal: Healer, *, root: Path | None = None, label: str = "") -> None:
        self._load = load
        self._heal = heal
        self._root = root
        self._label = label
        self.statuses: list[TableStatus] = []
        self.years: list[YearStatus] = []
        self.error: ErrorReport | None = None
        self.last_result: InitializationResult | None = None
        self.summary = styled(widgets.HTML(), "summary")
        self.table_rows = {
            table.name: styled(widgets.HTML(), "table", f"table-{table.name}") for table in REQUIRED_TABLES
        }
        tier_boxes = []
        for tier in TableTier:
            heading = styled(widgets.HTML(f"<b>{escape(tier.heading)}</b>"), "tier", f"tier-{tier.value}")
            rows = [self.table_rows[t.name] for t in REQUIRED_TABLES if t.tier is tier]
            tier_boxes.append(widgets.VBox([heading, *rows]))
        self.refresh_button = styled(widgets.Button(description="Refresh", icon="refresh"), "refresh")
        self.initialize_button = styled(
            widgets.Button(description="Nothing to build", icon="wrench", disabled=True), "initialize"
        )
        self.years_box = styled(widgets.HTML(), "years")
        self.refresh_button.on_click(lambda _button: self.refresh())
        self.initialize_button.on_click(lambda _button: self.initialize_missing())
        self.error_panel = styled(widgets.HTML(), "error-panel")
        self.progress = InitializationProgress(root=root)
        self.progress.layout.display = "none"
        super().__init__(
            children=[
                self.summary,
                *tier_boxes,
                self.years_box,
                widgets.HBox([self.refresh_button, self.initialize_button]),
                self.error_panel,
                self.progress,
            ]
        )
        styled(self, "status")
        self.refresh()

    # -- actions -------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the table states again (an unreadable database shows its error and remediation)."""
        try:
            status = self._load()
            self.statuses, self.years, self.error = list(status.tables), list(status.years), None
        except NavigatorError as error:
            self.statuses, self.years, self.error = [], [], error_report(error, self._root)
        self._render()

    def initialize_missing(self) -> InitializationResult | None:
        """Build what is missing, showing live progress; None when it failed or was cancelled.

        The failure is shown in the progress panel with its remediation rather than
        raised: a button click has no caller to raise to. Unexpected (non-PlanAlign)
        exceptions are still raised after the panel shows them.
        """
        self.initialize_button.disabled = self.refresh_button.disabled = True
        self.progress.reset()
        self.progress.layout.display = None
        self.last_result = None
        try:
            self.last_result = self._heal(self.progress)
        except (NavigatorError, KeyboardInterrupt) as error:
            self.progress.fail(error)
        except Exception as error:
            self.progress.fail(error)
            raise
        finally:
            self.refresh_button.disabled = False
            self.refresh()
        return self.last_result

    # -- state and rendering --------------------------------------------------------------

    @property
    def missing(self) -> list[str]:
        """Names of required tables that need a build (missing, empty, stale, unknown), in tier order."""
        return [s.table.name for s in self.statuses if s.state.needs_build]

    def action_label(self) -> str:
        """What the action button will do, in numbers ("Build 2 missing, rebuild 3 stale")."""
        absent = sum(s.state == "missing" for s in self.statuses)
        rebuild = len(self.missing) - absent
        parts = ([f"Build {absent} missing"] if absent else []) + ([f"rebuild {rebuild} stale"] if rebuild else [])
        return ", ".join(parts).capitalize() if parts else "Nothing to build"

    def summary_line(self) -> str:
        if self.error is not None:
            return "Table status unavailable"
        total, needing = len(self.statuses), len(self.missing)
        stale_years = sum(y.state.needs_build for y in self.years)
        years = f"; {stale_years} simulated year(s) out of date" if stale_years else ""
        if not needing:
            return f"All {total} required tables present{years}"
        states = sorted({str(s.state) for s in self.statuses if s.state.needs_build}, key=_STATE_ORDER.index)
        return f"{needing} of {total} required tables {' or '.join(states)}{years}"

    def _title(self) -> str:
        prefix = f"Workspace {self._label}: " if self._label else ""
        return prefix + self.summary_line()

    def _render(self) -> None:
        self.summary.value = f"<b>{escape(self._title())}</b>"
        by_name = {s.table.name: s for s in self.statuses}
        for name, row in self.table_rows.items():
            status = by_name.get(name)
            state = status.state if status else "unknown"
            icon = TABLE_STATE_ICONS.get(state, "?")
            rows = f" · {_rows_text(status)}" if status and status.row_count is not None else ""
            why = f" · {escape(_why(status))}" if status and _why(status) else ""
            row.value = f"{icon} {escape(name)} · {state}{rows}{why}"
            for cls in _STATE_CLASSES:
                if cls in row._dom_classes:
                    row.remove_class(cls)
            if status:
                row.add_class(css(f"table-{state}"))
        self.years_box.value = self._years_html()
        self.years_box.layout.display = None if self.years else "none"
        self.initialize_button.description = self.action_label()
        self.initialize_button.disabled = not self.missing
        self.initialize_button.button_style = "primary" if self.missing else ""
        self.error_panel.value = self.error.html() if self.error else ""
        self.error_panel.layout.display = None if self.error else "none"

    def _years_html(self) -> str:
        if not self.years:
            return ""
        rows = "".join(
            f"<tr class='{css('year', f'year-{y.year}', f'table-{y.state}')}'>"
            f"{row_cells(TABLE_STATE_ICONS[str(y.state)], y.year, y.state, escape(_why(y)))}</tr>"
            for y in self.years
        )
        hint = (
            "<div>Out-of-date years are re-run by <code>simulate</code>.</div>"
            if any(y.state.needs_build for y in self.years)
            else ""
        )
        return f"<b>Simulated years</b><table>{rows}</table>{hint}"

    def snapshot(self) -> Snapshot:
        """Tier groups, table states and row counts (plus the last initialization, if any)."""
        text = [self._title()]
        sections = []
        for tier in TableTier:
            statuses = [s for s in self.statuses if s.table.tier is tier]
            text.append(tier.heading)
            text += [_line(TABLE_STATE_ICONS[s.state], s.table.name, s.state, _rows_text(s), _why(s)) for s in statuses]
            rows = "".join(
                f"<tr class='{css('table', 'table-' + s.table.name, 'table-' + s.state)}'>"
                + row_cells(TABLE_STATE_ICONS[s.state], escape(s.table.name), s.state, _rows_text(s), escape(_why(s)))
                + "</tr>"
                for s in statuses
            )
            sections.append(
                f"<div class='{css('tier', 'tier-' + tier.value)}'><b>{escape(tier.heading)}</b></div>"
                f"<table>{rows}</table>"
            )
        if self.years:
            text.append("Simulated years")
            text += [_line(TABLE_STATE_ICONS[y.state], str(y.year), y.state, "", _why(y)) for y in self.years]
            sections.append(self._years_html())
        html_parts = [f"<div class='{css('summary')}'><b>{escape(self._title())}</b></div>", *sections]
        if self.error:
            text += self.error.text_lines()
            html_parts.append(self.error.html())
        if self.progress.outcome is not None:
            progress = self.progress.snapshot()
            text.append(progress.text)
            html_parts.append(progress.html)
        return Snapshot("\n".join(text), f"<div class='{css('status', 'record')}'>{''.join(html_parts)}</div>")

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle.update(self.snapshot()._repr_mimebundle_())
        return bundle
