"""The `planalign` console script's entry point: Ctrl-C is held back from its first line.

Loading the CLI's modules takes a few hundred milliseconds; a Ctrl-C landing inside an
import would print a traceback (or leave modules half-initialised). SIGINT is therefore
blocked before anything else is imported, and released by the CLI once it can report
an interrupt (planalign_orchestrator.interrupts.CommandLineInterrupts.start). This
module lives outside the package so that not even the package's own start-up (which
loads `logging`) runs before the block; only the interpreter's start-up precedes it.
"""

import signal

signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})


def run() -> None:
    from planalign_orchestrator.cli import run as run_cli

    run_cli()
