"""DbtRunner: the only code that knows how dbt is invoked.

dbt runs in-process through its Python API. Importing dbt costs seconds and parsing
the project about two more, so both happen lazily and at most once per process and
project: the parsed manifest is cached and handed to every later invocation, while
per-year `--vars` are passed at run time (dbt honours them without re-parsing).
After every invocation the DuckDB file is released, because dbt-duckdb would
otherwise keep it open and lock other processes out.

No path or name a user chooses is ever rendered as Jinja: dbt renders every string
var as a template, so paths travel in environment variables (read by the profile and
by the census_path() macro) and string vars that look like templates are refused.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import multiprocessing.util
import os
import shlex
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import FrameType
from typing import Any, ClassVar

from planalign_orchestrator.database import (
    MEMORY_LIMIT_ENV,
    DatabaseConnectionManager,
    duckdb_memory_limit,
    is_corruption_message,
)
from planalign_orchestrator.diskspace import disk_full_error, disk_full_translated, is_disk_full
from planalign_orchestrator.exceptions import ConfigurationError, DatabaseCorruptionError, DbtError, DiskFullError
from planalign_orchestrator.interrupts import shielded, swallowed_interrupts_reraised
from planalign_orchestrator.progress import (
    DbtEvent,
    DbtPreparationFinished,
    DbtPreparationStarted,
    NodeFinished,
    NodeStarted,
)

logger = logging.getLogger(__name__)

DB_PATH_ENV = "PLANALIGN_DB_PATH"
CENSUS_PATH_ENV = "PLANALIGN_CENSUS_PATH"
PARSE_SCRATCH_PREFIX = ".planalign-parse-"
_JINJA_DELIMITERS = ("{{", "{%", "{#")
NodeObserver = Callable[[DbtEvent], None]
_FAILED_STATUSES = {"error", "fail", "runtime error"}


@dataclass(frozen=True)
class ProjectNode:
    """What the engine needs to know of a dbt node, without dbt's types."""

    name: str
    resource_type: str
    materialized: str | None
    tags: tuple[str, ...]
    parents: tuple[str, ...]
    # Project-relative files the node's build depends on: its own file (SQL or CSV),
    # its properties YAML, dbt_project.yml and the files of the project macros it calls
    # (transitively, as dbt recorded them). Freshness fingerprints their contents.
    code_files: tuple[str, ...] = ()
    # The node's raw code and the SQL of those macros: where the vars it reads are named.
    code_texts: tuple[str, ...] = ()


@dataclass(frozen=True)
class NodeResult:
    name: str
    status: str
    duration_seconds: float


@dataclass(frozen=True)
class DbtInvocation:
    command: str
    nodes: tuple[NodeResult, ...]
    elapsed_seconds: float


class DbtRunner:
    """Runs dbt commands against one workspace's database, parsing the project once per process."""

    _manifests: ClassVar[dict[tuple[str, str], Any]] = {}
    _manifest_lock: ClassVar[threading.Lock] = threading.Lock()
    _invoke_lock: ClassVar[threading.RLock] = threading.RLock()
    invocation_count: ClassVar[int] = 0
    _parses: ClassVar[int] = 0

    def __init__(
        self,
        project_dir: Path,
        *,
        db_path: Path,
        target_dir: Path,
        log_dir: Path,
        threads: int = 1,
        dbt_executable: str = "dbt",
        base_vars: Mapping[str, Any] | None = None,
        census_path: Path | None = None,
    ) -> None:
        self.project_dir = Path(project_dir).resolve()
        self.db_path = Path(db_path).resolve()
        self.target_dir = Path(target_dir).resolve()
        self.log_dir = Path(log_dir).resolve()
        if threads < 1:
            raise ConfigurationError(
                f"dbt threads must be a positive whole number (got {threads!r})",
                remediation="Pass e.g. threads=4 (or `planalign simulate ... --threads 4`).",
            )
        self.threads = threads
        self.dbt_executable = dbt_executable
        self.base_vars = dict(base_vars or {})
        self.census_path = Path(census_path).resolve() if census_path is not None else None

    @property
    def seeds_dir(self) -> Path:
        return self.project_dir / "seeds"

    # -- public commands ---------------------------------------------------------

    def seed(
        self,
        select: Sequence[str],
        *,
        full_refresh: bool = True,
        on_node: NodeObserver | None = None,
    ) -> DbtInvocation:
        args = ["seed", "--select", *select]
        if full_refresh:
            args.append("--full-refresh")
        return self._invoke(args, vars=None, on_node=on_node)

    def run(
        self,
        select: Sequence[str],
        *,
        vars: Mapping[str, Any] | None = None,
        on_node: NodeObserver | None = None,
        full_refresh: bool = False,
        exclude: Sequence[str] = (),
    ) -> DbtInvocation:
        args = ["run", "--select", *select] + (["--full-refresh"] if full_refresh else [])
        args += ["--exclude", *exclude] if exclude else []
        return self._invoke(args, vars=vars, on_node=on_node)

    def build(
        self,
        select: Sequence[str] = (),
        *,
        vars: Mapping[str, Any] | None = None,
        on_node: NodeObserver | None = None,
    ) -> DbtInvocation:
        args = ["build"] + (["--select", *select] if select else [])
        return self._invoke(args, vars=vars, on_node=on_node)

    def test(
        self,
        select: Sequence[str] = (),
        *,
        vars: Mapping[str, Any] | None = None,
    ) -> DbtInvocation:
        args = ["test"] + (["--select", *select] if select else [])
        return self._invoke(args, vars=vars, on_node=None)

    def project_nodes(self) -> dict[str, ProjectNode]:
        """Seeds and models of the project by name, from the (cached) parsed manifest."""
        manifest = self._manifest()
        nodes: dict[str, ProjectNode] = {}
        for unique_id, node in manifest.nodes.items():
            resource_type = unique_id.split(".", 1)[0]
            if resource_type not in {"model", "seed"}:
                continue
            parents = tuple(
                parent.split(".")[-1]
                for parent in getattr(node.depends_on, "nodes", ())
                if parent.split(".", 1)[0] in {"model", "seed"}
            )
            nodes[node.name] = ProjectNode(
                name=node.name,
                resource_type=resource_type,
                materialized=getattr(node.config, "materialized", None),
                tags=tuple(node.tags),
                parents=parents,
                **_code_sources(manifest, node),
            )
        return nodes

    def prepare(self, *, on_node: NodeObserver | None = None) -> None:
        """Import dbt and parse the project now, unless this process already has: the seconds-long wait, announced.

        The observer hears DbtPreparationStarted/Finished around it, so a face can name
        the wait; nothing is sent when dbt is ready already.
        """
        with self._manifest_lock:
            ready = self._manifest_key() in self._manifests
        if ready:
            return
        if on_node:
            on_node(DbtPreparationStarted(importing="dbt.cli.main" not in sys.modules))
        started = time.perf_counter()
        try:
            self._manifest()
        finally:
            if on_node:
                on_node(DbtPreparationFinished(time.perf_counter() - started))

    @staticmethod
    def cancel_running() -> None:
        """Interrupt the DuckDB queries dbt is running in this process; safe from any thread.

        dbt cancels its queries itself when its own thread gets a KeyboardInterrupt, but
        a thread blocked waiting for dbt's workers only sees an interrupt that arrives
        as a signal (main thread). Cancelling the queries wakes it in every other case.
        """
        if "dbt.adapters.factory" not in sys.modules:
            return
        try:
            from dbt.adapters.factory import FACTORY

            for adapter in list(FACTORY.adapters.values()):
                # Every SQL adapter has it; dbt's AdapterProtocol does not declare it.
                adapter.cancel_open_connections()  # type: ignore[attr-defined]
        except Exception:
            logger.exception("Could not cancel dbt's running queries")

    @classmethod
    def parse_count(cls) -> int:
        """How many manifests this process has parsed (the rest were reused)."""
        return DbtRunner._parses

    # -- invocation machinery ------------------------------------------------------

    def _common_args(self, target_dir: Path | None = None) -> list[str]:
        return [
            "--project-dir",
            str(self.project_dir),
            "--profiles-dir",
            str(self.project_dir),
            "--target-path",
            str(target_dir or self.target_dir),
            "--log-path",
            str(self.log_dir),
            "--log-level",
            "none",
            "--log-level-file",
            "info",
            "--no-send-anonymous-usage-stats",
            "--no-version-check",
            "--no-use-colors",
        ]

    def _manifest_key(self) -> tuple[str, str]:
        return (str(self.project_dir), self.db_path.stem)

    def _manifest(self) -> Any:
        key = self._manifest_key()
        with self._manifest_lock:
            cached = self._manifests.get(key)
            if cached is not None:
                return cached
            started = time.perf_counter()
            DbtRunner._parses += 1
            result = self._parse_with_shared_cache()
            if not result.success or result.result is None:
                if is_disk_full(result.exception):
                    raise disk_full_error(result.exception, self.target_dir, purpose="prepare dbt (parse the project)")
                raise DbtError(
                    str(result.exception or "the project could not be parsed"),
                    command=self._command_line(["parse"]),
                    subcommand="parse",
                    remediation=f"Fix the dbt project at {self.project_dir} (see {self.log_dir}/dbt.log).",
                )
            logger.info("Parsed dbt project %s in %.2fs", self.project_dir, time.perf_counter() - started)
            self._manifests[key] = result.result
            return result.result

    def _parse_with_shared_cache(self) -> Any:
        """Parse, reusing dbt's saved parse from any earlier process on this machine.

        dbt refuses a saved parse when the profile differs, and the profile holds the
        database path, so a new workspace would always parse from scratch (seconds).
        The parse therefore runs against a fixed placeholder path with the same file
        name (dbt names the catalog after it; parsing never opens the file) and keeps
        its partial_parse.msgpack in a per-user cache. Runs use the real path.
        """
        cache = _parse_cache_dir(self.project_dir) / self.db_path.stem
        saved = cache / "partial_parse.msgpack"
        _dbt_runner_class()  # the import takes seconds: before the scratch folder exists, not inside it
        copying = saved.stat().st_size if saved.is_file() else None
        with (
            disk_full_translated(
                self.target_dir, purpose="prepare dbt (copy its saved parse into the workspace)", needed_bytes=copying
            ),
            _parse_scratch_dir(self.target_dir) as target,
        ):
            if saved.is_file():
                shutil.copyfile(saved, target / saved.name)
            result = self._call_dbt(
                ["parse", "--no-write-json", *self._common_args(target_dir=target)],
                db_path=cache / self.db_path.name,
                census_path=None,
            )
            fresh = target / saved.name
            if result.success and fresh.is_file():
                _replace_atomically(fresh, saved)
        return result

    def _invoke(
        self,
        args: list[str],
        *,
        vars: Mapping[str, Any] | None,
        on_node: NodeObserver | None,
    ) -> DbtInvocation:
        merged_vars = {**self.base_vars, **(vars or {})}
        _refuse_template_text(merged_vars)
        self.prepare(on_node=on_node)
        manifest = self._manifest()
        _remove_orphaned_parse_folders(self.target_dir)
        full_args = [*args, "--no-write-json", *self._common_args(), "--threads", str(self.threads)]
        if merged_vars:
            full_args += ["--vars", json.dumps(merged_vars, sort_keys=True)]
        tracker = _NodeTracker(on_node)
        started = time.perf_counter()
        with self._invoke_lock:
            DbtRunner.invocation_count += 1
            _reset_compiled_state(manifest)
            result = self._call_dbt(full_args, manifest=manifest, callbacks=[tracker], census_path=self.census_path)
        elapsed = time.perf_counter() - started
        command_line = self._command_line(args, merged_vars)
        if not result.success:
            raise self._failure(result, command_line, subcommand=args[0])
        logger.info("%s finished in %.2fs", " ".join(args[:1]), elapsed)
        return DbtInvocation(command=command_line, nodes=tuple(tracker.results), elapsed_seconds=elapsed)

    def _call_dbt(
        self,
        args: list[str],
        *,
        manifest: Any = None,
        callbacks: Sequence[Callable[[Any], None]] = (),
        db_path: Path | None = None,
        census_path: Path | None,
    ) -> Any:
        """One dbtRunner call with this workspace's database, leaving the process as it found it.

        dbt reports an interrupt as a failed result, and while parsing it can swallow one
        (loading its saved parse, it reads any exception as "could not load" and parses
        again); any Ctrl-C or timeout that arrived during the call is re-raised here, so
        it is never mistaken for a broken project or model, nor lost.
        """
        environment = {
            DB_PATH_ENV: str(db_path or self.db_path),
            CENSUS_PATH_ENV: str(census_path) if census_path is not None else None,
            MEMORY_LIMIT_ENV: duckdb_memory_limit(),
        }
        # Only the parse swallows interrupts; elsewhere a resent one could cut dbt's own cleanup short.
        with (
            swallowed_interrupts_reraised(resend=manifest is None),
            _environment(environment),
            _root_logging_preserved(),
            _log_write_errors_silenced(),
        ):
            runner_class = _dbt_runner_class()
            try:
                result = runner_class(manifest=manifest, callbacks=list(callbacks)).invoke(args)
            finally:
                _release_duckdb()
        if isinstance(result.exception, KeyboardInterrupt):
            raise KeyboardInterrupt from result.exception
        return result

    def _failure(
        self, result: Any, command_line: str, *, subcommand: str
    ) -> DbtError | DatabaseCorruptionError | DiskFullError:
        error = DbtError(str(result.exception or "dbt reported failure"), command=command_line, subcommand=subcommand)
        kind = "node"
        for node_result in getattr(result.result, "results", None) or []:
            status = str(getattr(node_result.status, "value", node_result.status)).lower()
            if status in _FAILED_STATUSES:
                error = DbtError(
                    (node_result.message or status).strip(),
                    command=command_line,
                    node=node_result.node.name,
                    subcommand=subcommand,
                )
                kind = str(getattr(node_result.node, "resource_type", kind))
                break
        if is_disk_full(error.message) or is_disk_full(result.exception):
            # No fix of the model helps either: the disk is full (dbt has rolled the node back).
            where = f"dbt {subcommand}" + (f" ({kind} {error.node})" if error.node else "")
            return disk_full_error(error.message, self.db_path.parent, purpose=where, low_level=True)
        if is_corruption_message(error.message):
            # A damaged database read deep inside a model: no model fix helps, and no
            # later run may write into the file before it is moved aside.
            return DatabaseConnectionManager(self.db_path).corruption(error)
        return error

    def _command_line(self, args: list[str], vars: Mapping[str, Any] | None = None) -> str:
        """The invocation as a shell command: pasted into a shell it runs exactly this and nothing else."""
        environment = [f"{DB_PATH_ENV}={shlex.quote(str(self.db_path))}"]
        if self.census_path is not None:
            environment.append(f"{CENSUS_PATH_ENV}={shlex.quote(str(self.census_path))}")
        parts = [
            self.dbt_executable,
            *args,
            "--project-dir",
            str(self.project_dir),
            "--profiles-dir",
            str(self.project_dir),
            "--target-path",
            str(self.target_dir),
            "--log-path",
            str(self.log_dir),
        ]
        if vars:
            parts += ["--vars", json.dumps(dict(vars), sort_keys=True)]
        return " ".join([*environment, shlex.join(parts)])


def _code_sources(manifest: Any, node: Any) -> dict[str, tuple[str, ...]]:
    """ProjectNode.code_files and .code_texts: where a node's build comes from."""
    files = {node.original_file_path, "dbt_project.yml"}
    texts = [getattr(node, "raw_code", "") or ""]
    if node.patch_path:
        files.add(node.patch_path.split("://", 1)[-1])
    project_prefix = f"macro.{node.package_name}."
    pending = list(node.depends_on.macros)
    seen: set[str] = set()
    while pending:
        macro_id = pending.pop()
        if macro_id in seen or not macro_id.startswith(project_prefix):
            continue
        seen.add(macro_id)
        macro = manifest.macros[macro_id]
        files.add(macro.original_file_path)
        texts.append(macro.macro_sql)
        pending.extend(macro.depends_on.macros)
    return {"code_files": tuple(sorted(files)), "code_texts": tuple(texts)}


def _dbt_runner_class() -> type:
    """Dbt's programmatic entry point, imported on first use with interrupts held back.

    The import takes seconds; a Ctrl-C or timeout landing inside it would leave dbt
    half-imported and break every later call in the process (a notebook kernel).
    """
    with shielded(), _without_optional_iri_grammar(), _root_logging_preserved():
        from dbt.cli.main import dbtRunner

        _silence_import_time_logger()
        _keep_per_process_work()
    return dbtRunner


@cache
def _keep_per_process_work() -> None:
    """Let dbt do once per process, or cheaply, what it otherwise redoes on every invocation.

    A simulated year is one invocation, so each would be paid every year: the scan of every
    importable module for dbt plugins (the installed packages do not change while the
    process runs), and the compilation of each model's Jinja source into Python (the
    source does not change either: the year's vars enter when the compiled template is
    rendered, not when it is compiled). Only the plain text environment with the
    default undefined is cached (the parser's macro-capturing environments are left
    alone), keyed by the source text, so it holds at most one entry per template of the
    projects this process runs. And the adapter dbt creates for each invocation names
    the module that declared each of its behavior flags by reading the source of every
    frame on the stack (`inspect.stack()`, tens of milliseconds): the same module is
    found from the frames' globals. The events nobody reads and the listing of a schema
    that always exists are skipped (below).
    """
    import jinja2
    from dbt.plugins.manager import PluginManager
    from dbt_common.behavior_flags import BehaviorFlagRendered
    from dbt_common.clients.jinja import MacroFuzzEnvironment

    BehaviorFlagRendered._default_source = staticmethod(_calling_module)  # type: ignore[method-assign]

    scan_modules: Any = cache(PluginManager.get_prefixed_modules)
    PluginManager.get_prefixed_modules = classmethod(lambda _cls: scan_modules())  # type: ignore[method-assign,assignment]

    compile_source: Any = MacroFuzzEnvironment.compile
    compiled: dict[tuple[str, str | None, str | None, frozenset[str]], Any] = {}

    def compile_once(
        environment: Any,
        source: Any,
        name: str | None = None,
        filename: str | None = None,
        raw: bool = False,
        defer_init: bool = False,
    ) -> Any:
        if (
            type(environment) is not MacroFuzzEnvironment
            or environment.undefined is not jinja2.Undefined
            or not isinstance(source, str)
            or raw
            or defer_init
        ):
            return compile_source(environment, source, name, filename, raw, defer_init)
        key = (source, name, filename, frozenset(environment.extensions))
        code = compiled.get(key)
        if code is None:
            code = compiled[key] = compile_source(environment, source, name, filename)
        return code

    MacroFuzzEnvironment.compile = compile_once  # type: ignore[method-assign,assignment]
    _skip_unread_debug_events()
    _skip_listing_duckdbs_main_schema()


def _skip_unread_debug_events() -> None:
    """Build no debug event that no logger writes and no callback reads.

    dbt turns every event into a protobuf message before its loggers and callbacks see
    it: some 300 a simulated year, most of them debug lines (each SQL statement, each
    connection opened) that the engine's log levels (none on the console, info in
    logs/dbt/dbt.log) drop and that its node tracker ignores (tens of milliseconds a
    year). A debug event is still built when any logger writes debug lines or any
    callback other than the node tracker listens, so `--log-level debug` works as before.
    """
    from dbt_common.events.base_types import EventLevel
    from dbt_common.events.event_manager import EventManager

    fire: Any = EventManager.fire_event
    debug_levels = (EventLevel.DEBUG, EventLevel.TEST)

    def fire_if_read(
        manager: Any,
        event: Any,
        level: Any = None,
        node: Any = None,
        force_warn_or_error_handling: bool = False,
    ) -> None:
        if (level or event.level_tag()) in debug_levels and not _debug_event_read(manager, event):
            return
        fire(manager, event, level, node, force_warn_or_error_handling)

    EventManager.fire_event = fire_if_read  # type: ignore[method-assign,assignment]


def _debug_event_read(manager: Any, event: Any) -> bool:
    """Whether a logger of dbt's event manager writes debug lines, or a callback may read this event."""
    for event_logger in manager.loggers:
        python_logger = getattr(event_logger, "_python_logger", event_logger)
        if python_logger is None:  # a logger set to write nothing
            continue
        if not isinstance(python_logger, logging.Logger) or python_logger.isEnabledFor(logging.DEBUG):
            return True
    name = type(event).__name__
    for callback in manager.callbacks:
        read = _events_read_by(callback)
        if read is None or name in read:
            return True
    return False


def _events_read_by(callback: Any) -> frozenset[str] | None:
    """The events a callback of dbt's event manager acts on; None (every one) for a callback not known here."""
    from dbt.tracking import track_behavior_change_warn

    if isinstance(callback, _NodeTracker):
        return _NodeTracker.EVENTS
    if callback is track_behavior_change_warn:  # dbt's own, for its usage statistics
        return frozenset({"BehaviorChangeEvent"})
    return None


def _skip_listing_duckdbs_main_schema() -> None:
    """No listing of the target database's schemas when every model is in `main`, which every DuckDB database has.

    Before each invocation's first node dbt lists the schemas of every database it writes,
    on a connection of its own, to create the missing ones (tens of milliseconds a year).
    """
    from dbt.task.runnable import GraphRunnableTask

    create_schemas: Any = GraphRunnableTask.create_schemas

    def create_missing_schemas(task: Any, adapter: Any, required_schemas: Any) -> None:
        if adapter.type() == "duckdb" and all(str(schema.schema).lower() == "main" for schema in required_schemas):
            return
        create_schemas(task, adapter, required_schemas)

    GraphRunnableTask.create_schemas = create_missing_schemas  # type: ignore[method-assign,assignment]


def _calling_module() -> str:
    """dbt_common's behavior-flag source: the first module up the stack other than its own."""
    own = "dbt_common.behavior_flags"
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        name = frame.f_globals.get("__name__")
        if name and name != own:
            return str(name)
        frame = frame.f_back
    return "Unknown"


@cache
def _silence_import_time_logger() -> None:
    """Drop the stdout logger dbt_common adds when imported (once per process).

    dbt replaces it with the invocation's loggers (--log-level none) only after it has
    set up its flags; an interrupt before that would print dbt's own error lines into
    the terminal or notebook cell.
    """
    from dbt_common.events.event_manager_client import cleanup_event_logger

    cleanup_event_logger()


@contextmanager
def _without_optional_iri_grammar() -> Iterator[None]:
    """Import jsonschema (pulled in by dbt) without its optional rfc3987_syntax support.

    Where Jupyter is installed, rfc3987_syntax is too, and jsonschema imports it to
    check the "iri" string format, compiling a Lark grammar that costs over a second
    per process. dbt validates no IRI formats, so jsonschema is let to find it
    missing; any later import of rfc3987_syntax in the process works as usual.
    """
    if "jsonschema" in sys.modules or "rfc3987_syntax" in sys.modules:
        yield
        return
    sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if sys.modules.get("rfc3987_syntax", False) is None:
            del sys.modules["rfc3987_syntax"]


def _parse_cache_dir(project_dir: Path) -> Path:
    """Per-user home of dbt's saved parse, one folder per project location and dbt version."""
    from importlib.metadata import version

    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "planalign"
    key = hashlib.sha256(f"{project_dir}|{version('dbt-core')}".encode()).hexdigest()[:16]
    return root / f"dbt-parse-{key}"


def _replace_atomically(source: Path, destination: Path) -> None:
    """Publish a file so concurrent readers see the old or the new one, never half of it."""
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        for stale in destination.parent.glob(f".{destination.name}.*"):
            _remove_if_orphaned(stale, stale.name.rsplit(".", 1)[-1])
        staging = destination.with_name(f".{destination.name}.{os.getpid()}")
        shutil.copyfile(source, staging)
        os.replace(staging, destination)
    except OSError:
        logger.info("Could not save dbt's parse to %s; the next process parses again", destination)


@contextmanager
def _parse_scratch_dir(target_dir: Path) -> Iterator[Path]:
    """A scratch target folder for one parse, inside the workspace's target folder.

    A process killed mid-parse (kill -9, power loss) cannot remove its folder; kept in
    the workspace and named after its process, it is removed by the next parse there
    instead of piling up in the system's temporary folder.
    """
    target_dir.mkdir(parents=True, exist_ok=True)
    _remove_orphaned_parse_folders(target_dir)
    scratch = Path(tempfile.mkdtemp(prefix=f"{PARSE_SCRATCH_PREFIX}{os.getpid()}-", dir=target_dir))
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _remove_orphaned_parse_folders(target_dir: Path) -> None:
    """Remove the parse folders of processes that were killed mid-parse (done by every invocation)."""
    for stale in target_dir.glob(f"{PARSE_SCRATCH_PREFIX}*"):
        _remove_if_orphaned(stale, stale.name.removeprefix(PARSE_SCRATCH_PREFIX).split("-", 1)[0])


def _remove_if_orphaned(path: Path, pid_text: str) -> None:
    """Remove a scratch file or folder whose creating process no longer runs."""
    if not pid_text.isdigit() or _process_alive(int(pid_text)):
        return
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _refuse_template_text(vars: Mapping[str, Any]) -> None:
    """Refuse a string var dbt would execute: dbt renders every string var as Jinja."""
    pending: list[tuple[str, Any]] = list(vars.items())
    while pending:
        name, value = pending.pop()
        if isinstance(value, Mapping):
            pending.extend((f"{name}.{key}", item) for key, item in value.items())
        elif isinstance(value, list | tuple):
            pending.extend((f"{name}[{index}]", item) for index, item in enumerate(value))
        elif isinstance(value, str) and any(delimiter in value for delimiter in _JINJA_DELIMITERS):
            raise ConfigurationError(
                f"dbt var '{name}' contains a Jinja delimiter ({value[:80]!r}); dbt renders text vars as "
                "templates, so it would run as code",
                key=name,
                value=value[:80],
                remediation="Remove '{{', '{%' and '{#' from the value.",
            )


@contextmanager
def _root_logging_preserved() -> Iterator[None]:
    """Dbt adds a stderr handler to the root logger (on import and on calls); take it back off.

    Otherwise every library warning afterwards prints into notebook cells and terminals.
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


@contextmanager
def _log_write_errors_silenced() -> Iterator[None]:
    """No "--- Logging error ---" tracebacks while dbt runs, when its log file cannot be written.

    dbt logs every node to logs/dbt/dbt.log through Python's logging; on a full disk
    each line would print a traceback on stderr. What failed is reported once, by the
    step that failed; the log is only a record.
    """
    previous = logging.raiseExceptions
    logging.raiseExceptions = False
    try:
        yield
    finally:
        logging.raiseExceptions = previous


@contextmanager
def _environment(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for None, unset) environment variables for one invocation, then restore them.

    The census variable is unset while parsing: dbt records the values of the
    environment variables a parse read, and a different value would invalidate the
    saved parse shared by every workspace.
    """
    previous = {name: os.environ.get(name) for name in values}
    os.environ.setdefault("DO_NOT_TRACK", "1")
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class _NodeTracker:
    """dbt event callback turning dbt's log events into NodeStarted/NodeFinished.

    dbt calls it on its worker threads; it must never raise back into dbt.
    """

    EVENTS: ClassVar[frozenset[str]] = frozenset({"LogStartLine", "NodeFinished"})

    def __init__(self, on_node: NodeObserver | None) -> None:
        self.on_node = on_node
        self.results: list[NodeResult] = []
        self._started: dict[str, tuple[int, int, float]] = {}

    def __call__(self, event: Any) -> None:
        try:
            name = event.info.name
            if name == "LogStartLine":
                self._node_started(event.data)
            elif name == "NodeFinished":
                self._node_finished(event.data)
        except Exception:
            logger.exception("Ignoring failure while handling dbt event")

    def _node_started(self, data: Any) -> None:
        info = data.node_info
        self._started[info.unique_id] = (data.index, data.total, time.perf_counter())
        if self.on_node:
            self.on_node(
                NodeStarted(
                    node_name=info.node_name,
                    resource_type=info.unique_id.split(".", 1)[0],
                    index=data.index,
                    total=data.total,
                )
            )

    def _node_finished(self, data: Any) -> None:
        info = data.node_info
        index, total, began = self._started.get(info.unique_id, (0, 0, time.perf_counter()))
        duration = time.perf_counter() - began
        status = info.node_status or "unknown"
        self.results.append(NodeResult(info.node_name, status, duration))
        if self.on_node:
            self.on_node(
                NodeFinished(
                    node_name=info.node_name,
                    resource_type=info.unique_id.split(".", 1)[0],
                    index=index,
                    total=total,
                    status=status,
                    duration_seconds=duration,
                )
            )


def release_dbt() -> None:
    """Drop parsed manifests and dbt's adapters, and so their multiprocessing locks.

    For a process about to exit without the interpreter's shutdown: those locks are
    named semaphores that must be unlinked by their finalizers.
    """
    DbtRunner._manifests.clear()
    if "dbt.adapters.factory" not in sys.modules:
        return
    from dbt.adapters.factory import reset_adapters

    reset_adapters()  # type: ignore[no-untyped-call]  # dbt leaves it unannotated
    gc.collect()  # finalizes the multiprocessing locks, unlinking their semaphores
    # A lock an interrupted invocation still references (from a traceback, a half-built
    # adapter) survives the collection; run the finalizers the interpreter's shutdown
    # would have run, so the resource tracker finds no leaked semaphore.
    multiprocessing.util._run_finalizers(0)  # type: ignore[attr-defined]  # not in typeshed


def _reset_compiled_state(manifest: Any) -> None:
    """Forget what the previous invocation compiled into the shared manifest.

    dbt stores compiled SQL and injected ephemeral CTEs on the manifest's nodes and
    skips re-injection when it finds them, so a reused manifest would run models
    without their ephemeral CTEs, or with CTEs rendered from the previous --vars
    (e.g. another workspace's census path).
    """
    for node in manifest.nodes.values():
        if getattr(node, "compiled", False) or getattr(node, "extra_ctes_injected", False):
            node.compiled = False
            node.compiled_code = None
            node.extra_ctes_injected = False
            node.extra_ctes = []
            node._pre_injected_sql = None


def _release_duckdb() -> None:
    """Close dbt-duckdb's connections so the file is free for other processes."""
    try:
        from dbt.adapters.factory import cleanup_connections

        cleanup_connections()  # type: ignore[no-untyped-call]  # dbt leaves it unannotated
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager

        with DuckDBConnectionManager._LOCK:
            # dbt-duckdb declares _ENV = None (so mypy infers None), then assigns environments.
            environment: Any = DuckDBConnectionManager._ENV
            if environment is not None:
                environment.close()
    except Exception:
        logger.exception("Could not release dbt's DuckDB connections")
