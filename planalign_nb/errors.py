"""Errors as a notebook shows them: the panel says what happened and what to do, the traceback is one line.

A PlanAlign error or an interrupt raised from a notebook call has already been shown
in the call's panel, with its remedy; a traceback through the engine (or, after an
interrupt, through dbt's internals: close to 200 lines) would only bury it. IPython
prints an exception through its `_render_traceback_` when it has one, so the
exceptions these calls raise get one that prints a single line. The exception
itself is unchanged, and so is its chain: `sys.last_value` (or the exception caught)
keeps `__traceback__`, and an interrupt's `__cause__` is the original interrupt, for
`traceback.print_exception` when debugging. Anything else (a bug) keeps IPython's
full traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

from planalign_nb.rendering import error_report
from planalign_orchestrator.exceptions import PlanAlignError

_RED, _RESET = "\x1b[0;31m", "\x1b[0m"


def one_line(error: BaseException, line: str) -> BaseException:
    """Have IPython print `error` as "<type>: <line>" instead of a traceback; returns the same exception."""
    rendered = f"{_RED}{type(error).__name__}{_RESET}: {line}"
    setattr(error, "_render_traceback_", lambda: [rendered])  # noqa: B010  IPython's protocol, on the instance
    return error


def raise_for_notebook(error: BaseException, *, cancelled: str, root: Path | None, panel: bool = True) -> NoReturn:
    """Raise what a notebook call raises about `error` (call it in the except block).

    An interrupt becomes a KeyboardInterrupt saying what was cancelled and how to
    heal (`cancelled`), caused by the original. A PlanAlign error is raised as itself,
    printed as one line: its first line, and what to do (or, when a panel above
    already shows that, a pointer to it). Anything else is raised untouched.
    """
    if isinstance(error, KeyboardInterrupt):
        raise one_line(KeyboardInterrupt(cancelled), cancelled) from error
    if isinstance(error, PlanAlignError):
        report = error_report(error, root)
        first = report.message.splitlines()[0]
        fix = "(what to do: see the panel above)" if panel else f"To fix: {report.remediation}"
        one_line(error, f"{first} {fix}")
    raise error
