"""The seed tables a config may replace row by row (`assumptions.*`), and the check that the lists fit them.

A scenario cannot override a seed: the seeds are shared by every scenario of a
workspace (scenarios.SHARED_KEYS). A fitted assumption that is a table (termination
multipliers by tenure band, age band and level; retirement rates by age; promotion
rates by level) therefore lives in the config as a list aligned with the seed's rows
in id order, read by the yearly model as a dbt var in place of the seed's column
(dbt/macros/assumption_tables.sql). Being config values, they are what freshness
fingerprints a simulated year by, and what a scenario file may hold.

The config validates each value's bounds on its own (config.AssumptionTables); only
here, where the dbt project is known, can a list be checked against its seed's rows.
Every config and scenario is checked when it is opened, so a seed edited after a
scenario was saved is caught before anything runs.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from planalign_orchestrator.config import SimulationConfig
from planalign_orchestrator.exceptions import ConfigurationError
from planalign_orchestrator.workspace import dbt_project_dir

SECTION = "assumptions"


@dataclass(frozen=True)
class AssumptionTable:
    """One table-valued assumption: its config key and the seed rows its values align with."""

    name: str  # the field of config.AssumptionTables (and the dbt var)
    seed: str
    id_column: str
    label_column: str
    # The seed column the list replaces (None: the value comes from another seed, see promotion_probabilities).
    value_column: str | None

    @property
    def key(self) -> str:
        return f"{SECTION}.{self.name}"


TENURE_MULTIPLIERS = AssumptionTable(
    "tenure_termination_multipliers", "config_tenure_bands", "band_id", "band_label", "termination_multiplier"
)
AGE_MULTIPLIERS = AssumptionTable(
    "age_termination_multipliers", "config_age_bands", "band_id", "band_label", "termination_multiplier"
)
LEVEL_FACTORS = AssumptionTable(
    "level_termination_factors", "config_job_levels", "level_id", "level_name", "termination_factor"
)
RETIREMENT_RATES = AssumptionTable("retirement_rates", "config_retirement_rates", "age", "age", "retirement_rate")
# The model's promotion rates come from comp_levers (per plan year and level); the list is by level.
PROMOTION_PROBABILITIES = AssumptionTable(
    "promotion_probabilities", "config_job_levels", "level_id", "level_name", None
)
ASSUMPTION_TABLES: tuple[AssumptionTable, ...] = (
    TENURE_MULTIPLIERS,
    AGE_MULTIPLIERS,
    LEVEL_FACTORS,
    RETIREMENT_RATES,
    PROMOTION_PROBABILITIES,
)


def seed_path(seed: str, project_dir: Path | None = None) -> Path:
    return (project_dir or dbt_project_dir()) / "seeds" / f"{seed}.csv"


def seed_rows(seed: str, id_column: str, project_dir: Path | None = None) -> list[dict[str, str]]:
    """A seed's rows as text, in the order of its (numeric) id column: the order assumption lists follow."""
    path = seed_path(seed, project_dir)
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return sorted(rows, key=lambda row: float(row[id_column]))


def table_labels(table: AssumptionTable, project_dir: Path | None = None) -> list[str]:
    """The labels of the seed rows a table's values belong to ('< 2', '2-4', ...; ages as numbers)."""
    return [row[table.label_column] for row in seed_rows(table.seed, table.id_column, project_dir)]


def table_ids(table: AssumptionTable, project_dir: Path | None = None) -> list[int]:
    return [int(float(row[table.id_column])) for row in seed_rows(table.seed, table.id_column, project_dir)]


def table_values(config: SimulationConfig, table: AssumptionTable, project_dir: Path | None = None) -> list[float]:
    """The values the model uses for a table under `config`: the config's list, else the seed's column."""
    listed = getattr(config.assumptions, table.name)
    if listed is not None:
        return [float(value) for value in listed]
    if table.value_column is None:
        raise ValueError(f"{table.key} has no seed column of its own; read its default where the model does")
    rows = seed_rows(table.seed, table.id_column, project_dir)
    return [float(row[table.value_column]) for row in rows]


def check_assumption_tables(
    config: SimulationConfig, *, config_path: Path | None = None, project_dir: Path | None = None
) -> SimulationConfig:
    """Refuse a table-valued assumption whose length is not its seed's row count; return the config."""
    for table in ASSUMPTION_TABLES:
        values = getattr(config.assumptions, table.name)
        if values is None:
            continue
        labels = table_labels(table, project_dir)
        if len(values) != len(labels):
            shown = ", ".join(labels)
            raise ConfigurationError(
                f"{len(values)} value(s) given, but the seed {table.seed} has {len(labels)} row(s) ({shown})",
                key=table.key,
                value=values,
                config_path=config_path,
                remediation=(
                    f"Give {len(labels)} values, one per row of {table.seed}.csv in {table.id_column} order "
                    f"({shown}), or set {table.key} to null to use the seed."
                ),
            )
    return config
