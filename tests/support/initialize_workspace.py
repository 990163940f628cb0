"""Run ensure_initialized() on a workspace in this (fresh) process and report the outcome.

Used by tests that need process-level behaviour: racing processes, and processes
killed with SIGKILL in the middle of an initialization.

    python initialize_workspace.py WORKSPACE [--wait-for FILE] [--kill-on KIND:NAME] [--print-events]

--wait-for FILE    import everything, print "ready", then wait until FILE exists before
                   calling ensure_initialized (lines racing processes up on one start).
--kill-on KIND:NAME  SIGKILL this process when a progress event matches: node:<dbt node>
                   (a NodeStarted) or step:<step name> (a StepStarted).
--print-events     print "event node:<name>" / "event step:<name>" as those events arrive.

Prints one JSON line: {"outcome": "initialized" | "already_initialized" | "concurrent" |
"error", "pid", "missing_tables_found", "error_type", "message", "remediation", "lock_file"}.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

from planalign_orchestrator.exceptions import ConcurrentInitializationError, PlanAlignError
from planalign_orchestrator.factory import create_orchestrator
from planalign_orchestrator.progress import NodeStarted, StepStarted
from planalign_orchestrator.workspace import Workspace


def event_key(event: object) -> str | None:
    if isinstance(event, NodeStarted):
        return f"node:{event.node_name}"
    if isinstance(event, StepStarted):
        return f"step:{event.step_name}"
    return None


def killer(spec: str):
    def observe(event: object) -> None:
        if event_key(event) == spec:
            os.kill(os.getpid(), signal.SIGKILL)

    return observe


def printer(event: object) -> None:
    key = event_key(event)
    if key:
        print(f"event {key}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("workspace", type=Path)
    parser.add_argument("--wait-for", type=Path)
    parser.add_argument("--kill-on")
    parser.add_argument("--print-events", action="store_true")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()

    workspace = Workspace.open(args.workspace, create=False)
    orchestrator = create_orchestrator(workspace.config, initializer_options={"timeout_seconds": args.timeout})
    initializer = orchestrator.auto_initializer
    if args.print_events:
        initializer.subscribe(printer)
    if args.kill_on:
        initializer.subscribe(killer(args.kill_on))
    if args.wait_for:
        print("ready", flush=True)
        while not args.wait_for.exists():
            time.sleep(0.005)

    report: dict[str, object] = {"pid": os.getpid()}
    try:
        result = initializer.ensure_initialized()
    except ConcurrentInitializationError as error:
        report.update(outcome="concurrent", lock_file=str(error.lock_file))
        report.update(error_type=type(error).__name__, message=str(error), remediation=error.remediation)
    except PlanAlignError as error:
        report.update(
            outcome="error", error_type=type(error).__name__, message=str(error), remediation=error.remediation
        )
    else:
        report.update(
            outcome="initialized" if result.missing_tables_found else "already_initialized",
            missing_tables_found=result.missing_tables_found,
            state=result.state.value,
        )
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
