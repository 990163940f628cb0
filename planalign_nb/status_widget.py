"""TableStatusWidget: the required tables grouped by tier and the simulated years, with actions.

The widget holds no table logic: it is given a loader (the engine's
WorkspaceSession.status: every table and year, present/missing/empty/stale/unknown,
with why) and a healer (AutoInitializer.ensure_initialized with the widget's progress
view subscribed, taking AutoInitializer options), so tests can drive it with recorded
data and the notebook face wires it to a real workspace. The actions it offers come
from the engine: what needs a build, and the remedy an error carries (a corrupt
database offers "Recreate (keeps a backup)", a folder that is not a workspace yet
offers to create it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from planalign_nb.live import Heartbeat, InteractiveDisplay
from planalign_nb.progress_widget import InitializationProgress
from planalign_nb.rendering import (
    TABLE_STATE_COLOURS,
    TABLE_STATE_ICONS,
    ErrorReport,
    Snapshot,
    code,
    css,
    error_report,
    escape,
    frame,
    header,
    muted,
    row,
    styled,
    table,
)
from planalign_orchestrator.exceptions import PlanAlignError
from planalign_orchestrator.progress import InitializationResult, TableState, TableTier

if TYPE_CHECKING:
    from planalign_orchestrator.views import TableStatus, WorkspaceStatus, YearStatus

StatusLoader = Callable[[], "WorkspaceStatus"]
# heal(observer, **initializer_options): build what is missing, with progress sent to the observer.
Healer = Callable[..., InitializationResult]
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


def _tier_heading(name: str, heading: str) -> str:
    return f"<div class='{css('tier', 'tier-' + name)}' style='margin-top:4px'><b>{escape(heading)}</b></div>"


def _button(description: str, name: str, *, icon: str = "", style: str = "", visible: bool = True) -> widgets.Button:
    """A button as wide as its words, which a row never squeezes."""
    button = styled(widgets.Button(description=description, icon=icon, button_style=style), name)
    button.layout.width, button.layout.flex = "auto", "0 0 auto"
    button.layout.display = None if visible else "none"
    return button


class TableStatusWidget(widgets.VBox):
    """Required tables by tier and simulated years, each present / missing / empty / stale / unknown.

    A table or year that needs a build shows why (e.g. "census.csv changed since the
    build on ..."). The action button says what it will do ("Build 2 missing, rebuild
    3 stale") and is disabled when there is nothing to build; it runs the healer
    synchronously with an embedded progress view and refreshes the states when it
    ends. On a corrupt database it offers "Recreate (keeps a backup)", after a
    confirmation. A kernel interrupt during a run shows "cancelled"; clicking again
    heals. Stale years are re-run by simulate, which the widget says.

    Displayed in a notebook, the widget stays interactive while its kernel runs, with
    its record beside it (updated by every refresh), which is what a saved notebook
    keeps: it reopens with the states shown (see planalign_nb.live and .saving).
    """

    def __init__(
        self,
        load: StatusLoader,
        heal: Healer,
        *,
        root: Path | None = None,
        label: str = "",
        expected: Mapping[str, float] | None = None,
    ) -> None:
        self._load = load
        self._heal = heal
        self._root = root
        self._label = label
        self.statuses: list[TableStatus] = []
        self.years: list[YearStatus] = []
        self.error: ErrorReport | None = None
        self.last_result: InitializationResult | None = None
        self.body = styled(widgets.HTML(), "status-view")
        self.refresh_button = _button("Refresh", "refresh", icon="refresh")
        self.initialize_button = _button("Nothing to build", "initialize", icon="wrench")
        self.recreate_button = _button("Recreate (keeps a backup)", "recreate", icon="undo", visible=False)
        self.confirm_text = widgets.HTML()
        self.confirm_button = _button("Yes, recreate", "confirm-recreate", style="danger")
        self.cancel_button = _button("Cancel", "cancel-recreate")
        self.confirm_box = styled(widgets.HBox([self.confirm_text, self.confirm_button, self.cancel_button]), "confirm")
        self.confirm_box.layout.display = "none"
        self.refresh_button.on_click(lambda _button: self.refresh())
        self.initialize_button.on_click(lambda _button: self.initialize_missing())
        self.recreate_button.on_click(lambda _button: self.ask_to_recreate())
        self.confirm_button.on_click(lambda _button: self.recreate())
        self.cancel_button.on_click(lambda _button: self._hide_confirmation())
        self.progress = InitializationProgress(root=root, expected=expected)
        self.progress.layout.display = "none"
        super().__init__(
            children=[
                self.body,
                widgets.HBox([self.refresh_button, self.initialize_button, self.recreate_button]),
                self.confirm_box,
                self.progress,
            ]
        )
        styled(self, "status-widget")
        self._display = InteractiveDisplay(self, self.snapshot)
        self.refresh()

    # -- actions -------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the table states again (an unreadable database shows its error and remediation)."""
        try:
            status = self._load()
            self.statuses, self.years, self.error = list(status.tables), list(status.years), None
        except PlanAlignError as error:
            self.statuses, self.years, self.error = [], [], error_report(error, self._root)
        self._render()
        self._display.refresh()

    def initialize_missing(self) -> InitializationResult | None:
        """Build what needs a build (creating the workspace first if it is not one yet), with live progress.

        Returns None when it failed or was cancelled: the failure is shown in the
        progress panel with its remedy rather than raised, as a button click has no
        caller to raise to. Unexpected (non-PlanAlign) exceptions are still raised
        after the panel shows them.
        """
        return self._run_healer({})

    def ask_to_recreate(self) -> None:
        """Show what recreating does and ask to confirm (the unreadable file is moved aside, never deleted)."""
        self.confirm_text.value = (
            f"<span class='{css('confirm-text')}'>Keep the unreadable file as a timestamped backup "
            "and build a fresh database?</span>"
        )
        self.confirm_box.layout.display = None
        self.recreate_button.disabled = True

    def recreate(self) -> InitializationResult | None:
        """Move the unreadable database aside (keeping it as a backup) and build a fresh one, with live progress."""
        self._hide_confirmation()
        options = dict(self.error.options or {}) if self.error and self.error.options else {"recreate_corrupt": True}
        return self._run_healer(options)

    def _hide_confirmation(self) -> None:
        self.confirm_box.layout.display = "none"
        self.recreate_button.disabled = False

    def _run_healer(self, options: Mapping[str, Any]) -> InitializationResult | None:
        for button in (self.initialize_button, self.refresh_button, self.recreate_button):
            button.disabled = True
        self.progress.reset()
        self.progress.layout.display = None
        self.last_result = None
        heartbeat = Heartbeat(self.progress.tick)
        heartbeat.start()
        try:
            self.last_result = self._heal(self.progress, **options)
        except (PlanAlignError, KeyboardInterrupt) as error:
            self.progress.fail(error)
        except Exception as error:
            self.progress.fail(error)
            raise
        finally:
            heartbeat.stop()
            self.refresh_button.disabled = False
            self.refresh()
        return self.last_result

    # -- state -----------------------------------------------------------------------

    @property
    def missing(self) -> list[str]:
        """Names of required tables that need a build (missing, empty, stale, unknown), in tier order."""
        return [s.table.name for s in self.statuses if s.state.needs_build]

    @property
    def offers_recreate(self) -> bool:
        """The error's remedy is to recreate the database (a corrupt file)."""
        return bool(
            self.error and self.error.action == "initialize" and (self.error.options or {}).get("recreate_corrupt")
        )

    @property
    def offers_creation(self) -> bool:
        """The folder is not a workspace yet, and initializing creates it."""
        return bool(self.error and self.error.action == "initialize" and not self.error.options)

    def action_label(self) -> str:
        """What the action button will do, in numbers ("Build 2 missing, rebuild 3 stale")."""
        if self.offers_creation:
            return "Create the workspace and build"
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
        if not self._label:
            return self.summary_line()
        where = "for" if self.error is not None else "in"
        summary = self.summary_line()
        if self.years and not self.error and "; " in summary:  # "in ws/" belongs to the tables, before the years
            tables, years = summary.split("; ", 1)
            return f"{tables} {where} {self._label}/; {years}"
        return f"{summary} {where} {self._label}/"

    # -- rendering -------------------------------------------------------------------

    def _shown_error(self) -> ErrorReport | None:
        """The load error, unless the progress panel below already shows that same error."""
        if self.error is None or (self.progress.error and self.progress.error.message == self.error.message):
            return None
        return self.error

    def _render(self) -> None:
        self.body.value = self._html(include_progress=False)
        self.initialize_button.description = self.action_label()
        actionable = bool(self.missing) or self.offers_creation
        self.initialize_button.disabled = not actionable
        self.initialize_button.button_style = "primary" if actionable else ""
        self.recreate_button.layout.display = None if self.offers_recreate else "none"
        self.recreate_button.disabled = not self.offers_recreate
        if not self.offers_recreate:
            self.confirm_box.layout.display = "none"

    def _years_html(self) -> str:
        if not self.years:
            return ""
        rows = [
            row(
                css("year", f"year-{y.year}", f"table-{y.state}"),
                TABLE_STATE_ICONS[str(y.state)],
                str(y.year),
                str(y.state),
                muted(_why(y), "why", nowrap=False),
                icon_colour=TABLE_STATE_COLOURS[str(y.state)],
            )
            for y in self.years
        ]
        hint = (
            f"<div>Out-of-date years are re-run by {code('nb.simulate')}.</div>"
            if any(y.state.needs_build for y in self.years)
            else ""
        )
        return f"{_tier_heading('years', 'Simulated years')}{table(rows)}{hint}"

    def _html(self, *, include_progress: bool) -> str:
        parts = [header(self._title(), "summary")]
        if self.error is None:
            for tier in TableTier:
                rows = [
                    row(
                        css("table", "table-" + s.table.name, "table-" + s.state),
                        TABLE_STATE_ICONS[s.state],
                        escape(s.table.name),
                        str(s.state),
                        _rows_text(s),
                        muted(_why(s), "why", nowrap=False),
                        icon_colour=TABLE_STATE_COLOURS[s.state],
                    )
                    for s in self.statuses
                    if s.table.tier is tier
                ]
                parts.append(_tier_heading(tier.value, tier.heading))
                parts.append(table(rows))
            parts.append(self._years_html())
        shown = self._shown_error()
        parts.append(shown.html() if shown else "")
        if include_progress and self.progress.outcome is not None:
            parts.append(self.progress.snapshot().html)
        return frame(css("status", "record") if include_progress else css("status"), "".join(parts))

    def snapshot(self) -> Snapshot:
        """Tier groups, table states and row counts, or the error (plus the last initialization, if any)."""
        text = [self._title()]
        if self.error is None:
            for tier in TableTier:
                text.append(tier.heading)
                text += [
                    _line(TABLE_STATE_ICONS[s.state], s.table.name, s.state, _rows_text(s), _why(s))
                    for s in self.statuses
                    if s.table.tier is tier
                ]
            if self.years:
                text.append("Simulated years")
                text += [_line(TABLE_STATE_ICONS[y.state], str(y.year), y.state, "", _why(y)) for y in self.years]
        shown = self._shown_error()
        text += shown.text_lines() if shown else []
        if self.progress.outcome is not None:
            text.append(self.progress.snapshot().text)
        return Snapshot("\n".join(text), self._html(include_progress=True))

    def _ipython_display_(self) -> None:
        """Interactive, with its record beside it for the saved notebook (see planalign_nb.live)."""
        self._display.show()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle.update(self.snapshot()._repr_mimebundle_())
        return bundle
