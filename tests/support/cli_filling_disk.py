"""Run the `planalign` command line while another program fills the disk at a chosen moment.

    python cli_filling_disk.py FILLER LEAVE_BYTES WHEN -- planalign-arguments...

At WHEN the file FILLER grows until only LEAVE_BYTES are free on its file system, as
a download or another job would fill it: the run then meets a real full disk. WHEN is
  node            the first dbt node starting (dbt writes the database next)
  prepare         dbt being loaded (the saved parse is copied into the workspace next)
  year:YYYY       that year starting (after its free-space check)
  record_year     a simulated year's build record about to be committed
  write_ensemble  an ensemble's results about to be stored
The command runs as the console script runs it (planalign_orchestrator.cli.run), so
the exit code, stdout and stderr are exactly what a user sees.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from planalign_orchestrator import cli
from planalign_orchestrator.ensemble import runner
from planalign_orchestrator.freshness import recorder
from planalign_orchestrator.progress import DbtPreparationStarted, NodeStarted, YearStarted


def fill(filler: Path, leave: int) -> None:
    """Grow `filler` until `leave` bytes are free on its file system."""
    stats = os.statvfs(filler.parent)
    free = stats.f_bavail * stats.f_frsize
    with filler.open("ab") as handle:
        if free > leave:
            os.posix_fallocate(handle.fileno(), handle.seek(0, os.SEEK_END), free - leave)


def main() -> None:
    filler, leave, when = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    arguments = sys.argv[sys.argv.index("--") + 1 :]
    done: list[bool] = []

    def fill_once() -> None:
        if not done:
            done.append(True)
            fill(filler, leave)

    def matches(event: object) -> bool:
        if when == "node":
            return isinstance(event, NodeStarted)
        if when == "prepare":
            return isinstance(event, DbtPreparationStarted)
        if when.startswith("year:"):
            return isinstance(event, YearStarted) and event.year == int(when.split(":")[1])
        return False

    console_call = cli.TerminalConsole.__call__

    def observed(self: cli.TerminalConsole, event: Any) -> None:
        if matches(event):
            fill_once()
        console_call(self, event)

    cli.TerminalConsole.__call__ = observed  # type: ignore[method-assign]

    if when == "record_year":
        record_year = recorder.BuildRecorder.record_year

        def filled_record_year(self: Any, *args: Any, **kwargs: Any) -> Any:
            fill_once()
            return record_year(self, *args, **kwargs)

        recorder.BuildRecorder.record_year = filled_record_year  # type: ignore[method-assign]
    if when == "write_ensemble":
        write_ensemble = runner.write_ensemble

        def filled_write_ensemble(*args: Any, **kwargs: Any) -> Any:
            fill_once()
            return write_ensemble(*args, **kwargs)

        runner.write_ensemble = filled_write_ensemble  # type: ignore[assignment]

    sys.argv = ["planalign", *arguments]
    cli.run()


if __name__ == "__main__":
    main()
