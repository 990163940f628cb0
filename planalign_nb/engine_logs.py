"""While a notebook call runs, the engine's log records stay out of the cell output.

dbt installs a stderr handler on the root logger the first time it runs, so engine
warnings would otherwise print into the notebook as `WARNING:planalign_orchestrator...`
lines with absolute paths and timestamps. Everything those records say is already
on screen: step failures, errors with remediations and backup names in the widgets,
and every step record in `<workspace>/logs/initialization.jsonl` (see
`planalign_nb.step_log`). A handler that a user attaches to the `planalign_orchestrator`
logger itself still receives every record.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

ENGINE_LOGGER = "planalign_orchestrator"


@contextmanager
def engine_logs_in_widgets() -> Iterator[None]:
    """Stop engine records from reaching root handlers (dbt's stderr handler) for the duration."""
    logger = logging.getLogger(ENGINE_LOGGER)
    previous = logger.propagate
    guard = logging.NullHandler()  # without any handler, logging's last resort prints to stderr
    logger.addHandler(guard)
    logger.propagate = False
    try:
        yield
    finally:
        logger.propagate = previous
        logger.removeHandler(guard)
