"""LeversWidget: the main levers as labelled controls, a scenario name and a Run button.

Every change is validated at once by the config's own rules (the same check a scenario
file gets): a bad value shows the config's message in the error panel and disables
Run, instead of being clamped silently to a bound the analyst never sees. Run saves the
scenario (the workspace's config plus the levers that differ from it), brings the
baseline up to date, simulates the scenario with the live progress views, then shows
the comparison against the baseline. Its static rendering (nbval, HTML export) lists
the lever values used.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
from IPython.display import display

from planalign_nb.live import display_interactive
from planalign_nb.rendering import ErrorReport, Snapshot, css, error_report, escape, show_error, styled
from planalign_orchestrator.exceptions import PlanAlignError

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
        from planalign_orchestrator.views import LEVERS, MATCH_DESIGNS, MATCH_TIERS, describe_match

        self._session = session
        self._lock = threading.RLock()
        base = session.lever_values()
        self.controls: dict[str, widgets.FloatText | widgets.IntText | widgets.Checkbox | widgets.Dropdown] = {}
        self.from_seed: dict[str, widgets.Checkbox] = {}
        rows = [self._row(lever, base[lever.key]) for lever in LEVERS]
        self.formulas = dict(MATCH_DESIGNS)
        configured = base[MATCH_TIERS]
        if configured is not None and configured not in self.formulas.values():
            self.formulas[CONFIGURED] = configured
        self.match_formula = styled(
            widgets.Dropdown(
                options=[(describe_match(tiers), name) for name, tiers in self.formulas.items()],
                value=next(name for name, tiers in self.formulas.items() if tiers == configured),
                description="Match formula",
                style=_WIDE,
                layout=widgets.Layout(width="38em"),
            ),
            "lever",
            "lever-match-formula",
        )
        self.name = styled(
            widgets.Text(value=scenario, description="Scenario", layout=widgets.Layout(width="20em")), "scenario-name"
        )
        self.run_button = styled(widgets.Button(description="Run", icon="play", button_style="primary"), "run")
        self.run_button.on_click(lambda _button: self.run(in_widget=True))
        self.header = widgets.HTML(f"<b>{escape(self._title())}</b>")
        self.error_panel = styled(widgets.HTML(), "error-panel")
        self.output = widgets.Output()
        self.comparison: ScenarioComparison | None = None
        self.error: ErrorReport | None = None
        # The lever values of the last run (the record shows them), else None.
        self._used: tuple[str, dict[str, Any]] | None = None
        super().__init__(
            children=[
                self.header,
                self.match_formula,
                *rows,
                widgets.HBox([self.name, self.run_button]),
                self.error_panel,
                self.output,
            ]
        )
        styled(self, "levers")
        for control in [*self.controls.values(), *self.from_seed.values(), self.match_formula, self.name]:
            control.observe(lambda _change: self.check(), names="value")
        self.check()

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
        if lever.kind in ("rate", "number"):
            row.append(widgets.HTML(f"<span class='{css('lever-range')}'>{escape(lever.range_text())}</span>"))
        if lever.optional:
            seed = widgets.Checkbox(value=value is None, description="from seed", indent=False)
            control.disabled = value is None
            seed.observe(lambda change, c=control: setattr(c, "disabled", change["new"]), names="value")
            self.from_seed[lever.key] = seed
            row.append(seed)
        return widgets.HBox(row)

    # -- values --------------------------------------------------------------------------

    def values(self) -> dict[str, Any]:
        """The levers as set now (a lever left to the seed is None), with the match formula's tiers."""
        from planalign_orchestrator.views import MATCH_TIERS

        values: dict[str, Any] = {MATCH_TIERS: self.formulas[self.match_formula.value]}
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
        """Validate the levers as the scenario would be; show the config's message and disable Run if bad."""
        from planalign_orchestrator.views import SINGLE_TIER_KEYS

        tiers = self.formulas[self.match_formula.value]
        for key in SINGLE_TIER_KEYS:
            self.controls[key].disabled = tiers is not None
        try:
            self._session.scenario_config(self.name.value.strip(), self.overrides())
        except PlanAlignError as error:
            self.error = error_report(error, self._session.root)
            show_error(self.error_panel, self.error)
            self.run_button.disabled = True
            return False
        self.error = None
        show_error(self.error_panel, None)
        self.run_button.disabled = False
        return True

    # -- running -------------------------------------------------------------------------

    def run(self, *, in_widget: bool = False) -> ScenarioComparison | None:
        """Validate and save the scenario, simulate it (and the baseline), then compare; None on an error.

        Called in a cell, the progress records go to the cell's output, like nb.simulate's,
        and the comparison shows in the widget's record. From the Run button
        (`in_widget`), there is no cell to write to, so the widget's own output area holds
        the live progress and the comparison.
        """
        from planalign_nb.comparison import ScenarioComparison
        from planalign_nb.runs import simulate_live

        with self._lock:
            self.comparison = None
            self.output.outputs = ()
            if not self.check():
                return None
            self.run_button.disabled = True
            try:
                scenario = self._session.for_scenario(self.name.value.strip(), self.overrides())
                self._used = (scenario.scenario.name, scenario.lever_values())
                first, last = scenario.resolve_years(None, None)
                with self.output if in_widget else contextlib.nullcontext():
                    simulate_live(self._session, first, last)
                    simulate_live(scenario, first, last)
                    self.comparison = ScenarioComparison(
                        self._session.compare([BASELINE, scenario.scenario.name], first, last)
                    )
                    if in_widget:
                        display(self.comparison)
            except (PlanAlignError, KeyboardInterrupt) as error:
                self.error = error_report(error, self._session.root)
                show_error(self.error_panel, self.error)
            finally:
                self.run_button.disabled = False
            return self.comparison

    # -- rendering -------------------------------------------------------------------------

    def _title(self) -> str:
        first, last = self._session.resolve_years(None, None)
        return f"Levers of {self._session.root.name}: a scenario against the baseline, {first}-{last}"

    def shown_values(self) -> list[tuple[str, str]]:
        """(label, shown value) of every lever: those of the last run, else those of the workspace's config."""
        from planalign_orchestrator.views import LEVERS, MATCH_TIERS, SINGLE_TIER_KEYS, describe_match

        values = self._used[1] if self._used is not None else self._session.lever_values()
        tiers = values[MATCH_TIERS]
        shown = [("Match formula", describe_match(tiers))]
        for lever in LEVERS:
            value = values[lever.key]
            if lever.key in SINGLE_TIER_KEYS and tiers is not None:
                continue
            if lever.kind == "switch":
                shown.append((lever.label, "on" if value else "off"))
            elif lever.kind in ("choice", "number"):
                shown.append((lever.label, f"{value}"))
            else:
                shown.append((lever.label, "from seed" if value is None else f"{value:.2%}"))
        return shown

    def snapshot(self) -> Snapshot:
        """The lever values of the last run (or the current ones), and the comparison it produced."""
        name = self._used[0] if self._used is not None else self.name.value
        lines = [self._title(), f"  scenario: {name}"]
        rows = []
        for label, shown in self.shown_values():
            lines.append(f"  {label:<24} {shown}")
            cells = f"<td style='text-align:left'>{escape(label)}</td><td style='text-align:right'>{escape(shown)}</td>"
            rows.append(f"<tr>{cells}</tr>")
        html_parts = [
            f"<div class='{css('levers', 'record')}'><b>{escape(self._title())}</b>",
            f"<div>Scenario: {escape(name)}</div><table>{''.join(rows)}</table>",
        ]
        if self.error:
            lines += self.error.text_lines()
            html_parts.append(self.error.html())
        if self.comparison is not None:
            lines.append(str(self.comparison))
            html_parts.append(self.comparison._repr_html_())
        return Snapshot("\n".join(lines), "".join(html_parts) + "</div>")

    def _ipython_display_(self) -> None:
        """Interactive until the next cell runs, then its record (see planalign_nb.live)."""
        display_interactive(self, self.snapshot, on_freeze=lambda: None)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle.update(self.snapshot()._repr_mimebundle_())
        return bundle
