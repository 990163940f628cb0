"""Ensemble results in the workspace database, and whether they are still current.

Per (scenario, seed, year) metrics live in `main.ensemble_year_metrics`, one row per
metric (long, so a metric added to the metrics model needs no change here); one build
record per scenario in `planalign_state.ensemble_builds` says which seeds and years
they cover and what they were built from (the yearly recipe, the fingerprints of the
tables it read, the config values, package and census), exactly as simulated years
are recorded. A record's fingerprint is recomputed from the inputs as they are now:
an ensemble whose inputs changed is stale, with the reason, never shown as current.
Rows and record are replaced together in one transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb

from planalign_orchestrator.database import DatabaseConnectionManager, attached, transaction
from planalign_orchestrator.ensemble.engine import DETAIL_PREFIX, DETAIL_TABLES
from planalign_orchestrator.ensemble.metrics import METRICS
from planalign_orchestrator.exceptions import SimulationError
from planalign_orchestrator.freshness.checker import FreshnessChecker
from planalign_orchestrator.freshness.inputs import Recipe, fingerprint
from planalign_orchestrator.freshness.state import SCHEMA, BuildRecord, read_build_state
from planalign_orchestrator.metrics import typed_metrics
from planalign_orchestrator.progress import utc_now
from planalign_orchestrator.tables import TableState

if TYPE_CHECKING:
    import pandas as pd

    from planalign_orchestrator.ensemble.result import EnsembleResult

METRICS_TABLE = "main.ensemble_year_metrics"
# Where releases before the metrics model kept the rows (one column per metric): dropped on the next write.
_FORMER_METRICS_TABLE = "main.ensemble_seed_metrics"
BUILDS_TABLE = f"{SCHEMA}.ensemble_builds"

_CREATE = (
    f"create schema if not exists {SCHEMA}",
    f"""create table if not exists {METRICS_TABLE} (
        scenario varchar not null,
        seed bigint not null,
        year integer not null,
        metric varchar not null,
        value double,
        primary key (scenario, seed, year, metric)
    )""",
    f"drop table if exists {_FORMER_METRICS_TABLE}",
    f"""create table if not exists {BUILDS_TABLE} (
        scenario varchar primary key,
        seeds varchar not null,
        first_year integer not null,
        last_year integer not null,
        detail_seed bigint,
        fingerprint varchar not null,
        recipe varchar not null,
        components varchar not null,
        built_at varchar not null
    )""",
)


@dataclass(frozen=True)
class EnsembleRecord:
    """What the stored ensemble of a scenario covers and was built from."""

    scenario: str
    seeds: tuple[int, ...]
    first_year: int
    last_year: int
    detail_seed: int | None
    build: BuildRecord

    @property
    def built_at(self) -> datetime:
        return self.build.built_at


@dataclass(frozen=True)
class EnsembleFreshness:
    """A stored ensemble's state (present = current, stale, unknown) and why."""

    state: TableState
    reason: str | None = None


def describe_ensemble(record: EnsembleRecord, freshness: EnsembleFreshness) -> str:
    """One line for a status report: what the stored ensemble covers and whether it is current."""
    what = f"Ensemble ({record.scenario}): {len(record.seeds)} seeds, {record.first_year}-{record.last_year}"
    if freshness.state is TableState.PRESENT:
        return f"{what}, up to date."
    return f"{what}, {freshness.state.value}: {freshness.reason}. Run it again to see its bands."


def write_ensemble(
    db: DatabaseConnectionManager,
    scenario: str,
    seeds: tuple[int, ...],
    first_year: int,
    last_year: int,
    metrics: pd.DataFrame,
    recipe: Recipe,
    components: dict[str, Any],
    detail: tuple[int, str] | None = None,
) -> EnsembleRecord:
    """Replace the scenario's stored ensemble (metrics, record, and the one seed's detail if kept)."""
    build = BuildRecord(fingerprint(components), recipe, components, utc_now())
    detail_seed = detail[0] if detail else None
    with db.connection() as conn:
        for statement in _CREATE:
            conn.execute(statement)
        with transaction(conn):
            conn.execute(f"delete from {METRICS_TABLE} where scenario = ?", [scenario])
            frame = metrics.melt(id_vars=["seed", "year"], value_vars=list(METRICS), var_name="metric")
            frame = frame.assign(scenario=scenario, value=frame["value"].astype("float64"))
            frame = frame[["scenario", "seed", "year", "metric", "value"]]
            conn.register("ensemble_frame", frame)
            conn.execute(f"insert into {METRICS_TABLE} select * from ensemble_frame")
            conn.unregister("ensemble_frame")
            fp, recipe_json, components_json, built_at = build._row()
            conn.execute(
                f"insert or replace into {BUILDS_TABLE} values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    scenario,
                    json.dumps(list(seeds)),
                    first_year,
                    last_year,
                    detail_seed,
                    fp,
                    recipe_json,
                    components_json,
                    built_at,
                ],
            )
            if detail is not None:
                _copy_detail(conn, scenario, detail[1])
    return EnsembleRecord(scenario, seeds, first_year, last_year, detail_seed, build)


def _copy_detail(conn: duckdb.DuckDBPyConnection, scenario: str, chunk_database: str) -> None:
    """The kept seed's full rows, from the chunk database that simulated it, replacing the scenario's."""
    with attached(conn, chunk_database, "ensemble_chunk"):
        for table in DETAIL_TABLES:
            target = f"main.{DETAIL_PREFIX}{table}"
            source = f"ensemble_chunk.main.{DETAIL_PREFIX}{table}"
            conn.execute(f"create table if not exists {target} as select * from {source} where false")
            conn.execute(f"delete from {target} where scenario_id = ?", [scenario])
            conn.execute(f"insert into {target} by name select * from {source}")


def read_ensemble(
    conn: duckdb.DuckDBPyConnection, scenario: str, *, with_metrics: bool = True
) -> tuple[EnsembleRecord, pd.DataFrame | None] | None:
    """The stored ensemble of a scenario and (unless with_metrics is False: no pandas) its metric rows."""
    present = {
        f"{schema}.{name}"
        for schema, name in conn.execute("select table_schema, table_name from information_schema.tables").fetchall()
    }
    if BUILDS_TABLE not in present or METRICS_TABLE not in present:
        return None
    row = conn.execute(
        f"select seeds, first_year, last_year, detail_seed, fingerprint, recipe, components, built_at "
        f"from {BUILDS_TABLE} where scenario = ?",
        [scenario],
    ).fetchone()
    if row is None:
        return None
    seeds, first, last, detail_seed, *build_row = row
    record = EnsembleRecord(
        scenario,
        tuple(int(seed) for seed in json.loads(seeds)),
        int(first),
        int(last),
        None if detail_seed is None else int(detail_seed),
        BuildRecord._from_row(*build_row),
    )
    if not with_metrics:
        return record, None
    long = conn.execute(f"select seed, year, metric, value from {METRICS_TABLE} where scenario = ?", [scenario]).df()
    return record, _wide(long)


def _wide(long: pd.DataFrame) -> pd.DataFrame:
    """(seed, year, metric, value) rows as (seed, year, *METRICS), typed as the metrics model types them."""
    wide = long.pivot_table(index=["seed", "year"], columns="metric", values="value", dropna=False).reset_index()
    wide.columns.name = None
    present = [name for name in METRICS if name in wide]  # a stale ensemble may predate a metric
    wide = typed_metrics(wide[["seed", "year", *present]]).astype({"seed": "int64", "year": "int64"})
    return wide.sort_values(["seed", "year"], ignore_index=True)


def inspect_ensemble(
    db: DatabaseConnectionManager, checker: FreshnessChecker, scenario: str, *, with_metrics: bool = True
) -> tuple[EnsembleRecord, pd.DataFrame | None, EnsembleFreshness] | None:
    """One read-only look: the stored ensemble, its metrics (unless with_metrics is False) and its freshness."""
    if not db.exists() or db.db_path.stat().st_size == 0:
        return None
    with db.connection(read_only=True) as conn:
        found = read_ensemble(conn, scenario, with_metrics=with_metrics)
        state = read_build_state(conn)
    if found is None:
        return None
    record, metrics = found
    freshness = EnsembleFreshness(*checker.ensemble_status(record.build, record.seeds, record.last_year, state))
    return record, metrics, freshness


def current_ensemble(
    db: DatabaseConnectionManager,
    checker: FreshnessChecker,
    scenario: str,
    first_year: int,
    last_year: int,
    min_seeds: int,
) -> EnsembleResult:
    """The stored ensemble of a scenario for first..last, refused unless it is current and covers them."""
    from planalign_orchestrator.ensemble.result import EnsembleResult

    found = inspect_ensemble(db, checker, scenario)
    again = (
        f"Run it: `planalign simulate {first_year}-{last_year} --seeds 100"
        + ("" if scenario == "baseline" else f" --scenario {scenario}")
        + f"` (or nb.ensemble(ws, {first_year}, {last_year}, seeds=100"
        + ("" if scenario == "baseline" else f", scenario={scenario!r}")
        + "))."
    )
    if found is None:
        raise SimulationError(f"Scenario {scenario!r} has no ensemble results yet.", remediation=again)
    record, metrics, freshness = found
    assert metrics is not None  # read with its metrics
    if freshness.state is not TableState.PRESENT:
        raise SimulationError(
            f"The ensemble of scenario {scenario!r} (built {record.build.built_at_text}) is "
            f"{freshness.state.value}: {freshness.reason}.",
            remediation=again,
        )
    if not (record.first_year <= first_year and last_year <= record.last_year):
        raise SimulationError(
            f"The ensemble of scenario {scenario!r} covers {record.first_year}-{record.last_year}, "
            f"not {first_year}-{last_year}.",
            remediation=again,
        )
    shown = metrics[metrics["year"].between(first_year, last_year)].reset_index(drop=True)
    return EnsembleResult(scenario, record.seeds, first_year, last_year, shown, record.built_at, min_seeds)
