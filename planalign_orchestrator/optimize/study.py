"""Running a study: Optuna proposes designs, each is evaluated as a scenario's seed ensemble, every trial is kept.

One objective is searched with TPE, several with NSGA-II, both with Optuna's
constrained sampling (each constraint's slack, set on its trial) and seeded,
so a spec and sampler seed give the same trials. The study lives in a journal file
beside the database (`optimize/<study>.journal`, Optuna's JournalStorage): a study
stopped by its budget, an interrupt or a crash resumes from its trials. A trial left
running by a process that died is marked failed on resume (the caller holds the
workspace's run lock, so no other process can be running it).

A design is never simulated twice: a design the sampler proposes again is told the
figures its trial had, and the evaluator (the session's) reads the current ensemble of
any scenario saved with the same overrides (an interrupted trial's, a deleted study's,
another study's) before it simulates anything. What is simulated goes through the
session's ensemble, which reuses every table freshness finds up to date.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from planalign_orchestrator.config import SimulationConfig
from planalign_orchestrator.exceptions import ConfigurationError, InfeasibleStudyError, SimulationError
from planalign_orchestrator.optimize.evaluate import Figures, figures
from planalign_orchestrator.optimize.result import (
    OptimizationResult,
    TrialRecord,
    pareto_front,
    rank_single,
    spread,
)
from planalign_orchestrator.optimize.space import (
    Dimension,
    describe_design,
    design_count,
    design_overrides,
    scenario_name,
    unused_in,
)
from planalign_orchestrator.optimize.spec import StudySpec
from planalign_orchestrator.progress import (
    ProgressEmitter,
    StudyFinished,
    StudyStarted,
    TopDesignStarted,
    TrialFinished,
    TrialStarted,
)

if TYPE_CHECKING:
    import optuna
    import pandas as pd

STUDY_FOLDER = "optimize"
JOURNAL_SUFFIX = ".journal"
# Trials a study gets when it is given minutes but no number of trials: only for sizing the sampler.
SIZING_TRIALS = 30
# Proposals of designs already evaluated, in a row, after which the search has settled and stops.
REPEATS_TO_SETTLE = 100


@dataclass(frozen=True)
class Evaluation:
    """A design's ensemble: its per-seed metrics (seed, year, every metric), and whether it was simulated now.

    `source` is the scenario whose ensemble it is: the design's own, or another saved
    with the same overrides.
    """

    metrics: pd.DataFrame
    simulated: bool
    source: str


class DesignEvaluator(Protocol):
    """What a study needs of the workspace (the session provides it): check, evaluate, prepare for compare."""

    def check(self, scenario: str, overrides: Mapping[str, Any]) -> None:
        """Raise ConfigurationError when the config refuses the design (nothing is written)."""

    def evaluate(self, scenario: str, overrides: Mapping[str, Any]) -> Evaluation:
        """Save the design as a scenario and give its ensemble of the study's seeds and years."""

    def prepare_compare(self, scenario: str) -> None:
        """Simulate the scenario with the config's seed, so `compare` takes it (up-to-date years are reused)."""

    def stale(self, scenario: str) -> str | None:
        """Why the scenario's stored ensemble no longer matches its inputs (None when current, or when none is kept)."""


def journal_path(root: Path, study: str) -> Path:
    return root / STUDY_FOLDER / f"{study}{JOURNAL_SUFFIX}"


def stored_spec(root: Path, study: str) -> dict[str, Any] | None:
    """The spec a study was created with (None when there is no such study); reads its journal only."""
    path = journal_path(root, study)
    if not path.is_file():
        return None
    import optuna

    storage = _storage(path)
    if study not in optuna.get_all_study_names(storage):
        return None
    spec: dict[str, Any] = optuna.load_study(study_name=study, storage=storage).user_attrs["spec"]
    return spec


class StudyRunner:
    """One study of one workspace: opens (or creates) its journal, runs trials within a budget, returns the result."""

    def __init__(
        self,
        name: str,
        spec: StudySpec,
        root: Path,
        base: SimulationConfig,
        base_overrides: Mapping[str, Any],
        evaluator: DesignEvaluator,
        progress: ProgressEmitter,
    ) -> None:
        self.name = name
        self.spec = spec
        self.path = journal_path(root, name)
        self.base = base
        self.base_overrides = dict(base_overrides)
        self.evaluator = evaluator
        self.progress = progress

    def run(self, *, trials: int | None, minutes: float | None, top: int) -> OptimizationResult:
        """Evaluate designs until the study has `trials` of them or `minutes` have passed; then simulate the top ones.

        A trial is a design evaluated (or refused by the config) for the first time in the
        study. A design the sampler proposes again is told its figures and does not count;
        a trial stopped by an interrupt or a failure does not count either, and its design
        may be proposed again on resume. The study also stops once every design of the
        search space is evaluated, or when the sampler proposes nothing new REPEATS_TO_SETTLE
        times in a row.
        """
        deadline = None if minutes is None else time.monotonic() + minutes * 60  # the call's time, opening included
        study = self._open(trials)
        records, repeats = self._records(study)
        self._require_current(records)
        resumed = len(records)
        space = design_count(self.spec.dimensions, self.base)
        self.progress.emit(
            StudyStarted(
                self.name,
                tuple(f"{o.direction} {o.term.text}" for o in self.spec.objectives),
                tuple(c.describe() for c in self.spec.constraints),
                tuple(d.text() for d in self.spec.dimensions),
                resumed,
                trials,
                minutes,
                self.spec.seeds,
                (self.spec.first_year, self.spec.last_year),
            )
        )
        by_scenario = {record.scenario: record for record in records}
        simulated = in_a_row = 0
        while True:
            if trials is not None and len(records) >= trials:
                stopped = f"its budget of {trials} trials"
                break
            if len(records) >= space:
                stopped = f"every one of the {space:.0f} designs of its search space is evaluated"
                break
            if deadline is not None and time.monotonic() >= deadline:
                stopped = f"its time budget of {minutes:g} minutes"
                break
            if in_a_row >= REPEATS_TO_SETTLE:
                stopped = f"the sampler proposed only designs already evaluated, {in_a_row} times in a row"
                break
            trial = study.ask()
            design = self._suggest(trial)
            overrides = design_overrides(self.base, self.base_overrides, design)
            scenario = scenario_name(self.name, overrides)
            earlier = by_scenario.get(scenario)
            if earlier is not None:
                self._repeat(study, trial, earlier)
                repeats, in_a_row = repeats + 1, in_a_row + 1
                continue
            record = self._trial(study, trial, records, trials, design, scenario, overrides)
            by_scenario[scenario] = record
            records.append(record)
            simulated, in_a_row = simulated + record.simulated, 0
        result = self._result(records, stopped, top=top, simulated=simulated, resumed=resumed, repeats=repeats)
        for index, chosen in enumerate(result.top, start=1):
            assert chosen.scenario is not None
            self.progress.emit(TopDesignStarted(self.name, chosen.scenario, index, len(result.top)))
            self.evaluator.prepare_compare(chosen.scenario)
        self.progress.emit(StudyFinished(self.name, len(records), len(result.feasible), stopped))
        return result

    def _require_current(self, records: list[TrialRecord]) -> None:
        """Refuse to go on from trials whose figures came from ensembles built on inputs that changed since.

        Their figures describe another workspace (another census, config or model) than
        this one; a study never mixes them with new trials.
        """
        sources = dict.fromkeys(record.source for record in records if record.source is not None)
        for source in sources:
            reason = self.evaluator.stale(source)
            if reason is not None:
                raise SimulationError(
                    f"study {self.name!r} was evaluated on inputs that changed since: the ensemble of its "
                    f"trials' scenario {source} is stale ({reason}), so its figures no longer describe this "
                    "workspace",
                    remediation=f"Start the study afresh under a new name (--study {self.name}_2, or study=...), or "
                    f"delete {STUDY_FOLDER}/{self.path.name} to start it again under its own: designs whose "
                    "ensembles are still current are read, the others simulated again.",
                )

    # -- one trial -------------------------------------------------------------------------

    def _trial(
        self,
        study: optuna.Study,
        trial: optuna.Trial,
        records: list[TrialRecord],
        budget: int | None,
        design: dict[str, Any],
        scenario: str,
        overrides: Mapping[str, Any],
    ) -> TrialRecord:
        """Evaluate a new design and tell the sampler; an interrupt or failure marks the trial failed and goes on up."""
        import optuna

        number = len(records) + 1
        text = describe_design(self.spec.dimensions, design)
        started = time.perf_counter()
        for key, value in (("design", design), ("scenario", scenario), ("trial", number)):
            trial.set_user_attr(key, value)
        try:
            self.progress.emit(TrialStarted(self.name, number, budget, text, scenario))
            record = self._evaluate(trial, number, design, scenario, overrides)
            if record.figures is None:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            else:
                study.tell(trial, list(record.figures.objectives))
        except BaseException:
            # Interrupted or failed: the trial does not count, and its design may be proposed again on resume.
            trial.set_user_attr("interrupted", True)
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            raise
        self.progress.emit(
            TrialFinished(
                self.name,
                number,
                budget,
                text,
                scenario,
                "refused" if record.figures is None else ("simulated" if record.simulated else "reused"),
                self._figures_text(record),
                record.feasible if record.figures else None,
                self._best_text([*records, record]),
                time.perf_counter() - started,
                record.note,
            )
        )
        return record

    def _repeat(self, study: optuna.Study, trial: optuna.Trial, earlier: TrialRecord) -> None:
        """A design proposed again: the sampler is told the figures it had (or that the config refused it)."""
        import optuna

        for key, value in (("design", earlier.design), ("scenario", earlier.scenario), ("repeat_of", earlier.trial)):
            trial.set_user_attr(key, value)
        if earlier.figures is None:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            return
        self._keep(trial, earlier.figures)
        study.tell(trial, list(earlier.figures.objectives))

    def _evaluate(
        self, trial: optuna.Trial, number: int, design: dict[str, Any], scenario: str, overrides: Mapping[str, Any]
    ) -> TrialRecord:
        try:
            self.evaluator.check(scenario, overrides)
        except ConfigurationError as refused:
            reason = f"refused by the config: {refused.message}"
            trial.set_user_attr("refused", reason)
            return TrialRecord(number, "refused", design, scenario, note=reason)
        evaluation = self.evaluator.evaluate(scenario, overrides)
        found = figures(self.spec, evaluation.metrics)
        undefined = [o.term.text for o, v in zip(self.spec.objectives, found.objectives, strict=True) if v != v]
        if undefined:
            why = f"{undefined[0]} is undefined for this design (no active employee in a year?)"
            trial.set_user_attr("refused", why)
            return TrialRecord(number, "refused", design, scenario, simulated=evaluation.simulated, note=why)
        trial.set_user_attr("simulated", evaluation.simulated)
        trial.set_user_attr("source", evaluation.source)
        note: str | None = None
        if not evaluation.simulated:
            note = _reused_note(scenario, evaluation.source)
            trial.set_user_attr("note", note)
        self._keep(trial, found)
        return TrialRecord(number, "evaluated", design, scenario, found, evaluation.simulated, note, evaluation.source)

    @staticmethod
    def _keep(trial: optuna.Trial, found: Figures) -> None:
        """The figures beside the trial: every term, and each constraint's slack, which the samplers read."""
        trial.set_user_attr("terms", found.terms)
        for index, violation in enumerate(found.violations):
            trial.set_constraint(str(index), violation)

    def _suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        """A design from the sampler, with only the levers that count in it (define-by-run).

        Switches and choices first: they decide which levers count (the catalogue's
        unused_levers); then the numbers that count. A switch or choice that does not
        count either is left out of the design, so two designs apart only there are one.
        """
        design: dict[str, Any] = {}
        for dimension in (d for d in self.spec.dimensions if d.step is None):
            design[dimension.key] = dimension.canonical(_suggest_value(trial, dimension))
        unused = unused_in(self.base, design)
        for dimension in (d for d in self.spec.dimensions if d.step is not None and d.key not in unused):
            design[dimension.key] = dimension.canonical(_suggest_value(trial, dimension))
        return {d.key: design[d.key] for d in self.spec.dimensions if d.key in design and d.key not in unused}

    # -- what the faces show ------------------------------------------------------------------

    def _figures_text(self, record: TrialRecord) -> str:
        if record.figures is None:
            return ""
        return ", ".join(f"{t.text} {t.format(record.figures.terms[t.text])}" for t in self.spec.terms)

    def _best_text(self, records: list[TrialRecord]) -> str:
        """Best so far (one objective) or the front's size (several), as the progress views show it."""
        feasible = [record for record in records if record.feasible]
        if not feasible:
            return "no feasible design yet"
        if len(self.spec.objectives) == 1:
            objective = self.spec.objectives[0]
            best = rank_single(feasible, objective.direction)[0]
            assert best.figures is not None
            return (
                f"best: trial {best.trial}, {objective.term.text} {objective.term.format(best.figures.objectives[0])}"
            )
        front = pareto_front(feasible, [o.direction for o in self.spec.objectives])
        return f"front: {len(front)} design{'s' if len(front) != 1 else ''}"

    def _result(
        self, records: list[TrialRecord], stopped: str, *, top: int, simulated: int, resumed: int, repeats: int
    ) -> OptimizationResult:
        directions = [objective.direction for objective in self.spec.objectives]
        feasible = [record for record in records if record.feasible]
        if len(directions) == 1:
            chosen = rank_single(feasible, directions[0])[:top]
        else:
            chosen = spread(pareto_front(feasible, directions), top)
        infeasible = self._infeasible(records) if records and not feasible else None
        return OptimizationResult(
            self.name,
            self.spec,
            tuple(records),
            stopped,
            tuple(chosen),
            simulated,
            resumed,
            repeats,
            infeasible,
        )

    def _infeasible(self, records: list[TrialRecord]) -> InfeasibleStudyError:
        """Why no design met every constraint: per constraint how many met it and the closest value, and what to do."""
        evaluated = [record for record in records if record.figures is not None]
        more = f"`planalign optimize --study {self.name} --trials {2 * len(records)}` continues it"
        if not evaluated:
            first = next((record.note for record in records if record.note), "")
            return InfeasibleStudyError(
                f"study {self.name!r}: the config refused every one of its {len(records)} designs ({first})",
                remediation=f"Narrow the lever ranges to values the config accepts together; then {more}.",
            )
        lines, never = [], []
        for constraint in self.spec.constraints:
            values = [(record.figures.terms[constraint.term.text], record) for record in evaluated]  # type: ignore[union-attr]
            met = [record for value, record in values if constraint.met(value)]
            if not met:
                never.append(constraint.describe())
            closest_value, closest = min(values, key=lambda pair: constraint.violation(pair[0]))
            lines.append(
                f"{constraint.describe()}: met by {len(met)} of {len(evaluated)} designs "
                f"(closest {constraint.term.format(closest_value)}, trial {closest.trial})"
            )
        why = (
            f"none met {' or '.join(never)}"
            if never
            else "each constraint was met by some design, never all of them at once: within these lever ranges "
            "they contradict each other"
        )
        return InfeasibleStudyError(
            f"study {self.name!r}: no design of its {len(records)} trials met every constraint; {why}.\n  "
            + "\n  ".join(lines),
            remediation=f"Loosen those constraints, widen the lever ranges, or give the study more trials ({more}).",
        )

    # -- storage ---------------------------------------------------------------------------------

    def _open(self, trials: int | None) -> optuna.Study:
        """The study from its journal, checked against this spec; created (with its sampler's sizing) when new."""
        import optuna

        self.path.parent.mkdir(parents=True, exist_ok=True)
        storage = _storage(self.path)
        directions = [objective.direction for objective in self.spec.objectives]
        if self.name in optuna.get_all_study_names(storage):
            stored = optuna.load_study(study_name=self.name, storage=storage)
            differences = self.spec.differences(stored.user_attrs["spec"])
            if differences:
                raise ConfigurationError(
                    f"study {self.name!r} exists with another spec ({'; '.join(differences)}): "
                    "its trials answered that one",
                    remediation=f"Give the new spec a new study name (--study {self.name}_2, or study=...), or "
                    f"resume this one as it was: `planalign optimize --study {self.name} --trials N` alone.",
                )
            sizing = int(stored.user_attrs["sizing"])
        else:
            sizing = _sizing(trials)
        sampler = _sampler(len(directions), sizing, self.spec.sampler_seed)
        study = optuna.create_study(
            storage=storage, sampler=sampler, study_name=self.name, directions=directions, load_if_exists=True
        )
        if "spec" not in study.user_attrs:
            study.set_user_attr("spec", self.spec.to_json())
            study.set_user_attr("sizing", sizing)
        for left in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            study.tell(left.number, state=optuna.trial.TrialState.FAIL)  # its process died: it does not count
        return study

    def _records(self, study: optuna.Study) -> tuple[list[TrialRecord], int]:
        """The study's trials (designs evaluated or refused), in order, and how many proposals repeated one."""
        import optuna

        records, repeats = [], 0
        for frozen in study.get_trials(deepcopy=False):
            attrs = frozen.user_attrs
            if "repeat_of" in attrs:
                repeats += 1
                continue
            number, design, scenario = int(attrs.get("trial", 0)), dict(attrs.get("design", {})), attrs.get("scenario")
            if frozen.state == optuna.trial.TrialState.COMPLETE:
                slack = frozen.constraints
                found = Figures(
                    dict(attrs["terms"]), tuple(frozen.values), tuple(slack[str(i)] for i in range(len(slack)))
                )
                simulated = bool(attrs.get("simulated", False))
                note, source = attrs.get("note"), attrs.get("source")
                records.append(TrialRecord(number, "evaluated", design, scenario, found, simulated, note, source))
            elif "refused" in attrs:
                records.append(TrialRecord(number, "refused", design, scenario, note=str(attrs["refused"])))
        return records, repeats


def _reused_note(scenario: str, source: str) -> str:
    """Where a design's figures came from when nothing was simulated for it."""
    if source == scenario:
        return "its stored ensemble reused"
    return f"the current ensemble of scenario {source} (the same design) reused"


def _suggest_value(trial: optuna.Trial, dimension: Dimension) -> Any:
    """The sampler's value for a dimension: on its grid for a number, one of its options otherwise."""
    step = dimension.step
    if step is None:
        return trial.suggest_categorical(dimension.key, list(dimension.values))
    if dimension.integer:
        return trial.suggest_int(dimension.key, dimension.low, dimension.high, step=round(step))
    return trial.suggest_float(dimension.key, dimension.low, dimension.high, step=step)


def _sizing(trials: int | None) -> int:
    """The budget the sampler is sized for (recorded with the study, so a resumed study samples alike)."""
    return trials if trials is not None else SIZING_TRIALS


def _sampler(objectives: int, sizing: int, seed: int) -> optuna.samplers.BaseSampler:
    """TPE for one objective, NSGA-II for several; random start and generations sized to the budget, seeded.

    TPE explores randomly for a third of the budget (3 to 10 trials) before it models
    the good designs; NSGA-II's generations are a third of the budget (4 to 50
    designs), so a small budget still breeds a few generations.
    """
    import optuna

    share = sizing // 3
    if objectives == 1:
        return optuna.samplers.TPESampler(n_startup_trials=max(3, min(10, share)), seed=seed)
    return optuna.samplers.NSGAIISampler(population_size=max(4, min(50, share)), seed=seed)


def _storage(path: Path) -> optuna.storages.BaseStorage:
    """The study's journal file, in Optuna's JournalStorage.

    Optuna is imported here, when a study is opened (it costs a fraction of a second),
    and told to log warnings only: the faces report every trial themselves.
    """
    import optuna
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))
