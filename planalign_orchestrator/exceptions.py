"""Every error a user can hit, each carrying what happened, where, and how to fix it.

Messages follow dbt-core's style: the first line says what went wrong, the context
lines say which step, file or key, and the last line is the remediation. The
remediation is kept as its own attribute so faces (terminal, notebook widgets) can
render it separately, and it is always part of ``str(error)`` so a plain traceback
shows it too.

Where one call fixes the error, the error also carries it as a structured `Remedy`
(the action and its options, with the terminal command), so each face words the
fix in its own terms: the terminal says `planalign init --recreate`, the notebook
`nb.initialize(..., recreate_corrupt=True)` and offers a button. `remediation` stays
the terminal's wording.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

COMMAND = "{command}"


@dataclass(frozen=True)
class Remedy:
    """What to do about an error, structured so that every face can word it.

    `text` is the remedy as a sentence; where it holds "{command}", the one call that
    fixes the error goes. That call is `action` on the workspace (initialize,
    simulate, status: the WorkspaceSession and notebook names) with keyword `options`
    (Python names); `cli` is the same call as a terminal command and `python` as an
    engine-level call for scripts. A remedy without an action is its text alone.
    """

    text: str
    action: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    cli: str | None = None
    python: str | None = None

    def render(self, command: str | None) -> str:
        """The sentence with `command` where the call goes (the text as it is without a command)."""
        return self.text.replace(COMMAND, command) if command else self.text

    def for_terminal(self) -> str:
        """The terminal's wording: the command in backticks, and the Python call beside it when there is one."""
        if self.cli is None:
            return self.text
        beside = f" (or {self.python})" if self.python else ""
        return self.render(f"`{self.cli}`{beside}")


class PlanAlignError(Exception):
    """Base of every PlanAlign error: a message plus a remediation (and its structured remedy)."""

    default_remediation = "See the message above; re-run with --verbose for the full log."
    default_remedy: ClassVar[Remedy | None] = None

    def __init__(self, message: str, *, remediation: str | None = None, remedy: Remedy | None = None) -> None:
        self.message = message
        if remedy is None:
            remedy = Remedy(remediation) if remediation else self.default_remedy or Remedy(self.default_remediation)
        self.remedy = remedy
        self.remediation = remediation or remedy.for_terminal()
        super().__init__(message)

    def __str__(self) -> str:
        return f"{self.message}\n  To fix: {self.remediation}"


# The contract's name for the base class (`class InitializationError(NavigatorError)`): the same class.
NavigatorError = PlanAlignError


class ConfigurationError(PlanAlignError):
    """A simulation config value is missing, unknown, of the wrong type or out of range."""

    def __init__(
        self,
        message: str,
        *,
        key: str | None = None,
        value: Any = None,
        config_path: Path | None = None,
        remediation: str | None = None,
        remedy: Remedy | None = None,
    ) -> None:
        self.key = key
        self.value = value
        self.config_path = config_path
        where = f" in {config_path}" if config_path else ""
        prefix = f"Invalid config key '{key}'{where}: " if key else (f"Invalid config{where}: " if where else "")
        super().__init__(prefix + message, remediation=remediation, remedy=remedy)


class CensusValidationError(PlanAlignError):
    """The census file exists but its rows cannot be simulated."""

    def __init__(
        self,
        census_path: Path,
        problem: str,
        *,
        offending_rows: Sequence[str] = (),
        remediation: str | None = None,
    ) -> None:
        self.census_path = census_path
        self.problem = problem
        self.offending_rows = list(offending_rows)
        lines = [f"Census {census_path} is invalid: {problem}"]
        if self.offending_rows:
            lines.append("  First offending rows:")
            lines.extend(f"    {row}" for row in self.offending_rows)
        super().__init__(
            "\n".join(lines),
            remediation=remediation
            or f"Correct these rows in {census_path}, or point paths.census in the config at a valid file.",
        )


class HistoryValidationError(CensusValidationError):
    """A census history (dated snapshots of the workforce) cannot be studied: a file, or rows in one, are wrong.

    Names the file, and the offending rows by line, like a census error; `path` is the
    file (or the history folder when the problem is the set of files).
    """

    def __init__(
        self,
        path: Path,
        problem: str,
        *,
        offending_rows: Sequence[str] = (),
        remediation: str | None = None,
    ) -> None:
        self.census_path = path
        self.problem = problem
        self.offending_rows = list(offending_rows)
        lines = [f"Census history {path}: {problem}"]
        if self.offending_rows:
            lines.append("  First offending rows:")
            lines.extend(f"    {row}" for row in self.offending_rows)
        PlanAlignError.__init__(
            self,
            "\n".join(lines),
            remediation=remediation or f"Correct these rows in {path}, or leave the file out of the history.",
        )


class DatabaseError(PlanAlignError):
    """A query against the simulation database failed."""

    def __init__(
        self,
        message: str,
        *,
        db_path: Path | None = None,
        original_error: Exception | None = None,
        remediation: str | None = None,
    ) -> None:
        self.db_path = db_path
        self.original_error = original_error
        super().__init__(message, remediation=remediation)


class DatabaseLockedError(DatabaseError):
    """Another process holds the DuckDB file open for writing (this is not corruption)."""

    def __init__(
        self,
        db_path: Path,
        *,
        holder: str | None = None,
        pid: int | None = None,
        original_error: Exception | None = None,
    ) -> None:
        self.holder = holder
        self.pid = pid
        who = f"process {pid} ({holder})" if pid else "another process"
        super().__init__(
            f"Database {db_path} is locked by {who}; DuckDB allows one writing process per file.",
            db_path=db_path,
            original_error=original_error,
            remediation=(
                f"Close the other program using it (a notebook kernel or `planalign` run; "
                f"`kill {pid}` if it is stuck), then retry."
                if pid
                else "Close the other program using the database, then retry."
            ),
        )


class DbtError(PlanAlignError):
    """A dbt invocation failed; names the node that failed and dbt's own message."""

    def __init__(
        self,
        message: str,
        *,
        command: str,
        node: str | None = None,
        remediation: str | None = None,
        subcommand: str | None = None,
    ) -> None:
        self.command = command
        self.node = node
        self.subcommand = subcommand
        where = f" at node '{node}'" if node else ""
        ran = f"dbt {subcommand}" if subcommand else "dbt"
        super().__init__(
            f"{ran} failed{where}: {message}",
            remediation=remediation
            or f"Fix the model or its inputs, then retry; to reproduce by hand run `{command}`.",
        )


class HookError(PlanAlignError):
    """A pre-simulation hook failed, so the simulation did not start."""

    def __init__(self, hook_name: str, original_error: BaseException) -> None:
        self.hook_name = hook_name
        self.original_error = original_error
        remediation = getattr(original_error, "remediation", None)
        super().__init__(
            f"Pre-simulation hook '{hook_name}' failed; no simulation year was run. "
            f"Cause: {getattr(original_error, 'message', None) or original_error}",
            remediation=remediation or "Fix the cause shown above and run the simulation again.",
            remedy=getattr(original_error, "remedy", None),
        )


class SimulationError(PlanAlignError):
    """A simulation year cannot run or produced inconsistent results."""


class InfeasibleStudyError(PlanAlignError):
    """No design of a study met every constraint within its budget.

    The message names each constraint, how many designs met it and the closest value;
    the remediation says what to loosen, widen or extend. A study's result carries it
    (its trials stay useful: they show how close the designs came).
    """


class WorkspaceBusyError(PlanAlignError):
    """Another process is initializing or simulating the workspace, so this call leaves it alone.

    DuckDB lets a process write a file only while nobody else has it open: even a
    read-only look at the database would make that run fail, and a workspace has one
    writer at a time for a whole run. `runs` describe who holds it ("simulate
    2025-2027 running in process 4242 since ..."). `writer` marks a refused run
    (init, simulate, an ensemble) rather than a reader; `waited_seconds` how long it
    waited for the workspace (`--wait`) before giving up.
    """

    def __init__(
        self,
        folder: Path,
        runs: Sequence[str],
        *,
        writer: bool = False,
        waited_seconds: float | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.runs = list(runs)
        self.writer = writer
        self.waited_seconds = waited_seconds
        if not writer:
            remediation = "The database is not read while a run uses it; try again when the run ends."
        elif waited_seconds:
            remediation = (
                f"Waited {waited_seconds:,.0f} s and that run still holds the workspace; nothing was started. "
                "Run again later, or wait longer: `--wait S` (notebook: wait_seconds=S)."
            )
        else:
            remediation = (
                "Nothing was started: one run at a time writes a workspace. Run again when that run ends, or "
                "wait for it: add `--wait` (up to 600 s; `--wait S` for S seconds; notebook: wait_seconds=600)."
            )
        super().__init__("busy: " + "; ".join(self.runs), remediation=remediation)


class DiskFullError(PlanAlignError):
    """The file system a step writes to is full, or has less room than the step needs.

    Raised before a step that writes when the free space is below its estimate
    (`needed_bytes`), and in place of any "No space left on device" a step met while
    writing (dbt, DuckDB, a file copy, an export): which folder and file system,
    how much is free, and what to free. Nothing half-written is used afterwards:
    the next run redoes the step.
    """

    def __init__(
        self,
        folder: Path,
        *,
        purpose: str,
        free_bytes: int,
        needed_bytes: int | None = None,
        mount_point: Path | None = None,
        reclaimable: Sequence[str] = (),
        path: Path | None = None,
        original_error: BaseException | None = None,
        low_level: bool = False,
        elsewhere: str = "move the workspace to a volume with more room",
    ) -> None:
        self.folder = Path(folder)
        self.purpose = purpose
        self.elsewhere = elsewhere
        # Found by a low-level write (a DuckDB query, a dbt node): the step around it
        # renames it after what the user started ("simulate 2026").
        self.low_level = low_level
        self.free_bytes = free_bytes
        self.needed_bytes = needed_bytes
        self.mount_point = mount_point
        self.reclaimable = list(reclaimable)
        self.path = path
        self.original_error = original_error
        where = f"{self.folder}" + (f" (file system mounted at {mount_point})" if mount_point else "")
        if original_error is None:
            message = (
                f"Not enough free disk space to {purpose}: {format_bytes(free_bytes)} free in {where}, "
                f"and it needs about {format_bytes(needed_bytes or 0)}; it was not started, and nothing "
                "finished before it is lost."
            )
        else:
            wrote = f" writing {path}" if path else ""
            message = (
                f"The disk is full: {purpose} stopped{wrote} (No space left on device); "
                f"{format_bytes(free_bytes)} free in {where}. The step was not completed and is redone by the "
                "next run; everything finished before it is kept."
            )
        amount = (
            f"at least {format_bytes(needed_bytes - free_bytes)}"
            if needed_bytes and needed_bytes > free_bytes
            else "some space"
        )
        candidates = f"; in the workspace, {', '.join(self.reclaimable)} can go" if self.reclaimable else ""
        super().__init__(
            message,
            remediation=(
                f"Free {amount} on that file system (delete files you no longer need there{candidates}), "
                f"or {elsewhere}; then run the same command again."
            ),
        )


def disk_full_elsewhere(error: DiskFullError, elsewhere: str) -> DiskFullError:
    """The same report with another way out than moving the workspace (an export: write it somewhere else)."""
    return DiskFullError(
        error.folder,
        purpose=error.purpose,
        free_bytes=error.free_bytes,
        needed_bytes=error.needed_bytes,
        mount_point=error.mount_point,
        reclaimable=error.reclaimable,
        path=error.path,
        original_error=error.original_error,
        low_level=error.low_level,
        elsewhere=elsewhere,
    )


def format_bytes(count: int) -> str:
    """A size for people, in one unit across messages: 612 KB, 5.8 MB, 78,123 MB (decimal units, like `df -H`)."""
    if count < 1_000_000:
        return f"{max(count, 0) / 1000:,.0f} KB"
    if count < 100_000_000:
        return f"{count / 1_000_000:,.1f} MB"
    return f"{count / 1_000_000:,.0f} MB"


class ScenarioExistsError(ConfigurationError):
    """Saving a scenario would silently replace the different overrides (and so the results) saved under its name.

    `changes` says what would change, one "key: before -> after" per key, so a face
    can ask before replacing them (the levers' Run) or the user can pass overwrite.
    """

    def __init__(self, name: str, changes: Sequence[str]) -> None:
        self.scenario = name
        self.changes = tuple(changes)
        super().__init__(
            f"scenario {name!r} already exists with other overrides; saving would change " + "; ".join(self.changes),
            remediation=(
                f"Pass overwrite=True (in a terminal, add --overwrite) to replace {name!r} and its results, "
                "or choose another scenario name."
            ),
        )


class WorkspaceNotWritableError(ConfigurationError):
    """The workspace folder (or a file PlanAlign must create in it) cannot be written."""

    def __init__(self, folder: Path, *, action: str, original_error: OSError | None = None) -> None:
        self.folder = Path(folder)
        self.original_error = original_error
        reason = f": {original_error.strerror}" if original_error and original_error.strerror else ""
        super().__init__(
            f"Cannot {action} in {self.folder}{reason}. The folder is not writable.",
            remediation=(
                f"Make the folder writable (`chmod u+w {shlex.quote(str(self.folder))}`), or run in a folder you can "
                "write to (`--workspace DIR`, or `cd` there first)."
            ),
        )


class InitializationError(NavigatorError):
    """Base exception for initialization failures."""

    default_remedy = Remedy(
        "Fix the cause above and run {command}; only the missing tables are rebuilt.",
        action="initialize",
        cli="planalign init",
        python="call ensure_initialized() again",
    )

    def __init__(
        self,
        message: str,
        *,
        step: str | None = None,
        missing_tables: list[str] | None = None,
        original_error: Exception | None = None,
        remediation: str | None = None,
        remedy: Remedy | None = None,
    ) -> None:
        self.step = step
        self.missing_tables = list(missing_tables or [])
        self.original_error = original_error
        context = []
        if step:
            context.append(f"step '{step}'")
        if self.missing_tables:
            context.append("tables not created: " + ", ".join(self.missing_tables))
        suffix = f" ({'; '.join(context)})" if context else ""
        if remediation is None and remedy is None:  # the cause's own advice, when it has some
            remediation = getattr(original_error, "remediation", None)
            remedy = getattr(original_error, "remedy", None)
        super().__init__(message + suffix, remediation=remediation, remedy=remedy)


class InitializationTimeoutError(InitializationError):
    """Raised when initialization exceeds timeout."""

    def __init__(self, timeout_seconds: float, elapsed_seconds: float) -> None:
        self.timeout_seconds = timeout_seconds
        self.elapsed_seconds = elapsed_seconds
        super().__init__(
            f"Initialization stopped after {elapsed_seconds:.1f}s: it exceeded the "
            f"{timeout_seconds:g}s timeout. The running dbt work was cancelled and the lock released.",
            remedy=Remedy(
                "Run it again with a longer timeout: {command}. Tables already built are kept and "
                "only the missing ones are rebuilt.",
                action="initialize",
                options={"timeout_seconds": 300},
                cli="planalign init --timeout 300",
                python="AutoInitializer(timeout_seconds=300)",
            ),
        )


class ConcurrentInitializationError(InitializationError):
    """Raised when another initialization is already in progress."""

    def __init__(self, lock_file: Path, *, runs: Sequence[str] = ()) -> None:
        self.lock_file = Path(lock_file)
        self.runs = list(runs)
        if self.runs:
            # The workspace's run lock (beside the initialization lock) is what is held.
            message = (
                f"Another process is using this workspace ({'; '.join(self.runs)}), so it cannot be initialized "
                f"now (the workspace's locks beside {self.lock_file} are held)."
            )
        else:
            message = f"Another process is initializing this database (lock {self.lock_file} is held)."
        super().__init__(
            message,
            remediation=(
                "Wait for it to finish and retry; the retry finds the tables already built. "
                "A crashed holder releases the lock automatically, so no manual cleanup is needed."
            ),
        )


class DatabaseCorruptionError(InitializationError):
    """Raised when database file is corrupted."""

    def __init__(
        self,
        db_path: Path,
        *,
        original_error: Exception | None = None,
    ) -> None:
        self.db_path = Path(db_path)
        detail = f": {getattr(original_error, 'message', None) or original_error}" if original_error else ""
        super().__init__(
            f"{_sentence(f'Database file {self.db_path} is not a readable DuckDB database{detail}')} "
            "It was left untouched.",
            original_error=original_error,
            remedy=Remedy(
                "Run {command}: it moves the file aside to "
                f"{self.db_path.name}.corrupt-<UTC timestamp> and builds a fresh database. "
                "Or restore the file from a backup.",
                action="initialize",
                options={"recreate_corrupt": True},
                cli="planalign init --recreate",
                python="AutoInitializer(..., recreate_corrupt=True)",
            ),
        )


def _sentence(text: str) -> str:
    """End a sentence once: quoted messages (DuckDB's, say) often end with their own stop."""
    text = text.rstrip()
    return text if text.endswith((".", "!", "?")) else text + "."
