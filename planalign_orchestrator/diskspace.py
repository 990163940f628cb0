"""Disk space: checked before every step that writes, and a full disk reported as what it is.

Every build step that writes (initialization, each simulated year, an ensemble, an
export) first compares the free space of the folder it writes to with an estimate of
what the step needs, and refuses to start below it, naming the folder, its file
system, the free space and the estimate. A disk can still fill up under a running
step (another program writes too, or the estimate was low); then whatever reports it
(dbt, DuckDB, a file copy, openpyxl) is turned into the same DiskFullError instead of
a traceback or an unrelated message. The step that stopped is redone by the next run:
dbt and DuckDB roll a failed write back, build records are written only after the
build they describe, and files are written under a temporary name first.

The estimates are deliberately generous (about twice the peak measured on the bundled
census and on 100,000 employees): refusing a step that would have fitted costs a
message; starting one that does not fit costs the step.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from planalign_orchestrator.exceptions import DiskFullError, NavigatorError, format_bytes

MB = 1_000_000
# What a simulated year writes at its peak: DuckDB's write-ahead log and new blocks,
# dbt's compiled SQL and log. Measured: 3.5 MB a year at 5,000 employees, 13 MB at
# 100,000 (about 2 MB plus 160 bytes per employee).
YEAR_BASE_BYTES = 8 * MB
YEAR_BYTES_PER_EMPLOYEE = 400
# An ensemble's scratch database at its peak: a copy of the tables the years read plus
# one year of every seed's rows. Measured: 34 MB for 20 seeds x 5,000 employees, 90 MB
# for 50 seeds (about 360 bytes per seed and employee).
ENSEMBLE_BASE_BYTES = 16 * MB
ENSEMBLE_BYTES_PER_SEED_EMPLOYEE = 700
# dbt's own files in the workspace's target folder for one invocation: the parsed
# project it copies in (about 1 MB) and the compiled SQL.
DBT_TARGET_BYTES = 4 * MB
EXPORT_BASE_BYTES = 1 * MB

_DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_DISK_FULL_TEXTS = ("no space left on device", "disk quota exceeded", "[errno 28]", "[errno 122]")
# A path in an error text: DuckDB quotes it ("..."), Python's OSError too ('...').
_QUOTED_PATH = re.compile(r"[\"'](/[^\"']+)[\"']")
# Workspace files that may be deleted to make room (name pattern, what it is).
_RECLAIMABLE = (
    ("*.corrupt-*", "a damaged database kept aside"),
    ("*.wal.refused-*", "a write-ahead log DuckDB refused"),
    (".planalign_ensemble", "an interrupted ensemble's scratch folder"),
    ("logs/dbt/dbt.log", "dbt's log"),
)


def free_bytes(path: Path) -> int:
    """Free space (for this user) on the file system holding `path`, or its nearest existing ancestor."""
    return shutil.disk_usage(_existing(path)).free


def mount_point(path: Path) -> Path:
    """The folder the file system holding `path` is mounted at."""
    current = _existing(path).resolve()
    device = current.stat().st_dev
    while current.parent != current:
        try:
            if current.parent.stat().st_dev != device:
                break
        except OSError:
            break
        current = current.parent
    return current


def same_file_system(first: Path, second: Path) -> bool:
    try:
        return _existing(first).stat().st_dev == _existing(second).stat().st_dev
    except OSError:
        return False


def require_free_space(folder: Path, needed_bytes: int, *, purpose: str, workspace: Path | None = None) -> None:
    """Refuse to start a step (DiskFullError) when `folder` has less free space than it needs."""
    try:
        free = free_bytes(folder)
    except OSError:
        return  # the folder cannot even be examined; the step reports what is wrong with it
    if free < needed_bytes:
        raise DiskFullError(
            folder,
            purpose=purpose,
            free_bytes=free,
            needed_bytes=needed_bytes,
            mount_point=_mount_point_or_none(folder),
            reclaimable=reclaimable(workspace or folder),
        )


def is_disk_full(error: BaseException | str | None) -> bool:
    """Whether an error (or any error it was raised from or wraps) says the disk or a quota is full."""
    seen: set[int] = set()
    pending: list[object] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, DiskFullError):
            return True
        if isinstance(current, OSError) and current.errno in _DISK_FULL_ERRNOS:
            return True
        text = current if isinstance(current, str) else str(current)
        if any(marker in text.lower() for marker in _DISK_FULL_TEXTS):
            return True
        if isinstance(current, BaseException):
            pending += [current.__cause__, current.__context__, getattr(current, "original_error", None)]
    return False


def disk_full_error(
    error: BaseException | str,
    folder: Path,
    *,
    purpose: str,
    needed_bytes: int | None = None,
    workspace: Path | None = None,
    low_level: bool = False,
    path: Path | None = None,
) -> DiskFullError:
    """The DiskFullError for a "No space left on device" met while writing; `folder` unless the error names a path.

    `low_level` marks a write deep in a step (a query, a dbt node): the step around
    it (disk_full_translated) then names itself as what stopped.
    """
    if isinstance(error, DiskFullError):
        return error
    path = _path_in(error) or path
    where = Path(folder)
    if path is not None and not path.is_relative_to(where):
        where = path.parent  # written elsewhere than the step's folder: name where
    try:
        free = free_bytes(where)
    except OSError:
        free = 0
    return DiskFullError(
        where,
        purpose=purpose,
        free_bytes=free,
        needed_bytes=needed_bytes,
        mount_point=_mount_point_or_none(where),
        reclaimable=reclaimable(workspace or folder),
        path=path,
        original_error=error if isinstance(error, BaseException) else DiskFullText(error),
        low_level=low_level,
    )


class DiskFullText(Exception):
    """A disk-full report that arrived as text only (dbt's message of a failed node)."""


@contextmanager
def disk_full_translated(
    folder: Path,
    *,
    purpose: str,
    needed_bytes: int | None = None,
    workspace: Path | None = None,
    path: Path | None = None,
) -> Iterator[None]:
    """Raise DiskFullError, from the original, for any disk-full error the block raises; others pass unchanged.

    `path` is the file the block writes, named when the error itself names none.
    """
    try:
        yield
    except DiskFullError as full:
        if not full.low_level:
            raise  # already named after its step (or a refusal before writing)
        # The step is what the user started ("simulate 2026"), not the write that found the disk full.
        raise DiskFullError(
            full.folder,
            purpose=purpose,
            free_bytes=full.free_bytes,
            needed_bytes=needed_bytes or full.needed_bytes,
            mount_point=full.mount_point,
            reclaimable=full.reclaimable,
            path=full.path,
            original_error=full.original_error,
            elsewhere=full.elsewhere,
        ) from full
    except NavigatorError:
        raise  # already says what happened (a wrapped disk-full keeps its own words)
    except Exception as error:
        if not is_disk_full(error):
            raise
        raise disk_full_error(
            error, folder, purpose=purpose, needed_bytes=needed_bytes, workspace=workspace, path=path
        ) from error


def reclaimable(workspace: Path) -> list[str]:
    """Workspace files that may be deleted to make room, largest first, e.g. "logs/dbt/dbt.log (12.0 MB, dbt's log)"."""
    found: list[tuple[int, str]] = []
    root = Path(workspace)
    for pattern, what in _RECLAIMABLE:
        try:
            matches = sorted(root.glob(pattern))
        except OSError:
            continue
        for path in matches:
            size = _size(path)
            if size >= 100_000:
                found.append((size, f"{path.relative_to(root)} ({format_bytes(size)}, {what})"))
    return [text for _, text in sorted(found, reverse=True)[:4]]


def year_estimate(headcount: int) -> int:
    """What simulating one year of `headcount` employees may write at its peak."""
    return YEAR_BASE_BYTES + YEAR_BYTES_PER_EMPLOYEE * max(headcount, 0)


def ensemble_estimate(seeds: int, headcount: int) -> int:
    """What an ensemble's scratch database may hold at its peak."""
    return ENSEMBLE_BASE_BYTES + ENSEMBLE_BYTES_PER_SEED_EMPLOYEE * max(seeds, 1) * max(headcount, 0)


def export_estimate(frames_bytes: int) -> int:
    """What a workbook of frames taking `frames_bytes` in memory may take on disk (it is compressed)."""
    return EXPORT_BASE_BYTES + max(frames_bytes, 0)


def _existing(path: Path) -> Path:
    probe = Path(path)
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    return probe


def _mount_point_or_none(path: Path) -> Path | None:
    try:
        return mount_point(path)
    except OSError:
        return None


def _path_in(error: BaseException | str) -> Path | None:
    """The file the failed write was to: an OSError's destination, or the first absolute path quoted in the text."""
    if isinstance(error, OSError):
        for name in (error.filename2, error.filename):
            if name:
                return Path(os.fsdecode(name))
    match = _QUOTED_PATH.search(str(error))
    return Path(match.group(1)) if match else None


def _size(path: Path) -> int:
    try:
        if path.is_dir():
            return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())
        return path.stat().st_size
    except OSError:
        return 0
