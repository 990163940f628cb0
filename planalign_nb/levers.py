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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
from IPython.display import display

from planalign_nb.live import display_interactive
from planalign_nb.rendering import ErrorReport, Snapshot, css, error_report, escape, show_error, styled
from planalign_orchestrator.exceptions import NavigatorError

if TYPE_CHECKING:
    from planalign_nb.comparison import ScenarioComparison
    from planalign_orchestrator.config import SimulationConfig
    from planalign_orchestrator.session import WorkspaceSession

BASELINE = "baseline"
MATCH_TIERS = "plan.match_tiers"
SINGLE_TIER_KEYS = ("plan.match_rate", "plan.match_cap")


@dataclass(frozen=True)
class Lever:
    key: str
    label: str
    # "rate": a fraction shown as a percentage; "switch": on or off.
    kind: str = "rate"
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
    Lever("plan.auto_escalation", "Auto-escalation", kind="switch"),
    Lever("plan.escalation_rate", "Escalation a year"),
    Lever("plan.escalation_cap", "Escalation up to"),
)
SINGLE_TIER = "single"
# The plan designs of DOMAIN.md an analyst compares most often; tiers as the config writes them.
MATCH_FORMULAS: dict[str, list[dict[str, float]] | None] = {
    SINGLE_TIER: None,
    "safe_harbor": [{"rate": 1.0, "up_to": 0.03}, {"rate": 0.5, "up_to": 0.05}],
    "enhanced_safe_harbor": [{"rate": 1.0, "up_to": 0.04}],
}
CONFIGURED = "configured"
_STEP = 0.005
_WIDE = {"description_width": "11em"}


class LeversWidget(widgets.VBox):
    """Levers of one workspace; `run()` (or the button) simulates the scenario and compares it."""

    def __init__(self, session: WorkspaceSession, *, scenario: str = "what_if") -> None:
        self._session = session
        self._lock = threading.RLock()
        base = session.config
        self.controls: dict[str, widgets.FloatText | widgets.Checkbox] = {}
        self.from_seed: dict[str, widgets.Checkbox] = {}
        rows = [self._row(lever, _get(base, lever.key)) for lever in LEVERS]
        self.formulas = dict(MATCH_FORMULAS)
        configured = _tiers(base)
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
        self._used: SimulationConfig | None = None
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
        from planalign_orchestrator.config import key_range

        control: widgets.FloatText | widgets.Checkbox
        if lever.kind == "switch":
            control = widgets.Checkbox(value=bool(value), description=lever.label, style=_WIDE)
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
        if lever.kind == "rate":
            lower, upper = key_range(lever.key)
            row.append(widgets.HTML(f"<span class='{css('lever-range')}'>{_range_text(lower, upper)}</span>"))
        if lever.optional:
            seed = widgets.Checkbox(value=value is None, description="from seed", indent=False)
            control.disabled = value is None
            seed.observe(lambda change, c=control: setattr(c, "disabled", change["new"]), names="value")
            self.from_seed[lever.key] = seed
            row.append(seed)
        return widgets.HBox(row)

    # -- values --------------------------------------------------------------------------

    def overrides(self) -> dict[str, Any]:
        """The levers that differ from the workspace's config, as scenario overrides."""
        from planalign_orchestrator.config import PlanSettings

        base = self._session.config
        tiers = self.formulas[self.match_formula.value]
        changed: dict[str, Any] = {}
        if tiers != _tiers(base):
            changed[MATCH_TIERS] = tiers
        for key, control in self.controls.items():
            seed = self.from_seed.get(key)
            if isinstance(control, widgets.Checkbox):
                value: Any = bool(control.value)
            else:
                value = None if seed is not None and seed.value else round(float(control.value), 6)
            if key in SINGLE_TIER_KEYS and tiers is not None:
                # Tiers replace the single tier, which the config then wants at its defaults.
                value = PlanSettings.model_fields[key.split(".", 1)[1]].default
            if value != _get(base, key):
                changed[key] = value
        return changed

    def check(self) -> SimulationConfig | None:
        """Validate the levers as the scenario would be; show the config's message and disable Run if bad."""
        tiers = self.formulas[self.match_formula.value]
        for key in SINGLE_TIER_KEYS:
            self.controls[key].disabled = tiers is not None
        try:
            config = self._session.scenario_config(self.name.value.strip(), self.overrides())
        except NavigatorError as error:
            self.error = error_report(error, self._session.root)
            show_error(self.error_panel, self.error)
            self.run_button.disabled = True
            return None
        self.error = None
        show_error(self.error_panel, None)
        self.run_button.disabled = False
        return config

    # -- running -------------------------------------------------------------------------

    def run(self, *, in_widget: bool = False) -> ScenarioComparison | None:
        """Validate and save the scenario, simulate it (and the baseline), then compare; None on an error.

        Called in a cell, the progress records go to the cell's output, like nb.simulate's,
        and the comparison shows in the widget's record. From the Run button
        (`in_widget`), there is no cell to write to, so the widget's own output area holds
        the live progress and the comparison.
        """
        from planalign_nb.api import _simulate_with_progress
        from planalign_nb.comparison import ScenarioComparison

        with self._lock:
            self.comparison = None
            self.output.outputs = ()
            if self.check() is None:
                return None
            self.run_button.disabled = True
            try:
                scenario = self._session.for_scenario(self.name.value.strip(), self.overrides())
                self._used = scenario.config
                first, last = scenario.resolve_years(None, None)
                with self.output if in_widget else contextlib.nullcontext():
                    _simulate_with_progress(self._session, first, last)
                    _simulate_with_progress(scenario, first, last)
                    self.comparison = ScenarioComparison(
                        self._session.compare([BASELINE, scenario.scenario.name], first, last)
                    )
                    if in_widget:
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

    def values(self) -> list[tuple[str, str]]:
        """(label, shown value) of every lever: those of the last run, else those of the workspace's config."""
        config = self._used or self._session.config
        shown = [("Match formula", describe_match(_tiers(config)))]
        for lever in LEVERS:
            value = _get(config, lever.key)
            if lever.key in SINGLE_TIER_KEYS and _tiers(config) is not None:
                continue
            if lever.kind == "switch":
                shown.append((lever.label, "on" if value else "off"))
            else:
                shown.append((lever.label, "from seed" if value is None else f"{value:.2%}"))
        return shown

    def snapshot(self) -> Snapshot:
        """The lever values of the last run (or the current ones), and the comparison it produced."""
        name = self._used.scenario if self._used is not None else self.name.value
        lines = [self._title(), f"  scenario: {name}"]
        rows = []
        for label, shown in self.values():
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


def describe_match(tiers: list[dict[str, float]] | None) -> str:
    """A match formula in the words plan documents use, e.g. '100% of the first 3% + 50% of the next 2%'."""
    if tiers is None:
        return "One tier: match rate x deferrals up to the match cap"
    parts, previous = [], 0.0
    for tier in tiers:
        width = (tier["up_to"] - previous) * 100
        parts.append(f"{tier['rate'] * 100:g}% of the {'first' if previous == 0 else 'next'} {width:.3g}%")
        previous = tier["up_to"]
    return " + ".join(parts) + " of pay deferred"


def _tiers(config: SimulationConfig) -> list[dict[str, float]] | None:
    tiers = config.plan.match_tiers
    return None if tiers is None else [tier.model_dump() for tier in tiers]


def _get(config: Any, key: str) -> Any:
    section, name = key.split(".", 1)
    return getattr(getattr(config, section), name)


def _range_text(lower: float | None, upper: float | None) -> str:
    """Bounds in the config's own units (fractions), as the control takes them: '0 to 0.05'."""
    if lower is None and upper is None:
        return ""
    low = "" if lower is None else f"{lower:g}"
    high = "" if upper is None else f"{upper:g}"
    return f"{low} to {high}"
