"""The terminal face: `planalign init | status | plan | simulate | scenarios | compare | compliance | census generate`.

`simulate --seeds N` (or --seed-list) runs a seed ensemble, on a Dask cluster with --scheduler.
`optimize` searches the levers for the plan design that meets objectives and constraints.
Calibration from a census history: `planalign study | fit | backtest --history DIR` and
`planalign census history` (a history simulated from known assumptions).

It only parses arguments, subscribes a TerminalConsole to the engine's progress
events and maps errors to exit codes; every check, step and message comes from the
engine. Exit codes: 0 success, 1 `status` found something missing, empty, stale or
unknown, 2 a PlanAlign error (message and remediation on stderr, once; a full disk
too), 3 the workspace is busy (another process is initializing or simulating it: a
reader leaves the database alone, a second `init` or `simulate` does not start unless
given `--wait`), 130 interrupted (one line on stderr).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import re
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, assert_never

from planalign_orchestrator.exceptions import (
    ConcurrentInitializationError,
    ConfigurationError,
    HookError,
    PlanAlignError,
    WorkspaceBusyError,
)
from planalign_orchestrator.progress import (
    CANCELLED,
    DEFAULT_WAIT_SECONDS,
    SIMULATE_STEP,
    DbtPreparationFinished,
    DbtPreparationStarted,
    EnsembleChunkFinished,
    EnsembleYearFinished,
    InitializationFinished,
    InitializationRun,
    NodeFinished,
    NodeStarted,
    OptimizationRun,
    ProgressEvent,
    SimulationRun,
    StepFinished,
    StepStarted,
    StudyFinished,
    StudyStarted,
    TopDesignStarted,
    TrialFinished,
    TrialStarted,
    WaitingForWorkspace,
    WorkspaceAcquired,
    YearFinished,
    YearStarted,
)

if TYPE_CHECKING:
    from planalign_orchestrator.session import WorkspaceSession

EXIT_OK, EXIT_MISSING, EXIT_ERROR, EXIT_BUSY, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
CANCELLED_LINE = "Cancelled; run again to heal"
STATUS_EXIT_CODES = f"""\
exit codes:
  {EXIT_OK}    every required table and simulated year is up to date
  {EXIT_MISSING}    something is missing, empty, stale or unknown (or there is no workspace yet)
  {EXIT_ERROR}    an error, e.g. a damaged database (the message says what to do)
  {EXIT_BUSY}    busy: another process is initializing or simulating this workspace;
       the database is not opened meanwhile, so status never makes that run fail
       (a second `init` or `simulate` is refused the same way; `--wait` waits)
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C)"""


class TerminalConsole:
    """Prints a run's progress as lines; the terminal twin of the notebook widgets.

    Both faces render the engine's run-state model (InitializationRun, SimulationRun):
    the widgets draw it whole, the console prints what each event changed in it.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.initialization = InitializationRun()
        self.simulation = SimulationRun(0, -1)  # years are added as the engine runs them
        self.optimization = OptimizationRun()
        self._study_checks = 0  # initializations finished since the study started

    def __call__(self, event: ProgressEvent) -> None:
        self.initialization.apply(event)
        self.simulation.apply(event)
        self.optimization.apply(event)
        line = self._line(event)
        if line is not None:
            print(line, file=self.stream, flush=True)

    def _line(self, event: ProgressEvent) -> str | None:
        if self.optimization.started is not None and self._trial_detail(event):
            return None  # a study is a line per trial: its years, and checks after the first, are detail
        match event:
            case StudyStarted() | TrialStarted() | TrialFinished() | TopDesignStarted() | StudyFinished():
                return self._study_line(event)
            case StepStarted():
                return f"[{event.index}/{event.total}] {event.display_name}..."
            case StepFinished(success=True):
                return f"      done ({self.initialization.steps[event.step_name].seconds or 0:.2f}s)"
            case StepFinished():
                # An interrupt is reported once, as one line, by run(); a failure once, with its fix, by main().
                return None if event.error == CANCELLED else f"      FAILED ({event.duration_seconds:.2f}s)"
            case WaitingForWorkspace() if not event.waited_seconds:
                holders = "; ".join(event.runs)
                return f"Waiting for the workspace (up to {event.limit_seconds:,.0f} s): busy: {holders}"
            case WaitingForWorkspace():
                return f"      still waiting ({event.waited_seconds:,.0f} s)..."
            case WorkspaceAcquired():
                return f"      the workspace is free (waited {event.waited_seconds:,.1f} s)"
            case DbtPreparationStarted():
                what = "first run in this process" if event.importing else "parsing the project"
                return f"      preparing dbt ({what})..."
            case DbtPreparationFinished():
                return None
            case NodeStarted() | NodeFinished() if event.step_name == SIMULATE_STEP:
                return None  # a year is one line; its nodes are the notebook's detail
            case NodeStarted():
                return f"      {event.label}"
            case NodeFinished():
                return f"      {event.label} {event.status} ({event.duration_seconds:.2f}s)"
            case InitializationFinished():
                # A failure is reported once, with its remediation, by main(); an interrupt by run().
                if not event.result.success:
                    return None
                rebuilt = [f"      rebuilt {name}: {why}" for name, why in event.result.stale_tables_found.items()]
                return "\n".join([event.result.headline, *rebuilt])
            case YearStarted():
                why = f" ({event.reason})" if event.reason and event.reason != "not simulated yet" else ""
                return f"Simulating {event.year} ({event.index}/{event.total}){why}..."
            case YearFinished():
                year = self.simulation.years[event.year]
                summary = year.summary
                if year.reused:
                    where = f"Year {event.year} ({event.index}/{event.total})"
                    line = f"{where} is up to date: {summary.figures()} (reused)"
                else:
                    line = f"      {event.year}: {summary.figures()} ({year.seconds or 0:.2f}s)"
                return f"{line}\n      Warning: {summary.target_warning}" if summary.target_warning else line
            case EnsembleYearFinished():
                return f"      {event.year}: {event.seeds:,} seeds ({event.duration_seconds:.2f}s)"
            case EnsembleChunkFinished():
                # A failed chunk's error is printed once, with its fix, by main().
                outcome = "FAILED" if event.error else f"done ({event.duration_seconds:.2f}s)"
                return f"Chunk {event.index}/{event.total} ({event.chunk}) {outcome}"
            case _:
                assert_never(event)

    def _trial_detail(self, event: ProgressEvent) -> bool:
        """A trial's own progress: its years, and every initialization check of the study but the first.

        The first shows, as `simulate` shows it; later trials check the same tables
        again and build nothing, unless something went missing meanwhile.
        """
        match event:
            case YearStarted() | YearFinished() | EnsembleYearFinished():
                return True
            case StepStarted() | StepFinished() if event.step_name == "check_tables":
                return self._study_checks > 0
            case InitializationFinished():
                self._study_checks += 1
                result = event.result
                quiet = result.success and not result.missing_tables_found and not result.stale_tables_found
                return quiet and self._study_checks > 1
            case _:
                return False

    def _study_line(self, event: StudyStarted | TrialStarted | TrialFinished | TopDesignStarted | StudyFinished) -> str:
        match event:
            case StudyStarted():
                goals = " and ".join(event.objectives)
                subject = f" subject to {', '.join(event.constraints)}" if event.constraints else ""
                limits = []
                if event.budget is not None:
                    limits.append(f"{event.budget} trials")
                if event.minutes is not None:
                    limits.append(f"{event.minutes:g} minutes")
                budget = " or ".join(limits)
                resumed = f"; resumed with {event.resumed} trials" if event.resumed else ""
                first, last = event.years
                return (
                    f"Study {event.study}: {goals}{subject}.\n"
                    f"      levers {', '.join(event.levers)}; {event.seeds} seeds, {first}-{last}; "
                    f"budget {budget}{resumed}"
                )
            case TrialStarted():
                of = f"/{event.budget}" if event.budget else ""
                return f"Trial {event.number}{of}: {event.design} ({event.scenario})..."
            case TrialFinished():
                trial = self.optimization.trial(event.number)
                found = trial.describe() if trial is not None else event.figures
                return f"      {found} ({event.duration_seconds:.2f}s); {event.best}"
            case TopDesignStarted():
                return f"Simulating top design {event.index}/{event.total} for compare: {event.scenario}..."
            case StudyFinished():
                return (
                    f"Study {event.study} stopped: {event.reason}; {event.feasible} of {event.trials} trials feasible."
                )
            case _:
                assert_never(event)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit code; a KeyboardInterrupt is left to the caller (run())."""
    parser = _parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    try:
        return int(args.handler(args))
    except WorkspaceBusyError as busy:
        for run in busy.runs:
            print(f"busy: {run}")
        print(busy.remediation)
        return EXIT_BUSY
    except (ConcurrentInitializationError, HookError) as error:
        concurrent = getattr(error, "original_error", error)
        if not isinstance(concurrent, ConcurrentInitializationError):
            return _report(error)
        # Another process holds the initialization lock (one that takes no run lock, e.g. an older release).
        print(f"busy: {concurrent.message}")
        print(concurrent.remediation)
        return EXIT_BUSY
    except PlanAlignError as error:
        return _report(error)
    except Exception as error:
        # The engine reports a full disk itself; a write outside it must not end in a traceback either.
        from planalign_orchestrator.session import disk_full

        written = getattr(args, "out", None)
        full = disk_full(error, getattr(args, "workspace", None) or (written.parent if written else "."))
        if full is None:
            raise
        return _report(full)


def _report(error: PlanAlignError) -> int:
    """An error, once: what happened and where, then what to do (one paragraph on stderr)."""
    print(f"Error: {error.message}\n  To fix: {error.remediation}", file=sys.stderr)
    return EXIT_ERROR


def run() -> None:
    """Console-script entry point (via planalign_launcher, which holds Ctrl-C back from the first line).

    A Ctrl-C at any moment ends the same way: one line, exit 130, no traceback. While
    the command runs it raises KeyboardInterrupt, so the engine cancels the running
    work and releases its lock; after the command has returned it is only recorded.
    Once dbt is loaded, the interpreter's own shutdown (tearing down ~2,000 modules)
    takes over a second; all work is done and flushed by then, so the process exits
    directly.
    """
    from planalign_orchestrator.session import CommandLineInterrupts  # loaded while Ctrl-C is still held back

    interrupts = CommandLineInterrupts()
    try:
        try:
            interrupts.start()
            code = main()
        finally:
            interrupts.raising = False
    except KeyboardInterrupt:
        interrupts.raising = False
        code = EXIT_INTERRUPTED
    except SystemExit as exit_request:  # argparse: --help, or a usage error
        code = exit_request.code if isinstance(exit_request.code, int) else EXIT_ERROR
    if "dbt" in sys.modules:
        from planalign_orchestrator.session import release_engine

        release_engine()
    if interrupts.arrived or code == EXIT_INTERRUPTED:
        code = EXIT_INTERRUPTED
        print(CANCELLED_LINE, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="planalign", description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", "-v", action="store_true", help="log step records and dbt detail")
    commands = parser.add_subparsers(dest="command", required=True)

    def workspace_arg(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--workspace",
            "-w",
            type=Path,
            default=Path("."),
            help="workspace folder (default: current folder; created if empty)",
        )
        sub.add_argument(
            "--verbose", "-v", action="store_true", default=argparse.SUPPRESS, help="log step records and dbt detail"
        )

    def scenario_arg(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--scenario", help="a named scenario (scenarios/NAME.yaml) instead of the baseline config")

    init = commands.add_parser("init", help="create the workspace if needed and build missing tables")
    workspace_arg(init)
    _init_options(init)
    init.set_defaults(handler=_cmd_init)

    status = commands.add_parser(
        "status",
        help="required tables by tier and simulated years, with freshness; exit 1 if anything is "
        "missing, empty, stale or unknown, 3 if the workspace is busy",
        description="Show the required tables and simulated years, reading the database without changing it.",
        epilog=STATUS_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    workspace_arg(status)
    scenario_arg(status)
    status.set_defaults(handler=_cmd_status)

    plan = commands.add_parser(
        "plan", help="what `simulate` would build and why, tier by tier and year by year (builds nothing)"
    )
    plan.add_argument("years", nargs="?", help="a year or a range START-END (default: the config's years)")
    workspace_arg(plan)
    scenario_arg(plan)
    plan.set_defaults(handler=_cmd_plan)

    simulate = commands.add_parser("simulate", help="self-heal, then simulate START-END (e.g. 2025-2027)")
    simulate.add_argument("years", help="a year or a range START-END")
    workspace_arg(simulate)
    _init_options(simulate)
    scenario_arg(simulate)
    simulate.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a config value in the scenario (repeatable), e.g. --set plan.match_rate=1.0; "
        "saved in scenarios/NAME.yaml",
    )
    simulate.add_argument(
        "--overwrite",
        action="store_true",
        help="let --set change a scenario saved with other overrides (replacing its results)",
    )
    seeds = simulate.add_mutually_exclusive_group()
    seeds.add_argument(
        "--seeds",
        type=_positive_count,
        help="a seed ensemble: simulate N seeds (random_seed and the N-1 after it) and show their bands",
    )
    seeds.add_argument("--seed-list", type=_seed_list, help="a seed ensemble of these seeds, e.g. 1,2,3")
    simulate.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="run the ensemble's seed chunks on this Dask scheduler's workers (needs the [distributed] extra)",
    )
    simulate.add_argument(
        "--min-seeds", type=_positive_count, default=10, help="withhold the bands below this many seeds (default 10)"
    )
    simulate.add_argument("--excel", type=Path, help="with --seeds: also write the ensemble to this .xlsx workbook")
    simulate.set_defaults(handler=_cmd_simulate)

    scenarios = commands.add_parser("scenarios", help="list the scenarios, their overrides and freshness")
    workspace_arg(scenarios)
    scenarios.set_defaults(handler=_cmd_scenarios)

    compare = commands.add_parser(
        "compare", help="key metrics of scenarios side by side per year, with deltas against the first"
    )
    compare.add_argument("scenarios", nargs="+", help="two or more scenario names, e.g. baseline high_match")
    compare.add_argument("--years", help="START-END (default: the config's years)")
    compare.add_argument("--excel", type=Path, help="also write the comparison to this .xlsx workbook")
    workspace_arg(compare)
    compare.set_defaults(handler=_cmd_compare)

    compliance = commands.add_parser(
        "compliance",
        help="the nondiscrimination tests (ADP, ACP, coverage, top-heavy) per year: HCE, NHCE, limit, margin, result",
        description="A table per year of the tests of the simulated years (simulate them first). A failing test is "
        "the answer, not an error, and prints what correcting it costs.",
        epilog=f"exit codes:\n  {EXIT_OK}    the report was printed, whether or not every test passes\n"
        f"  {EXIT_ERROR}    an error, e.g. years not simulated or stale (the message says what to do)\n"
        f"  {EXIT_BUSY}    busy: another process is simulating this workspace\n"
        f"  {EXIT_INTERRUPTED}  interrupted (Ctrl-C)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    compliance.add_argument("years", nargs="?", help="START-END (default: the config's years)")
    compliance.add_argument("--scenario", help="the scenario to test (default: the baseline)")
    workspace_arg(compliance)
    compliance.set_defaults(handler=_cmd_compliance)

    _optimize_command(commands, workspace_arg)

    census = commands.add_parser("census", help="census utilities")
    census_commands = census.add_subparsers(dest="census_command", required=True)
    generate = census_commands.add_parser("generate", help="write a deterministic synthetic census")
    generate.add_argument("--employees", type=int, required=True)
    generate.add_argument("--seed", type=int, default=42)
    generate.add_argument("--out", type=Path, required=True, help=".csv or .parquet")
    generate.add_argument(
        "--part-time-share",
        type=float,
        default=0.0,
        help="share of part-time staff (an annual_hours column: 400-1,400 hours; full-time 2,080)",
    )
    generate.set_defaults(handler=_cmd_census_generate)
    _calibration_commands(commands, census_commands, workspace_arg)
    return parser


# -- calibration: census histories, experience study, fit, backtest ------------------------

HISTORY_HELP = "a folder of dated censuses (census_2025-12-31.csv, ...; .csv or .parquet), or the files in date order"


def _calibration_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    census_commands: argparse._SubParsersAction[argparse.ArgumentParser],
    workspace_arg: Callable[[argparse.ArgumentParser], None],
) -> None:
    """`census history`, `study`, `fit` and `backtest` (each a WorkspaceSession call, rendered here)."""
    history = census_commands.add_parser(
        "history",
        help="simulate a generated census from known assumptions and write its year-end censuses",
        description="Generate a census, simulate it for --years years under the default config plus the --set "
        "assumptions (in a scratch workspace), and write one census per year end into --out, with "
        "termination_reason; the generating truth goes to OUT/generator/.",
    )
    history.add_argument("--employees", type=_positive_count, required=True)
    history.add_argument("--years", type=_positive_count, required=True, help="simulated years (snapshots: years + 1)")
    history.add_argument("--seed", type=int, default=42, help="census and simulation seed (default 42)")
    history.add_argument("--first-year", type=int, default=2025, help="first simulated year (default 2025)")
    history.add_argument("--out", type=Path, required=True, help="a new or empty folder")
    history.add_argument("--format", choices=("csv", "parquet"), default="csv", help="snapshot file format")
    history.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="a known assumption (repeatable), e.g. --set workforce.termination_rate=0.15 or "
        "--set 'assumptions.tenure_termination_multipliers=[2.4, 0.8, 0.5, 0.35, 0.25]'",
    )
    history.set_defaults(handler=_cmd_census_history)

    def history_arg(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--history", nargs="+", type=Path, required=True, metavar="PATH", help=HISTORY_HELP)

    study = commands.add_parser(
        "study",
        help="experience study of a census history: actual vs expected by tenure, age and level (writes nothing)",
    )
    history_arg(study)
    study.add_argument("--scenario", help="compare with this scenario's assumptions (default: the baseline)")
    workspace_arg(study)
    study.set_defaults(handler=_cmd_study)

    fit = commands.add_parser(
        "fit",
        help="fit assumptions to a census history and save them as a new scenario, with a report",
        description="Fit the assumptions (termination hazards by tenure, age and level, retirement, new-hire "
        "terminations, promotions, growth, opt-outs) to a census history, credibility-weighted toward the "
        "current ones, and save them as a new scenario (scenarios/NAME.yaml) with its report "
        "(scenarios/NAME.fit.csv). An existing scenario is never overwritten.",
    )
    history_arg(fit)
    fit.add_argument("--scenario", help="the new scenario's name (default: fitted_<year of the last snapshot>)")
    fit.add_argument("--base", help="the scenario whose assumptions are the current ones (default: the baseline)")
    workspace_arg(fit)
    fit.set_defaults(handler=_cmd_fit)

    backtest = commands.add_parser(
        "backtest",
        help="simulate from one snapshot of a history to its last and score every year (P10-P90 with --seeds)",
    )
    history_arg(backtest)
    backtest.add_argument(
        "--from",
        dest="from_year",
        type=int,
        required=True,
        metavar="YEAR",
        help="start from the 31 December snapshot of YEAR",
    )
    backtest.add_argument(
        "--seeds", type=_positive_count, help="simulate N seeds and score the actuals against P10-P90"
    )
    backtest.add_argument(
        "--min-seeds", type=_positive_count, default=10, help="no bands (and no coverage) below this many seeds"
    )
    backtest.add_argument("--scenario", help="the scenario to backtest (default: the baseline)")
    backtest.add_argument("--threads", type=_positive_count, default=1, help="dbt threads")
    workspace_arg(backtest)
    backtest.set_defaults(handler=_cmd_backtest)


# -- optimization: the plan design that meets the goals --------------------------------------

OPTIMIZE_EPILOG = """\
terms: METRIC (a column of fct_year_metrics), STAT(METRIC) or METRIC[YEARS]
  STAT over the seeds: mean (default), p10, p25, p50, p75, p90, share (flags: share of seeds set)
  YEARS over each seed's years: a year, sum, mean, min, max, first, last
  (default: summed for counts and money, averaged for fractions, any year for flags)
examples:
  planalign optimize --objective 'min employer_cost_rate' --constraint 'participation_rate >= 0.80' \\
      --lever plan.opt_out_rate=0:0.6:0.05 --trials 20 --seeds 10 --study cheapest
  planalign optimize --objective 'min employer_cost_rate' --objective 'max participation_rate' \\
      --lever plan.match_rate=0.25:1 --lever plan.match_tiers --trials 40 --seeds 10
  planalign optimize --study cheapest --trials 40      # resume or extend a study as it was asked
exit codes: 0 done, 2 an error (a bad spec; no design met the constraints), 3 busy, 130 interrupted"""


def _optimize_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    workspace_arg: Callable[[argparse.ArgumentParser], None],
) -> None:
    optimize = commands.add_parser(
        "optimize",
        help="search the levers for the plan designs that best meet objectives under constraints (seed ensembles)",
        description="Find the plan design: each trial is a scenario evaluated as a seed ensemble; one objective "
        "gives the best design, two or more the Pareto front. The study is kept in optimize/STUDY.journal and "
        "resumes where it stopped; the top designs are simulated with the config's seed for `planalign compare`.",
        epilog=OPTIMIZE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    optimize.add_argument(
        "--objective", action="append", default=[], metavar="'min|max TERM'", help="what to minimize or maximize"
    )
    optimize.add_argument(
        "--constraint", action="append", default=[], metavar="'TERM <=|>= NUMBER'", help="a bound that must hold"
    )
    optimize.add_argument(
        "--lever",
        action="append",
        default=[],
        metavar="KEY=LOW:HIGH[:STEP]",
        help="a lever to move and its range (KEY=A,B for options; KEY alone for every option of a switch or choice)",
    )
    optimize.add_argument("--trials", type=_positive_count, help="stop when the study has N trials (default 20)")
    optimize.add_argument("--minutes", type=_positive_minutes, help="start no trial after M minutes")
    optimize.add_argument("--seeds", type=_positive_count, default=10, help="seeds per design (default 10)")
    optimize.add_argument("--years", help="START-END the figures are read over (default: the config's years)")
    optimize.add_argument(
        "--study", help="the study's name (default: derived from the spec, so the same command resumes)"
    )
    optimize.add_argument(
        "--top", type=int, default=3, help="simulate the N best designs with the config's seed for compare (default 3)"
    )
    optimize.add_argument("--sampler-seed", type=int, default=0, help="the optimizer's seed (default 0)")
    optimize.add_argument(
        "--min-seeds", type=_positive_count, default=10, help="percentiles need at least this many seeds (default 10)"
    )
    optimize.add_argument("--scenario", help="start the designs from this scenario (default: the baseline)")
    _init_options(optimize)
    workspace_arg(optimize)
    optimize.set_defaults(handler=_cmd_optimize)


def _cmd_optimize(args: argparse.Namespace) -> int:
    first, last = _parse_years(args.years) if args.years else (None, None)
    session = _session(args)
    result = session.optimize(
        args.objective,
        args.constraint,
        args.lever,
        study=args.study,
        trials=args.trials,
        minutes=args.minutes,
        seeds=args.seeds,
        start_year=first,
        end_year=last,
        min_seeds=args.min_seeds,
        sampler_seed=args.sampler_seed,
        top=args.top,
        on_progress=TerminalConsole(),
        wait_seconds=args.wait,
    )
    print()
    print(result)
    print(f"\nResume or extend it: `planalign optimize --study {result.study} --trials {2 * len(result.trials)}`.")
    if result.infeasible is not None:
        return _report(result.infeasible)
    return EXIT_OK


def _cmd_census_history(args: argparse.Namespace) -> int:
    from planalign_orchestrator.session import generate_history

    generated = generate_history(
        args.out,
        employees=args.employees,
        years=args.years,
        seed=args.seed,
        first_year=args.first_year,
        assumptions=args.set or [],
        file_format=args.format,
        on_progress=TerminalConsole(),
    )
    print()
    print(generated)
    for path in generated.snapshots:
        print(f"  {path}")
    return 0


def _cmd_study(args: argparse.Namespace) -> int:
    session = _session(args, create=False)
    print(session.experience_study(args.history))
    return 0


def _cmd_fit(args: argparse.Namespace) -> int:
    from planalign_orchestrator.session import WorkspaceSession

    session = WorkspaceSession.open(args.workspace)
    if args.base:
        session = session.for_scenario(args.base)
    result = session.fit(args.history, args.scenario)
    print(result)
    first, last = session.resolve_years(None, None)
    print(f"\nRun it: `planalign simulate {first}-{last} --scenario {result.scenario}`.")
    return 0


def _cmd_backtest(args: argparse.Namespace) -> int:
    session = _session(args)
    result = session.backtest(
        args.history, args.from_year, seeds=args.seeds, min_seeds=args.min_seeds, on_progress=TerminalConsole()
    )
    print()
    print(result)
    return 0


def _init_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--recreate",
        action="store_true",
        help="move an unreadable database aside to <name>.corrupt-<timestamp> and rebuild",
    )
    sub.add_argument("--timeout", type=_positive_seconds, default=60.0, help="initialization timeout in seconds")
    sub.add_argument("--threads", type=_positive_count, default=1, help="dbt threads")
    sub.add_argument(
        "--wait",
        nargs="?",
        type=_positive_seconds,
        const=DEFAULT_WAIT_SECONDS,
        default=0.0,
        metavar="S",
        help="if another run is using the workspace, wait up to S seconds for it to end "
        f"(default {DEFAULT_WAIT_SECONDS:.0f}) instead of exiting with code 3 at once",
    )


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, e.g. 300 (got {text!r})")
    return value


def _positive_minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of minutes, e.g. 10 or 0.5 (got {text!r})")
    return value


def _positive_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, e.g. 4 (got {text!r})")
    return value


class _ConsoleFormatter(logging.Formatter):
    """A log record as one console sentence: "Warning: Census census.csv has no ... column: ..."."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.capitalize()}: {record.getMessage()}"


def _configure_logging(verbose: bool) -> None:
    from planalign_orchestrator.views import StructuredFormatter

    handler = logging.StreamHandler(sys.stderr)
    if verbose:
        handler.setFormatter(StructuredFormatter("%(levelname)s %(name)s: %(message)s"))
    else:
        # Between the console's own lines a record reads as a sentence ("Warning: ..."): the
        # logger's name and the step fields are for --verbose. Step records repeat what the
        # console already prints, so only --verbose shows them.
        handler.setFormatter(_ConsoleFormatter())
        handler.addFilter(lambda record: not hasattr(record, "step_name"))
    root = logging.getLogger("planalign_orchestrator")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    root.propagate = False


def _session(args: argparse.Namespace, *, create: bool = True) -> WorkspaceSession:
    """The session of --workspace, bound to --scenario (its --set overrides saved first)."""
    from planalign_orchestrator.session import WorkspaceSession

    options = {}
    if hasattr(args, "timeout"):
        options = {"timeout_seconds": args.timeout, "recreate_corrupt": args.recreate, "verbose": args.verbose}
    session = WorkspaceSession.open(
        args.workspace, create=create, threads=getattr(args, "threads", 1), initializer_options=options
    )
    if create:  # init and simulate write here: say so now, naming the folder, not as an OS error mid-step
        session.require_writable()
    scenario = getattr(args, "scenario", None)
    assignments = getattr(args, "set", None) or []
    if assignments and not scenario:
        raise ConfigurationError(
            "--set needs --scenario: overrides belong to a named scenario",
            remediation="Name the scenario, e.g. `planalign simulate 2025-2029 --scenario high_match "
            "--set plan.match_rate=1.0`, or edit simulation_config.yaml for the baseline.",
        )
    if not scenario:
        return session
    if assignments:
        return session.with_assignments(
            scenario,
            assignments,
            overwrite=args.overwrite,
            wait_seconds=getattr(args, "wait", 0.0),
            on_progress=TerminalConsole(),
        )
    return session.for_scenario(scenario)


def _cmd_init(args: argparse.Namespace) -> int:
    result = _session(args).initialize(on_progress=TerminalConsole(), wait_seconds=args.wait)
    if result.backup_path:
        print(f"The unreadable database was kept as {result.backup_path}")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from planalign_orchestrator.session import WorkspaceSession

    if not WorkspaceSession.is_workspace(args.workspace):
        print(
            f"{args.workspace.resolve()} is not a PlanAlign workspace yet (no simulation_config.yaml); "
            f"all required tables are missing. Run `planalign init --workspace {args.workspace}`."
        )
        return EXIT_MISSING
    session = _session(args, create=False)
    print(f"Workspace {session.root}" + ("" if session.scenario.is_baseline else f", scenario {session.scenario.name}"))
    status = session.status()
    print(status)
    ensemble = session.ensemble_status()
    ensemble_stale = False
    if ensemble is not None:
        line, ensemble_stale = ensemble
        print(line)
    stale_fit = session.stale_fit()
    if stale_fit is not None:
        print(f"Scenario {session.scenario.name}'s fitted assumptions are stale: {stale_fit}.")
    if status.up_to_date and not ensemble_stale and stale_fit is None:
        return EXIT_OK
    # The commands must work when pasted: years (those out of date included), scenario and workspace.
    first, last = session.resolve_years(None, None)
    stale = [year.year for year in status.years_needing_run]
    years = f"{min([first, *stale])}-{max([last, *stale])}"
    where = "" if args.workspace == Path(".") else f" --workspace {shlex.quote(str(args.workspace))}"
    scenario = "" if session.scenario.is_baseline else f" --scenario {session.scenario.name}"
    print(
        f"Run `planalign simulate {years}{scenario}{where}` (or `planalign init{where}` for the tables only) "
        f"to bring it up to date; `planalign plan {years}{scenario}{where}` shows what that would build."
    )
    return EXIT_MISSING


def _cmd_plan(args: argparse.Namespace) -> int:
    session = _session(args, create=False)
    first, last = _parse_years(args.years) if args.years else (None, None)
    print(f"Workspace {session.root} (nothing is built or written by `plan`)")
    print(session.plan(first, last))
    return EXIT_OK


def _cmd_simulate(args: argparse.Namespace) -> int:
    first, last = _parse_years(args.years)
    session = _session(args)
    if args.seeds or args.seed_list:
        return _simulate_ensemble(session, args, first, last)
    if args.scheduler or args.excel:
        raise ConfigurationError(
            "--scheduler and --excel apply to seed ensembles only",
            remediation=f"Add --seeds N, e.g. `planalign simulate {first}-{last} --seeds 100`.",
        )
    summary = session.simulate(first, last, on_progress=TerminalConsole(), wait_seconds=args.wait)
    print()
    if not session.scenario.is_baseline:
        print(f"Scenario {session.scenario.name}: {session.scenario.describe()}")
    print(summary)
    return 0


def _simulate_ensemble(session: WorkspaceSession, args: argparse.Namespace, first: int, last: int) -> int:
    from planalign_orchestrator.session import connect_cluster

    client = connect_cluster(args.scheduler) if args.scheduler else None
    try:
        result = session.ensemble(
            first,
            last,
            seeds=args.seed_list or args.seeds,
            client=client,
            min_seeds=args.min_seeds,
            on_progress=TerminalConsole(),
            wait_seconds=args.wait,
        )
    finally:
        if client is not None:
            client.close()
    print()
    print(result)
    if args.excel:
        print(f"\nWrote {result.to_excel(args.excel)}")
    return 0


def _seed_list(text: str) -> list[int]:
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts or not all(part.isdigit() for part in parts):
        raise argparse.ArgumentTypeError(f"expected whole numbers separated by commas, e.g. 1,2,3 (got {text!r})")
    return [int(part) for part in parts]


def _cmd_scenarios(args: argparse.Namespace) -> int:
    session = _session(args, create=False)
    print(f"Workspace {session.root}")
    for info in session.scenarios():
        print(f"  {info.name:<24} {info.freshness:<32} {info.scenario.describe()}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    session = _session(args, create=False)
    first, last = _parse_years(args.years) if args.years else (None, None)
    comparison = session.compare(args.scenarios, first, last)
    print(comparison)
    if args.excel:
        print(f"\nWrote {comparison.to_excel(args.excel)}")
    return 0


def _cmd_compliance(args: argparse.Namespace) -> int:
    session = _session(args, create=False)
    if args.scenario:
        session = session.for_scenario(args.scenario)
    first, last = _parse_years(args.years) if args.years else (None, None)
    print(session.compliance(first, last))
    return EXIT_OK


def _cmd_census_generate(args: argparse.Namespace) -> int:
    from planalign_orchestrator.session import generate_census

    generate_census(args.employees, args.seed, args.out, part_time_share=args.part_time_share)
    print(f"Wrote {args.employees:,} employees to {args.out}")
    return 0


def _parse_years(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d{4})\s*(?:-\s*(\d{4})\s*)?", text)
    if not match:
        raise ConfigurationError(
            f"years must look like 2025 or 2025-2027 (got {text!r})",
            remediation="Run e.g. `planalign simulate 2025-2027`.",
        )
    from planalign_orchestrator.session import WorkspaceSession

    first = int(match.group(1))
    last = int(match.group(2) or first)
    WorkspaceSession.check_years(first, last)
    return first, last


if __name__ == "__main__":
    run()
