"""create_orchestrator: wire config -> database -> dbt runner -> orchestrator (+ self-healing hook)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from planalign_orchestrator.config import CONFIG_FILE_NAME, SimulationConfig, load_config
from planalign_orchestrator.database import DatabaseConnectionManager
from planalign_orchestrator.dbt_runner import DbtRunner
from planalign_orchestrator.freshness.checker import FreshnessChecker
from planalign_orchestrator.pipeline.hooks import HookManager
from planalign_orchestrator.pipeline.orchestrator import PipelineOrchestrator
from planalign_orchestrator.progress import ProgressObserver
from planalign_orchestrator.self_healing.auto_initializer import AutoInitializer
from planalign_orchestrator.workspace import Workspace, dbt_project_dir

AUTO_INITIALIZE_HOOK = "auto_initialize"


def create_dbt_runner(
    config: SimulationConfig,
    db_path: Path,
    *,
    threads: int = 1,
    dbt_executable: str = "dbt",
    project_dir: Path | None = None,
    work_dir: Path | None = None,
) -> DbtRunner:
    """A DbtRunner writing only into the workspace (target/ and logs/dbt), never into dbt/.

    `work_dir` puts dbt's target/ and logs/ there instead (an ensemble chunk's folder).
    """
    workspace = Workspace(config)
    return DbtRunner(
        project_dir or dbt_project_dir(),
        db_path=db_path,
        target_dir=work_dir / "target" if work_dir else workspace.dbt_target_dir,
        log_dir=work_dir / "logs" if work_dir else workspace.dbt_log_dir,
        threads=threads,
        dbt_executable=dbt_executable,
        base_vars=config.dbt_vars(),
        census_path=config.census_path,
    )


def create_auto_initializer(
    config: SimulationConfig,
    db_manager: DatabaseConnectionManager,
    dbt_runner: DbtRunner,
    **options: object,
) -> AutoInitializer:
    """The AutoInitializer for a workspace: step log in <workspace>/logs, census from the config."""
    options.setdefault("step_log_path", Workspace(config).step_log_path)
    options.setdefault("census_path", config.census_path)
    options.setdefault("start_year", config.simulation.start_year)
    if "freshness" not in options:  # built only when the caller has none to share
        options["freshness"] = FreshnessChecker.for_runner(db_manager, dbt_runner)
    return AutoInitializer(db_manager, dbt_runner, **options)  # type: ignore[arg-type]


def create_orchestrator(
    config_or_path: SimulationConfig | Path | str,
    db_manager: DatabaseConnectionManager | None = None,
    *,
    threads: int = 1,
    db_path: Path | str | None = None,
    dbt_executable: str = "dbt",
    auto_initialize: bool = True,
    on_progress: ProgressObserver | None = None,
    initializer_options: dict[str, object] | None = None,
) -> PipelineOrchestrator:
    """Create a PipelineOrchestrator with optional auto-initialization.

    `config_or_path` is a SimulationConfig, a config file, or a workspace folder.
    `dbt_executable` is not spawned (dbt runs in-process); it is the command shown
    in error remediations for reproducing a failed step by hand.
    """
    config = _resolve_config(config_or_path)
    if db_manager is None:
        db_manager = DatabaseConnectionManager(Path(db_path) if db_path else config.database_path)
    dbt_runner = create_dbt_runner(config, db_manager.db_path, threads=threads, dbt_executable=dbt_executable)
    hooks = HookManager()
    freshness = FreshnessChecker.for_runner(db_manager, dbt_runner)
    orchestrator = PipelineOrchestrator(config, db_manager, dbt_runner, hooks, freshness=freshness)
    if auto_initialize:
        options = {"freshness": freshness, **(initializer_options or {})}
        initializer = create_auto_initializer(config, db_manager, dbt_runner, **options)
        # The contract types hooks as returning None; the hook's result is simply not used.
        hook: Callable[[], None] = initializer.ensure_initialized  # type: ignore[assignment]
        hooks.register_pre_simulation_hook(hook, name=AUTO_INITIALIZE_HOOK, priority=-100)
        orchestrator.auto_initializer = initializer
    if on_progress is not None:
        orchestrator.subscribe(on_progress)
    return orchestrator


def _resolve_config(config_or_path: SimulationConfig | Path | str) -> SimulationConfig:
    if isinstance(config_or_path, SimulationConfig):
        return config_or_path
    path = Path(config_or_path)
    if path.is_dir():
        path = path / CONFIG_FILE_NAME
    return load_config(path)
