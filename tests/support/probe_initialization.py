"""Call ensure_initialized() over and over while another process initializes, and report.

    python probe_initialization.py WORKSPACE --wait-for FILE

Prints "ready" once imported, waits until FILE exists, then calls ensure_initialized()
back to back until one call returns COMPLETED. Prints one JSON line counting the
outcomes: {"concurrent": n, "initialized": n, "already_initialized": n, "errors": [...]}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from planalign_orchestrator.exceptions import ConcurrentInitializationError, PlanAlignError
from planalign_orchestrator.factory import create_orchestrator
from planalign_orchestrator.workspace import Workspace


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("workspace", type=Path)
    parser.add_argument("--wait-for", type=Path, required=True)
    parser.add_argument("--give-up-after", type=float, default=90.0)
    args = parser.parse_args()

    workspace = Workspace.open(args.workspace, create=False)
    initializer = create_orchestrator(workspace.config).auto_initializer
    print("ready", flush=True)
    while not args.wait_for.exists():
        time.sleep(0.005)

    counts = {"concurrent": 0, "initialized": 0, "already_initialized": 0, "errors": []}
    give_up = time.monotonic() + args.give_up_after
    while time.monotonic() < give_up:
        try:
            result = initializer.ensure_initialized()
        except ConcurrentInitializationError:
            counts["concurrent"] += 1
            continue
        except PlanAlignError as error:
            counts["errors"].append(f"{type(error).__name__}: {error}")
            continue
        counts["initialized" if result.missing_tables_found else "already_initialized"] += 1
        break
    print(json.dumps(counts), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
