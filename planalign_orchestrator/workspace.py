"""Where things live: the shared dbt project, the bundled census, and a workspace folder.

A workspace is one folder holding the config, the DuckDB file, logs and dbt's target
folder. dbt never writes into the shared project, so two workspaces never collide.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from planalign_orchestrator.config import (
    CONFIG_FILE_NAME,
    SimulationConfig,
    default_config_yaml,
    load_config,
)
from planalign_orchestrator.exceptions import ConfigurationError, Remedy, WorkspaceNotWritableError

_PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLED_CENSUS = _PACKAGE_DIR / "data" / "example_census.csv"
LOCK_FILE_NAME = ".planalign_init.lock"
# The JSON-lines record of every initialization step (see self_healing.step_log).
STEP_LOG_FILE_NAME = "initialization.jsonl"


def dbt_project_dir() -> Path:
    """The dbt project: inside the installed wheel, else the source checkout's dbt/."""
    for candidate in (_PACKAGE_DIR / "_dbt_project", _PACKAGE_DIR.parent / "dbt"):
        if (candidate / "dbt_project.yml").is_file():
            return candidate
    raise ConfigurationError(
        "the bundled dbt project was not found next to the planalign_orchestrator package",
        remediation="Reinstall the package (`pip install planalign-notebook`) or run from a source checkout.",
    )


@dataclass(frozen=True)
class Workspace:
    """Paths of one workspace folder, derived from its validated config."""

    config: SimulationConfig

    @property
    def root(self) -> Path:
        return self.config.workspace_dir

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_FILE_NAME

    @property
    def database_path(self) -> Path:
        return self.config.database_path

    @property
    def lock_path(self) -> Path:
        return lock_path_for(self.database_path)

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def step_log_path(self) -> Path:
        """The JSON-lines record of every initialization step (see self_healing.step_log)."""
        return self.logs_dir / STEP_LOG_FILE_NAME

    @property
    def dbt_target_dir(self) -> Path:
        return self.root / "target"

    @property
    def dbt_log_dir(self) -> Path:
        return self.logs_dir / "dbt"

    @classmethod
    def open(cls, folder: Path | str = ".", *, create: bool = True) -> Workspace:
        """Open a workspace folder; a new or empty folder gets a default config and the example census."""
        root = Path(folder).expanduser().resolve()
        config_path = root / CONFIG_FILE_NAME
        if not config_path.exists():
            if not create:
                raise ConfigurationError(
                    f"{root} is not a PlanAlign workspace (no {CONFIG_FILE_NAME})",
                    remedy=Remedy(
                        "Run {command} to create one.", action="initialize", cli=f"planalign init --workspace {root}"
                    ),
                )
            _scaffold(root)
        return cls(load_config(config_path))

    def require_writable(self) -> None:
        """Refuse, naming the folder and the fix, before a run that must write here starts.

        Initializing or simulating writes the lock, the logs, dbt's target folder and the
        database; finding out from the first of them would surface as an OS error deep
        inside a step. A probe file is the only check that holds for every user (root
        included) and every mount.
        """
        _probe_writable(self.root, action="initialize or simulate")


def lock_path_for(database_path: Path) -> Path:
    """The initialization lock sits next to the database, never relative to the cwd."""
    return database_path.parent / LOCK_FILE_NAME


def _scaffold(root: Path) -> None:
    action = "create a workspace (default config and example census)"
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkspaceNotWritableError(_existing_ancestor(root), action=action, original_error=exc) from None
    _probe_writable(root, action=action)
    census = root / "census.csv"
    try:
        if not census.exists():
            shutil.copyfile(BUNDLED_CENSUS, census)
        (root / CONFIG_FILE_NAME).write_text(default_config_yaml())
    except OSError as exc:
        raise WorkspaceNotWritableError(root, action=action, original_error=exc) from None


def _probe_writable(folder: Path, *, action: str) -> None:
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".planalign-write-probe-"):
            pass
    except OSError as exc:
        raise WorkspaceNotWritableError(folder, action=action, original_error=exc) from None


def _existing_ancestor(path: Path) -> Path:
    while not path.exists() and path.parent != path:
        path = path.parent
    return path
