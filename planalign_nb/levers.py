"""LeversWidget: the main levers as labelled controls, a scenario name and a Run button.

Run saves the scenario (the workspace's config plus the levers that differ from it,
validated by the config's own rules: a bad value is refused here, with the config's
message, before anything runs), brings the baseline up to date, simulates the
scenario with the live progress views, then shows the comparison against the
baseline. Its static rendering (nbval, HTML export) lists the lever values used.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
from IPython.display import display

from planalign_nb.live import display_interactive
from planalign_nb.rendering import ErrorReport, Snapshot, css, error_report, escape, show_error, styled
from planalign_orchestrator.exceptions import NavigatorError

if TYPE_CHECKING:
    from planalign_nb.comparison import ScenarioComparison
    from planalign_orchestrator.session import WorkspaceSession

BASELINE = "baseline"


@dataclass(frozen=True)
class Lever:
    key: str
    label: str
    # None-able keys (null = the comp_levers seed's per-level values) get a "from seed" box.
    optional: bool = False


LEVERS = (
    Lever("simulation.target_growth_rate", "Growth"),
    Lever("workforce.termination_rate", "Termination"),
    Lever("workforce.new_hire_termination_rate", "New-hire termination"),
    Lever("compensation.cola_rate", "COLA", optional=True),
    Lever("compensation.merit_rate", "Merit", optional=True),
    Lever("plan.default_deferral_rate", "Default deferral"),
    Lever("plan.opt_out_rate", "Opt-out"),
    Lever("plan.match_rate", "Match rate"),
    Lever("plan.match_cap", "Match cap (% of pay)"),
)
_STEP = 0.005


class LeversWidget(widgets.VBox):
    """Levers of one workspace; `run()` (or the button) simulates the scenario and compares it."""

    def __init__(self, session: WorkspaceSession, *, scenario: str = "what_if") -> None:
        from planalign_orchestrator.config import key_range

        self._session = session
        self._lock = threading.RLock()
        base = session.config
        self.controls: dict[str, widgets.BoundedFloatText] = {}
        self.from_seed: dict[str, widgets.Checkbox] = {}
        rows = []
        for lever in LEVERS:
            value = _get(base, lever.key)
            lower, upper = key_range(lever.key)
            control = styled(
                widgets.BoundedFloatText(
                    value=0.0 if value is None else float(value),
                    min=lower if lower is not None else -1.0,
                    max=upper if upper is not None else 1.0,
                    step=_STEP,
                    description=lever.label,
                    style={"description_width": "11em"},
                    layout=widgets.Layout(width="20em"),
                ),
                "lever",
                f"lever-{lever.key.replace('.', '-')}",
            )
            bounds = widgets.HTML(f"<span class='{css('lever-range')}'>{_range_text(lower, upper)}</span>")
            row: list[widgets.Widget] = [control, bounds]
            if lever.optional:
                seed = widgets.Checkbox(value=value is None, description="from seed", indent=False)
                control.disabled = value is None
                seed.observe(lambda change, c=control: setattr(c, "disabled", change["new"]), names="value")
                self.from_seed[lever.key] = seed
                row.append(seed)
            self.controls[lever.key] = control
            rows.append(widgets.HBox(row))
        self.name = styled(
            widgets.Text(value=scenario, description="Scenario", layout=widgets.Layout(width="20em")), "scenario-name"
        )
        self.run_button = styled(widgets.Button(description="Run", icon="play", button_style="primary"), "run")
        self.run_button.on_click(lambda _button: self.run())
        self.header = widgets.HTML(f"<b>{escape(self._title())}</b>")
        self.error_panel = styled(widgets.HTML(), "error-panel")
        self.output = widgets.Output()
        self.comparison: ScenarioComparison | None = None
        self.error: ErrorReport | None = None
        self._used: dict[str, Any] | None = None
        super().__init__(
            children=[self.header, *rows, widgets.HBox([self.name, self.run_button]), self.error_panel, self.output]
        )
        styled(self, "levers")
        show_error(self.error_panel, None)

    # -- values --------------------------------------------------------------------------

    def overrides(self) -> dict[str, Any]:
        """The levers that differ from the workspace's config, as scenario overrides."""
        base = self._session.config
        changed: dict[str, Any] = {}
        for key, control in self.controls.items():
            seed = self.from_seed.get(key)
            value = None if seed is not None and seed.value else round(float(control.value), 6)
            if value != _get(base, key):
                changed[key] = value
        return changed

    # -- running -------------------------------------------------------------------------

    def run(self) -> ScenarioComparison | None:
        """Validate and save the scenario, simulate it (and the baseline), then compare; None on an error."""
        from planalign_nb.api import _simulate_with_progress
        from planalign_nb.comparison import ScenarioComparison

        with self._lock:
            self.error, self.comparison = None, None
            show_error(self.error_panel, None)
            self.run_button.disabled = True
            self.output.clear_output()
            try:
                scenario = self._session.for_scenario(self.name.value.strip(), self.overrides())
                self._used = {
                    "scenario": scenario.scenario.name,
                    **{k: _get(scenario.config, k) for k in self.controls},
                }
                first, last = scenario.resolve_years(None, None)
                with self.output:
                    _simulate_with_progress(self._session, first, last)
                    _simulate_with_progress(scenario, first, last)
                    self.comparison = ScenarioComparison(
                        self._session.compare([BASELINE, scenario.scenario.name], first, last)
                    )
                    display(self.comparison)
            except (NavigatorError, KeyboardInterrupt) as error:
                self.error = error_report(error, self._session.root)
                show_error(self.error_panel, self.error)
            finally:
                self.run_button.disabled = False
            return self.comparison

    # -- rendering -------------------------------------------------------------------------

    def _title(self) -> str:
        first, last = self._session.resolve_years(None, None)
        return f"Levers of {self._session.root.name}: a scenario against the baseline, {first}-{last}"

    def snapshot(self) -> Snapshot:
        """The lever values of the last run (or the current ones), and the comparison it produced."""
        values = self._used or {
            "scenario": self.name.value,
            **{k: _get(self._session.config, k) for k in self.controls},
        }
        lines = [self._title(), f"  scenario: {values['scenario']}"]
        rows = []
        for lever in LEVERS:
            shown = "from seed" if values.get(lever.key) is None else f"{values[lever.key]:.2%}"
            lines.append(f"  {lever.label:<24} {shown}")
            cells = f"<td style='text-align:left'>{escape(lever.label)}</td>"
            cells += f"<td style='text-align:right'>{escape(shown)}</td>"
            rows.append(f"<tr>{cells}</tr>")
        html_parts = [
            f"<div class='{css('levers', 'record')}'><b>{escape(self._title())}</b>",
            f"<div>Scenario: {escape(values['scenario'])}</div><table>{''.join(rows)}</table>",
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


def _get(config: Any, key: str) -> Any:
    section, name = key.split(".", 1)
    return getattr(getattr(config, section), name)


def _range_text(lower: float | None, upper: float | None) -> str:
    if lower is None and upper is None:
        return ""
    low = "" if lower is None else f"{lower:.0%}"
    high = "" if upper is None else f"{upper:.0%}"
    return f"{low} to {high}"
