"""What a study returns: every trial with its design and figures, the best design or the Pareto front, the top designs.

Computed once here for every face: the terminal prints it, the notebook shows it and
charts it. Each evaluated design is a scenario; the top designs are also simulated
with the config's own seed, so their scenario names go straight into `compare`.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from planalign_orchestrator.exceptions import InfeasibleStudyError
from planalign_orchestrator.optimize.evaluate import Figures, dominates
from planalign_orchestrator.optimize.space import describe_design
from planalign_orchestrator.optimize.spec import StudySpec

if TYPE_CHECKING:
    import pandas as pd

TrialState = Literal["evaluated", "refused"]


@dataclass(frozen=True)
class TrialRecord:
    """One trial of a study: its design, its scenario and figures (or why the config refused the design).

    `trial` numbers the study's designs in the order they were first evaluated;
    `simulated` says whether this trial ran its ensemble, and `source` is the scenario
    whose ensemble gave its figures: its own, or one saved with the same overrides
    (another study's trial, the baseline) whose ensemble was current.
    """

    trial: int
    state: TrialState
    design: dict[str, Any]
    scenario: str | None = None
    figures: Figures | None = None
    simulated: bool = False
    note: str | None = None
    source: str | None = None

    @property
    def feasible(self) -> bool:
        return self.figures is not None and self.figures.feasible


@dataclass(frozen=True, repr=False)
class OptimizationResult:
    """A study's trials and what they found.

    `top` are the best feasible designs (one objective: by it; several: spread along
    the Pareto front, its ends first), simulated with the config's seed so that
    `compare` takes their scenario names. `stopped` says why the study stopped;
    `simulated` counts the ensembles this call ran, `resumed` the trials the study had
    before it, `repeats` the proposals of designs already evaluated.
    """

    study: str
    spec: StudySpec
    trials: tuple[TrialRecord, ...]
    stopped: str
    top: tuple[TrialRecord, ...] = ()
    simulated: int = 0
    resumed: int = 0
    repeats: int = 0
    infeasible: InfeasibleStudyError | None = field(default=None, compare=False)

    @property
    def directions(self) -> tuple[str, ...]:
        return tuple(objective.direction for objective in self.spec.objectives)

    @property
    def evaluated(self) -> list[TrialRecord]:
        return [trial for trial in self.trials if trial.figures is not None]

    @property
    def feasible(self) -> list[TrialRecord]:
        return [trial for trial in self.evaluated if trial.feasible]

    @property
    def best(self) -> TrialRecord | None:
        """The best feasible design of a one-objective study (the first trial that reached it); None otherwise."""
        if len(self.spec.objectives) != 1:
            return None
        ranked = rank_single(self.feasible, self.directions[0])
        return ranked[0] if ranked else None

    @property
    def front(self) -> list[TrialRecord]:
        """The feasible designs no other feasible design dominates (one per scenario), by the first objective."""
        return pareto_front(self.feasible, self.directions)

    @property
    def scenarios(self) -> list[str]:
        """The top designs' scenario names, best first: what `compare` takes (with the baseline)."""
        return [trial.scenario for trial in self.top if trial.scenario is not None]

    def frame(self) -> pd.DataFrame:
        """Every trial as a row: state, scenario, each lever and term, feasible, how it was evaluated."""
        import pandas as pd

        rows = []
        for trial in self.trials:
            row: dict[str, Any] = {"trial": trial.trial, "state": trial.state, "scenario": trial.scenario}
            row.update({d.key: trial.design.get(d.key) for d in self.spec.dimensions})
            terms = trial.figures.terms if trial.figures else {}
            row.update({term.text: terms.get(term.text) for term in self.spec.terms})
            row["feasible"] = trial.feasible if trial.figures else None
            row["simulated"] = trial.simulated
            row["source"] = trial.source
            row["note"] = trial.note
            rows.append(row)
        columns = [
            "trial",
            "state",
            "scenario",
            *(d.key for d in self.spec.dimensions),
            *(t.text for t in self.spec.terms),
            "feasible",
            "simulated",
            "source",
            "note",
        ]
        return pd.DataFrame(rows, columns=columns).set_index("trial")

    def table(self) -> pd.DataFrame:
        """The top designs, formatted: rank, trial, scenario, lever values, figures (compare takes the scenarios)."""
        import pandas as pd

        rows = []
        for rank, trial in enumerate(self.top, start=1):
            assert trial.figures is not None
            row: dict[str, Any] = {"rank": rank, "trial": trial.trial, "scenario": trial.scenario}
            row.update(
                {d.key: d.format(trial.design[d.key]) if d.key in trial.design else "–" for d in self.spec.dimensions}
            )
            row.update({t.text: t.format(trial.figures.terms[t.text]) for t in self.spec.terms})
            rows.append(row)
        columns = [
            "rank",
            "trial",
            "scenario",
            *(d.key for d in self.spec.dimensions),
            *(t.text for t in self.spec.terms),
        ]
        return pd.DataFrame(rows, columns=columns).set_index("rank")

    @property
    def headline(self) -> str:
        """The study in one paragraph: what it asks, its trials and how they were evaluated, why it stopped."""
        evaluated = self.evaluated
        simulated = sum(trial.simulated for trial in evaluated)
        counts = {
            "simulated": simulated,
            "read from a current ensemble": len(evaluated) - simulated,
            "refused by the config": len(self.trials) - len(evaluated),
        }
        how = ", ".join(f"{count} {what}" for what, count in counts.items() if count or what == "simulated")
        proposals = "proposal" if self.repeats == 1 else "proposals"
        repeats = f"; {self.repeats} {proposals} of a design already evaluated, not counted" if self.repeats else ""
        return (
            f"Study {self.study!r}: {self.spec.describe()}. {len(self.trials)} trials ({how}{repeats}); "
            f"{len(self.feasible)} feasible. Stopped: {self.stopped}."
        )

    def summary_lines(self) -> list[str]:
        """What the study found, in words: the best design, or the front's size."""
        best = self.best
        if self.infeasible is not None:
            return [f"No feasible design among its {len(self.trials)} trials (why, and what to do: below)."]
        if best is not None:
            assert best.figures is not None
            figures = ", ".join(f"{t.text} {t.format(best.figures.terms[t.text])}" for t in self.spec.terms)
            design = describe_design(self.spec.dimensions, best.design)
            return [f"Best design: trial {best.trial}, {design} (scenario {best.scenario}): {figures}."]
        front = len(self.front)
        designs = f"{front} design{'s' if front != 1 else ''}"
        return [f"Pareto front: {designs} that no other feasible design beats in every objective."]

    def compare_hint(self) -> str | None:
        """The compare command of the top designs (None when none was simulated for it)."""
        if not self.scenarios:
            return None
        names = " ".join(["baseline", *self.scenarios])
        years = f"{self.spec.first_year}-{self.spec.last_year}"
        return f"Compare them: `planalign compare {names} --years {years}` (simulated with the config's seed)."

    def render(self, hint: str | None) -> str:
        """The result as text, ending with `hint` (how a face says to compare the top designs)."""
        lines = [self.headline, *self.summary_lines()]
        if self.top:
            lines += ["", "Top designs:", _text_table(self.table())]
        return "\n".join([*lines, *([hint] if hint else [])])

    def __str__(self) -> str:
        return self.render(self.compare_hint())

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        summary = "".join(f"<div>{html.escape(line)}</div>" for line in self.summary_lines())
        table = _html_table(self.table()) if self.top else ""
        return f"<div class='planalign-optimization'><b>{html.escape(self.headline)}</b>{summary}{table}</div>"


def rank_single(trials: Sequence[TrialRecord], direction: str) -> list[TrialRecord]:
    """Feasible trials best first (ties: the earlier trial), one per scenario."""
    ordered = sorted(
        (trial for trial in trials if trial.figures is not None),
        key=lambda trial: (_signed(trial, 0, direction), trial.trial),
    )
    return _distinct(ordered)


def pareto_front(trials: Sequence[TrialRecord], directions: Sequence[str]) -> list[TrialRecord]:
    """The trials no other trial dominates, one per scenario, ordered by the first objective."""
    evaluated = [trial for trial in trials if trial.figures is not None]
    front = [
        trial
        for trial in evaluated
        if not any(
            dominates(other.figures.objectives, trial.figures.objectives, directions)  # type: ignore[union-attr]
            for other in evaluated
            if other is not trial
        )
    ]
    return _distinct(sorted(front, key=lambda trial: (_signed(trial, 0, directions[0]), trial.trial)))


def spread(front: Sequence[TrialRecord], count: int) -> list[TrialRecord]:
    """`count` designs along a front: both ends first, then evenly between them."""
    if count >= len(front):
        return list(front)
    if count <= 0:
        return []
    if count == 1:
        return [front[0]]
    picks = [round(index * (len(front) - 1) / (count - 1)) for index in range(count)]
    ordered = [picks[0], picks[-1], *picks[1:-1]]
    return [front[index] for index in dict.fromkeys(ordered)]


def _signed(trial: TrialRecord, index: int, direction: str) -> float:
    assert trial.figures is not None
    value = trial.figures.objectives[index]
    return -value if direction == "maximize" else value


def _distinct(trials: Sequence[TrialRecord]) -> list[TrialRecord]:
    seen: set[str | None] = set()
    kept = []
    for trial in trials:
        if trial.scenario not in seen:
            seen.add(trial.scenario)
            kept.append(trial)
    return kept


def _text_table(frame: pd.DataFrame) -> str:
    shown = frame.reset_index()
    columns = [str(column) for column in shown.columns]
    cells = [[str(value) for value in row] for row in shown.itertuples(index=False)]
    widths = [max(len(column), *(len(row[i]) for row in cells)) for i, column in enumerate(columns)]
    lines = ["  " + "  ".join(column.ljust(width) for column, width in zip(columns, widths, strict=True))]
    lines += ["  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def _html_table(frame: pd.DataFrame) -> str:
    shown = frame.reset_index()
    cell = "text-align:left;padding:1px 12px 1px 0;border:none"
    head = "".join(f"<th style='{cell}'>{html.escape(str(column))}</th>" for column in shown.columns)
    body = "".join(
        "<tr>" + "".join(f"<td style='{cell}'>{html.escape(str(value))}</td>" for value in row) + "</tr>"
        for row in shown.itertuples(index=False)
    )
    style = "border-collapse:collapse;margin:4px 0"
    return f"<table class='planalign-top-designs' style='{style}'><tr>{head}</tr>{body}</table>"
