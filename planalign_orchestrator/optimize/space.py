"""The search space: the levers a study may move, each over a grid inside the range the config accepts.

Every dimension is a lever of the catalogue (planalign_orchestrator.levers), checked
against the same bounds and options the config validates and the levers widget
shows, so a lever added there joins the search space with no change here. Numbers move
on a grid (a step; by default a twentieth of the range, or 1 for whole numbers): a
design is then a point of a finite lattice, "within one lever step" has a meaning, and
a design proposed twice is recognised as the same design and never simulated again.
The match formula is one more dimension (MATCH_TIERS: the single tier or a named
safe-harbor design); the single tier's rate and cap only count while it is chosen.

A design (lever key -> value) becomes scenario overrides through the catalogue's own
`lever_overrides`, and its scenario is named after the study and a digest of those
overrides: the same design always lands on the same scenario.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from difflib import get_close_matches
from typing import Any, Literal

from planalign_orchestrator.config import SimulationConfig
from planalign_orchestrator.exceptions import ConfigurationError
from planalign_orchestrator.levers import (
    LEVERS,
    MATCH_DESIGNS,
    MATCH_TIERS,
    SINGLE_TIER,
    SINGLE_TIER_KEYS,
    Lever,
    lever_overrides,
    match_tiers,
)

DimensionKind = Literal["rate", "number", "switch", "choice"]
# A lever's range as a face gives it: (low, high), (low, high, step), the options to try, or None for all options.
LeverRange = tuple[float, float] | tuple[float, float, float] | Sequence[Any] | None
DEFAULT_STEPS = 20
# Grid values are rounded here: lever_overrides keeps six decimals, so a finer step would be no step at all.
DECIMALS = 10
MIN_STEP = 1e-6
_SWITCH_WORDS = {"true": True, "on": True, "yes": True, "false": False, "off": False, "no": False}
LEVER_FORMS = (
    "KEY=LOW:HIGH (e.g. plan.match_rate=0.25:1.0), KEY=LOW:HIGH:STEP (plan.match_rate=0.25:1.0:0.05), "
    "KEY=A,B for options (plan.match_tiers=single,safe_harbor), or KEY alone for every option of a switch or choice"
)


@dataclass(frozen=True)
class Dimension:
    """One lever of the search space: its values in order (a number's grid from low to high, or the options).

    `step` is a number's grid step (None for a switch or a choice). `condition` is
    (key, value): the dimension counts only while that other dimension has that value
    (the single tier's rate and cap, under the single-tier match).
    """

    key: str
    label: str
    kind: DimensionKind
    values: tuple[Any, ...]
    step: float | None = None
    integer: bool = False
    condition: tuple[str, Any] | None = None

    @property
    def low(self) -> Any:
        return self.values[0]

    @property
    def high(self) -> Any:
        return self.values[-1]

    def canonical(self, value: Any) -> Any:
        """A value as designs, digests and overrides hold it: grid floats rounded, whole numbers as int."""
        if self.kind == "switch":
            return bool(value)
        if self.kind == "choice":
            return str(value)
        if self.integer:
            return round(float(value))
        return round(float(value), DECIMALS)

    def format(self, value: Any) -> str:
        """A value as an analyst reads it: rates in percent (25%), switches on/off, the rest as given."""
        if self.kind == "rate":
            return f"{float(value) * 100:.4g}%"
        if self.kind == "switch":
            return "on" if value else "off"
        if self.kind == "number" and not self.integer:
            return f"{float(value):g}"
        return str(value)

    def text(self) -> str:
        """The dimension as the terminal's --lever takes it (and the study records it): parsed back, the same."""
        if self.step is not None:
            return f"{self.key}={self.low:.10g}:{self.high:.10g}:{self.step:.10g}"
        return f"{self.key}={','.join(self.format(value) for value in self.values)}"

    def describe(self) -> str:
        """The range in words: '0% to 60% in steps of 5%', or the options."""
        if self.step is not None:
            return f"{self.format(self.low)} to {self.format(self.high)} in steps of {self.format(self.step)}"
        return " or ".join(self.format(value) for value in self.values)


def dimensions_from(levers: Mapping[str, LeverRange] | Sequence[str], base: SimulationConfig) -> tuple[Dimension, ...]:
    """The search space of levers given as the terminal's texts (KEY=LOW:HIGH, ...) or as a mapping of ranges.

    Refused (ConfigurationError: which lever, what is wrong, what to write) for an
    unknown lever, a range outside the lever's valid range, a step that does not fit
    the range, an option the config does not accept, a lever given twice, or the
    single tier's rate or cap while the match is (and stays) tiered.
    """
    if isinstance(levers, Mapping):
        given = [(str(key), value) for key, value in levers.items()]
    elif isinstance(levers, str):
        given = [_split_text(levers)]
    else:
        given = [_split_text(text) for text in levers]
    if not given:
        raise ConfigurationError(
            "a study needs at least one lever to move",
            remediation=f"Name the levers and their ranges: {LEVER_FORMS}.",
        )
    seen: set[str] = set()
    dimensions = []
    for key, value in given:
        if key in seen:
            raise ConfigurationError(
                f"lever {key} is given twice", remediation=f"Give each lever once, with one range: {LEVER_FORMS}."
            )
        seen.add(key)
        dimensions.append(_dimension(key, value))
    return _with_conditions(tuple(dimensions), base)


def lever_keys() -> list[str]:
    """Every lever a study can move: the match formula and the catalogue's levers."""
    return [MATCH_TIERS, *(lever.key for lever in LEVERS)]


def _split_text(text: str) -> tuple[str, LeverRange]:
    """'plan.match_rate=0.25:1:0.05' -> ('plan.match_rate', (0.25, 1.0, 0.05)); 'k=a,b' -> options; 'k' -> None."""
    key, sep, rest = str(text).partition("=")
    key, rest = key.strip(), rest.strip()
    if not key or (sep and not rest):
        raise ConfigurationError(f"lever {text!r} is not understood", remediation=f"Write it as {LEVER_FORMS}.")
    if not sep:
        return key, None
    if ":" in rest:
        parts = [part.strip() for part in rest.split(":")]
        try:
            numbers = [float(part.rstrip("%")) / (100 if part.endswith("%") else 1) for part in parts]
        except ValueError:
            numbers = []
        if len(numbers) not in (2, 3):
            raise ConfigurationError(
                f"lever {text!r}: the range {rest!r} is not LOW:HIGH or LOW:HIGH:STEP of numbers",
                remediation=f"Write it as {LEVER_FORMS}.",
            )
        return key, (numbers[0], numbers[1]) if len(numbers) == 2 else (numbers[0], numbers[1], numbers[2])
    return key, [part.strip() for part in rest.split(",") if part.strip()]


def _lever(key: str) -> Lever | None:
    return next((lever for lever in LEVERS if lever.key == key), None)


def _dimension(key: str, value: LeverRange) -> Dimension:
    if key == MATCH_TIERS:
        return _options_dimension(key, "Match formula", "choice", tuple(MATCH_DESIGNS), value)
    lever = _lever(key)
    if lever is None:
        known = lever_keys()
        close = get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f"Did you mean {close[0]}? " if close else ""
        raise ConfigurationError(
            f"unknown lever {key!r}",
            remediation=f"{hint}The levers a study can move: {', '.join(known)}.",
        )
    if lever.kind == "switch":
        return _options_dimension(key, lever.label, "switch", (False, True), value)
    if lever.kind == "choice":
        return _options_dimension(key, lever.label, "choice", lever.choices, value)
    return _numeric_dimension(lever, value)


def _options_dimension(
    key: str, label: str, kind: DimensionKind, accepted: tuple[Any, ...], value: LeverRange
) -> Dimension:
    """A switch or a choice: every option (value None) or the ones named, each checked against the config's."""
    words = "on, off" if kind == "switch" else ", ".join(str(option) for option in accepted)
    if value is None:
        return Dimension(key, label, kind, accepted)
    numbers = isinstance(value, tuple) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    if numbers and len(value) in (2, 3):
        raise ConfigurationError(
            f"lever {key} is a {'switch' if kind == 'switch' else 'choice'}, not a number: it takes no LOW:HIGH range",
            remediation=f"Give it alone (every option: {words}) or name the options to try, "
            f"e.g. {key}={words.replace(', ', ',')}.",
        )
    options: list[Any] = []
    for item in value if isinstance(value, list | tuple) else [value]:
        option = _SWITCH_WORDS.get(str(item).strip().lower(), item) if kind == "switch" else str(item).strip()
        if isinstance(item, bool):
            option = item
        if option not in accepted:
            raise ConfigurationError(
                f"lever {key}: {item!r} is not one of its options ({words})",
                remediation=f"Name options the config accepts, e.g. {key}={words.replace(', ', ',')}.",
            )
        if option not in options:
            options.append(option)
    if len(options) < 2:
        raise ConfigurationError(
            f"lever {key} is given one option ({options[0] if options else 'none'}): there is nothing to choose",
            remediation=f"Name two or more, e.g. {key}={words.replace(', ', ',')}, or set the value in the config "
            "or a scenario instead.",
        )
    return Dimension(key, label, kind, tuple(options))


def _numeric_dimension(lever: Lever, value: LeverRange) -> Dimension:
    key = lever.key
    valid = lever.range_text() or "any number"
    if value is None or not (isinstance(value, tuple | list) and len(value) in (2, 3)):
        raise ConfigurationError(
            f"lever {key} needs a range to search, within its valid range {valid}",
            remediation=f"Give it as {key}=LOW:HIGH or {key}=LOW:HIGH:STEP, e.g. {key}={_example(lever)}.",
        )
    try:
        numbers = [float(number) for number in value]
    except (TypeError, ValueError):
        raise ConfigurationError(
            f"lever {key}: the range {tuple(value)!r} is not numbers",
            remediation=f"Give it as {key}=LOW:HIGH, e.g. {key}={_example(lever)}.",
        ) from None
    low, high = numbers[0], numbers[1]
    integer = lever.integer
    if not all(math.isfinite(number) for number in numbers) or low >= high:
        raise ConfigurationError(
            f"lever {key}: the range {low:g}:{high:g} is empty (LOW must be below HIGH)",
            remediation=f"Give LOW below HIGH within {valid}, e.g. {key}={_example(lever)}.",
        )
    lower, upper = lever.bounds
    for end, number in (("LOW", low), ("HIGH", high)):
        below = lower is not None and (number < lower.value or (number == lower.value and not lower.inclusive))
        above = upper is not None and (number > upper.value or (number == upper.value and not upper.inclusive))
        if below or above:
            raise ConfigurationError(
                f"lever {key}: {end} {number:g} is outside the lever's valid range {valid}",
                remediation=f"Keep the range within {valid}, e.g. {key}={_example(lever)}.",
            )
    step = numbers[2] if len(numbers) == 3 else (1.0 if integer else (high - low) / DEFAULT_STEPS)
    count = (high - low) / step if step > 0 else math.inf
    if step < MIN_STEP or abs(count - round(count)) > 1e-6 or (integer and step != int(step)):
        whole = " a whole number," if integer else ""
        raise ConfigurationError(
            f"lever {key}: the step {step:g} does not divide the range {low:g}:{high:g}",
            remediation=f"Give a step that is{whole} at least {MIN_STEP:g} and divides HIGH - LOW, "
            f"e.g. {key}={low:g}:{high:g}:{(high - low) / DEFAULT_STEPS:g}, or leave it out "
            f"(a twentieth of the range{', 1 for whole numbers' if integer else ''}).",
        )
    values = tuple(round(low + index * step, DECIMALS) for index in range(round(count) + 1))
    if integer:
        return Dimension(key, lever.label, "number", tuple(round(v) for v in values), round(step), integer=True)
    kind: DimensionKind = "rate" if lever.kind == "rate" else "number"
    return Dimension(key, lever.label, kind, values, round(step, DECIMALS))


def _example(lever: Lever) -> str:
    """A range inside the lever's valid range, for a message."""
    lower, upper = lever.bounds
    inside = 1 if lever.integer else 0.01  # off an open end
    low = lower.value if lower is not None else 0.0
    if lower is not None and not lower.inclusive:
        low += inside
    high = upper.value if upper is not None else low + 1.0
    if upper is not None and not upper.inclusive:
        high -= inside
    return f"{round(low, 4):g}:{round(high, 4):g}"


def _with_conditions(dimensions: tuple[Dimension, ...], base: SimulationConfig) -> tuple[Dimension, ...]:
    """The single tier's rate and cap count only under the single-tier match: conditional on it, or refused."""
    by_key = {dimension.key: dimension for dimension in dimensions}
    formula = by_key.get(MATCH_TIERS)
    single_tier = [dimension for dimension in dimensions if dimension.key in SINGLE_TIER_KEYS]
    if not single_tier:
        return dimensions
    if formula is None:
        if match_tiers(base) is None:
            return dimensions
        raise ConfigurationError(
            f"lever {single_tier[0].key} only acts under the single-tier match, and the base config's match is tiered "
            "(plan.match_tiers)",
            remediation=f"Add {MATCH_TIERS}={SINGLE_TIER},safe_harbor (the formula as a lever too), or leave "
            f"{single_tier[0].key} out.",
        )
    if SINGLE_TIER not in formula.values:
        raise ConfigurationError(
            f"lever {single_tier[0].key} only acts under the single-tier match, which {MATCH_TIERS} does not offer "
            f"here ({', '.join(formula.values)})",
            remediation=f"Add {SINGLE_TIER} to {MATCH_TIERS}, or leave {single_tier[0].key} out.",
        )
    return tuple(
        replace(d, condition=(MATCH_TIERS, SINGLE_TIER)) if d.key in SINGLE_TIER_KEYS else d for d in dimensions
    )


def design_values(design: Mapping[str, Any]) -> dict[str, Any]:
    """A design as lever values for `lever_overrides`: the match formula's name becomes its tiers."""
    values = dict(design)
    if MATCH_TIERS in values:
        values[MATCH_TIERS] = MATCH_DESIGNS[values[MATCH_TIERS]]
    return values


def design_overrides(
    base: SimulationConfig, base_overrides: Mapping[str, Any], design: Mapping[str, Any]
) -> dict[str, Any]:
    """The scenario overrides of a design: the base scenario's, then every lever that differs from the base config."""
    return {**base_overrides, **lever_overrides(base, design_values(design))}


def design_count(dimensions: Sequence[Dimension]) -> int:
    """How many distinct designs the search space holds (a conditional lever counts only under its condition)."""
    total = 1
    for dimension in dimensions:
        if dimension.condition is not None:
            continue
        under = [d for d in dimensions if d.condition is not None and d.condition[0] == dimension.key]
        total *= sum(
            math.prod(len(d.values) for d in under if d.condition == (dimension.key, option))
            for option in dimension.values
        )
    return total


def describe_design(dimensions: Sequence[Dimension], design: Mapping[str, Any]) -> str:
    """'plan.opt_out_rate=25%, plan.match_tiers=safe_harbor': the design's values in the dimensions' order."""
    return ", ".join(f"{d.key}={d.format(design[d.key])}" for d in dimensions if d.key in design)


def scenario_name(study: str, overrides: Mapping[str, Any]) -> str:
    """The scenario of a design in a study: the study's name and a digest of the overrides (same design, same name)."""
    canonical = json.dumps(overrides, sort_keys=True, separators=(",", ":"), default=str)
    return f"{study}_{hashlib.sha256(canonical.encode()).hexdigest()[:8]}"


_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


def check_study_name(name: str) -> str:
    """A study name safe as a file name and as the prefix of its trials' scenario names."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigurationError(
            f"invalid study name {name!r}",
            remediation="Use 1-40 lower-case letters, digits, '_' or '-', starting with a letter or digit "
            "(e.g. --study cheapest_match).",
        )
    return name
