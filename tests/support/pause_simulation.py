"""Start a real simulation of a workspace and pause it inside a dbt model, until killed.

    python pause_simulation.py WORKSPACE YEARS MODEL

Runs `simulate YEARS` (e.g. 2025-2026) as the CLI does; when dbt starts MODEL (e.g.
fct_yearly_events) the progress observer, called on dbt's thread, prints "paused" and
blocks, so dbt holds the database open for writing, as it does while a model runs.
"""

import sys
import threading
from pathlib import Path

from planalign_orchestrator.factory import create_orchestrator
from planalign_orchestrator.progress import NodeStarted
from planalign_orchestrator.workspace import Workspace

folder, years, model = sys.argv[1:4]
first, last = (int(part) for part in years.split("-"))
never = threading.Event()


def pause(event: object) -> None:
    if isinstance(event, NodeStarted) and event.node_name == model:
        print("paused", flush=True)
        never.wait()


orchestrator = create_orchestrator(Workspace.open(Path(folder), create=False).config, on_progress=pause)
orchestrator.execute_multi_year_simulation(first, last)
