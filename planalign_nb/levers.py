"""LeversWidget: the main levers as labelled controls, a scenario name and a Run button.

Every change is validated at once by the config's own rules (the same check a scenario
file gets): a bad value shows the config's message in the error panel and disables
Run, instead of being clamped silently to a bound the analyst never sees; beside each
value the widget shows the range the config accepts, its ends open or closed. Run
saves the scenario (the workspace's config plus the levers that differ from it), brings
the baseline up to date, simulates the scenario with the live progress views, then
shows the comparison against the baseline. A scenario saved with other overrides is
never replaced unasked: the engine refuses, and the widget says what would change and
asks first.

Opened on a scenario that exists, the controls start from its values and, when its
years are up to date, its comparison shows at once: reopening the levers runs nothing.
The widget's record (what nbval, an HTML export and the saved notebook show) lists the
lever values of the last run, its comparison and the call that reopens the controls.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from planalign_nb.live import InteractiveDisplay, WidgetArea
from planalign_nb.rendering import (
    CELL,
    ROW,
    TABLE,
    ErrorReport,
    Snapshot,
    code,
    css,
    error_report,
    escape,
    frame,
    header,
    muted,
    show_error,
    styled,
    workspace_reference,
)
from planalign_orchestrator.exceptions import PlanAlignError, ScenarioExistsError

if TYPE_CHECKING:
    from planalign_nb.comparison import ScenarioComparison
    from planalign_orchestrator.session import WorkspaceSession
    from planalign_orchestrator.views import Lever

BASELINE = "baseline"
CONFIGURED = "configured"
_STEP = 0.005
_WIDE = {"description_width": "11em"}


class LeversWidget(widgets.VBox):
    """Levers of one workspace; `run()` (or the button) simulates the scenario and compares it."""

    def __init__(self, session: WorkspaceSession, *, scenario: str = "what_if") -> None:
        from planalign_orchestrator.views import DESIGN_KEYS, LEVERS, MATCH_DESIGNS, MATCH_TIERS, describe_match

        self._session = session
        self._lock = threading.RLock()
        self.comparison: ScenarioComparison | None = None
        self.error: ErrorReport | None = None  # what is wrong with the levers as set now
        self.run_error: ErrorReport | None = None  # why the last run failed
        # The scenario and lever values of the last run (or of the saved scenario opened), else None.
        self._used: tuple[str, dict[str, Any]] | None = None
        start = self._open(scenario)
        # The design keys that are no levers (match and core bands, ...): kept as opened.
        self._design = {key: start[key] for key in DESIGN_KEYS}
        self.controls: dict[str, widgets.FloatText | widgets.IntText | widgets.Checkbox | widgets.Dropdown] = {}
        self.from_seed: dict[str, widgets.Checkbox] = {}
        rows = [self._row(lever, start[lever.key]) for lever in LEVERS]
        self.formulas = dict(MATCH_DESIGNS)
        configured = start[MATCH_TIERS]
        if configured is not None and configured not in self.formulas.values():
            self.formulas[CONFIGURED] = configured
        self.match_formula = styled(
            widgets.Dropdown(
                options=[(describe_match(tiers), name) for name, tiers in self.formulas.items()],
                value=next(name for name, tiers in self.formulas.items() if tiers == configured),
                description="Match formula",
                style=_WIDE,
                # As wide as its longest formula, which a narrower list cuts off.
                layout=widgets.Layout(width="48em", max_width="100%"),
            ),
            "lever",
            "lever-match-formula",
        )
        self.name = styled(
            widgets.Text(value=scenario, description="Scenario", layout=widgets.Layout(width="20em")), "scenario-name"
        )
        self.run_button = styled(widgets.Button(description="Run", icon="play", button_style="primary"), "run")
        self.run_button.on_click(lambda _button: self.run(in_widget=True))
        self.notice = styled(widgets.HTML(), "scenario-notice")
        self.confirm_text = widgets.HTML()
        self.confirm_button = styled(
            widgets.Button(description="Overwrite", button_style="danger"), "confirm-overwrite"
        )
        self.cancel_button = styled(widgets.Button(description="Cancel"), "cancel-overwrite")
        self.confirm_button.on_click(lambda _button: self.run(overwrite=True, in_widget=True))
        self.cancel_button.on_click(lambda _button: self._hide_confirmation())
        self.confirm_box = styled(widgets.HBox([self.confirm_text, self.confirm_button, self.cancel_button]), "confirm")
        self.confirm_box.layout.display = "none"
        self.header = widgets.HTML(header(self._title(), "levers-header"))
        self.error_panel = styled(widgets.HTML(), "error-panel")
        # The last run's progress records (from the Run button) and the comparison.
        self.results = styled(widgets.VBox(), "levers-results")
        super().__init__(
            children=[
                self.header,
                self.match_formula,
                *rows,
                widgets.HBox([self.name, self.run_button]),
                self.notice,
                self.confirm_box,
                self.error_panel,
                self.results,
            ]
        )
        styled(self, "levers")
        for control in [*self.controls.values(), *self.from_seed.values(), self.match_formula, self.name]:
            control.observe(lambda _change: self._edited(), names="value")
        self._display = InteractiveDisplay(self, self.snapshot)
        self._show_comparison()
        self.check()

    def _open(self, name: str) -> dict[str, Any]:
        """The values to start from: a saved scenario's (with its comparison when up to date), else the config's.

        Reading a saved scenario runs nothing; a scenario whose years are not up to date
        simply shows no comparison until Run.
        """
        from planalign_nb.comparison import ScenarioComparison

        session = self._session
        if name == BASELINE or not session.scenario_exists(name):
            return session.lever_values()
        try:
            values = session.for_scenario(name).lever_values()
        except PlanAlignError as error:
            self.run_error = error_report(error, session.root)
            return session.lever_values()
        self._used = (name, values)
        first, last = session.resolve_years(None, None)
        with contextlib.suppress(PlanAlignError):
            self.comparison = ScenarioComparison(session.compare([BASELINE, name], first, last))
        return values

    def _row(self, lever: Lever, value: Any) -> widgets.HBox:
        control: widgets.FloatText | widgets.IntText | widgets.Checkbox | widgets.Dropdown
        if lever.kind == "switch":
            control = widgets.Checkbox(value=bool(value), description=lever.label, style=_WIDE)
        elif lever.kind == "choice":
            control = widgets.Dropdown(
                options=lever.choices,
                value=value,
                description=lever.label,
                style=_WIDE,
                layout=widgets.Layout(width="20em"),
            )
        elif lever.kind == "number" and lever.integer:
            control = widgets.IntText(
                value=int(value), description=lever.label, style=_WIDE, layout=widgets.Layout(width="20em")
            )
        else:
            control = widgets.FloatText(
                value=0.0 if value is None else float(value),
                step=_STEP,
                description=lever.label,
                style=_WIDE,
                layout=widgets.Layout(width="20em"),
            )
        styled(control, "lever", f"lever-{lever.key.replace('.', '-')}")
        self.controls[lever.key] = control
        row: list[widgets.Widget] = [control]
        if lever.kind not in ("switch", "choice") and lever.range_text():
            row.append(widgets.HTML(muted(lever.range_text(), "lever-range")))
        if lever.optional:
            seed = widgets.Checkbox(value=value is None, description="from seed", indent=False)
            control.disabled = value is None
            seed.observe(lambda change, c=control: setattr(c, "disabled", change["new"]), names="value")
            self.from_seed[lever.key] = seed
            row.append(seed)
        return widgets.HBox(row)

    # -- values --------------------------------------------------------------------------

    def values(self) -> dict[str, Any]:
        """The levers as set now (a lever left to the seed is None), with the match formula's tiers.

        The design keys that are no levers (bands) are those of the config or scenario opened.
        """
        from planalign_orchestrator.views import MATCH_TIERS

        values: dict[str, Any] = {**self._design, MATCH_TIERS: self.formulas[self.match_formula.value]}
        for key, control in self.controls.items():
            seed = self.from_seed.get(key)
            if isinstance(control, widgets.Checkbox):
                values[key] = bool(control.value)
            elif isinstance(control, widgets.Dropdown | widgets.IntText):
                values[key] = control.value
            else:
                values[key] = None if seed is not None and seed.value else float(control.value)
        return values

    def overrides(self) -> dict[str, Any]:
        """The levers that differ from the workspace's config, as scenario overrides."""
        return self._session.lever_overrides(self.values())

    def check(self) -> bool:
        """Validate the levers as the scenario would be; show the config's message and disable Run if bad.

        When the scenario name is taken by a scenario saved with other overrides, say
        what Run would change (Run asks before replacing it). The levers the chosen
        design leaves unused (a safe harbor design's own formula, a core rate without a
        core formula, ...) are disabled: Run resets them to the config's defaults.
        """
        from planalign_orchestrator.views import MATCH_TIERS, unused_levers

        unused = unused_levers(self.values())
        for key, control in self.controls.items():
            seed = self.from_seed.get(key)
            control.disabled = key in unused or bool(seed is not None and seed.value)
        self.match_formula.disabled = MATCH_TIERS in unused
        name = self.name.value.strip()
        try:
            self._session.scenario_config(name, self.overrides())
            changes = self._session.scenario_changes(name, self.overrides())
        except PlanAlignError as error:
            self.error = error_report(error, self._session.root)
            self.notice.value = ""
            show_error(self.error_panel, self.error)
            self.run_button.disabled = True
            return False
        self.error = None
        self.notice.value = (
            muted(f"{name} exists; Run asks before replacing it: " + "; ".join(c.describe() for c in changes), "notice")
            if changes
            else ""
        )
        show_error(self.error_panel, self.run_error)
        self.run_button.disabled = False
        return True

    def _edited(self) -> None:
        """A control changed: a pending question about replacing a scenario no longer applies."""
        self._hide_confirmation()
        self.check()

    # -- running -------------------------------------------------------------------------

    def run(self, *, overwrite: bool = False, in_widget: bool = False) -> ScenarioComparison | None:
        """Validate and save the scenario, simulate it (and the baseline), then compare; None on an error.

        A scenario saved under the same name with other overrides is replaced only with
        `overwrite=True`: without it the engine refuses and says what would change (from
        the Run button, the widget asks). Called in a cell, the progress records go to
        the cell's output, like nb.simulate's; from the buttons (`in_widget`) there is no
        cell to write to, so the live views and their records show in the widget. Either
        way the comparison shows in the widget, and in its record.
        """
        from planalign_nb.comparison import ScenarioComparison
        from planalign_nb.runs import simulate_live

        with self._lock:
            self._hide_confirmation()
            if not self.check():
                return None
            self.run_button.disabled = True
            self.run_error = None
            show_error(self.error_panel, None)
            try:
                scenario = self._session.for_scenario(self.name.value.strip(), self.overrides(), overwrite=overwrite)
                self.comparison = None
                self.results.children = ()
                self._used = (scenario.scenario.name, scenario.lever_values())
                first, last = scenario.resolve_years(None, None)
                place = WidgetArea(self.results) if in_widget else None
                simulate_live(self._session, first, last, place)
                simulate_live(scenario, first, last, place)
                self.comparison = ScenarioComparison(
                    self._session.compare([BASELINE, scenario.scenario.name], first, last)
                )
                self._show_comparison()
            except ScenarioExistsError as error:
                if in_widget:
                    self._ask_to_overwrite(error)
                else:
                    self._failed(error)
            except (PlanAlignError, KeyboardInterrupt) as error:
                self._failed(error)
            finally:
                self.run_button.disabled = False
                self.check()
            self._display.refresh()
            return self.comparison

    def _show_comparison(self) -> None:
        """Add the comparison to the widget's results (below any progress records there)."""
        if self.comparison is not None:
            shown = styled(widgets.HTML(self.comparison._repr_html_()), "levers-comparison")
            self.results.children = (*self.results.children, shown)

    def _failed(self, error: BaseException) -> None:
        self.run_error = error_report(error, self._session.root)
        show_error(self.error_panel, self.run_error)

    def _ask_to_overwrite(self, error: ScenarioExistsError) -> None:
        """Say what replacing the saved scenario changes, and offer to (its results go with its overrides)."""
        changes = "".join(f"<li>{escape(change)}</li>" for change in error.changes)
        self.confirm_text.value = (
            f"<div class='{css('confirm-text')}'>Scenario <b>{escape(error.scenario)}</b> is saved with other "
            f"overrides. Replace them (and its results)?<ul style='margin:2px 0'>{changes}</ul></div>"
        )
        self.confirm_button.description = f"Overwrite {error.scenario}"
        self.confirm_box.layout.display = None

    def _hide_confirmation(self) -> None:
        self.confirm_box.layout.display = "none"

    # -- rendering -------------------------------------------------------------------------

    def _title(self) -> str:
        first, last = self._session.resolve_years(None, None)
        return f"Levers of {self._session.root.name}: a scenario against the baseline, {first}-{last}"

    def shown_values(self) -> list[tuple[str, str]]:
        """(label, shown value) of every lever the design uses: the last run's, else the workspace's config's."""
        from planalign_orchestrator.views import LEVERS, describe_match_design, unused_levers

        values = self._used[1] if self._used is not None else self._session.lever_values()
        unused = unused_levers(values)
        shown = [("Match formula", describe_match_design(values))]
        for lever in LEVERS:
            value = values[lever.key]
            if lever.key in unused:
                continue
            if lever.kind == "switch":
                shown.append((lever.label, "on" if value else "off"))
            elif value is None:
                shown.append((lever.label, "from seed"))
            elif lever.kind == "choice":
                shown.append((lever.label, f"{value}"))
            else:
                shown.append((lever.label, f"{value:.2%}" if lever.kind == "rate" else f"{value:g}"))
        return shown

    def reopen_call(self) -> str:
        """The call that brings these controls back, with the last run's values, without running anything."""
        name = self._used[0] if self._used is not None else self.name.value
        return f"nb.levers({workspace_reference(self._session.root)!r}, scenario={name!r})"

    def snapshot(self) -> Snapshot:
        """The lever values of the last run (or the current ones), the comparison it produced, how to reopen."""
        name = self._used[0] if self._used is not None else self.name.value
        reopen = "Reopen the controls (nothing runs until Run): "
        lines = [self._title(), f"  scenario: {name}"]
        rows = []
        for label, shown in self.shown_values():
            lines.append(f"  {label:<24} {shown}")
            rows.append(
                f"<tr style='{ROW}'><td style='{CELL}'>{escape(label)}</td><td style='{CELL}'>{escape(shown)}</td></tr>"
            )
        html_parts = [
            header(self._title(), "levers-header"),
            f"<div>Scenario: <b>{escape(name)}</b></div><table style='{TABLE}'>{''.join(rows)}</table>",
        ]
        if self.run_error:
            lines += self.run_error.text_lines()
            html_parts.append(self.run_error.html())
        if self.comparison is not None:
            lines.append(str(self.comparison))
            html_parts.append(self.comparison._repr_html_())
        lines.append(reopen + self.reopen_call())
        html_parts.append(f"<div class='{css('reopen')}'>{escape(reopen)}{code(self.reopen_call())}</div>")
        return Snapshot("\n".join(lines), frame(css("levers", "record"), "".join(html_parts)))

    def _ipython_display_(self) -> None:
        """Interactive, with its record beside it for the saved notebook (see planalign_nb.live)."""
        self._display.show()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle.update(self.snapshot()._repr_mimebundle_())
        return bundle
