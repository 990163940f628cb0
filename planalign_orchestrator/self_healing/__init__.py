"""Self-healing initialization: detect missing tables, build only those, verify."""

from planalign_orchestrator.initialization import InitializationResult, InitializationState, InitializationStep
from planalign_orchestrator.tables import REQUIRED_TABLES, RequiredTable, TableTier

__all__ = [
    "REQUIRED_TABLES",
    "InitializationResult",
    "InitializationState",
    "InitializationStep",
    "RequiredTable",
    "TableTier",
]
