"""Hold a workspace's run lock the way a running `simulate` does (the engine's own recorded_run), then let go.

    python hold_run_lock.py FOLDER [--seconds N]

FOLDER is the database's folder. Prints "locked" once the lock is held and the run
recorded; holds it until killed, or for N seconds and then exits (the lock released).
"""

import argparse
import time
from pathlib import Path

from planalign_orchestrator.run_lock import recorded_run

parser = argparse.ArgumentParser()
parser.add_argument("folder", type=Path)
parser.add_argument("--seconds", type=float)
args = parser.parse_args()
with recorded_run(args.folder, "simulate", "2025-2027"):
    print("locked", flush=True)
    time.sleep(args.seconds if args.seconds is not None else 10**9)
