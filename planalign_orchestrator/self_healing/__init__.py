"""Self-healing initialization: detect missing tables, build only those, verify."""

from planalign_orchestrator.self_healing.models import (
    REQUIRED_TABLES,
    InitializationResult,
    InitializationState,
    InitializationStep,
    RequiredTable,
    TableTier,
)

__all__ = [
    "REQUIRED_TABLES",
    "InitializationResult",
    "InitializationState",
    "InitializationStep",
    "RequiredTable",
    "TableTier",
]
