"""TableExistenceChecker: which required tables exist, in one catalog query.

The contract's methods mean existence and nothing else: `get_missing_tables()` lists
the required tables that do not exist, and `is_initialized()` is True when all do.
Whether an existing table can be trusted (it has rows, it was built from the inputs
as they are now) is the wider status, `TableStatus`, computed with the build state
by planalign_orchestrator.freshness.
"""

from __future__ import annotations

from planalign_orchestrator.database import DatabaseConnectionManager
from planalign_orchestrator.tables import (
    REQUIRED_TABLES,
    RequiredTable,
    TableStatus,
    TableTier,
    existing_tables,
    required_row_counts,
)


class TableExistenceChecker:
    """Checks for existence of required database tables."""

    def __init__(self, db_manager: DatabaseConnectionManager) -> None:
        self.db_manager = db_manager

    def get_existing_tables(self) -> set[str]:
        """Names of the tables and views in the 'main' schema (none when the file does not exist)."""
        if not self.db_manager.exists():
            return set()
        with self.db_manager.connection(read_only=True) as conn:
            return existing_tables(conn)

    def get_table_statuses(self) -> list[TableStatus]:
        """Every required table with presence and row count, in tier order (no freshness)."""
        if not self.db_manager.exists():
            return [TableStatus(table, False, None) for table in REQUIRED_TABLES]
        with self.db_manager.connection(read_only=True) as conn:
            existing = existing_tables(conn)
            counts = required_row_counts(conn, existing)
        return [TableStatus(t, t.name in existing, counts.get(t.name)) for t in REQUIRED_TABLES]

    def get_missing_tables(self) -> list[RequiredTable]:
        """Required tables that do not exist in the 'main' schema."""
        existing = self.get_existing_tables()
        return [t for t in REQUIRED_TABLES if t.name not in existing]

    def is_initialized(self) -> bool:
        """True when every required table exists."""
        return not self.get_missing_tables()

    def get_missing_by_tier(self) -> dict[TableTier, list[RequiredTable]]:
        """Missing tables grouped by tier, in build order; empty dict when nothing is missing."""
        grouped: dict[TableTier, list[RequiredTable]] = {}
        for table in self.get_missing_tables():
            grouped.setdefault(table.tier, []).append(table)
        return {tier: grouped[tier] for tier in TableTier if tier in grouped}
