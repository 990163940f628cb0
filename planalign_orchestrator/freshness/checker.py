"""The wider status: every required table and simulated year, and whether it can be trusted.

One look at the database (existence, row counts, build records, simulated years),
then pure comparison: a build is fresh when the fingerprint of its inputs as they are
now equals the one recorded when it was built. A table's inputs include the
fingerprints of the tables it reads, and a year's those of the tables and of the year
before it, so a change anywhere makes everything downstream stale, with a reason
naming the input. No dbt: the recipes recorded with each build say what to look at.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planalign_orchestrator.config import BASELINE_SCENARIO, config_key
from planalign_orchestrator.database import DatabaseConnectionManager
from planalign_orchestrator.dbt_runner import DbtRunner
from planalign_orchestrator.freshness.canonical import form_of
from planalign_orchestrator.freshness.inputs import ABSENT, CurrentInputs, FileDigests, Recipe, fingerprint
from planalign_orchestrator.freshness.state import (
    BuildRecord,
    BuildState,
    read_build_state,
)
from planalign_orchestrator.metrics import METRICS_MODEL
from planalign_orchestrator.tables import REQUIRED_TABLES, TableState, TableStatus, existing_tables, required_row_counts

SNAPSHOT_TABLE = "fct_workforce_snapshot"
UNTRACKED_REASON = "no build state in this database (built by an earlier release, or by hand)"
FINGERPRINTED_DIFFERENTLY = (
    "its dbt code was fingerprinted by an earlier release, which counted comments, descriptions and formatting "
    "(rebuilt once to record it as this release does)"
)


def simulated_years(conn: Any, existing: set[str], scenario: str) -> tuple[list[int], bool]:
    """Years of a scenario present in the results, and whether the snapshot table lacks the scenario key.

    A year is present when both its snapshot rows and its row of the metrics model
    (which every face reports from) are there. A snapshot written before scenarios
    existed has no scenario_id column; its rows are the baseline's, and the next
    simulated year replaces them all.
    """
    if SNAPSHOT_TABLE not in existing:
        return [], False
    keyed = conn.execute(
        "select count(*) from information_schema.columns "
        "where table_schema = 'main' and table_name = ? and column_name = 'scenario_id'",
        [SNAPSHOT_TABLE],
    ).fetchone()[0]
    if not keyed:
        if scenario != BASELINE_SCENARIO:
            return [], True
        sql = f"select distinct simulation_year from main.{SNAPSHOT_TABLE} order by 1"
        params: dict[str, str] = {}
    elif METRICS_MODEL in existing:
        sql = (
            f"select distinct simulation_year from main.{SNAPSHOT_TABLE} where scenario_id = $scenario intersect "
            f"select distinct simulation_year from main.{METRICS_MODEL} where scenario_id = $scenario order by 1"
        )
        params = {"scenario": scenario}
    else:
        return [], False
    return [int(year) for (year,) in conn.execute(sql, params).fetchall()], not keyed


@dataclass(frozen=True)
class YearStatus:
    """One simulated year of a scenario: present (fresh), missing, stale or unknown."""

    year: int
    state: TableState
    reason: str | None = None
    scenario: str = BASELINE_SCENARIO
    built_at_text: str | None = None

    @property
    def explanation(self) -> str:
        if self.state is TableState.MISSING:
            return f"recorded, but its rows are gone from {SNAPSHOT_TABLE} or {METRICS_MODEL}"
        return self.reason or ""


@dataclass
class Inspection:
    """The statuses found by one look, with the fingerprints the inputs have now."""

    tables: list[TableStatus]
    years: list[YearStatus]
    state: BuildState
    # The results tables were written by a release before scenarios (no scenario_id column).
    unkeyed_results: bool = False
    table_fingerprints: dict[str, str | None] = field(default_factory=dict)
    year_fingerprints: dict[int, str | None] = field(default_factory=dict)

    @property
    def tables_needing_build(self) -> list[TableStatus]:
        return [status for status in self.tables if status.state.needs_build]

    def year_status(self, year: int) -> YearStatus | None:
        return next((status for status in self.years if status.year == year), None)


class FreshnessChecker:
    """Compares what the database holds with what the current inputs would build.

    `source_changes`, when set, says why the scenario's overrides themselves are out of
    date (a fitted scenario whose history files changed: freshness.sources), or None.
    Every simulated year of the scenario, and its ensemble, is then stale for that
    reason, whatever its own build record says.
    """

    def __init__(
        self,
        db_manager: DatabaseConnectionManager,
        inputs: CurrentInputs,
        *,
        start_year: int,
        scenario: str = BASELINE_SCENARIO,
        source_changes: Callable[[], str | None] | None = None,
    ) -> None:
        self.db_manager = db_manager
        self.inputs = inputs
        self.start_year = start_year
        self.scenario = scenario
        self.source_changes = source_changes

    def changed_sources(self) -> str | None:
        """Why the scenario's overrides are out of date (its fit's history changed), or None."""
        return self.source_changes() if self.source_changes is not None else None

    @classmethod
    def for_runner(cls, db_manager: DatabaseConnectionManager, dbt_runner: DbtRunner) -> FreshnessChecker:
        """The checker of what `dbt_runner` builds: its project, its vars (scenario and start year), its census.

        The one way a checker is made, so the initializer, the year loop and the
        read-only views of one workspace and scenario always judge the same inputs.
        """
        vars = dbt_runner.base_vars
        return cls(
            db_manager,
            CurrentInputs(dbt_runner.project_dir, vars, dbt_runner.census_path),
            start_year=int(vars["start_year"]),
            scenario=str(vars.get("scenario_id") or BASELINE_SCENARIO),
        )

    def inspect(self, *, read_only: bool = True) -> Inspection:
        """Look once at the database and judge every table and year.

        Read-only (the default) never creates, changes or deletes the file; a zero-byte
        file holds no tables yet. The initializer, under its lock, reads read-write.
        """
        if not self.db_manager.exists() or (read_only and self.db_manager.db_path.stat().st_size == 0):
            return self._judge(set(), {}, BuildState(), [])
        with self.db_manager.connection(read_only=read_only) as conn:
            existing = existing_tables(conn)
            counts = required_row_counts(conn, existing)
            state = read_build_state(conn)
            years, unkeyed = simulated_years(conn, existing, self.scenario)
        FileDigests.remember(state.file_digests)
        inspection = self._judge(existing, counts, state, years)
        inspection.unkeyed_results = unkeyed
        return inspection

    # -- judging -------------------------------------------------------------------

    def _judge(self, existing: set[str], counts: dict[str, int], state: BuildState, years: list[int]) -> Inspection:
        inspection = Inspection(tables=[], years=[], state=state)
        for table in REQUIRED_TABLES:
            present = table.name in existing
            freshness, reason, built_at = TableState.PRESENT, None, None
            if present:
                freshness, reason = self._table_freshness(table.name, state, inspection)
                record = state.tables.get(table.name)
                built_at = record.built_at if record else None
            inspection.tables.append(TableStatus(table, present, counts.get(table.name), freshness, reason, built_at))
        recorded = {year for (scenario, year) in state.years if scenario == self.scenario}
        sources = self.changed_sources() if years or recorded else None
        for year in sorted(set(years) | recorded):
            status = self._year_status(year, year in years, state, inspection)
            if sources is not None and status.state is not TableState.MISSING:
                reason = sources if status.state is TableState.PRESENT else f"{status.explanation}; {sources}"
                status = YearStatus(year, TableState.STALE, reason, self.scenario, status.built_at_text)
            inspection.years.append(status)
        return inspection

    def table_fingerprint(self, name: str, state: BuildState, memo: dict[str, str | None]) -> str | None:
        """What the table's fingerprint would be if built now (None: no record to say how)."""
        if name in memo:
            return memo[name]
        memo[name] = None  # guards against a (corrupt) cyclic record
        record = state.tables.get(name)
        if record is None:
            return None
        components = self._table_components(record.recipe, state, memo)
        memo[name] = fingerprint(components) if components is not None else None
        return memo[name]

    def _table_components(
        self, recipe: Recipe, state: BuildState, memo: dict[str, str | None]
    ) -> dict[str, Any] | None:
        upstream = {name: self.table_fingerprint(name, state, memo) for name in recipe.upstream}
        if any(value is None for value in upstream.values()):
            return None
        return self.inputs.components(recipe, upstream)

    def _table_freshness(self, name: str, state: BuildState, inspection: Inspection) -> tuple[TableState, str | None]:
        record = state.tables.get(name)
        if record is None:
            return TableState.UNKNOWN, UNTRACKED_REASON if not state.tracked else "no build record for this table"
        expected = self.table_fingerprint(name, state, inspection.table_fingerprints)
        if expected is None:
            unknown = [u for u in record.recipe.upstream if state.tables.get(u) is None]
            return TableState.UNKNOWN, f"upstream {', '.join(unknown) or 'table'} has no build record"
        if expected == record.fingerprint:
            return TableState.PRESENT, None
        components = self._table_components(record.recipe, state, inspection.table_fingerprints) or {}
        return TableState.STALE, self.explain(record, components)

    def year_fingerprint(self, year: int, state: BuildState, memo: dict[int, str | None]) -> str | None:
        """What the year's fingerprint would be if simulated now, in this order of years."""
        if year in memo:
            return memo[year]
        memo[year] = None
        record = state.year(year, self.scenario)
        if record is None or year < self.start_year:
            return None
        components = self.year_components(year, record.recipe, state, memo)
        memo[year] = fingerprint(components) if components is not None else None
        return memo[year]

    def year_components(
        self, year: int, recipe: Recipe, state: BuildState, memo: dict[int, str | None]
    ) -> dict[str, Any] | None:
        """The inputs of simulating `year` under `recipe` (None when an input has no record)."""
        table_memo: dict[str, str | None] = {}
        upstream = {name: self.table_fingerprint(name, state, table_memo) for name in recipe.upstream}
        if any(value is None for value in upstream.values()):
            return None
        prior = None
        if year > self.start_year:
            prior = self.year_fingerprint(year - 1, state, memo)
            if prior is None:
                return None
        return self.inputs.components(recipe, upstream, overrides={"simulation_year": year}, prior_year=prior)

    def _year_status(self, year: int, has_rows: bool, state: BuildState, inspection: Inspection) -> YearStatus:
        record = state.year(year, self.scenario)
        built = record.built_at_text if record else None
        if not has_rows:
            return YearStatus(year, TableState.MISSING, scenario=self.scenario, built_at_text=built)
        if record is None:
            reason = UNTRACKED_REASON if not state.tracked else "no build record for this year"
            return YearStatus(year, TableState.UNKNOWN, reason, self.scenario)
        if year < self.start_year:
            reason = f"before simulation.start_year {self.start_year}: no longer part of this simulation"
            return YearStatus(year, TableState.STALE, reason, self.scenario, built)
        expected = self.year_fingerprint(year, state, inspection.year_fingerprints)
        if expected == record.fingerprint:
            return YearStatus(year, TableState.PRESENT, scenario=self.scenario, built_at_text=built)
        if expected is None:
            prior = inspection.year_status(year - 1)
            why = f"year {year - 1} has no build record" if prior is not None else "an input has no build record"
            return YearStatus(year, TableState.UNKNOWN, why, self.scenario, built)
        components = self.year_components(year, record.recipe, state, inspection.year_fingerprints) or {}
        return YearStatus(year, TableState.STALE, self.explain(record, components, year=year), self.scenario, built)

    # -- seed ensembles --------------------------------------------------------------

    def ensemble_components(
        self, recipe: Recipe, state: BuildState, seeds: Sequence[int], last_year: int
    ) -> dict[str, Any] | None:
        """The inputs of an ensemble of `seeds` through `last_year` (None when a table it reads has no record).

        Every simulated year of it reads the same files, config values and tables; only
        the year differs, so the last year's inputs, the span and the seeds say it all.
        """
        memo: dict[str, str | None] = {}
        upstream = {name: self.table_fingerprint(name, state, memo) for name in recipe.upstream}
        if any(value is None for value in upstream.values()):
            return None
        components = self.inputs.components(recipe, upstream, overrides={"simulation_year": last_year})
        components["years"] = [self.start_year, last_year]
        components["seeds"] = list(seeds)  # random_seeds is passed per run, not a config var the recipe lists
        return components

    def ensemble_status(
        self, build: BuildRecord, seeds: Sequence[int], last_year: int, state: BuildState
    ) -> tuple[TableState, str | None]:
        """Whether a stored ensemble was built from the inputs as they are now, judged as years are."""
        sources = self.changed_sources()
        if sources is not None:
            return TableState.STALE, sources
        now = self.ensemble_components(build.recipe, state, seeds, last_year)
        if now is None:
            return TableState.UNKNOWN, "a table it reads has no build record"
        if now.get("years") != build.components.get("years"):
            return TableState.STALE, f"simulation.start_year is now {self.start_year}"
        if fingerprint(now) == build.fingerprint:
            return TableState.PRESENT, None
        return TableState.STALE, self.explain(build, now)

    # -- reasons -------------------------------------------------------------------

    def explain(self, record: BuildRecord, now: dict[str, Any], *, year: int | None = None) -> str:
        """Which inputs differ from the recorded build, in words an analyst acts on."""
        before = record.components
        when = f"since the build on {record.built_at_text}"
        reasons: list[str] = []
        if before.get("package") != now.get("package"):
            reasons.append(f"the package changed ({before.get('package')} -> {now.get('package')})")
        if before.get("census") != now.get("census"):
            name = self.inputs.census_path.name if self.inputs.census_path else "the census"
            reasons.append(f"{name} changed {when}")
        reasons.extend(_file_reasons(before.get("files", {}), now.get("files", {}), when))
        old_vars, new_vars = before.get("vars", {}), now.get("vars", {})
        for name in sorted(set(old_vars) | set(new_vars)):
            if old_vars.get(name) != new_vars.get(name):
                key = config_key(name)
                reasons.append(f"config {key} changed ({old_vars.get(name)!r} -> {new_vars.get(name)!r})")
        old_up, new_up = before.get("upstream", {}), now.get("upstream", {})
        changed = [name for name in sorted(set(old_up) | set(new_up)) if old_up.get(name) != new_up.get(name)]
        if changed:
            reasons.append(f"upstream {', '.join(changed)} changed {when}")
        if year is not None and before.get("prior_year") != now.get("prior_year"):
            reasons.append(f"year {year - 1} changed {when}")
        return "; ".join(reasons) or f"its inputs changed {when}"


def _file_reasons(before: dict[str, str], now: dict[str, str], when: str) -> list[str]:
    """The files whose digests differ, by name; digests of different forms only as one fact, not as changes."""
    reasons: list[str] = []
    differently = False
    for name in sorted(set(before) | set(now)):
        old, new = before.get(name), now.get(name)
        if old == new:
            continue
        if _of_different_forms(old, new):
            differently = True
            continue
        what = f"seed {Path(name).name}" if name.endswith(".csv") else f"dbt code {name}"
        reasons.append(f"{what} changed {when}")
    return [*reasons, FINGERPRINTED_DIFFERENTLY] if differently else reasons


def _of_different_forms(old: str | None, new: str | None) -> bool:
    """Digests of a file present then and now, made of different forms: they say nothing about a change."""
    if old is None or new is None or ABSENT in (old, new):
        return False
    return form_of(old) != form_of(new)
