"""The dbt project and DbtRunner: builds with its data tests, fails clearly, shares nothing."""

from __future__ import annotations

import inspect
import io
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from planalign_orchestrator.dbt_runner import DbtRunner, _dbt_runner_class, _NodeTracker
from planalign_orchestrator.exceptions import DbtError
from planalign_orchestrator.factory import create_dbt_runner, create_orchestrator
from planalign_orchestrator.workspace import Workspace, dbt_project_dir

pytestmark = pytest.mark.dbt

PROJECT = dbt_project_dir()


def _declared_tests() -> set[str]:
    """Names of the generic tests declared in the project's schema files."""
    names: set[str] = set()

    def collect(entries: list) -> None:
        for entry in entries or []:
            tests = entry.get("data_tests", entry.get("tests")) or []
            names.update(test if isinstance(test, str) else next(iter(test)) for test in tests)
            collect(entry.get("columns", []))

    for schema_file in [*PROJECT.glob("models/**/*.yml"), *PROJECT.glob("seeds/**/*.yml")]:
        content = yaml.safe_load(schema_file.read_text()) or {}
        collect(content.get("models", []))
        collect(content.get("seeds", []))
    return names


def test_project_declares_the_required_data_tests() -> None:
    declared = _declared_tests()

    assert {"unique", "not_null", "accepted_values", "relationships", "unique_combination_of_columns"} <= declared
    assert (PROJECT / "tests" / "assert_contributions_within_irs_limits.sql").is_file()


def test_dbt_build_over_the_whole_project_passes(workspace: Workspace) -> None:
    runner = create_dbt_runner(workspace.config, workspace.database_path)

    invocation = runner.build()

    statuses = {node.status for node in invocation.nodes}
    assert statuses <= {"success", "pass"}
    assert len([n for n in invocation.nodes if n.status == "pass"]) >= 20


def test_data_tests_pass_after_five_simulated_years(simulated_workspace: Workspace) -> None:
    runner = create_dbt_runner(simulated_workspace.config, simulated_workspace.database_path)

    invocation = runner.test()

    assert invocation.nodes
    assert {node.status for node in invocation.nodes} == {"pass"}


def test_failing_model_raises_dbt_error_naming_the_node(initialized_workspace: Workspace, tmp_path: Path) -> None:
    broken = tmp_path / "broken_project"
    shutil.copytree(PROJECT, broken, ignore=shutil.ignore_patterns("target", "logs", ".user.yml"))
    (broken / "models" / "marts" / "fct_yearly_events.sql").write_text("select * from a_table_that_does_not_exist")
    runner = create_dbt_runner(initialized_workspace.config, initialized_workspace.database_path, project_dir=broken)

    with pytest.raises(DbtError) as caught:
        runner.run(["fct_yearly_events"])

    error = caught.value
    assert error.node == "fct_yearly_events"
    assert "a_table_that_does_not_exist" in str(error)
    assert "dbt run --select fct_yearly_events" in error.remediation


def test_database_is_released_for_other_processes_after_a_run(initialized_workspace: Workspace) -> None:
    create_orchestrator(initialized_workspace.config).execute_multi_year_simulation(2025, 2025)

    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import duckdb; duckdb.connect({str(initialized_workspace.database_path)!r}).execute('checkpoint')",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert probe.returncode == 0, probe.stderr


def test_runs_write_nothing_into_the_shared_dbt_project(initialized_workspace: Workspace) -> None:
    before = sorted(p.relative_to(PROJECT) for p in PROJECT.rglob("*"))

    create_orchestrator(initialized_workspace.config).execute_multi_year_simulation(2025, 2025)

    assert sorted(p.relative_to(PROJECT) for p in PROJECT.rglob("*")) == before
    assert (initialized_workspace.root / "target").is_dir()
    assert (initialized_workspace.root / "logs" / "dbt").is_dir()


def test_project_nodes_expose_tags_and_parents(tmp_path: Path) -> None:
    runner = DbtRunner(
        PROJECT, db_path=tmp_path / "simulation.duckdb", target_dir=tmp_path / "target", log_dir=tmp_path / "logs"
    )

    nodes = runner.project_nodes()

    assert nodes["config_job_levels"].resource_type == "seed"
    assert "foundation" in nodes["int_baseline_workforce"].tags
    assert "yearly" in nodes["fct_workforce_snapshot"].tags


def test_dbt_leaves_no_log_handler_behind(workspace: Workspace, run_python) -> None:
    # A fresh interpreter, so dbt is imported here for the first time: its import and its
    # calls both add a stderr handler to the root logger, which would print every later
    # library warning into notebook cells.
    script = f"""
import logging
from planalign_orchestrator.factory import create_orchestrator
from planalign_orchestrator.workspace import Workspace

workspace = Workspace.open({str(workspace.root)!r})
create_orchestrator(workspace.config).auto_initializer.ensure_initialized()
print("root handlers:", logging.getLogger().handlers)
logging.getLogger("planalign_orchestrator.database").warning("must not reach stderr")
"""
    completed = run_python(script, timeout=180)

    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "root handlers: []" in completed.stdout
    assert "must not reach stderr" not in completed.stderr


def test_an_adapters_behavior_flags_name_their_module_without_reading_the_stacks_sources(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # dbt creates an adapter on every invocation (every simulated year); its behavior flags
    # found the module that declared them with inspect.stack(), reading the source of every
    # frame. The engine keeps dbt's answer (the first module up the stack other than
    # dbt_common.behavior_flags) from the frames' globals alone.
    _dbt_runner_class()
    from dbt_common.behavior_flags import Behavior

    def stack_read(*args: object, **kwargs: object) -> None:
        raise AssertionError("inspect.stack() reads every frame's source file")

    monkeypatch.setattr(inspect, "stack", stack_read)

    behavior = Behavior([{"name": "some_flag", "default": False, "description": "a flag"}], {})

    assert behavior.some_flag._behavior_change_event.flag_source == __name__


def test_a_debug_event_is_built_only_when_a_logger_writes_debug_lines_or_a_callback_may_read_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # dbt builds a protobuf message of every event (some 300 a simulated year, most of them
    # debug lines of each SQL statement); the engine's log levels write none of them.
    _dbt_runner_class()
    from dbt.adapters.events.types import SQLQuery
    from dbt_common.events import event_manager
    from dbt_common.events.base_types import EventLevel
    from dbt_common.events.logger import LoggerConfig

    built: list[str] = []
    build = event_manager.msg_from_base_event

    def counted_build(event: object, level: object = None) -> object:  # the real build, counted
        built.append(type(event).__name__)
        return build(event, level=level)

    monkeypatch.setattr(event_manager, "msg_from_base_event", counted_build)
    manager = event_manager.EventManager()
    info_lines, debug_lines = io.StringIO(), io.StringIO()
    manager.add_logger(LoggerConfig(name="file_like", level=EventLevel.INFO, output_stream=info_lines))
    manager.add_callback(_NodeTracker(None))
    query_event = SQLQuery(conn_name="master", sql="select 42", node_info={})

    manager.fire_event(query_event)
    assert built == [], "no logger writes it, the node tracker ignores it"

    manager.add_logger(LoggerConfig(name="debug_like", level=EventLevel.DEBUG, output_stream=debug_lines))
    manager.fire_event(query_event)
    assert built == ["SQLQuery"]
    assert "select 42" in debug_lines.getvalue()
    assert info_lines.getvalue() == ""

    listener = event_manager.EventManager()
    heard: list[str] = []
    listener.add_callback(lambda message: heard.append(message.info.name))
    listener.fire_event(query_event)
    assert heard == ["SQLQuery"], "a callback of unknown interests hears every event"


def test_dbt_lists_no_schemas_when_every_model_is_in_duckdbs_main_schema() -> None:
    # Every DuckDB database has `main`; dbt would list the schemas on a connection of its
    # own before each invocation's first node, to create it. Any other schema is listed
    # and created as dbt does.
    _dbt_runner_class()
    from dbt.adapters.base.relation import BaseRelation
    from dbt.task.run import RunTask

    class Adapter:
        def __init__(self) -> None:
            self.listed: list[str | None] = []
            self.created: list[str] = []

        def type(self) -> str:
            return "duckdb"

        @contextmanager
        def connection_named(self, name: str) -> Iterator[None]:
            yield

        def list_schemas(self, database: str | None) -> list[str]:
            self.listed.append(database)
            return ["main"]

        def create_schema(self, relation: BaseRelation) -> None:
            self.created.append(str(relation.schema))

    task = RunTask.__new__(RunTask)
    task.config = SimpleNamespace(threads=1, args=SimpleNamespace(single_threaded=True))
    main = BaseRelation.create(database="simulation", schema="main")
    staging = BaseRelation.create(database="simulation", schema="staging")
    adapter = Adapter()

    task.create_schemas(adapter, {main})
    assert adapter.listed == []

    task.create_schemas(adapter, {main, staging})
    assert set(adapter.listed) == {'"simulation"'}
    assert adapter.created == ["staging"]
