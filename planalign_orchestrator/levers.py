"""The levers an analyst turns: which config keys, their valid ranges, and the overrides they make.

A lever is a config key with a label; its range is the config's own validation
(the pydantic field bounds, open or closed), so a face never offers a value the
config refuses. Turning levers yields scenario overrides: the keys whose value
differs from the workspace's config. Every face (the notebook's levers widget, and
later the optimizer's search space) takes the levers from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

from planalign_orchestrator.config import PlanSettings, SimulationConfig, key_bounds, key_field

MATCH_TIERS = "plan.match_tiers"
SINGLE_TIER_KEYS = ("plan.match_rate", "plan.match_cap")
SINGLE_TIER = "single"
# The plan designs of DOMAIN.md an analyst compares most often; tiers as the config writes them.
MATCH_DESIGNS: dict[str, list[dict[str, float]] | None] = {
    SINGLE_TIER: None,
    "safe_harbor": [{"rate": 1.0, "up_to": 0.03}, {"rate": 0.5, "up_to": 0.05}],
    "enhanced_safe_harbor": [{"rate": 1.0, "up_to": 0.04}],
}


@dataclass(frozen=True)
class Bound:
    """One end of a lever's range, as the config validates it (inclusive: >= / <=; else > / <)."""

    value: float
    inclusive: bool


@dataclass(frozen=True)
class Lever:
    """A config key an analyst can turn, with its label and the config's own bounds.

    `kind`: "rate" is a fraction (shown as a percentage), "switch" is on or off,
    "number" a plain number (years, hours), "choice" one of the config's named options.
    `optional` keys may be null: the comp_levers seed's per-level values apply then.
    """

    key: str
    label: str
    kind: Literal["rate", "switch", "number", "choice"] = "rate"
    optional: bool = False

    @property
    def choices(self) -> tuple[str, ...]:
        """The options a "choice" lever offers: the values the config accepts for its key."""
        annotation = key_field(self.key).annotation
        return tuple(str(option) for option in get_args(annotation)) if get_origin(annotation) is Literal else ()

    @property
    def integer(self) -> bool:
        """Whether the config wants a whole number (a "number" lever of years, hours or an age)."""
        return key_field(self.key).annotation is int

    @property
    def bounds(self) -> tuple[Bound | None, Bound | None]:
        """(lower, upper) as the config validates the key; None where unbounded."""
        lower, upper = key_bounds(self.key)
        return (
            None if lower is None else Bound(lower[0], lower[1]),
            None if upper is None else Bound(upper[0], upper[1]),
        )

    def range_text(self) -> str:
        """The valid range in the config's units, its ends open or closed: '0 ≤ x < 1'."""
        lower, upper = self.bounds
        if lower is None and upper is None:
            return ""
        left = "" if lower is None else f"{lower.value:g} {'≤' if lower.inclusive else '<'} "
        right = "" if upper is None else f" {'≤' if upper.inclusive else '<'} {upper.value:g}"
        return f"{left}x{right}"

    def value_of(self, config: SimulationConfig) -> Any:
        section, name = self.key.split(".", 1)
        return getattr(getattr(config, section), name)


LEVERS: tuple[Lever, ...] = (
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
    Lever("workforce.part_time_hire_rate", "Part-time hires"),
    Lever("workforce.part_time_annual_hours", "Part-time hours a year", kind="number"),
    Lever("eligibility.minimum_age", "Minimum age", kind="number"),
    Lever("eligibility.service_requirement", "Service before entry", kind="choice"),
    Lever("eligibility.entry_dates", "Entry dates", kind="choice"),
    Lever("vesting.schedule", "Vesting schedule", kind="choice"),
    Lever("vesting.schedule_years", "Vesting years (cliff, graded)", kind="number"),
    Lever("forfeitures.used_for", "Forfeitures pay for", kind="choice"),
    Lever("balances.return_rate", "Investment return"),
    Lever("balances.return_volatility", "Return volatility"),
)


def match_tiers(config: SimulationConfig) -> list[dict[str, float]] | None:
    """The config's match tiers as the config writes them (None: the single tier)."""
    tiers = config.plan.match_tiers
    return None if tiers is None else [tier.model_dump() for tier in tiers]


def lever_values(config: SimulationConfig) -> dict[str, Any]:
    """Every lever's value in a config, plus its match tiers under MATCH_TIERS."""
    return {MATCH_TIERS: match_tiers(config), **{lever.key: lever.value_of(config) for lever in LEVERS}}


def lever_overrides(base: SimulationConfig, values: Mapping[str, Any]) -> dict[str, Any]:
    """The scenario overrides a set of lever values makes: the keys that differ from `base`.

    Tiers replace the single tier, which the config then wants at its defaults, so
    under tiers the single-tier levers are reset rather than carried over.
    """
    tiers = values.get(MATCH_TIERS, match_tiers(base))
    changed: dict[str, Any] = {}
    if tiers != match_tiers(base):
        changed[MATCH_TIERS] = tiers
    for lever in LEVERS:
        value = values.get(lever.key, lever.value_of(base))
        if lever.key in SINGLE_TIER_KEYS and tiers is not None:
            value = PlanSettings.model_fields[lever.key.split(".", 1)[1]].default
        elif isinstance(value, float):
            value = round(value, 6)
        if value != lever.value_of(base):
            changed[lever.key] = value
    return changed


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
