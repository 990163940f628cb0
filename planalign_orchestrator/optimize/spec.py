"""What a study asks: objectives and constraints over the metrics model, checked before anything runs.

A term names one figure of a design's seed ensemble, read in two steps: each seed's
path over the years is reduced to one number (a year, or summed, averaged, lowest,
highest, first or last), then the seeds to one (their mean, a percentile, or for a
flag the share of seeds where it is set). Defaults follow the metric's kind: counts
and money are summed over the years, fractions averaged, flags set in any year; the
seeds are averaged. So, for a study of 2025-2027 over 20 seeds:

    employer_cost_rate                 mean over seeds of the cost rate averaged over the years
    p90(employer_cost_rate)            its 90th percentile over the seeds
    participation_rate[min] >= 0.85    in every year (the lowest year), on average over the seeds
    employer_contributions[2027]       the 2027 figure
    share(adp_fail) <= 0.05            a flag set in any year in at most 5% of the seeds
    adp_fail_share <= 0.05             the same, as the metric's name with the statistic after it

An objective is `min TERM` or `max TERM`; a constraint `TERM <= NUMBER` or
`TERM >= NUMBER` (fractions and shares also as percentages: `>= 85%`). Any metric of
fct_year_metrics (planalign_orchestrator.metrics) may be used, so one a plan rule adds
there is at once something to optimize. Everything is checked against the catalogue,
the study's years and seeds before a trial runs, and refused with what, which and what
to write instead.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any, Literal

from planalign_orchestrator.exceptions import ConfigurationError
from planalign_orchestrator.metrics import METRICS, Metric, MetricKind, metric
from planalign_orchestrator.optimize.space import Dimension

Direction = Literal["minimize", "maximize"]
Operator = Literal["<=", ">="]
# Over the seeds: their mean, a percentile, or (flags) the share of seeds where the flag is set.
PERCENTILES = {"p10": 10, "p25": 25, "p50": 50, "p75": 75, "p90": 90}
STATISTICS = ("mean", *PERCENTILES, "share")
# Over the years of one seed; a year number picks that year.
YEAR_REDUCERS = ("sum", "mean", "min", "max", "first", "last")
DEFAULT_YEARS: dict[MetricKind, str] = {"count": "sum", "money": "sum", "fraction": "mean", "flag": "max"}
_DIRECTIONS: dict[str, Direction] = {
    "min": "minimize",
    "minimize": "minimize",
    "max": "maximize",
    "maximize": "maximize",
}
_TERM = re.compile(r"(?:(?P<stat>[a-z0-9]+)\s*\(\s*(?P<inner>[^()]+?)\s*\)|(?P<bare>[^()]+?))")
_REF = re.compile(r"(?P<metric>[a-z_][a-z0-9_]*)\s*(?:\[\s*(?P<years>[a-z0-9]+)\s*\])?")
_CONSTRAINT = re.compile(r"(?P<term>.+?)\s*(?P<op><=|>=|=<|=>|==|!=|<|>|=)\s*(?P<bound>[^<>=]+)")
TERM_FORMS = (
    "METRIC, STAT(METRIC) or METRIC[YEARS], e.g. employer_cost_rate, p90(employer_cost_rate), "
    "participation_rate[2027], share(irs_limits_estimated); STAT is mean, p10, p25, p50, p75, p90 or share "
    "(flags), YEARS a year or sum, mean, min, max, first, last"
)


@dataclass(frozen=True)
class Term:
    """One figure of a design's ensemble: a metric, reduced over each seed's years, then over the seeds."""

    metric: str
    statistic: str = "mean"
    years: str = ""  # a reducer or a year; "" is the metric kind's default

    @property
    def catalogue(self) -> Metric:
        return metric(self.metric)

    @property
    def year_reducer(self) -> str:
        return self.years or DEFAULT_YEARS[self.catalogue.kind]

    @property
    def text(self) -> str:
        """The canonical form, defaults left out: p90(employer_cost_rate), participation_rate[2027]."""
        ref = self.metric + (f"[{self.years}]" if self.years else "")
        return ref if self.statistic == "mean" else f"{self.statistic}({ref})"

    def describe(self, first: int, last: int) -> str:
        """In words, e.g. 'Employer cost (% of pay), averaged over 2025-2027, P90 of the seeds'."""
        label = self.catalogue.label
        reducer = self.year_reducer
        if reducer.isdigit():
            years = f"in {reducer}"
        elif first == last:
            years = f"in {first}"
        else:
            span = f"{first}-{last}"
            years = {
                "sum": f"summed over {span}",
                "mean": f"averaged over {span}",
                "min": f"lowest year of {span}",
                "max": f"set in any year of {span}" if self.catalogue.kind == "flag" else f"highest year of {span}",
                "first": f"in {first}",
                "last": f"in {last}",
            }[reducer]
        seeds = {"mean": "mean of the seeds", "share": "share of the seeds"}.get(
            self.statistic, f"{self.statistic.upper()} of the seeds"
        )
        return f"{label}, {years}, {seeds}"

    def format(self, value: float | None) -> str:
        """A value of the term as the metric is shown (a share as a percentage)."""
        if self.statistic == "share":
            return "–" if value is None or value != value else f"{value:.1%}"
        return self.catalogue.format(value)

    @property
    def shown(self) -> Metric:
        """The catalogue entry as the term's values read: a share of seeds reads as a fraction."""
        found = self.catalogue
        if self.statistic != "share":
            return found
        return Metric(found.column, f"{found.label}: share of seeds", "fraction", key=found.key, summary=found.summary)

    def is_fraction(self) -> bool:
        """Whether the term's values are fractions (0.85 is 85%): a fraction metric, or a share of seeds."""
        return self.statistic == "share" or self.catalogue.kind == "fraction"


@dataclass(frozen=True)
class Objective:
    direction: Direction
    term: Term

    @property
    def text(self) -> str:
        return f"{'min' if self.direction == 'minimize' else 'max'} {self.term.text}"


@dataclass(frozen=True)
class Constraint:
    """TERM <= bound or TERM >= bound; its slack is what Optuna's constrained samplers read (<= 0: met)."""

    term: Term
    operator: Operator
    bound: float

    @property
    def text(self) -> str:
        return f"{self.term.text} {self.operator} {self.bound:g}"

    def describe(self) -> str:
        """With the bound in the term's format: 'participation_rate >= 85.00%'."""
        return f"{self.term.text} {self.operator} {self.term.format(self.bound)}"

    def met(self, value: float) -> bool:
        if value != value:
            return False
        return value <= self.bound if self.operator == "<=" else value >= self.bound

    def violation(self, value: float) -> float:
        """How far the value is from meeting the bound, relative to the bound (<= 0 when met); inf when undefined.

        Relative, so that a sampler weighing several violations weighs a dollar and a
        percentage point alike.
        """
        if value != value:
            return math.inf
        scale = abs(self.bound) or 1.0
        return (value - self.bound) / scale if self.operator == "<=" else (self.bound - value) / scale


def parse_term(text: str) -> Term:
    """A term as written (see TERM_FORMS); ConfigurationError naming what is wrong otherwise."""
    written = str(text).strip().lower()
    match = _TERM.fullmatch(written)
    if match is None:
        raise _term_error(text, "is not understood")
    statistic = match.group("stat") or "mean"
    ref = _REF.fullmatch(match.group("inner") or match.group("bare") or "")
    if ref is None:
        raise _term_error(text, "is not understood")
    name, years = ref.group("metric"), ref.group("years") or ""
    if match.group("bare") is not None:
        name, statistic = _suffix_statistic(name)
    if statistic not in STATISTICS:
        raise _term_error(text, f"has the statistic {statistic!r}, which is not one of {', '.join(STATISTICS)}")
    if years and years not in YEAR_REDUCERS and not (years.isdigit() and len(years) == 4):
        raise _term_error(
            text, f"has the years [{years}], which is neither a year nor one of {', '.join(YEAR_REDUCERS)}"
        )
    _require_metric(name, text)
    term = Term(name, statistic, years)
    if statistic == "share" and term.catalogue.kind != "flag":
        raise ConfigurationError(
            f"{text!r}: share(...) is the share of seeds where a flag is set, and {name} is a {term.catalogue.kind}",
            remediation=f"Use mean({name}) or a percentile such as p90({name}); share() takes a flag metric "
            f"({', '.join(m.column for m in METRICS if m.kind == 'flag')}).",
        )
    return term


def _suffix_statistic(name: str) -> tuple[str, str]:
    """adp_fail_share -> (adp_fail, share): a statistic written after the metric's name, where that is no metric."""
    known = {m.column for m in METRICS}
    if name in known:
        return name, "mean"
    stem, _, suffix = name.rpartition("_")
    if suffix in STATISTICS and stem in known:
        return stem, suffix
    return name, "mean"


def _require_metric(name: str, text: str) -> None:
    known = [m.column for m in METRICS]
    if name in known:
        return
    close = get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f"Did you mean {close[0]}? " if close else ""
    raise ConfigurationError(
        f"{text!r}: unknown metric {name!r}",
        remediation=f"{hint}Metrics (fct_year_metrics): {', '.join(known)}.",
    )


def _term_error(text: str, problem: str) -> ConfigurationError:
    return ConfigurationError(f"{text!r} {problem}", remediation=f"Write a term as {TERM_FORMS}.")


def parse_objective(text: str) -> Objective:
    """'min employer_cost_rate', 'maximize p50(participation_rate)'."""
    words = str(text).strip().split(None, 1)
    direction = _DIRECTIONS.get(words[0].lower()) if words else None
    if direction is None or len(words) < 2:
        raise ConfigurationError(
            f"objective {text!r} does not say min or max and what",
            remediation="Write an objective as `min TERM` or `max TERM`, e.g. `min employer_cost_rate` or "
            "`max participation_rate`.",
        )
    return Objective(direction, parse_term(words[1]))


def parse_constraint(text: str) -> Constraint:
    """'participation_rate >= 0.85', 'p90(employer_cost_rate) <= 3%', 'adp_fail_share <= 0.05'."""
    match = _CONSTRAINT.fullmatch(str(text).strip())
    if match is None:
        raise ConfigurationError(
            f"constraint {text!r} is not TERM <= NUMBER or TERM >= NUMBER",
            remediation="Write a constraint as e.g. `participation_rate >= 0.85` or `p90(employer_cost_rate) <= 3%`.",
        )
    operator = {"=<": "<=", "=>": ">="}.get(match.group("op"), match.group("op"))
    if operator not in ("<=", ">="):
        raise ConfigurationError(
            f"constraint {text!r} uses {match.group('op')!r}: a constraint bounds a figure from one side",
            remediation="Use <= or >= (a figure of a simulated ensemble never equals a number exactly), "
            "e.g. `participation_rate >= 0.85`.",
        )
    term = parse_term(match.group("term"))
    bound_text = match.group("bound").strip().replace(",", "").replace("$", "")
    percent = bound_text.endswith("%")
    try:
        bound = float(bound_text.rstrip("%").strip()) / (100 if percent else 1)
    except ValueError:
        bound = math.nan
    if not math.isfinite(bound):
        raise ConfigurationError(
            f"constraint {text!r}: the bound {match.group('bound').strip()!r} is not a number",
            remediation="Give a number, or a percentage for fractions and shares: `participation_rate >= 85%`.",
        )
    if percent and not term.is_fraction():
        raise ConfigurationError(
            f"constraint {text!r}: a percentage bound on {term.metric}, which is a {term.catalogue.kind}",
            remediation=f"Give {term.metric} a bound in its own units, e.g. `{term.text} <= 1000000`.",
        )
    if term.is_fraction() and abs(bound) > 1:
        raise ConfigurationError(
            f"constraint {text!r}: {term.text} is a fraction (0.85 is 85%), so {bound:g} can never be reached",
            remediation=f"Write the bound as a fraction or a percentage: `{term.text} {operator} {bound / 100:g}` "
            f"or `{term.text} {operator} {bound:g}%`.",
        )
    return Constraint(term, operator, bound)  # type: ignore[arg-type]  # checked against Operator above


@dataclass(frozen=True)
class StudySpec:
    """Everything that decides a study's trials: what is asked, the search space, the seeds, years and sampler seed.

    Stored with the study; resuming it with anything else is refused, since its trials
    answered this spec. `base` is the scenario the designs start from.
    """

    objectives: tuple[Objective, ...]
    constraints: tuple[Constraint, ...]
    dimensions: tuple[Dimension, ...]
    seeds: int
    first_year: int
    last_year: int
    sampler_seed: int = 0
    base: str = "baseline"

    def to_json(self) -> dict[str, Any]:
        """The spec as the study stores it (and compares it on resume)."""
        return {
            "objectives": [objective.text for objective in self.objectives],
            "constraints": [constraint.text for constraint in self.constraints],
            "levers": [dimension.text() for dimension in self.dimensions],
            "seeds": self.seeds,
            "years": [self.first_year, self.last_year],
            "sampler_seed": self.sampler_seed,
            "base": self.base,
        }

    def digest(self) -> str:
        """A short digest of the spec: the default study name of a spec ('opt-1a2b3c')."""
        canonical = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:6]

    def differences(self, stored: Mapping[str, Any]) -> list[str]:
        """What differs from a stored spec, item by item ('seeds: 5 (stored) vs 3')."""
        mine = self.to_json()
        return [
            f"{key}: {stored.get(key)!r} (the study's) vs {mine[key]!r}" for key in mine if stored.get(key) != mine[key]
        ]

    def describe(self) -> str:
        """One line: 'minimize employer_cost_rate subject to participation_rate >= 85.00%; 1 lever; 3 seeds, 2025'."""
        goals = " and ".join(f"{objective.direction} {objective.term.text}" for objective in self.objectives)
        subject = f" subject to {', '.join(c.describe() for c in self.constraints)}" if self.constraints else ""
        levers = f"{len(self.dimensions)} lever{'s' if len(self.dimensions) != 1 else ''}"
        years = f"{self.first_year}-{self.last_year}" if self.first_year != self.last_year else str(self.first_year)
        seeds = f"{self.seeds} seed{'s' if self.seeds != 1 else ''}"
        base = "" if self.base == "baseline" else f", from scenario {self.base}"
        return f"{goals}{subject}; {levers}; {seeds}, {years}{base}"

    @property
    def terms(self) -> tuple[Term, ...]:
        """Every distinct term of the objectives and constraints, in order."""
        ordered = [objective.term for objective in self.objectives] + [c.term for c in self.constraints]
        return tuple(dict.fromkeys(ordered))


def build_spec(
    objectives: Sequence[str | Objective],
    constraints: Sequence[str | Constraint],
    dimensions: tuple[Dimension, ...],
    *,
    seeds: int,
    first_year: int,
    last_year: int,
    min_seeds: int,
    sampler_seed: int = 0,
    base: str = "baseline",
) -> StudySpec:
    """A checked spec: parsed terms, each valid for these years and seeds, and constraints that can hold together."""
    if isinstance(objectives, str) or isinstance(constraints, str):
        raise ConfigurationError(
            "objectives and constraints are lists of texts",
            remediation="Pass e.g. objectives=['min employer_cost_rate'], constraints=['participation_rate >= 0.85'].",
        )
    parsed_objectives = tuple(o if isinstance(o, Objective) else parse_objective(o) for o in objectives)
    parsed_constraints = tuple(c if isinstance(c, Constraint) else parse_constraint(c) for c in constraints)
    if not parsed_objectives:
        raise ConfigurationError(
            "a study needs an objective",
            remediation="Say what to minimize or maximize, e.g. --objective 'min employer_cost_rate' "
            "(two or more objectives give the Pareto front).",
        )
    repeated = [term for term, count in _counts(o.term.text for o in parsed_objectives).items() if count > 1]
    if repeated:
        raise ConfigurationError(
            f"the objective {repeated[0]} is given twice",
            remediation="Give each objective once; two different objectives give the trade-off between them.",
        )
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ConfigurationError(
            f"a study's designs are evaluated on a number of seeds, got {seeds!r}",
            remediation="Pass a positive whole number, e.g. --seeds 10 (seeds=10).",
        )
    spec = StudySpec(
        parsed_objectives, parsed_constraints, dimensions, seeds, first_year, last_year, sampler_seed, base
    )
    for term in spec.terms:
        _check_term(term, spec, min_seeds)
    _check_together(parsed_constraints)
    return spec


def _counts(items: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return counts


def _check_term(term: Term, spec: StudySpec, min_seeds: int) -> None:
    reducer = term.year_reducer
    if reducer.isdigit() and not spec.first_year <= int(reducer) <= spec.last_year:
        raise ConfigurationError(
            f"{term.text} reads {reducer}, outside the study's years {spec.first_year}-{spec.last_year}",
            remediation=f"Pick a year within {spec.first_year}-{spec.last_year}, or run the study over years "
            f"that include {reducer}.",
        )
    if term.statistic in PERCENTILES and spec.seeds < min_seeds:
        raise ConfigurationError(
            f"{term.text} is a percentile over the seeds, and the study runs {spec.seeds} seed(s): "
            f"below {min_seeds} seeds a band is withheld, as in every ensemble",
            remediation=f"Run at least {min_seeds} seeds (--seeds {min_seeds}), or use the mean: "
            f"{Term(term.metric, 'mean', term.years).text}.",
        )


def _check_together(constraints: Sequence[Constraint]) -> None:
    """Refuse constraints on one term whose bounds leave nothing between them."""
    by_term: dict[str, list[Constraint]] = {}
    for constraint in constraints:
        by_term.setdefault(constraint.term.text, []).append(constraint)
    for text, group in by_term.items():
        lowest = max((c for c in group if c.operator == ">="), key=lambda c: c.bound, default=None)
        highest = min((c for c in group if c.operator == "<="), key=lambda c: c.bound, default=None)
        if lowest is not None and highest is not None and lowest.bound > highest.bound:
            raise ConfigurationError(
                f"the constraints {lowest.describe()} and {highest.describe()} contradict each other: "
                f"no value of {text} meets both",
                remediation="Loosen one of them so that the range between the bounds is not empty.",
            )
