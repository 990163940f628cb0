"""The terminal face: `planalign init | status | simulate | census generate`.

It only parses arguments, subscribes a TerminalConsole to the engine's progress
events and maps errors to exit codes; every check, step and message comes from the
engine. Exit codes: 0 success, 1 `status` found missing tables, 2 a PlanAlign error
(message and remediation on stderr), 130 interrupted.
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
    from planalign_orchestrator.pipeline.orchestrator import PipelineOrchestrator


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
            return event.result.headline if event.result.success else None
        if isinstance(event, YearStarted):
            why = f" ({event.reason})" if event.reason and event.reason != "not simulated yet" else ""
            return f"Simulating {event.year} ({event.index}/{event.total}){why}..."
        s = event.summary  # the only event left: YearFinished
        figures = (
            f"{s.headcount_start:,} -> {s.headcount_end:,} active "
            f"({s.growth_pct:+.2f}%), {s.hires:,} hires, {s.terminations:,} terminations"
        )
        if event.reused:
            return f"Year {event.year} ({event.index}/{event.total}) is up to date: {figures} (reused)"
        return f"      {event.year}: {figures} ({event.duration_seconds:.2f}s)"


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

    init = commands.add_parser("init", help="create the workspace if needed and build missing tables")
    workspace_arg(init)
    _init_options(init)
    init.set_defaults(handler=_cmd_init)

    status = commands.add_parser("status", help="required tables by tier; exit 1 if any is missing")
    workspace_arg(status)
    status.set_defaults(handler=_cmd_status)

    simulate = commands.add_parser("simulate", help="self-heal, then simulate START-END (e.g. 2025-2027)")
    simulate.add_argument("years", help="a year or a range START-END")
    workspace_arg(simulate)
    _init_options(simulate)
    simulate.set_defaults(handler=_cmd_simulate)

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


def _orchestrator(args: argparse.Namespace) -> PipelineOrchestrator:
    from planalign_orchestrator.factory import create_orchestrator
    from planalign_orchestrator.workspace import Workspace

    workspace = Workspace.open(args.workspace)
    return create_orchestrator(
        workspace.config,
        threads=args.threads,
        initializer_options={
            "timeout_seconds": args.timeout,
            "recreate_corrupt": args.recreate,
            "verbose": args.verbose,
        },
        on_progress=TerminalConsole(),
    )


def _cmd_init(args: argparse.Namespace) -> int:
    orchestrator = _orchestrator(args)
    initializer = orchestrator.auto_initializer
    assert initializer is not None  # create_orchestrator(auto_initialize=True) always sets it
    result = initializer.ensure_initialized()
    if result.backup_path:
        print(f"The unreadable database was kept as {result.backup_path}")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from planalign_orchestrator.database import DatabaseConnectionManager
    from planalign_orchestrator.self_healing.models import TableTier
    from planalign_orchestrator.self_healing.table_checker import TableExistenceChecker
    from planalign_orchestrator.workspace import Workspace

    if not (args.workspace / CONFIG_FILE_NAME).is_file():
        print(
            f"{args.workspace.resolve()} is not a PlanAlign workspace yet (no {CONFIG_FILE_NAME}); "
            f"all required tables are missing. Run `planalign init --workspace {args.workspace}`."
        )
        return 1
    workspace = Workspace.open(args.workspace, create=False)
    statuses = TableExistenceChecker(DatabaseConnectionManager(workspace.database_path)).get_table_statuses()
    print(f"Workspace {workspace.root}")
    for tier in TableTier:
        print(f"{tier.heading}:")
        for status in (s for s in statuses if s.table.tier is tier):
            rows = f"{status.row_count:,} rows" if status.row_count is not None else ""
            print(f"  {status.table.name:<36} {status.state:<8} {rows}")
    missing = [s for s in statuses if s.state != "present"]
    if missing:
        print(f"{len(missing)} of {len(statuses)} required tables missing. Run `planalign init`.")
        return 1
    print(f"All {len(statuses)} required tables present.")
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    first, last = _parse_years(args.years)
    orchestrator = _orchestrator(args)
    summary = orchestrator.execute_multi_year_simulation(first, last)
    print()
    print(summary)
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
