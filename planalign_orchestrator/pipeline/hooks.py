"""HookManager: callables that must succeed before a simulation may start.

A failing pre-simulation hook stops the run with HookError chained to the original
exception. Nothing is swallowed: an initialization that failed must never let the
simulation run on a half-built database.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count

from planalign_orchestrator.exceptions import HookError

logger = logging.getLogger(__name__)


@dataclass(order=True, frozen=True)
class _RegisteredHook:
    priority: int
    sequence: int
    name: str = field(compare=False)
    hook: Callable[[], object] = field(compare=False)


class HookManager:
    """Holds hooks by priority (lower first; ties keep registration order)."""

    def __init__(self) -> None:
        self._pre_simulation: list[_RegisteredHook] = []
        self._sequence = count()

    def register_pre_simulation_hook(
        self,
        hook: Callable[[], None],
        *,
        name: str = "unnamed",
        priority: int = 0,
    ) -> None:
        """Register a hook to run once before each execute_multi_year_simulation() call."""
        self._pre_simulation.append(_RegisteredHook(priority, next(self._sequence), name, hook))
        self._pre_simulation.sort()

    @property
    def pre_simulation_hook_names(self) -> list[str]:
        return [registered.name for registered in self._pre_simulation]

    def run_pre_simulation_hooks(self) -> None:
        """Execute all registered pre-simulation hooks in priority order; stop at the first failure."""
        for registered in self._pre_simulation:
            started = time.perf_counter()
            try:
                registered.hook()
            except Exception as error:
                # Raised, not reported here: the face that called prints it, once (a log line at
                # the default level would print it a second time on the terminal).
                logger.info("Pre-simulation hook %s failed: %s", registered.name, error)
                raise HookError(registered.name, error) from error
            logger.info("Pre-simulation hook %s finished in %.3fs", registered.name, time.perf_counter() - started)
