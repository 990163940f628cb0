"""`%load_ext planalign_nb`, then `%planalign status|init|simulate|ensemble 2025-2027 [--workspace PATH] [--wait [S]]`.

A thin spelling of the notebook calls for analysts who prefer magics; the workspace
defaults to the notebook's folder, like the terminal's `planalign` defaults to the
current folder.
"""

from __future__ import annotations

import re
from typing import Any

from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from planalign_nb import api
from planalign_nb.ensemble import ensemble
from planalign_orchestrator.progress import DEFAULT_WAIT_SECONDS

_YEARS = re.compile(r"\s*(\d{4})\s*(?:-\s*(\d{4})\s*)?")


def parse_years(text: str | None) -> tuple[int | None, int | None]:
    """'2025' or '2025-2027' -> (first, last); None -> the workspace config's years."""
    if text is None:
        return None, None
    match = _YEARS.fullmatch(text)
    if not match:
        raise UsageError(f"years must look like 2025 or 2025-2027 (got {text!r})")
    first = int(match.group(1))
    return first, int(match.group(2) or first)


@magic_arguments()
@argument("command", choices=["status", "init", "simulate", "ensemble"], help="what to do")
@argument("years", nargs="?", help="for simulate and ensemble: a year or START-END (default: the config's years)")
@argument("-w", "--workspace", default=".", help="workspace folder (default: current folder)")
@argument("--scenario", default=None, help="for simulate and ensemble: a named scenario instead of the baseline")
@argument("--seeds", type=int, default=100, help="for ensemble: the number of seeds (default 100)")
@argument("--recreate", action="store_true", help="move an unreadable database aside and rebuild it")
@argument("--timeout", type=float, default=None, help="initialization timeout in seconds")
@argument(
    "--wait",
    nargs="?",
    type=float,
    const=DEFAULT_WAIT_SECONDS,
    default=0.0,
    metavar="S",
    help=f"if another run is using the workspace, wait up to S seconds (default {DEFAULT_WAIT_SECONDS:.0f}) for it",
)
def planalign(line: str) -> Any:
    """Table status, initialization, simulation or seed ensemble of a PlanAlign workspace.

    `status` returns the table-status widget, `simulate` the SimulationResult,
    `ensemble` the EnsembleView; `init` leaves its progress record as output (use
    planalign_nb.initialize() for the result).
    """
    args = parse_argstring(planalign, line)
    options: dict[str, Any] = {"recreate_corrupt": args.recreate}
    if args.timeout is not None:
        options["timeout_seconds"] = args.timeout
    if args.command == "status":
        return api.status(args.workspace, **options)
    if args.command == "init":
        api.initialize(args.workspace, wait_seconds=args.wait, **options)
        return None
    first, last = parse_years(args.years)
    if args.command == "ensemble":
        return ensemble(
            args.workspace, first, last, seeds=args.seeds, scenario=args.scenario, wait_seconds=args.wait, **options
        )
    return api.simulate(args.workspace, first, last, scenario=args.scenario, wait_seconds=args.wait, **options)


def load_ipython_extension(ipython: InteractiveShell) -> None:
    """Register %planalign (called by `%load_ext planalign_nb`)."""
    # IPython wraps register_magic_function in a decorator that mypy reads as needing `func` twice.
    ipython.register_magic_function(planalign, magic_kind="line", magic_name="planalign")  # type: ignore[call-arg]
