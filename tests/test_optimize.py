"""Finding the plan design (issue 28) on real dbt and DuckDB: the known answer, the front, resuming, the terminal.

The known-answer problem: the cheapest design that keeps participation at 79% or more,
moving plan.opt_out_rate over 0-60% in steps of 2 points (31 designs), with 3 seeds of
2025 on a generated 400-employee census. The model makes the answer
monotone: a new hire enrolls when a uniform draw, fixed per employee and year, is at
least the opt-out share, and who is hired does not depend on the plan; so a higher
opt-out share enrolls a subset of the same people, lowering participation and the
match the employer pays, in every seed and year. The answer is the largest share
whose participation still reaches the threshold; the study gets 15 trials, fewer than
half the grid (tests/conftest.py: optimize_template runs it once per session).

Figures the tests compare with are computed here from ensembles run outside the study,
or read from the database with duckdb, never through the optimizer's own code.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from planalign_orchestrator.cli import main
from planalign_orchestrator.dbt_runner import DbtRunner
from planalign_orchestrator.exceptions import SimulationError
from planalign_orchestrator.progress import ProgressEvent, TrialStarted, YearStarted
from planalign_orchestrator.session import WorkspaceSession
from planalign_orchestrator.views import OptimizationResult
from tests.conftest import KNOWN_ANSWER, KNOWN_ANSWER_TRIALS, OPTIMIZE_SEEDS, OPTIMIZE_YEARS, copy_workspace
from tests.support.helpers import edit_config

pytestmark = pytest.mark.dbt

STEP = 0.02
THRESHOLD = 0.79
FIRST, LAST = OPTIMIZE_YEARS


def participation(session: WorkspaceSession, name: str, opt_out: float) -> float:
    """Participation of a design as the study reads it, from an ensemble run here as an ordinary scenario.

    Each seed's mean over the years, then the mean of the seeds.
    """
    result = session.for_scenario(name, {"plan.opt_out_rate": round(opt_out, 6)}).ensemble(
        FIRST, LAST, seeds=OPTIMIZE_SEEDS
    )
    frame = result.metrics[result.metrics["year"].between(FIRST, LAST)]
    return float(frame.groupby("seed")["participation_rate"].mean().mean())


def known_study(root: Path, **options: Any) -> OptimizationResult:
    """The template's study again: it has its trials already, so this reads them (and adds any the budget allows)."""
    return WorkspaceSession.open(root, create=False).optimize(
        **KNOWN_ANSWER, study="cheapest", trials=options.pop("trials", KNOWN_ANSWER_TRIALS), top=2, **options
    )


# -- 1. the known answer, within one lever step ------------------------------------------------------


def test_the_study_finds_the_cheapest_opt_out_that_keeps_participation_within_one_step(
    optimize_template: Path, tmp_path: Path
) -> None:
    workspace = copy_workspace(optimize_template, tmp_path / "known")
    result = known_study(workspace.root)
    best = result.best
    assert best is not None
    found = best.design["plan.opt_out_rate"]

    session = WorkspaceSession(workspace)
    assert participation(session, "check_found", found) >= THRESHOLD
    assert participation(session, "check_two_steps_on", found + 2 * STEP) < THRESHOLD
    # So the largest feasible share, the cheapest design, is `found` or one step above it.
    assert len(result.trials) == KNOWN_ANSWER_TRIALS
    assert len({trial.scenario for trial in result.trials}) == KNOWN_ANSWER_TRIALS, "15 different designs"


def test_the_top_designs_are_scenarios_that_compare_takes(optimize_template: Path, tmp_path: Path) -> None:
    workspace = copy_workspace(optimize_template, tmp_path / "compare")
    result = known_study(workspace.root)

    assert len(result.scenarios) == 2
    assert result.scenarios[0] == result.best.scenario  # type: ignore[union-attr]
    comparison = WorkspaceSession(workspace).compare(result.scenarios, FIRST, LAST)
    compared = comparison.metrics
    assert set(compared["scenario"]) == set(result.scenarios)
    assert set(compared["year"]) == {FIRST, LAST}
    saved = (workspace.root / "scenarios" / f"{result.scenarios[0]}.yaml").read_text()
    assert f"plan.opt_out_rate: {result.best.design['plan.opt_out_rate']}" in saved  # type: ignore[union-attr]


# -- 2. two objectives: a front no evaluated design dominates ---------------------------------------


def test_a_two_objective_study_reports_a_front_that_no_evaluated_design_dominates(
    optimize_template: Path, tmp_path: Path
) -> None:
    workspace = copy_workspace(optimize_template, tmp_path / "front")
    result = WorkspaceSession(workspace).optimize(
        ["min employer_cost_rate", "max participation_rate"],
        [],
        ["plan.opt_out_rate=0:0.6:0.1", "plan.match_rate=0.25:1:0.25"],
        study="tradeoff",
        trials=10,
        seeds=OPTIMIZE_SEEDS,
        start_year=FIRST,
        end_year=FIRST,
        top=0,
    )

    # Each evaluated design's objectives, recomputed from the per-seed metrics its figures came from (its own
    # ensemble, or that of the known-answer study's trial of the same design).
    with duckdb.connect(str(workspace.database_path), read_only=True) as conn:
        rows = conn.execute(
            "select scenario, seed, metric, value from main.ensemble_year_metrics "
            "where year = ? and metric in ('employer_cost_rate', 'participation_rate')",
            [FIRST],
        ).fetchall()
    values: dict[str, dict[str, list[float]]] = {}
    for scenario, _seed, name, value in rows:
        values.setdefault(scenario, {}).setdefault(name, []).append(value)
    points = {}
    for trial in result.trials:
        assert trial.source is not None
        stored = values[trial.source]
        points[trial.scenario] = (
            sum(stored["employer_cost_rate"]) / OPTIMIZE_SEEDS,
            sum(stored["participation_rate"]) / OPTIMIZE_SEEDS,
        )
    assert len(points) == 10

    def beats(a: tuple[float, float], b: tuple[float, float]) -> bool:
        return a[0] <= b[0] and a[1] >= b[1] and a != b

    front = {trial.scenario for trial in result.front}
    assert front
    for name in front:
        assert not any(beats(points[other], points[name]) for other in points), f"{name} is dominated"
    for name in set(points) - front:
        assert any(beats(points[member], points[name]) for member in front), f"{name} belongs on the front"
    for trial in result.trials:
        assert trial.figures is not None
        assert trial.figures.objectives == pytest.approx(points[trial.scenario])


# -- 3. a stopped study resumes from its trials without simulating them again ------------------------


class StopAt:
    """A progress observer that interrupts the study while trial `number` is being simulated (as Ctrl-C would)."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.in_trial = 0

    def __call__(self, event: ProgressEvent) -> None:
        if isinstance(event, TrialStarted):
            self.in_trial = event.number
        if isinstance(event, YearStarted) and self.in_trial == self.number:
            raise KeyboardInterrupt


def test_a_stopped_study_resumes_from_its_trials_without_simulating_them_again(
    optimize_template: Path, tmp_path: Path
) -> None:
    workspace = copy_workspace(optimize_template, tmp_path / "resume")
    # A lever the template's study does not move, so no trial finds its design's ensemble there.
    spec = {
        **KNOWN_ANSWER,
        "levers": ["plan.match_rate=0.25:1:0.05"],
        "start_year": FIRST,
        "end_year": FIRST,
        "study": "stopped",
        "top": 0,
    }

    with pytest.raises(KeyboardInterrupt):
        WorkspaceSession(workspace).optimize(**spec, trials=5, on_progress=StopAt(3))
    kept = WorkspaceSession(workspace).optimize(**spec, trials=2)  # what the stopped study holds; runs nothing
    before = DbtRunner.invocation_count
    resumed = WorkspaceSession(workspace).optimize(**spec, trials=5)
    simulated_now = DbtRunner.invocation_count - before

    assert (kept.resumed, kept.simulated) == (2, 0)
    assert [trial.simulated for trial in kept.trials] == [True, True], "simulated by the stopped call"
    assert resumed.resumed == 2
    assert [trial.trial for trial in resumed.trials] == [1, 2, 3, 4, 5]
    assert resumed.trials[:2] == kept.trials, "trials 1-2 as the stopped call left them"
    assert resumed.simulated == sum(trial.simulated for trial in resumed.trials[2:])
    assert simulated_now == resumed.simulated * 1, "one dbt invocation per year of each new trial, none for 1-2"

    before = DbtRunner.invocation_count
    again = WorkspaceSession(workspace).optimize(**spec, trials=5)
    assert DbtRunner.invocation_count == before
    assert (again.resumed, again.simulated, len(again.trials)) == (5, 0, 5)
    assert [t.figures for t in again.trials] == [t.figures for t in resumed.trials]


def test_a_design_another_study_evaluated_is_read_from_its_ensemble_not_simulated_again(
    optimize_template: Path, tmp_path: Path
) -> None:
    workspace = copy_workspace(optimize_template, tmp_path / "twins")
    spec: dict[str, Any] = {
        "objectives": ["min employer_cost_rate"],
        # A chance constraint on a flag the ensemble keeps per seed: 2025's IRS limits are published.
        "constraints": ["share(irs_limits_estimated) <= 0.05"],
        "levers": ["plan.auto_escalation"],
        "seeds": 2,
        "start_year": FIRST,
        "end_year": FIRST,
        "top": 0,
    }
    first = WorkspaceSession(workspace).optimize(**spec, study="escalation")
    before = DbtRunner.invocation_count
    second = WorkspaceSession(workspace).optimize(**spec, study="escalation_again")

    assert DbtRunner.invocation_count == before
    assert first.stopped == second.stopped == "every one of the 2 designs of its search space is evaluated"
    assert [trial.simulated for trial in second.trials] == [False, False]
    twins = {trial.design["plan.auto_escalation"]: trial.scenario for trial in first.trials}
    for trial in second.trials:
        assert trial.scenario.startswith("escalation_again_")  # type: ignore[union-attr]
        assert trial.source == twins[trial.design["plan.auto_escalation"]]
        assert trial.note == f"the current ensemble of scenario {trial.source} (the same design) reused"
    assert {t.design["plan.auto_escalation"]: t.figures for t in second.trials} == {
        t.design["plan.auto_escalation"]: t.figures for t in first.trials
    }
    assert [trial.figures.terms["share(irs_limits_estimated)"] for trial in first.trials] == [0.0, 0.0]  # type: ignore[union-attr]
    assert all(trial.feasible for trial in first.trials)


def test_a_study_whose_trials_were_built_on_inputs_that_changed_since_is_not_resumed(
    optimize_template: Path, tmp_path: Path
) -> None:
    workspace = edit_config(copy_workspace(optimize_template, tmp_path / "changed"), "workforce.termination_rate", 0.2)

    with pytest.raises(SimulationError) as refused:
        known_study(workspace.root)

    error = refused.value
    assert "study 'cheapest' was evaluated on inputs that changed since" in error.message
    assert "workforce.termination_rate" in error.message
    assert "--study cheapest_2" in error.remediation


def test_a_study_run_again_without_its_journal_reads_every_design_from_the_workspace(
    optimize_template: Path, tmp_path: Path
) -> None:
    """The same spec and sampler seed propose the same designs, and each scenario's ensemble is still current."""
    workspace = copy_workspace(optimize_template, tmp_path / "again")
    first = known_study(workspace.root)
    shutil.rmtree(workspace.root / "optimize")

    before = DbtRunner.invocation_count
    again = known_study(workspace.root)

    assert DbtRunner.invocation_count == before, "nothing simulated: not the trials, not the top designs"
    assert again.resumed == 0
    assert again.simulated == 0
    assert [(t.design, t.figures) for t in again.trials] == [(t.design, t.figures) for t in first.trials]


def test_a_time_budget_stops_the_study_before_it_starts_another_trial(optimize_template: Path, tmp_path: Path) -> None:
    """The budget counts from the call: opening the study's journal alone outlasts 1e-6 minutes (60 µs)."""
    workspace = copy_workspace(optimize_template, tmp_path / "minutes")
    before = DbtRunner.invocation_count

    result = WorkspaceSession(workspace).optimize(study="cheapest", trials=None, minutes=1e-6, top=0)

    assert result.stopped == "its time budget of 1e-06 minutes"
    assert (result.resumed, len(result.trials)) == (KNOWN_ANSWER_TRIALS, KNOWN_ANSWER_TRIALS)
    assert DbtRunner.invocation_count == before


# -- the terminal ----------------------------------------------------------------------------------------


def test_the_command_resumes_a_study_by_name_with_live_lines_and_the_top_designs(
    optimize_template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = copy_workspace(optimize_template, tmp_path / "cli")
    args = ["optimize", "--workspace", str(workspace.root), "--study", "cheapest", "--trials", "16", "--top", "1"]

    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Study cheapest: minimize employer_cost_rate subject to participation_rate >= 79.00%." in out
    assert "resumed with 15 trials" in out
    assert "Trial 16/16: plan.opt_out_rate=" in out
    assert "best: trial" in out
    assert "Best design: trial" in out
    assert "Top designs:" in out
    assert "Resume or extend it: `planalign optimize --study cheapest --trials 32`." in out


def test_constraints_no_design_meets_exit_2_naming_each_constraint_and_how_close_it_came(
    optimize_template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = copy_workspace(optimize_template, tmp_path / "infeasible")
    args = [
        "optimize",
        "--workspace",
        str(workspace.root),
        "--objective",
        "min employer_cost_rate",
        "--constraint",
        "participation_rate >= 95%",
        "--lever",
        "plan.opt_out_rate=0:0.6:0.02",
        "--seeds",
        "2",
        "--years",
        "2025-2025",
        "--trials",
        "2",
        "--study",
        "impossible",
    ]

    assert main(args) == 2
    captured = capsys.readouterr()
    assert "No feasible design among its 2 trials" in captured.out
    assert "Error: study 'impossible': no design of its 2 trials met every constraint;" in captured.err
    assert "none met participation_rate >= 95.00%." in captured.err
    assert "participation_rate >= 95.00%: met by 0 of 2 designs (closest" in captured.err
    assert "To fix: Loosen those constraints, widen the lever ranges, or give the study more trials" in captured.err


def test_a_study_from_a_scenario_keeps_its_overrides_in_every_design_and_resumes_from_it_by_name(
    optimize_template: Path, tmp_path: Path
) -> None:
    workspace = copy_workspace(optimize_template, tmp_path / "based")
    richer = WorkspaceSession(workspace).for_scenario("richer", {"plan.match_rate": 0.75})
    spec: dict[str, Any] = {"seeds": 2, "start_year": FIRST, "end_year": FIRST, "top": 0}
    first = richer.optimize(["min employer_cost_rate"], [], ["plan.auto_escalation"], study="from_richer", **spec)

    for trial in first.trials:
        saved = (workspace.root / "scenarios" / f"{trial.scenario}.yaml").read_text()
        assert "plan.match_rate: 0.75" in saved
    before = DbtRunner.invocation_count
    again = WorkspaceSession(workspace).optimize(study="from_richer", top=0)  # the baseline's session, by name

    assert DbtRunner.invocation_count == before
    assert again.spec.base == "richer"
    assert [t.figures for t in again.trials] == [t.figures for t in first.trials]
