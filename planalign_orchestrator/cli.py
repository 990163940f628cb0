"""The terminal face: `planalign init | status | plan | simulate | scenarios | compare | census generate`.

It only parses arguments, subscribes a TerminalConsole to the engine's progress
events and maps errors to exit codes; every check, step and message comes from the
engine. Exit codes: 0 success, 1 `status` found something missing, empty, stale or
unknown, 2 a PlanAlign error (message and remediation on stderr), 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from planalign_orchestrator.config import CONFIG_FILE_NAME
from planalign_orchestrator.exceptions import ConfigurationError, NavigatorError
from planalign_orchestrator.progress import (
    InitializationFinished,
    NodeFinished,
    NodeStarted,
    ProgressEvent,
    StepFinished,
    StepStarted,
    YearStarted,
)
from planalign_orchestrator.self_healing.step_log import StructuredFormatter

if TYPE_CHECKING:
    from planalign_orchestrator.session import WorkspaceSession


class TerminalConsole:
    """Prints progress events as lines; the terminal twin of the notebook widgets."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def __call__(self, event: ProgressEvent) -> None:
        line = self._line(event)
        if line is not None:
            print(line, file=self.stream, flush=True)

    def _line(self, event: ProgressEvent) -> str | None:
        if isinstance(event, StepStarted):
            return f"[{event.index}/{event.total}] {event.display_name}..."
        if isinstance(event, StepFinished):
            if event.success:
                return f"      done ({event.duration_seconds:.2f}s)"
            return f"      FAILED: {event.error}"
        if isinstance(event, NodeStarted):
            return f"      {event.label}"
        if isinstance(event, NodeFinished):
            return f"      {event.label} {event.status} ({event.duration_seconds:.2f}s)"
        if isinstance(event, InitializationFinished):
            if event.cancelled:
                return "Initialization cancelled; run again to heal the database."
            # A failure is reported once, with its remediation, by main().
            if not event.result.success:
                return None
            rebuilt = [f"      rebuilt {name}: {why}" for name, why in event.result.stale_tables_found.items()]
            return "\n".join([event.result.headline, *rebuilt])
        if isinstance(event, YearStarted):
            why = f" ({event.reason})" if event.reason and event.reason != "not simulated yet" else ""
            return f"Simulating {event.year} ({event.index}/{event.total}){why}..."
        s = event.summary  # the only event left: YearFinished
        figures = (
            f"{s.headcount_start:,} -> {s.headcount_end:,} active "
            f"({s.growth_pct:+.2f}%), {s.hires:,} hires, {s.terminations:,} terminations"
        )
        if event.reused:
            line = f"Year {event.year} ({event.index}/{event.total}) is up to date: {figures} (reused)"
        else:
            line = f"      {event.year}: {figures} ({event.duration_seconds:.2f}s)"
        return f"{line}\n      Warning: {s.target_warning}" if s.target_warning else line


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    try:
        return int(args.handler(args))
    except NavigatorError as error:
        print(f"Error: {error.message}\n  To fix: {error.remediation}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrupted; the next run heals anything left incomplete.", file=sys.stderr)
        return 130


def run() -> None:
    """Console-script entry point.

    Once dbt is loaded, the interpreter's own shutdown (tearing down ~2,000 modules)
    takes over a second; all work is done and flushed by then, so the process exits
    directly.
    """
    code = main()
    if "dbt" not in sys.modules:
        sys.exit(code)
    from planalign_orchestrator.dbt_runner import release_dbt

    release_dbt()
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
        "missing, empty, stale or unknown",
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

    census = commands.add_parser("census", help="census utilities")
    census_commands = census.add_subparsers(dest="census_command", required=True)
    generate = census_commands.add_parser("generate", help="write a deterministic synthetic census")
    generate.add_argument("--employees", type=int, required=True)
    generate.add_argument("--seed", type=int, default=42)
    generate.add_argument("--out", type=Path, required=True, help=".csv or .parquet")
    generate.set_defaults(handler=_cmd_census_generate)
    return parser


def _init_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--recreate",
        action="store_true",
        help="move an unreadable database aside to <name>.corrupt-<timestamp> and rebuild",
    )
    sub.add_argument("--timeout", type=float, default=60.0, help="initialization timeout in seconds")
    sub.add_argument("--threads", type=int, default=1, help="dbt threads")


def _configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(StructuredFormatter("%(levelname)s %(name)s: %(message)s"))
    if not verbose:
        # Step records repeat what the console already prints; --verbose shows them.
        handler.addFilter(lambda record: not hasattr(record, "step_name"))
    root = logging.getLogger("planalign_orchestrator")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    root.propagate = False


def _session(args: argparse.Namespace, *, create: bool = True) -> WorkspaceSession:
    """The session of --workspace, bound to --scenario (its --set overrides saved first)."""
    from planalign_orchestrator.scenarios import parse_assignment
    from planalign_orchestrator.session import WorkspaceSession

    options = {}
    if hasattr(args, "timeout"):
        options = {"timeout_seconds": args.timeout, "recreate_corrupt": args.recreate, "verbose": args.verbose}
    session = WorkspaceSession.open(
        args.workspace, create=create, threads=getattr(args, "threads", 1), initializer_options=options
    )
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
    overrides = None
    if assignments:
        # --set updates the scenario's saved overrides key by key (a new scenario starts empty).
        saved = session.scenarios_store
        existing = saved.load(scenario).overrides if scenario in saved.names() else {}
        overrides = {**existing, **dict(parse_assignment(text) for text in assignments)}
    return session.for_scenario(scenario, overrides)


def _cmd_init(args: argparse.Namespace) -> int:
    result = _session(args).initialize(on_progress=TerminalConsole())
    if result.backup_path:
        print(f"The unreadable database was kept as {result.backup_path}")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    if not (args.workspace / CONFIG_FILE_NAME).is_file():
        print(
            f"{args.workspace.resolve()} is not a PlanAlign workspace yet (no {CONFIG_FILE_NAME}); "
            f"all required tables are missing. Run `planalign init --workspace {args.workspace}`."
        )
        return 1
    session = _session(args, create=False)
    status = session.status()
    print(f"Workspace {session.root}" + ("" if session.scenario.is_baseline else f", scenario {session.scenario.name}"))
    print(status)
    if status.up_to_date:
        return 0
    print(
        "Run `planalign simulate` (or `planalign init` for the tables only) to bring it up to date; "
        "`planalign plan` shows what that would build."
    )
    return 1


def _cmd_plan(args: argparse.Namespace) -> int:
    session = _session(args, create=False)
    first, last = _parse_years(args.years) if args.years else (None, None)
    print(f"Workspace {session.root} (nothing is built or written by `plan`)")
    print(session.plan(first, last))
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    first, last = _parse_years(args.years)
    session = _session(args)
    summary = session.simulate(first, last, on_progress=TerminalConsole())
    print()
    if not session.scenario.is_baseline:
        print(f"Scenario {session.scenario.name}: {session.scenario.describe()}")
    print(summary)
    return 0


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


def _cmd_census_generate(args: argparse.Namespace) -> int:
    from planalign_orchestrator.census_generator import generate_census, write_census

    if args.employees <= 0:
        raise ConfigurationError(
            f"--employees must be positive (got {args.employees})",
            remediation="Pass a positive count, e.g. --employees 5000.",
        )
    write_census(generate_census(args.employees, args.seed), args.out)
    print(f"Wrote {args.employees:,} employees to {args.out}")
    return 0


def _parse_years(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d{4})\s*(?:-\s*(\d{4})\s*)?", text)
    if not match:
        raise ConfigurationError(
            f"years must look like 2025 or 2025-2027 (got {text!r})",
            remediation="Run e.g. `planalign simulate 2025-2027`.",
        )
    first = int(match.group(1))
    return first, int(match.group(2) or first)


if __name__ == "__main__":
    run()
