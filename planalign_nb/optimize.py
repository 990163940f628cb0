"""Finding the plan design in a notebook: `nb.optimize(...)` with live progress, and the view it returns.

The engine (WorkspaceSession.optimize) checks the spec, proposes the designs, evaluates
each as a scenario's seed ensemble and finds the best design or the Pareto front; this
module shows the study's progress (trial k of N, the best so far) and draws the trials
(feasible against infeasible) with the front.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from planalign_nb.charts import neutral_figure, tick_format, title
from planalign_nb.errors import raise_for_notebook
from planalign_nb.live import LiveDisplay
from planalign_nb.progress_widget import LiveRunWidget
from planalign_nb.rendering import (
    MUTED,
    ErrorReport,
    Snapshot,
    barline,
    code,
    css,
    error_report,
    escape,
    format_seconds,
    frame,
    header,
    icon,
    node_line,
    notebook_call,
    record_timings,
    seconds_cell,
    state_class,
    state_row,
    styled,
    table,
    workspace_reference,
)
from planalign_nb.runs import RunObserver, WaitNotice, initialization_view
from planalign_orchestrator.progress import (
    ItemState,
    OptimizationRun,
    StudyStarted,
    TrialProgress,
    utc_now,
)

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from planalign_nb.api import WorkspaceLike
    from planalign_orchestrator.views import OptimizationResult, Term


class OptimizationProgress(LiveRunWidget[OptimizationRun]):
    """Live progress of a study: trial k of N, the best design so far, what is being simulated, one row per trial.

    What the events add up to is the engine's OptimizationRun; the widget draws it, and
    its record (`snapshot()`) is the live view without the clock.
    """

    def __init__(self, *, root: Path | None = None, clock: Callable[[], datetime] = utc_now) -> None:
        self._root = root
        self._clock = clock
        self._lock = threading.RLock()
        self.run = OptimizationRun()
        self.body = styled(widgets.HTML(), "optimization-view")
        super().__init__(children=[self.body])
        styled(self, "optimization-widget")
        self._render()

    def _title(self) -> str:
        run = self.run
        started = run.started
        name = started.study if started is not None else ""
        finished = run.finished
        if finished is not None:
            return f"Study {name} stopped: {finished.reason}; {finished.feasible} of {finished.trials} trials feasible"
        if run.outcome is not None:
            return f"Study {name} {run.outcome} after {run.done} trial{'s' if run.done != 1 else ''}"
        if started is None:
            return "Study: opening"
        budget = f" of {started.budget}" if started.budget else ""
        current = run.running()
        number = current.number if current is not None else run.done
        return f"Study {name}: trial {number}{budget}"

    def _meta(self, live: bool) -> list[str]:
        run = self.run
        meta = [f"{run.fraction:.0%}"] if live and run.started and run.started.budget else []
        if live and run.started_at is not None and run.outcome is None:
            meta.append(format_seconds((self._clock() - run.started_at).total_seconds()))
        return meta + ([run.best] if run.best else [])

    def _about(self) -> str:
        started = self.run.started
        if started is None:
            return ""
        goals = " and ".join(started.objectives)
        subject = f" subject to {', '.join(started.constraints)}" if started.constraints else ""
        first, last = started.years
        resumed = f"; resumed with {started.resumed} trials" if started.resumed else ""
        return f"{goals}{subject}; {', '.join(started.levers)}; {started.seeds} seeds, {first}-{last}{resumed}"

    def _trial_seconds(self, trial: TrialProgress, live: bool) -> float | None:
        if trial.state is ItemState.RUNNING and trial.started_at is not None:
            return (self._clock() - trial.started_at).total_seconds() if live else None
        return trial.seconds if live or record_timings() else None

    def _html(self, live: bool) -> str:
        rows = [
            state_row(
                f"{css('trial', f'trial-{trial.number}')} {state_class(trial.state)}",
                trial.state,
                icon(trial.state),
                f"trial {trial.number}",
                escape(trial.design),
                escape(trial.describe()),
                seconds_cell(self._trial_seconds(trial, live)),
            )
            for trial in self.run.trials
        ]
        error = self.error
        classes = css("optimization") if live else css("optimization", "record")
        about = f"<div style='{MUTED}'>{escape(self._about())}</div>" if self._about() else ""
        return frame(
            classes,
            f"{header(self._title())}{about}{barline(self.run.fraction, self.run.outcome, self._meta(live))}"
            f"{node_line(self.run.stage)}{table(rows)}{error.html() if error else ''}",
        )

    def _render(self) -> None:
        self.body.value = self._html(live=True)

    def snapshot(self) -> Snapshot:
        """The study's progress as a record: without the clock (and without seconds when they are off)."""
        with self._lock:
            text = [self._title()]
            text += [f"  {self._about()}"] if self._about() else []
            text += [f"  {self.run.best}"] if self.run.best else []
            for trial in self.run.trials:
                seconds = format_seconds(self._trial_seconds(trial, live=False))
                line = f"  {icon(trial.state)} trial {trial.number} {trial.design}: {trial.describe()}  {seconds}"
                text.append(line.rstrip())
            error = self.error
            text += [f"  {line}" for line in error.text_lines()] if error else []
            return Snapshot("\n".join(text), self._html(live=False))

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle.update(self.snapshot()._repr_mimebundle_())
        return bundle


class OptimizationView:
    """A study's result: shows as the top designs; `.chart()`, `.table`, `.trials`, `.front`, `.scenarios`, `.best`.

    `.scenarios` are the top designs' scenario names, simulated with the config's seed:
    `nb.compare(ws, ["baseline", *view.scenarios])` compares them year by year.
    """

    def __init__(self, result: OptimizationResult, workspace: str = "workspace") -> None:
        self.result = result
        self._workspace = workspace

    @property
    def table(self) -> pd.DataFrame:
        """The top designs, formatted: rank, trial, scenario, lever values and figures."""
        return self.result.table()

    @property
    def trials(self) -> pd.DataFrame:
        """Every trial: its design, scenario, each term's value, feasible, whether it was simulated, why refused."""
        return self.result.frame()

    @property
    def front(self) -> pd.DataFrame:
        """The Pareto front's trials (one objective: the best design), as rows of `.trials`."""
        if len(self.result.spec.objectives) > 1:
            numbers = [trial.trial for trial in self.result.front]
        else:
            best = self.result.best
            numbers = [best.trial] if best is not None else []
        return self.trials.loc[numbers]

    @property
    def scenarios(self) -> list[str]:
        """The top designs' scenario names, best first: what `nb.compare` takes (with the baseline)."""
        return self.result.scenarios

    @property
    def best(self) -> pd.Series | None:
        """The best design's row of `.trials` (one objective); None for several objectives or no feasible design."""
        import pandas as pd

        best = self.result.best
        if best is None:
            return None
        row = self.trials.loc[best.trial]
        assert isinstance(row, pd.Series)  # the trial numbers are the index, each once
        return row

    @property
    def infeasible(self) -> ErrorReport | None:
        """Why no design met every constraint, and what to do (None when some did)."""
        problem = self.result.infeasible
        return None if problem is None else error_report(problem, None)

    def chart(self, x: str | None = None, y: str | None = None) -> Figure:
        """The trials on two of the study's terms: feasible filled, infeasible hollow, the front or the best marked.

        Defaults: two objectives against each other; one objective against its first
        constraint's term (the trade-off the constraint cuts), or against the trial
        number. Constraint bounds on either axis are drawn as dashed lines, and the top
        designs carry their trial numbers. `x`/`y` take any term of the study, or "trial".
        """
        spec = self.result.spec
        terms = {term.text: term for term in spec.terms}
        objectives = [objective.term.text for objective in spec.objectives]
        y = y or (objectives[1] if len(objectives) > 1 else objectives[0])
        x = x or (
            objectives[0] if len(objectives) > 1 else (spec.constraints[0].term.text if spec.constraints else "trial")
        )
        for name in (x, y):
            if name != "trial" and name not in terms:
                raise ValueError(f"{name!r} is not a term of this study; one of: trial, {', '.join(terms)}")
        trials = self.trials
        evaluated = trials[trials["state"] == "evaluated"]
        feasible = evaluated[evaluated["feasible"].astype(bool)]
        infeasible = evaluated[~evaluated["feasible"].astype(bool)]
        figure, axis = neutral_figure(1, 1, figsize=(6.4, 4.4))

        def column(rows: pd.DataFrame, name: str) -> Any:
            return rows.index if name == "trial" else rows[name]

        axis.scatter(column(feasible, x), column(feasible, y), color="C0", s=28, label="feasible", zorder=3)
        axis.scatter(
            column(infeasible, x),
            column(infeasible, y),
            facecolors="none",
            edgecolors="#999999",
            s=28,
            label="infeasible",
            zorder=2,
        )
        front = self.front
        if len(spec.objectives) > 1:
            ordered = front.sort_values(x) if x != "trial" else front
            axis.plot(
                column(ordered, x),
                column(ordered, y),
                color="C1",
                marker="o",
                linewidth=1.5,
                label="Pareto front",
                zorder=4,
            )
        elif len(front):
            axis.scatter(column(front, x), column(front, y), color="C1", marker="*", s=160, label="best", zorder=5)
        for trial in self.result.top:
            row = trials.loc[trial.trial]
            where = (trial.trial if x == "trial" else row[x], trial.trial if y == "trial" else row[y])
            axis.annotate(f"{trial.trial}", where, textcoords="offset points", xytext=(5, 5), fontsize=8)
        for constraint in spec.constraints:
            if constraint.term.text == x:
                axis.axvline(constraint.bound, color="C3", linestyle="--", linewidth=1, label=constraint.describe())
            if constraint.term.text == y:
                axis.axhline(constraint.bound, color="C3", linestyle="--", linewidth=1, label=constraint.describe())
        _label(axis, "x", x, terms.get(x), evaluated)
        _label(axis, "y", y, terms.get(y), evaluated)
        axis.legend()
        title(axis, f"Study {self.result.study}: {len(evaluated)} designs, {len(feasible)} feasible")
        return figure

    def _compare_call(self) -> str | None:
        """The notebook call that compares the top designs with the baseline (None when none was simulated)."""
        if not self.scenarios:
            return None
        return f"nb.compare({self._workspace!r}, {['baseline', *self.scenarios]!r})"

    def __repr__(self) -> str:
        call = self._compare_call()
        hint = f"Compare the top designs (simulated with the config's seed): {call}" if call else None
        problem = self.infeasible
        return "\n".join([self.result.render(hint), *(problem.text_lines() if problem else [])])

    def _repr_html_(self) -> str:
        problem = self.infeasible
        panel = problem.html() if problem else ""
        more = f"the trials drawn: {code('.chart()')}; every trial: {code('.trials')}."
        call = self._compare_call()
        hint = f"Compare the top designs (simulated with the config's seed): {code(call)}; {more}" if call else more
        return f"{self.result._repr_html_()}{panel}<div style='{MUTED}'>{hint[0].upper()}{hint[1:]}</div>"


def _label(axis: Axes, which: str, name: str, term: Term | None, rows: pd.DataFrame) -> None:
    """An axis's label and ticks: the term's metric, in its format, or plain trial numbers."""
    if term is None:
        getattr(axis, f"set_{which}label")("trial")
        return
    values = [float(value) for value in rows[name]]
    getattr(axis, f"{which}axis").set_major_formatter(tick_format(term.shown, values))
    statistic = "" if term.statistic in ("mean", "share") else f", {term.statistic.upper()} of the seeds"
    getattr(axis, f"set_{which}label")(f"{term.shown.label}{statistic}")


def optimize(
    workspace: WorkspaceLike,
    objectives: Sequence[str] = (),
    constraints: Sequence[str] = (),
    levers: Mapping[str, Any] | Sequence[str] = (),
    *,
    study: str | None = None,
    trials: int | None = None,
    minutes: float | None = None,
    seeds: int = 10,
    start_year: int | None = None,
    end_year: int | None = None,
    scenario: str | None = None,
    top: int = 3,
    sampler_seed: int = 0,
    min_seeds: int = 10,
    wait_seconds: float = 0.0,
    **initializer_options: Any,
) -> OptimizationView:
    """Search the levers for the designs that best meet `objectives` under `constraints`, with live progress.

    `objectives`: ["min employer_cost_rate"] (two or more give the Pareto front);
    `constraints`: ["participation_rate >= 0.80", "p90(employer_cost_rate) <= 3%"];
    `levers`: {"plan.opt_out_rate": (0, 0.6, 0.02), "plan.match_tiers": None} or the
    terminal's texts ["plan.opt_out_rate=0:0.6:0.02"]. Each design is a scenario
    (named after the study) evaluated as an ensemble of `seeds` seeds over start..end.
    The study stops at `trials` trials (20 when neither budget is given) or after
    `minutes`, is kept in the workspace (optimize/<study>.journal) and resumes with the
    same call, or with `study=` alone. The `top` designs are simulated with the config's
    seed for `nb.compare`. `scenario` is the scenario the designs start from. A bad spec
    is refused before anything runs, naming what to change. Returns an OptimizationView.
    """
    from planalign_nb.api import _folder, open_workspace

    try:
        session = open_workspace(workspace, **initializer_options)
        if scenario is not None:
            session = session.for_scenario(scenario)
    except BaseException as error:
        raise_for_notebook(error, cancelled="optimization cancelled", root=_folder(workspace), panel=False)
    root = session.root
    initialization = initialization_view(session)
    progress = LiveDisplay(OptimizationProgress(root=root))
    observer = WaitNotice(RunObserver(initialization, progress, shown_on=StudyStarted))
    try:
        result = session.optimize(
            objectives,
            constraints,
            levers,
            study=study,
            trials=trials,
            minutes=minutes,
            seeds=seeds,
            start_year=start_year,
            end_year=end_year,
            min_seeds=min_seeds,
            sampler_seed=sampler_seed,
            top=top,
            on_progress=observer,
            wait_seconds=wait_seconds,
        )
    except BaseException as error:
        started = progress.view.run.started is not None
        if started:
            progress.view.fail(error)
        name = progress.view.run.started.study if progress.view.run.started else study
        call = notebook_call("optimize", {"study": name} if name else {}, workspace_reference(root))
        raise_for_notebook(
            error,
            cancelled=f"optimization cancelled; run {call} again: its finished trials are kept",
            root=root,
            panel=started,
        )
    finally:
        initialization.finish()
        progress.finish()
    return OptimizationView(result, workspace_reference(root))
