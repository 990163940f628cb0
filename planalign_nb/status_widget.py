"""TableStatusWidget: the required tables grouped by tier, with Refresh and Initialize missing.

The widget holds no table logic: it is given a loader (the engine's
TableExistenceChecker.get_table_statuses) and a healer (AutoInitializer.ensure_initialized
with the widget's progress view subscribed), so tests can drive it with recorded data
and the notebook face wires it to a real workspace.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
from planalign_orchestrator.self_healing.models import REQUIRED_TABLES, InitializationResult, TableTier

if TYPE_CHECKING:
    from planalign_orchestrator.self_healing.table_checker import TableStatus

StatusLoader = Callable[[], Sequence["TableStatus"]]
Healer = Callable[[ProgressObserver], InitializationResult]
_STATE_CLASSES = tuple(css(f"table-{state}") for state in TABLE_STATE_ICONS)


def _rows_text(status: TableStatus) -> str:
    return f"{status.row_count:,} rows" if status.row_count is not None else ""


class TableStatusWidget(widgets.VBox):
    """Required tables by tier (present / missing / empty, with row counts) and the actions.

    "Initialize missing" runs the healer synchronously with an embedded progress view,
    is disabled while it runs, and refreshes the table states when it ends. A
    kernel interrupt during that run shows "cancelled"; clicking again heals.
    """

    def __init__(self, load: StatusLoader, heal: Healer, *, root: Path | None = None, label: str = "") -> None:
        self._load = load
        self._heal = heal
        self._root = root
        self._label = label
        self.statuses: list[TableStatus] = []
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
            widgets.Button(description="Initialize missing", icon="wrench", button_style="primary"), "initialize"
        )
        self.refresh_button.on_click(lambda _button: self.refresh())
        self.initialize_button.on_click(lambda _button: self.initialize_missing())
        self.error_panel = styled(widgets.HTML(), "error-panel")
        self.progress = InitializationProgress(root=root)
        self.progress.layout.display = "none"
        super().__init__(
            children=[
                self.summary,
                *tier_boxes,
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
            self.statuses, self.error = list(self._load()), None
        except NavigatorError as error:
            self.statuses, self.error = [], error_report(error, self._root)
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
            self.initialize_button.disabled = self.refresh_button.disabled = False
            self.refresh()
        return self.last_result

    # -- state and rendering --------------------------------------------------------------

    @property
    def missing(self) -> list[str]:
        """Names of required tables that are missing or empty, in tier order."""
        return [s.table.name for s in self.statuses if s.state != "present"]

    def summary_line(self) -> str:
        if self.error is not None:
            return "Table status unavailable"
        total, missing = len(self.statuses), len(self.missing)
        if not missing:
            return f"All {total} required tables present"
        empty = sum(s.state == "empty" for s in self.statuses)
        what = "missing or empty" if empty else "missing"
        return f"{missing} of {total} required tables {what}"

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
            row.value = f"{icon} {escape(name)} · {state}{rows}"
            for cls in _STATE_CLASSES:
                if cls in row._dom_classes:
                    row.remove_class(cls)
            if status:
                row.add_class(css(f"table-{state}"))
        self.error_panel.value = self.error.html() if self.error else ""
        self.error_panel.layout.display = None if self.error else "none"

    def snapshot(self) -> Snapshot:
        """Tier groups, table states and row counts (plus the last initialization, if any)."""
        text = [self._title()]
        sections = []
        for tier in TableTier:
            statuses = [s for s in self.statuses if s.table.tier is tier]
            text.append(tier.heading)
            text += [
                f"  {TABLE_STATE_ICONS[s.state]} {s.table.name:<36} {s.state:<8} {_rows_text(s)}".rstrip()
                for s in statuses
            ]
            rows = "".join(
                f"<tr class='{css('table', 'table-' + s.table.name, 'table-' + s.state)}'>"
                f"{row_cells(TABLE_STATE_ICONS[s.state], escape(s.table.name), s.state, _rows_text(s))}</tr>"
                for s in statuses
            )
            sections.append(
                f"<div class='{css('tier', 'tier-' + tier.value)}'><b>{escape(tier.heading)}</b></div>"
                f"<table>{rows}</table>"
            )
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
