"""TableExistenceChecker: which required tables are missing, in one catalog query.

A seed table that exists but holds no rows counts as missing: that is what an
interrupted `dbt seed` leaves behind, and treating it as present would let a
simulation start on empty configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from planalign_orchestrator.database import DatabaseConnectionManager
from planalign_orchestrator.self_healing.models import REQUIRED_TABLES, RequiredTable, TableTier


@dataclass(frozen=True)
class TableStatus:
    """One required table as the database holds it now."""

    table: RequiredTable
    present: bool
    row_count: int | None

    @property
    def state(self) -> str:
        if not self.present:
            return "missing"
        return "empty" if self.row_count == 0 else "present"


def _existing_tables(conn: Any) -> set[str]:
    rows = conn.execute("select table_name from information_schema.tables where table_schema = 'main'").fetchall()
    return {name for (name,) in rows}


class TableExistenceChecker:
    """Checks for existence of required database tables."""

    def __init__(self, db_manager: DatabaseConnectionManager) -> None:
        self.db_manager = db_manager

    def get_existing_tables(self) -> set[str]:
        """Names of the tables and views in the 'main' schema (none when the file does not exist)."""
        if not self.db_manager.exists():
            return set()
        with self.db_manager.connection() as conn:
            return _existing_tables(conn)

    def get_table_statuses(self) -> list[TableStatus]:
        """Every required table with presence and row count, in tier order."""
        if not self.db_manager.exists():
            return [TableStatus(table, False, None) for table in REQUIRED_TABLES]
        with self.db_manager.connection() as conn:
            existing = _existing_tables(conn)
            present = [t.name for t in REQUIRED_TABLES if t.name in existing]
            counts: dict[str, int] = {}
            if present:
                union = " union all ".join(f"select '{name}', count(*) from main.\"{name}\"" for name in present)
                counts = dict(conn.execute(union).fetchall())
        return [TableStatus(t, t.name in existing, counts.get(t.name)) for t in REQUIRED_TABLES]

    def get_missing_tables(self) -> list[RequiredTable]:
        """Required tables that do not exist, plus seed tables that exist but are empty."""
        if not self.db_manager.exists():
            return list(REQUIRED_TABLES)
        with self.db_manager.connection() as conn:
            existing = _existing_tables(conn)
            present_seeds = [t.name for t in REQUIRED_TABLES if t.tier is TableTier.SEED and t.name in existing]
            empty: set[str] = set()
            if present_seeds:
                probe = " union all ".join(
                    f"select '{name}' where not exists (select 1 from main.\"{name}\")" for name in present_seeds
                )
                empty = {name for (name,) in conn.execute(probe).fetchall()}
        return [t for t in REQUIRED_TABLES if t.name not in existing or t.name in empty]

    def is_initialized(self) -> bool:
        return not self.get_missing_tables()

    def get_missing_by_tier(self) -> dict[TableTier, list[RequiredTable]]:
        """Missing tables grouped by tier, in build order; empty dict when nothing is missing."""
        grouped: dict[TableTier, list[RequiredTable]] = {}
        for table in self.get_missing_tables():
            grouped.setdefault(table.tier, []).append(table)
        return {tier: grouped[tier] for tier in TableTier if tier in grouped}
