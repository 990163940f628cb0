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

from planalign_orchestrator.config import (
    SAFE_HARBOR_MATCH_TIERS,
    SAFE_HARBOR_NONELECTIVE_RATE,
    SimulationConfig,
    key_bounds,
    key_field,
)

MATCH_TIERS = "plan.match_tiers"
SINGLE_TIER_KEYS = ("plan.match_rate", "plan.match_cap")
SINGLE_TIER = "single"
# The plan designs of DOMAIN.md an analyst compares most often; tiers as the config writes them.
# A stretch match pays the same at most (3% of pay) for twice the deferral.
MATCH_DESIGNS: dict[str, list[dict[str, float]] | None] = {
    SINGLE_TIER: None,
    "safe_harbor": [{"rate": 1.0, "up_to": 0.03}, {"rate": 0.5, "up_to": 0.05}],
    "enhanced_safe_harbor": [{"rate": 1.0, "up_to": 0.04}],
    "stretch": [{"rate": 0.25, "up_to": 0.12}],
}
SAFE_HARBOR_DESIGN = "safe_harbor.safe_harbor_design"
CORE_FORMULA = "core.core_formula"
MATCH_PERIOD = "match.match_period"
# The keys behind a match or core design that are not levers (lists): a design chosen with the
# levers may have to clear them, e.g. a safe harbor match replaces a tenure-graded one.
MATCH_FORMULA, MATCH_BANDS, MATCH_MAX = "match.match_formula", "match.match_bands", "match.match_max_amount"
CORE_BANDS, INTEGRATION_LEVEL = "core.core_bands", "core.integration_level_share"
MATCH_CONDITIONS = ("match.match_last_day", "match.match_min_hours")
DESIGN_KEYS = (MATCH_FORMULA, MATCH_BANDS, MATCH_MAX, CORE_BANDS, INTEGRATION_LEVEL)
CORE_KEYS = (
    "core.core_formula",
    "core.core_rate",
    "core.core_excess_rate",
    "core.core_last_day",
    "core.core_min_hours",
)


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
    def default(self) -> Any:
        """The config's default for the key: what the config wants where a design leaves the lever unused."""
        return key_field(self.key).default

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
    # Employer contribution designs (DOMAIN.md "Employer contributions beyond the match").
    Lever(SAFE_HARBOR_DESIGN, "Safe harbor design", kind="choice"),
    Lever(MATCH_PERIOD, "Match computed per", kind="choice"),
    Lever("match.pay_frequency", "Pay frequency", kind="choice"),
    Lever("match.true_up", "Year-end true-up", kind="switch"),
    Lever("match.match_last_day", "Match: employed Dec 31", kind="switch"),
    Lever("match.match_min_hours", "Match: hours in the year", kind="number"),
    Lever(CORE_FORMULA, "Core contribution", kind="choice"),
    Lever("core.core_rate", "Core rate / base rate"),
    Lever("core.core_excess_rate", "Excess rate (integrated)"),
    Lever("core.core_last_day", "Core: employed Dec 31", kind="switch"),
    Lever("core.core_min_hours", "Core: hours in the year", kind="number"),
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
_BY_KEY = {lever.key: lever for lever in LEVERS}


def match_tiers(config: SimulationConfig) -> list[dict[str, float]] | None:
    """The config's match tiers as the config writes them (None: the single tier)."""
    tiers = config.plan.match_tiers
    return None if tiers is None else [tier.model_dump() for tier in tiers]


def _design_context(config: SimulationConfig) -> dict[str, Any]:
    """The config's values behind a design that are no levers: the match bands, its dollar cap, the core bands."""
    match, core = config.match, config.core
    return {
        MATCH_FORMULA: match.match_formula,
        MATCH_BANDS: None if match.match_bands is None else [band.model_dump() for band in match.match_bands],
        MATCH_MAX: match.match_max_amount,
        CORE_BANDS: None if core.core_bands is None else [band.model_dump() for band in core.core_bands],
        INTEGRATION_LEVEL: core.integration_level_share,
    }


def lever_values(config: SimulationConfig) -> dict[str, Any]:
    """Every lever's value in a config, its match tiers under MATCH_TIERS, and the design keys that are no levers."""
    return {
        MATCH_TIERS: match_tiers(config),
        **_design_context(config),
        **{lever.key: lever.value_of(config) for lever in LEVERS},
    }


def unused_levers(values: Mapping[str, Any]) -> frozenset[str]:
    """The levers (and MATCH_TIERS) a design leaves unused, given the other levers' values.

    Tiers replace the single tier, and bands of service or points (match.match_formula,
    set in the config) carry their own tiers; a safe harbor match design is its own
    formula, with no allocation condition (IRC 401(k)(12)); a safe harbor non-elective
    design is the core contribution; the core rates and conditions apply only to the
    formulas that read them; the pay frequency and the true-up only to a per-pay-period
    match. The config wants these keys at their defaults, and a face shows them as off.
    """
    unused: set[str] = set()
    design = values.get(SAFE_HARBOR_DESIGN, "none")
    banded = values.get(MATCH_FORMULA, "tiers") != "tiers"
    if values.get(MATCH_TIERS) is not None or design in SAFE_HARBOR_MATCH_TIERS or banded:
        unused.update(SINGLE_TIER_KEYS)
    if design in SAFE_HARBOR_MATCH_TIERS or banded:
        unused.add(MATCH_TIERS)
    if design in SAFE_HARBOR_MATCH_TIERS:
        unused.update(MATCH_CONDITIONS)
    formula = values.get(CORE_FORMULA, "none")
    if design in SAFE_HARBOR_NONELECTIVE_RATE:
        unused.update(CORE_KEYS)
    elif formula == "none":
        unused.update(key for key in CORE_KEYS if key != CORE_FORMULA)
    else:
        if formula not in ("flat", "integrated"):
            unused.add("core.core_rate")
        if formula != "integrated":
            unused.add("core.core_excess_rate")
    if values.get(MATCH_PERIOD, "plan_year") == "plan_year":
        unused.update(("match.pay_frequency", "match.true_up"))
    return frozenset(unused)


def lever_overrides(base: SimulationConfig, values: Mapping[str, Any]) -> dict[str, Any]:
    """The scenario overrides a set of lever values makes: the keys that differ from `base`.

    The levers a design leaves unused (unused_levers) are reset to the config's defaults
    rather than carried over, since the config refuses them beside the design; so are
    the design keys that are no levers where the chosen design replaces them (a safe
    harbor match replaces match bands and a dollar cap; a core formula without bands
    clears the core bands).
    """
    before = lever_values(base)
    merged = {**before, **{key: value for key, value in values.items() if key in before}}
    unused = unused_levers(merged)
    design, formula = merged[SAFE_HARBOR_DESIGN], merged[CORE_FORMULA]
    if MATCH_TIERS in unused:
        merged[MATCH_TIERS] = None
    if design in SAFE_HARBOR_MATCH_TIERS:
        merged.update({MATCH_FORMULA: "tiers", MATCH_BANDS: None, MATCH_MAX: None})
    if design in SAFE_HARBOR_NONELECTIVE_RATE or not formula.endswith("_bands"):
        merged[CORE_BANDS] = None
    if design in SAFE_HARBOR_NONELECTIVE_RATE or formula != "integrated":
        merged[INTEGRATION_LEVEL] = key_field(INTEGRATION_LEVEL).default
    changed: dict[str, Any] = {}
    for key, value in merged.items():
        lever = _BY_KEY.get(key)
        if lever is not None and key in unused:
            value = lever.default
        elif isinstance(value, float):
            value = round(value, 6)
        if value != before[key]:
            changed[key] = value
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


def describe_match_design(values: Mapping[str, Any]) -> str:
    """The match a set of lever values pays, in words: a safe harbor design's, the bands', or the tiers'."""
    design = values.get(SAFE_HARBOR_DESIGN, "none")
    if design in SAFE_HARBOR_MATCH_TIERS:
        return f"{describe_match(SAFE_HARBOR_MATCH_TIERS[design])} (safe harbor: {design})"
    formula = values.get(MATCH_FORMULA, "tiers")
    if formula != "tiers" and values.get(MATCH_BANDS):
        unit = "years of service" if formula == "service_bands" else "points (age + service)"
        bands = [f"{band['at_least']}+ {unit}: {describe_match(band['tiers'])}" for band in values[MATCH_BANDS]]
        return "; ".join(bands)
    return describe_match(values.get(MATCH_TIERS))
