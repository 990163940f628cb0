"""A design's figures: its ensemble's per-seed metrics reduced to the study's terms.

The ensemble gives one row per (seed, year) with every metric of fct_year_metrics;
each term reduces a seed's years to one number, then the seeds to one (spec.Term).
Percentiles are numpy's linear ones, as the ensemble bands compute theirs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from planalign_orchestrator.optimize.spec import PERCENTILES, StudySpec, Term

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Figures:
    """A design's value of every term of the study (by term text), its objective values and constraint slack."""

    terms: dict[str, float]
    objectives: tuple[float, ...]
    violations: tuple[float, ...]

    @property
    def feasible(self) -> bool:
        return all(violation <= 0 for violation in self.violations)


def term_value(term: Term, metrics: pd.DataFrame, first: int, last: int) -> float:
    """The term over the seeds of `metrics` (columns seed, year and the metrics), for years first..last."""
    import numpy as np

    rows = metrics[metrics["year"].between(first, last)].sort_values(["seed", "year"])
    values = rows[term.metric].astype("float64")
    reducer = term.year_reducer
    if reducer.isdigit():
        per_seed = values[rows["year"] == int(reducer)].groupby(rows["seed"]).first()
    else:
        per_seed = values.groupby(rows["seed"]).agg(reducer)
    if per_seed.empty or per_seed.isna().any():
        return float("nan")
    if term.statistic in PERCENTILES:
        return float(np.percentile(per_seed.to_numpy(), PERCENTILES[term.statistic]))
    return float(per_seed.mean())  # the mean, or for a flag (0/1 per seed) the share of seeds where it is set


def figures(spec: StudySpec, metrics: pd.DataFrame) -> Figures:
    """Every term of the study for one design's ensemble, and what the sampler needs of them."""
    terms = {term.text: term_value(term, metrics, spec.first_year, spec.last_year) for term in spec.terms}
    return Figures(
        terms,
        tuple(terms[objective.term.text] for objective in spec.objectives),
        tuple(constraint.violation(terms[constraint.term.text]) for constraint in spec.constraints),
    )


def dominates(first: Sequence[float], second: Sequence[float], directions: Sequence[str]) -> bool:
    """Whether `first` is at least as good as `second` in every objective and better in one."""
    better = False
    for mine, theirs, direction in zip(first, second, directions, strict=True):
        if direction == "maximize":
            mine, theirs = -mine, -theirs
        if mine > theirs:
            return False
        better = better or mine < theirs
    return better
