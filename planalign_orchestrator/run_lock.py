"""One writer per workspace, and which process is initializing or simulating it, since when.

A run (an initialization, a simulation with its self-healing, an ensemble) first
takes the workspace's run lock, an OS file lock on `.planalign_workspace.lock` next
to the database, and holds it for its whole duration: a second run in another
process is refused at once (WorkspaceBusyError, which the terminal reports as `busy:
...` with exit code 3), or waits for it when asked to (`wait_seconds`), before it
reads or builds anything. Under the lock the run writes a small record next to the
lock file and holds an OS file lock on that too; it removes the record when it ends.
A reader such as `planalign status` asks `active_runs()` before touching the
database: DuckDB lets one process write a file only while nobody else has it open, so
even a read-only peek at the wrong moment would make the run fail. A killed run
cannot remove its record, but the OS releases both of its locks, so it never blocks
the next run, its record reads as finished and the next run deletes it.

Readers only read (no file is created, locked for writing or deleted), so this works
in a read-only folder. POSIX only, like the rest of the interrupt handling.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from planalign_orchestrator.diskspace import disk_full_error, is_disk_full
from planalign_orchestrator.exceptions import WorkspaceBusyError

logger = logging.getLogger(__name__)

RECORD_PREFIX = ".planalign_run."
RUN_LOCK_FILE_NAME = ".planalign_workspace.lock"
_RECORD_SUFFIX = ".json"
_UNPUBLISHED_PREFIX = f"{RECORD_PREFIX}new-"
_UNPUBLISHED_MAX_AGE_SECONDS = 60.0
# How often a run waiting for the workspace says so, and re-tries the lock.
WAIT_REPORT_SECONDS = 15.0
_WAIT_POLL_SECONDS = 0.1
# A holder writes its record a moment after taking the lock: how long a refused run
# looks for it, to say who holds the workspace.
_RECORD_PATIENCE_SECONDS = 2.0


@dataclass(frozen=True)
class _Held:
    record: RunRecord
    depth: int
    lock_descriptor: int | None


_held: dict[Path, _Held] = {}
_held_lock = threading.Lock()
# Called while a run waits for the workspace: (the runs holding it, described; seconds waited).
WaitObserver = Callable[[list[str], float], None]


@dataclass(frozen=True)
class RunRecord:
    """A run in progress, as recorded by the process doing it."""

    pid: int
    command: str
    started_at: datetime
    detail: str = ""

    def describe(self) -> str:
        """E.g. "simulate 2025-2027 running in process 4242 since 2025-11-27 04:47:12 UTC"."""
        what = f"{self.command} {self.detail}".strip()
        return f"{what} running in process {self.pid} since {self.started_at:%Y-%m-%d %H:%M:%S} UTC"


@contextmanager
def recorded_run(
    folder: Path,
    command: str,
    detail: str = "",
    *,
    wait_seconds: float = 0.0,
    on_wait: WaitObserver | None = None,
) -> Iterator[RunRecord]:
    """Hold the workspace's run lock in `folder` (the lock file's folder) and record this run until the block ends.

    When another process holds it, raise WorkspaceBusyError naming that run, at once
    or, with `wait_seconds`, once that much time has passed without it ending
    (`on_wait` hears about the wait when it starts and every WAIT_REPORT_SECONDS).
    Re-entrant per process and folder: a simulation's own initialization keeps the
    simulation's lock and record. When the folder cannot be written the run goes on
    unlocked and unrecorded; it cannot write its database there either, and says so
    itself.
    """
    folder = Path(folder).resolve()
    with _held_lock:
        held = _held.get(folder)
        if held is not None:
            _held[folder] = _Held(held.record, held.depth + 1, held.lock_descriptor)
    if held is not None:
        try:
            yield held.record
        finally:
            _release_nested(folder)
        return
    lock_descriptor = _take_run_lock(folder, command, wait_seconds, on_wait)
    try:
        record = RunRecord(pid=os.getpid(), command=command, started_at=datetime.now(UTC), detail=detail)
        published = _publish(folder, record)
    except BaseException:
        if lock_descriptor is not None:
            os.close(lock_descriptor)
        raise
    with _held_lock:
        _held[folder] = _Held(record, 1, lock_descriptor)
    try:
        yield record
    finally:
        with _held_lock:
            _held.pop(folder, None)
        if published is not None:
            path, descriptor = published
            with suppress(OSError):
                path.unlink()
            os.close(descriptor)
        if lock_descriptor is not None:
            os.close(lock_descriptor)  # releases the run lock


def holds_run_lock(folder: Path) -> bool:
    """Whether this process holds the run lock of `folder` (inside recorded_run)."""
    with _held_lock:
        return Path(folder).resolve() in _held


def active_runs(folder: Path) -> list[RunRecord]:
    """The runs in progress in `folder`, oldest first; reads only."""
    runs = []
    for path in _record_paths(Path(folder)):
        try:
            descriptor = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            if _lock_is_free(descriptor, fcntl.LOCK_SH):
                continue  # its process ended (or was killed): not a run any more
            record = _read_record(path)
        finally:
            os.close(descriptor)
        if record is not None:
            runs.append(record)
    return sorted(runs, key=lambda run: run.started_at)


def _publish(folder: Path, record: RunRecord) -> tuple[Path, int] | None:
    """Write the record under a temporary name, lock it, then rename it into place.

    A reader never sees a record that is not locked yet, so it can never mistake a
    starting run for a finished one.
    """
    _remove_finished_records(folder)
    try:
        descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=_UNPUBLISHED_PREFIX, suffix=_RECORD_SUFFIX)
    except OSError:
        logger.info("Cannot record the run in %s (not writable)", folder)
        return None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        payload = {
            "pid": record.pid,
            "command": record.command,
            "started_at": record.started_at.isoformat(),
            "detail": record.detail,
        }
        os.write(descriptor, json.dumps(payload).encode())
        final = folder / f"{RECORD_PREFIX}{record.pid}.{Path(temporary).stem.rsplit('-', 1)[-1]}{_RECORD_SUFFIX}"
        os.rename(temporary, final)
    except BaseException:
        with suppress(OSError):
            os.unlink(temporary)
        os.close(descriptor)
        raise
    return final, descriptor


def _remove_finished_records(folder: Path) -> None:
    """Delete records whose process no longer holds them (a killed run leaves its record behind)."""
    for path in _record_paths(folder, include_unpublished=True):
        if path.name.startswith(_UNPUBLISHED_PREFIX):
            with suppress(OSError):
                if time.time() - path.stat().st_mtime < _UNPUBLISHED_MAX_AGE_SECONDS:
                    continue  # another process may be about to lock and publish it
        try:
            descriptor = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            if _lock_is_free(descriptor, fcntl.LOCK_EX):
                with suppress(OSError):
                    path.unlink()
        finally:
            os.close(descriptor)


def _record_paths(folder: Path, *, include_unpublished: bool = False) -> list[Path]:
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return [
        folder / name
        for name in names
        if name.startswith(RECORD_PREFIX)
        and name.endswith(_RECORD_SUFFIX)
        and (include_unpublished or not name.startswith(_UNPUBLISHED_PREFIX))
    ]


def _lock_is_free(descriptor: int, mode: int) -> bool:
    try:
        fcntl.flock(descriptor, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    fcntl.flock(descriptor, fcntl.LOCK_UN)
    return True


def _read_record(path: Path) -> RunRecord | None:
    try:
        payload = json.loads(path.read_text())
        return RunRecord(
            pid=int(payload["pid"]),
            command=str(payload["command"]),
            started_at=datetime.fromisoformat(payload["started_at"]),
            detail=str(payload.get("detail") or ""),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _release_nested(folder: Path) -> None:
    with _held_lock:
        held = _held.get(folder)
        if held is not None:
            _held[folder] = _Held(held.record, held.depth - 1, held.lock_descriptor)


def _take_run_lock(folder: Path, command: str, wait_seconds: float, on_wait: WaitObserver | None) -> int | None:
    """The run lock's descriptor, locked; WorkspaceBusyError when another process keeps it past `wait_seconds`.

    None when the lock file cannot be created (a read-only folder): the run then goes
    on unlocked, as it went on unrecorded before, and fails on its first write with
    its own message. A full disk is reported as such.
    """
    descriptor = _open_run_lock(folder, command)
    if descriptor is None:
        return None
    started = time.monotonic()
    next_report = 0.0
    try:
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return descriptor
            except BlockingIOError:
                pass
            waited = time.monotonic() - started
            if waited >= wait_seconds:
                raise WorkspaceBusyError(
                    folder, _holders(folder), writer=True, waited_seconds=waited if wait_seconds > 0 else None
                )
            if on_wait is not None and waited >= next_report:
                on_wait(_holders(folder), next_report)  # 0 when the wait starts, then every WAIT_REPORT_SECONDS
                next_report += WAIT_REPORT_SECONDS
            time.sleep(min(_WAIT_POLL_SECONDS, max(wait_seconds - waited, 0.0)))
    except BaseException:
        os.close(descriptor)
        raise


def _open_run_lock(folder: Path, command: str) -> int | None:
    path = folder / RUN_LOCK_FILE_NAME
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as error:
        if is_disk_full(error):
            raise disk_full_error(error, folder, purpose=f"start {command}") from error
        try:  # an existing lock file in a folder this user cannot write: flock needs no write access
            return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            logger.info("Cannot take the run lock in %s (%s); the run goes on unlocked", folder, error.strerror)
            return None


def _holders(folder: Path) -> list[str]:
    """Who holds the run lock, described; its record appears a moment after it took the lock."""
    deadline = time.monotonic() + _RECORD_PATIENCE_SECONDS
    while True:
        runs = [run.describe() for run in active_runs(folder) if run.pid != os.getpid()]
        if runs or time.monotonic() >= deadline:
            return runs or [f"another process is running in this workspace (it holds {folder / RUN_LOCK_FILE_NAME})"]
        time.sleep(0.05)
