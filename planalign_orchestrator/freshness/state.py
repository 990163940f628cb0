"""Build state: what every table and simulated year was built from, kept in the database.

The records live in their own schema, `planalign_state`, beside (not among) the
contract's required tables in `main`, so the table checks never see them. A database
without the schema (built by an earlier release, or by hand) has unknown freshness,
never assumed fresh; the schema is created the first time something is recorded.

Records are written after the build they describe has succeeded: a crash in between
leaves an old record, which reads as stale and is rebuilt. The reverse order could
vouch for a table that was never built.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from planalign_orchestrator.config import BASELINE_SCENARIO
from planalign_orchestrator.database import transaction
from planalign_orchestrator.freshness.inputs import Recipe

SCHEMA = "planalign_state"

_CREATE = (
    f"create schema if not exists {SCHEMA}",
    f"""create table if not exists {SCHEMA}.table_builds (
        table_name varchar primary key,
        fingerprint varchar not null,
        recipe varchar not null,
        components varchar not null,
        built_at varchar not null
    )""",
    f"""create table if not exists {SCHEMA}.year_builds (
        scenario varchar not null,
        simulation_year integer not null,
        fingerprint varchar not null,
        recipe varchar not null,
        components varchar not null,
        built_at varchar not null,
        primary key (scenario, simulation_year)
    )""",
    # sha256 holds a FileDigests digest: a file's sha256, or a canonical form's name and
    # the sha256 of the file in that form (freshness.canonical).
    f"""create table if not exists {SCHEMA}.file_digests (
        path varchar primary key,
        size bigint not null,
        mtime_ns bigint not null,
        sha256 varchar not null
    )""",
)


@dataclass(frozen=True)
class BuildRecord:
    """One successful build: its inputs' fingerprint, the recipe and the inputs themselves."""

    fingerprint: str
    recipe: Recipe
    components: dict[str, Any]
    built_at: datetime

    @property
    def built_at_text(self) -> str:
        return self.built_at.strftime("%Y-%m-%d %H:%M UTC")

    def _row(self) -> tuple[str, str, str, str]:
        return (
            self.fingerprint,
            json.dumps(self.recipe.to_json(), sort_keys=True),
            json.dumps(self.components, sort_keys=True, default=str),
            self.built_at.isoformat(),
        )

    @classmethod
    def _from_row(cls, fingerprint: str, recipe: str, components: str, built_at: str) -> BuildRecord:
        return cls(fingerprint, Recipe.from_json(json.loads(recipe)), json.loads(components), _parse_time(built_at))


@dataclass
class BuildState:
    """Everything recorded in one database (empty, and `tracked` False, when nothing was)."""

    tracked: bool = False
    tables: dict[str, BuildRecord] = field(default_factory=dict)
    years: dict[tuple[str, int], BuildRecord] = field(default_factory=dict)
    file_digests: list[tuple[str, int, int, str]] = field(default_factory=list)

    def year(self, year: int, scenario: str = BASELINE_SCENARIO) -> BuildRecord | None:
        return self.years.get((scenario, year))


def read_build_state(conn: duckdb.DuckDBPyConnection) -> BuildState:
    """The build state of the database behind `conn` (read-only use is fine)."""
    present = {
        name
        for (name,) in conn.execute(
            "select table_name from information_schema.tables where table_schema = ?", [SCHEMA]
        ).fetchall()
    }
    if not {"table_builds", "year_builds"} <= present:
        return BuildState()
    state = BuildState(tracked=True)
    for name, *row in conn.execute(
        f"select table_name, fingerprint, recipe, components, built_at from {SCHEMA}.table_builds"
    ).fetchall():
        state.tables[name] = BuildRecord._from_row(*row)
    for scenario, year, *row in conn.execute(
        f"select scenario, simulation_year, fingerprint, recipe, components, built_at from {SCHEMA}.year_builds"
    ).fetchall():
        state.years[(scenario, int(year))] = BuildRecord._from_row(*row)
    if "file_digests" in present:
        state.file_digests = [
            (path, int(size), int(mtime_ns), digest)
            for path, size, mtime_ns, digest in conn.execute(
                f"select path, size, mtime_ns, sha256 from {SCHEMA}.file_digests"
            ).fetchall()
        ]
    return state


def record_tables(
    conn: duckdb.DuckDBPyConnection,
    records: dict[str, BuildRecord],
    file_digests: list[tuple[str, int, int, str]],
) -> None:
    """Record freshly built tables (replacing their previous records) in one transaction."""
    _ensure_schema(conn)
    with transaction(conn):
        for name, record in records.items():
            conn.execute(f"insert or replace into {SCHEMA}.table_builds values (?, ?, ?, ?, ?)", [name, *record._row()])
        _record_digests(conn, file_digests)


def record_year(
    conn: duckdb.DuckDBPyConnection,
    scenario: str,
    year: int,
    record: BuildRecord,
    file_digests: list[tuple[str, int, int, str]],
) -> None:
    """Record one freshly simulated year of a scenario."""
    _ensure_schema(conn)
    with transaction(conn):
        conn.execute(
            f"insert or replace into {SCHEMA}.year_builds values (?, ?, ?, ?, ?, ?)", [scenario, year, *record._row()]
        )
        _record_digests(conn, file_digests)


def _ensure_schema(conn: duckdb.DuckDBPyConnection) -> None:
    for statement in _CREATE:
        conn.execute(statement)


def _record_digests(conn: duckdb.DuckDBPyConnection, rows: list[tuple[str, int, int, str]]) -> None:
    """All rows in one statement: one per row cost a millisecond each, every simulated year."""
    if not rows:
        return
    placeholders = ", ".join(["(?, ?, ?, ?)"] * len(rows))
    conn.execute(
        f"insert or replace into {SCHEMA}.file_digests values {placeholders}", [value for row in rows for value in row]
    )


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)
