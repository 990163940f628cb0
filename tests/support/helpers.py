"""Shared helpers for the self-healing tests: real DuckDB files, real dbt project copies.

Tests read and change the database directly with duckdb (never through the engine
under test), so an assertion cannot be satisfied by the code it checks.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from planalign_orchestrator.database import DatabaseConnectionManager
from planalign_orchestrator.exceptions import PlanAlignError
from planalign_orchestrator.factory import create_auto_initializer, create_dbt_runner
from planalign_orchestrator.self_healing.auto_initializer import AutoInitializer
from planalign_orchestrator.tables import REQUIRED_TABLES, TableTier
from planalign_orchestrator.workspace import Workspace, dbt_project_dir

SUPPORT_DIR = Path(__file__).resolve().parent
ALL_REQUIRED = [t.name for t in REQUIRED_TABLES]
REQUIRED_SEEDS = [t.name for t in REQUIRED_TABLES if t.tier is TableTier.SEED]
REQUIRED_FOUNDATION = [t.name for t in REQUIRED_TABLES if t.tier is TableTier.FOUNDATION]
STANDARD_STEP_NAMES = ["check_tables", "load_seeds", "build_foundation", "verify"]


# -- the database, seen directly -------------------------------------------------


def query(db_path: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    connection = duckdb.connect(str(db_path))
    try:
        return connection.execute(sql, params or []).fetchall()
    finally:
        connection.close()


def execute(db_path: Path, *statements: str) -> None:
    connection = duckdb.connect(str(db_path))
    try:
        for statement in statements:
            connection.execute(statement)
    finally:
        connection.close()


def table_names(db_path: Path) -> set[str]:
    if not db_path.exists():
        return set()
    rows = query(db_path, "select table_name from information_schema.tables where table_schema = 'main'")
    return {name for (name,) in rows}


def row_count(db_path: Path, table: str) -> int:
    return query(db_path, f'select count(*) from main."{table}"')[0][0]


def assert_all_required_tables_have_rows(db_path: Path) -> None:
    present = table_names(db_path)
    assert set(ALL_REQUIRED) <= present, f"missing: {set(ALL_REQUIRED) - present}"
    empty = [name for name in ALL_REQUIRED if row_count(db_path, name) == 0]
    assert not empty, f"empty required tables: {empty}"


MARKER_BAND_ID = 9_999


def put_marker_row(db_path: Path, table: str = "config_age_bands") -> None:
    """A row no dbt run would produce: it survives only if the table is never reloaded."""
    if table == "config_age_bands":
        execute(db_path, f"insert into main.config_age_bands values ({MARKER_BAND_ID}, 'marker', 500, 600, 99, 1)")
    elif table == "config_tenure_bands":
        execute(db_path, f"insert into main.config_tenure_bands values ({MARKER_BAND_ID}, 'marker', 500, 600, 99, 1)")
    else:  # pragma: no cover - a test asked for a table this helper does not know
        raise ValueError(table)


def has_marker_row(db_path: Path, table: str = "config_age_bands") -> bool:
    return query(db_path, f"select count(*) from main.{table} where band_id = ?", [MARKER_BAND_ID])[0][0] == 1


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- the engine, wired as the factory wires it -------------------------------------


def initializer_for(
    workspace: Workspace,
    *,
    project_dir: Path | None = None,
    **options: Any,
) -> AutoInitializer:
    """The workspace's AutoInitializer, optionally on a different dbt project (a test variant)."""
    db_manager = DatabaseConnectionManager(workspace.database_path)
    runner = create_dbt_runner(workspace.config, db_manager.db_path, project_dir=project_dir)
    return create_auto_initializer(workspace.config, db_manager, runner, **options)


class EventRecorder:
    """A progress observer keeping every event with the monotonic time it was received."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.received_at: list[float] = []

    def __call__(self, event: Any) -> None:
        self.received_at.append(time.monotonic())
        self.events.append(event)

    def of_type(self, kind: type) -> list[Any]:
        return [event for event in self.events if isinstance(event, kind)]


def assert_remediation(error: BaseException) -> None:
    """Acceptance point 14: a non-empty remediation that the message itself shows."""
    assert isinstance(error, PlanAlignError), type(error)
    assert error.remediation, f"no remediation on {error!r}"
    assert error.remediation.strip(), f"blank remediation on {error!r}"
    assert error.remediation in str(error), "str(error) must include the remediation"


# -- dbt project variants, assembled at test time ------------------------------------


def copy_dbt_project(destination: Path) -> Path:
    """A private copy of the real dbt project (nothing duplicated in the repository)."""
    shutil.copytree(dbt_project_dir(), destination, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    return destination


# Never finishes within a test: ~10^10 hashes, about 45 s on one core. DuckDB cannot
# optimize it away because the model's rows are filtered on the result.
SLOW_CROSS_JOIN = (
    "cross join (select max(hash(x * y)) as n from range(0, 100000) a(x), range(0, 100000) b(y)) as delay\n"
    "where delay.n > 0\n"
)


def make_slow_project(destination: Path, model: str = "int_employee_benefits") -> Path:
    """The real project with one foundation model made deliberately slow (same columns)."""
    project = copy_dbt_project(destination)
    path = project / "models" / "foundation" / f"{model}.sql"
    sql = path.read_text()
    anchor = "order by employee_id"
    assert sql.rstrip().endswith(anchor), f"{path} changed shape; update make_slow_project"
    head = sql.rstrip()[: -len(anchor)]
    path.write_text(head + SLOW_CROSS_JOIN + anchor + "\n")
    return project


# -- processes ----------------------------------------------------------------------


def start_script(name: str, *args: str, **popen: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(SUPPORT_DIR / name), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def wait_for_line(process: subprocess.Popen[str], expected: str, timeout: float = 30) -> None:
    """Read the process's stdout until `expected` (fails if the process dies first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()  # type: ignore[union-attr]
        if line.strip() == expected:
            return
        if not line and process.poll() is not None:
            raise AssertionError(f"process exited {process.returncode}: {process.stderr.read()}")  # type: ignore[union-attr]
    raise AssertionError(f"no {expected!r} within {timeout}s")


def kill_and_wait(process: subprocess.Popen[str], sig: int = 9) -> None:
    if process.poll() is None:
        process.send_signal(sig)
    process.wait(timeout=30)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def assert_database_free_for_other_processes(db_path: Path) -> None:
    """Another process can open the file read-write: nothing here still holds DuckDB's lock."""
    completed = subprocess.run(
        [sys.executable, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1]).close()", str(db_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr


# -- freshness: changing inputs, comparing results ----------------------------------

SIMULATION_TABLES = ["fct_workforce_snapshot", "fct_yearly_events", "fct_year_plan"]


def edit_config_sections(workspace: Workspace, *, drop: Sequence[str] = (), **sections: dict[str, object]) -> Workspace:
    """Set several keys (section -> {key: value}), remove `drop` keys ("plan.match_rate"), and re-open."""
    import yaml

    raw = yaml.safe_load(workspace.config_path.read_text())
    for section, values in sections.items():
        raw.setdefault(section, {}).update(values)
    for dotted in drop:
        section, key = dotted.split(".")
        raw[section].pop(key)
    workspace.config_path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return Workspace.open(workspace.root, create=False)


def edit_config(workspace: Workspace, dotted_key: str, value: Any) -> Workspace:
    """Change one key of the workspace's simulation_config.yaml; the workspace as re-opened."""
    import yaml

    from planalign_orchestrator.config import CONFIG_FILE_NAME

    path = workspace.root / CONFIG_FILE_NAME
    raw = yaml.safe_load(path.read_text())
    section, key = dotted_key.split(".")
    raw.setdefault(section, {})[key] = value
    path.write_text(yaml.safe_dump(raw))
    return Workspace.open(workspace.root, create=False)


def table_rows(db_path: Path, table: str) -> list[tuple[Any, ...]]:
    """Every row of a table in a stable order (the tables hold no timestamps of their own)."""
    return query(db_path, f'select * from main."{table}" order by all')


def assert_same_results(db_path: Path, reference: Path, tables: list[str]) -> None:
    """Both databases hold identical rows in every given table."""
    for table in tables:
        assert table_rows(db_path, table) == table_rows(reference, table), f"{table} differs from the reference"


# -- permissions ------------------------------------------------------------------------


def unprivileged(command: list[str]) -> list[str]:
    """The command run without the power to ignore file permissions.

    As root (CI containers) permissions are not enforced; `setpriv` drops the two
    capabilities that bypass them, so a read-only file or folder is read-only again.
    """
    if os.geteuid() != 0:
        return command
    setpriv = shutil.which("setpriv")
    if setpriv is None:  # pragma: no cover - util-linux is part of every Debian image
        raise AssertionError("running as root needs setpriv (util-linux) to test read-only places")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--", *command]


def make_read_only(*paths: Path) -> None:
    for path in paths:
        path.chmod(0o555 if path.is_dir() else 0o444)


def make_writable(*paths: Path) -> None:
    for path in paths:
        path.chmod(0o755 if path.is_dir() else 0o644)
