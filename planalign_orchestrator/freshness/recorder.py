"""Writing build records once a build has succeeded (see freshness.state for why after).

Fingerprints are computed exactly as FreshnessChecker recomputes them later: a table
from its recipe and the fingerprints of the tables it reads (just built, or fresh and
so equal to their records), a year from the yearly recipe, those tables and the year
before it. What is recorded is therefore what the next status check expects.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

from planalign_orchestrator.database import DatabaseConnectionManager
from planalign_orchestrator.freshness.checker import FreshnessChecker
from planalign_orchestrator.freshness.inputs import FileDigests, Recipe, fingerprint
from planalign_orchestrator.freshness.recipes import ProjectRecipes
from planalign_orchestrator.freshness.state import BuildRecord, read_build_state, record_tables, record_year
from planalign_orchestrator.progress import utc_now

if TYPE_CHECKING:
    import duckdb

logger = logging.getLogger(__name__)


class BuildRecorder:
    """Records what the current inputs built, for the tables and years just built."""

    def __init__(self, db_manager: DatabaseConnectionManager, checker: FreshnessChecker) -> None:
        self.db_manager = db_manager
        self.checker = checker

    def record_tables(self, built: Collection[str], recipes: ProjectRecipes) -> None:
        if not built:
            return
        inputs = self.checker.inputs
        now = utc_now()
        with self.db_manager.connection() as conn:
            state = read_build_state(conn)
            fingerprints: dict[str, str | None] = {}
            records: dict[str, BuildRecord] = {}

            def fingerprint_of(name: str) -> str | None:
                if name not in fingerprints:
                    fingerprints[name] = None
                    if name in built:
                        recipe = recipes.table(name)
                        upstream = {parent: fingerprint_of(parent) for parent in recipe.upstream}
                        components = inputs.components(recipe, upstream)
                        records[name] = BuildRecord(fingerprint(components), recipe, components, now)
                        fingerprints[name] = records[name].fingerprint
                    elif name in state.tables:
                        fingerprints[name] = state.tables[name].fingerprint
                return fingerprints[name]

            for name in built:
                fingerprint_of(name)
            record_tables(conn, records, self._digest_rows(records.values()))

    def record_year(
        self,
        year: int,
        recipe: Recipe,
        years: dict[int, str | None] | None = None,
        *,
        conn: duckdb.DuckDBPyConnection | None = None,
    ) -> bool:
        """Record a simulated year; False when an input has no record (the year stays unknown).

        `years` carries the fingerprints of the years a run has recorded so far (this one is
        added): the next year then reads its prior year's from it instead of recomputing
        the whole chain back to start_year, which made each year cost more than the last.
        `conn` is a connection the caller has open (and reads the year's results on next).
        """
        memo = {} if years is None else years
        with nullcontext(conn) if conn is not None else self.db_manager.connection() as conn:
            state = read_build_state(conn)
            components = self.checker.year_components(year, recipe, state, memo)
            if components is None:
                logger.warning("Year %s was simulated from inputs without build records; not recorded", year)
                return False
            record = BuildRecord(fingerprint(components), recipe, components, utc_now())
            record_year(conn, self.checker.scenario, year, record, self._digest_rows([record]))
        memo[year] = record.fingerprint
        return True

    def _digest_rows(self, records: Collection[BuildRecord]) -> list[tuple[str, int, int, str]]:
        inputs = self.checker.inputs
        paths: set[Path] = {inputs.project_dir / name for record in records for name in record.recipe.files}
        if inputs.census_path is not None:
            paths.add(inputs.census_path)
        return FileDigests.known_rows(sorted(paths))
