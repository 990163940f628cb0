"""Preflight: cheap checks that would otherwise fail minutes later, deep inside dbt.

Run after the lock is taken and before any dbt call, so a missing file or a full disk
is reported with its path and fix instead of as a half-built database.
"""

from __future__ import annotations

from pathlib import Path

from planalign_orchestrator.census import validate_census
from planalign_orchestrator.diskspace import MB, require_free_space
from planalign_orchestrator.exceptions import DiskFullError, InitializationError
from planalign_orchestrator.tables import REQUIRED_TABLES, RequiredTable, TableTier

PREFLIGHT_STEP = "check_tables"


def check_disk_space(folder: Path, min_free_mb: float, *, workspace: Path | None = None) -> None:
    """At least `min_free_mb` free where the database is, or the folder, its file system and what to free."""
    try:
        require_free_space(folder, int(min_free_mb * MB), purpose="initialize the workspace", workspace=workspace)
    except DiskFullError as full:
        raise InitializationError(full.message, step=PREFLIGHT_STEP, original_error=full) from None


def check_seed_files(seeds_dir: Path) -> None:
    missing = [
        seeds_dir / f"{table.name}.csv"
        for table in REQUIRED_TABLES
        if table.tier is TableTier.SEED and not (seeds_dir / f"{table.name}.csv").is_file()
    ]
    if missing:
        raise InitializationError(
            "Seed file(s) missing: " + ", ".join(str(path) for path in missing),
            step=PREFLIGHT_STEP,
            missing_tables=[path.stem for path in missing],
            remediation=(
                f"Restore the missing CSV(s) in {seeds_dir} (reinstall the package, or "
                "`git checkout -- dbt/seeds` in a source checkout)."
            ),
        )


def check_census(
    census_path: Path | None,
    start_year: int,
    missing: list[RequiredTable],
    *,
    job_levels_csv: Path | None = None,
) -> None:
    """The census must exist and be readable; its rows are validated when foundation models are built."""
    if census_path is None or not census_path.is_file():
        raise InitializationError(
            f"Census file {census_path} does not exist",
            step=PREFLIGHT_STEP,
            remediation=(
                "Set paths.census in simulation_config.yaml to an existing CSV or Parquet census, "
                "or generate one: `planalign census generate --employees 5000 --out census.csv`."
            ),
        )
    try:
        with census_path.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise InitializationError(
            f"Census file {census_path} cannot be read: {exc.strerror}",
            step=PREFLIGHT_STEP,
            original_error=exc,
            remediation=f"Check the permissions of {census_path}.",
        ) from exc
    if any(table.tier is TableTier.FOUNDATION for table in missing):
        validate_census(census_path, start_year, job_levels_csv=job_levels_csv)
