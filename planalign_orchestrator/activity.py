"""Which process is initializing or simulating a workspace right now, and since when.

A run (an initialization, or a simulation with its self-healing) writes a small record
next to the workspace's lock file and holds an OS file lock on it for its whole
duration; it removes the record when it ends. A reader such as `planalign status`
asks `active_runs()` before touching the database: DuckDB lets one process write a
file only while nobody else has it open, so even a read-only peek at the wrong moment
would make the run fail. A killed run cannot remove its record, but the OS releases
its lock, so the record reads as finished and the next run deletes it.

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
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

logger = logging.getLogger(__name__)

RECORD_PREFIX = ".planalign_run."
_RECORD_SUFFIX = ".json"
_UNPUBLISHED_PREFIX = f"{RECORD_PREFIX}new-"
_UNPUBLISHED_MAX_AGE_SECONDS = 60.0

_held: dict[Path, tuple[RunRecord, int]] = {}
_held_lock = threading.Lock()


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
def recorded_run(folder: Path, command: str, detail: str = "") -> Iterator[RunRecord]:
    """Record this process's run in `folder` (the lock file's folder) until the block ends.

    Re-entrant per process and folder: a simulation's own initialization keeps the
    simulation's record. When the folder cannot be written the run goes on unrecorded;
    it cannot write its database there either, and says so itself.
    """
    folder = Path(folder).resolve()
    with _held_lock:
        held = _held.get(folder)
        if held is not None:
            _held[folder] = (held[0], held[1] + 1)
    if held is not None:
        try:
            yield held[0]
        finally:
            _release_nested(folder)
        return
    record = RunRecord(pid=os.getpid(), command=command, started_at=datetime.now(UTC), detail=detail)
    published = _publish(folder, record)
    with _held_lock:
        _held[folder] = (record, 1)
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
            _held[folder] = (held[0], held[1] - 1)
