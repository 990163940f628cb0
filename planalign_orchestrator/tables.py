"""The tables a workspace needs, their tiers, and the one status vocabulary of tables and years.

The contract's required tables (seeds loaded by `dbt seed`, foundation models built by
`dbt run --select tag:foundation`) and the words every face uses for the state of a
table or a simulated year. A test keeps REQUIRED_TABLES and the dbt project in step.
The two catalog queries run on a connection the caller opened
(DatabaseConnectionManager opens every one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any


class TableTier(str, Enum):
    """Build order: seeds are always loaded before foundation models are built."""

    SEED = "seed"
    FOUNDATION = "foundation"

    @property
    def heading(self) -> str:
        return {TableTier.SEED: "Seed tables", TableTier.FOUNDATION: "Foundation models"}[self]


class TableState(str, Enum):
    """The one status vocabulary of tables and simulated years, shared by every face.

    present: exists, has rows, and was built from the inputs as they are now.
    missing: does not exist (the contract's notion). empty: exists without rows.
    stale: built from inputs that have changed since (the status says which).
    unknown: exists, but no build record says what it was built from.
    """

    PRESENT = "present"
    MISSING = "missing"
    EMPTY = "empty"
    STALE = "stale"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value

    @property
    def needs_build(self) -> bool:
        return self is not TableState.PRESENT


@dataclass(frozen=True)
class RequiredTable:
    name: str
    tier: TableTier
    dbt_selector: str


REQUIRED_TABLES: tuple[RequiredTable, ...] = (
    RequiredTable("config_age_bands", TableTier.SEED, "config_age_bands"),
    RequiredTable("config_tenure_bands", TableTier.SEED, "config_tenure_bands"),
    RequiredTable("config_job_levels", TableTier.SEED, "config_job_levels"),
    RequiredTable("comp_levers", TableTier.SEED, "comp_levers"),
    RequiredTable("irs_contribution_limits", TableTier.SEED, "irs_contribution_limits"),
    RequiredTable("config_retirement_rates", TableTier.SEED, "config_retirement_rates"),
    RequiredTable("config_compa_ratio_bands", TableTier.SEED, "config_compa_ratio_bands"),
    RequiredTable("int_baseline_workforce", TableTier.FOUNDATION, "int_baseline_workforce"),
    RequiredTable("int_employee_compensation_by_year", TableTier.FOUNDATION, "int_employee_compensation_by_year"),
    RequiredTable("int_employee_benefits", TableTier.FOUNDATION, "int_employee_benefits"),
)


@dataclass(frozen=True)
class TableStatus:
    """One required table as the database holds it now, and whether it can be trusted.

    `freshness` is PRESENT, STALE or UNKNOWN for a table that exists with rows; `state`
    folds existence and rows in (MISSING, EMPTY), so faces show one word per table.
    """

    table: RequiredTable
    present: bool
    row_count: int | None
    freshness: TableState = TableState.PRESENT
    reason: str | None = None
    built_at: datetime | None = None

    @property
    def state(self) -> TableState:
        if not self.present:
            return TableState.MISSING
        if self.row_count == 0:
            return TableState.EMPTY
        return self.freshness

    @property
    def explanation(self) -> str:
        """Why the table needs a build, in words (empty when it does not)."""
        if self.state is TableState.MISSING:
            return "does not exist"
        if self.state is TableState.EMPTY:
            return "exists but holds no rows"
        return self.reason or ""


def existing_tables(conn: Any) -> set[str]:
    rows = conn.execute("select table_name from information_schema.tables where table_schema = 'main'").fetchall()
    return {name for (name,) in rows}


def required_row_counts(conn: Any, existing: set[str]) -> dict[str, int]:
    """Row counts of the required tables that exist, in one query."""
    present = [t.name for t in REQUIRED_TABLES if t.name in existing]
    if not present:
        return {}
    union = " union all ".join(f"select '{name}', count(*) from main.\"{name}\"" for name in present)
    return {name: int(count) for name, count in conn.execute(union).fetchall()}
