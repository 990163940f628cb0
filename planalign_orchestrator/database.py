"""DatabaseConnectionManager: the only code that opens DuckDB.

Connections are opened per operation and closed straight after. DuckDB allows one
writing process per file, and dbt (in this process) needs the file between our
queries, so holding a connection open would block the very work we orchestrate.
DuckDB's own error text is translated here into the situations a user must tell
apart: the file is held by another process, the file is damaged, the query was
interrupted, or a query failed.

A manager opened `read_only` is a pure reader (what `planalign status` needs): it
never creates, deletes or writes anything, so it works on a read-only file or folder
and lets other readers in. A writer treats an empty (0-byte) file as a database not
created yet, waits briefly while another process reads the file, and once it has seen
damage it refuses to open that file again until it is moved aside, so nothing is
written into a damaged database.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from planalign_orchestrator.diskspace import disk_full_error, is_disk_full
from planalign_orchestrator.exceptions import (
    ConfigurationError,
    DatabaseCorruptionError,
    DatabaseError,
    DatabaseLockedError,
)

if TYPE_CHECKING:  # pandas costs most of a `planalign status` start-up; DuckDB loads it on demand
    import pandas as pd

logger = logging.getLogger(__name__)

_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<holder>.+?) \(PID (?P<pid>\d+)\)")
# Every DuckDB message seen for a damaged file: a bad or foreign header, a block whose
# checksum does not match, a file shorter than its own block list (truncated).
CORRUPTION_MARKERS = (
    "not a valid duckdb database file",
    "the file is not a valid",
    "database file is corrupted",
    "corrupt database file",
    "failed to read database header",
    "invalid header",
    "checksum",
    "could not read enough bytes",
    "serialization error",
)
INTERRUPT_MESSAGES = ("query interrupted", "interrupt error")
DEFAULT_LOCK_PATIENCE_SECONDS = 2.0
_LOCK_RETRY_INTERVAL = 0.05
DAMAGE_MARKER_SUFFIX = ".damaged"


MEMORY_LIMIT_ENV = "PLANALIGN_DUCKDB_MEMORY_LIMIT"
DEFAULT_MEMORY_LIMIT = "3GB"
# DuckDB's checkpoints merge adjacent, partly filled row groups. A yearly slice is
# appended as row groups of its own and replaced whole, so the merges only ever
# re-wrote the last years' tails (most of a checkpoint's time from year 4 at 100k
# employees), and emptied row groups are dropped without them. The setting is global
# to a database instance, so every connection sets it (dbt's in profiles.yml).
MAX_VACUUM_TASKS = 0


def duckdb_memory_limit() -> str:
    """DuckDB's memory cap for every connection the engine opens and every dbt invocation.

    DuckDB spills what does not fit to a temporary folder beside the database instead
    of growing without bound, so a large run slows down rather than being killed by the
    operating system. Set PLANALIGN_DUCKDB_MEMORY_LIMIT (e.g. "8GB") to change it.
    """
    value = os.environ.get(MEMORY_LIMIT_ENV, "").strip() or DEFAULT_MEMORY_LIMIT
    if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", value, flags=re.IGNORECASE):
        raise ConfigurationError(
            f"{MEMORY_LIMIT_ENV}={value!r} is not a memory size",
            remediation=f'Set it to a size such as "4GB" or "512MB", or unset it (default {DEFAULT_MEMORY_LIMIT}).',
        )
    return value


def is_corruption_message(text: str) -> bool:
    """Whether a DuckDB (or dbt-duckdb) error text says the database file is damaged."""
    lowered = text.lower()
    return any(marker in lowered for marker in CORRUPTION_MARKERS)


def is_interrupt(error: BaseException) -> bool:
    """Whether an exception is DuckDB's report of a query cut short by Ctrl-C (or a timeout).

    DuckDB consumes the KeyboardInterrupt itself and raises its own error instead, so the
    interrupt must be recognised by this error to be re-raised as what it is.
    """
    if isinstance(error, duckdb.InterruptException):
        return True
    return isinstance(error, RuntimeError) and str(error).strip().lower().startswith(INTERRUPT_MESSAGES)


class DatabaseConnectionManager:
    """Opens short-lived DuckDB connections to one database file."""

    def __init__(
        self,
        db_path: Path | str,
        *,
        read_only: bool = False,
        lock_patience_seconds: float = DEFAULT_LOCK_PATIENCE_SECONDS,
    ) -> None:
        self.db_path = Path(db_path).resolve()
        self.read_only = read_only
        self.lock_patience_seconds = lock_patience_seconds
        self.refused_wal_backups: list[Path] = []

    def __repr__(self) -> str:
        mode = ", read_only=True" if self.read_only else ""
        return f"DatabaseConnectionManager({str(self.db_path)!r}{mode})"

    @property
    def database_name(self) -> str:
        """DuckDB's catalog name for the file, which dbt-duckdb uses as the database."""
        return self.db_path.stem

    @property
    def wal_path(self) -> Path:
        return self.db_path.with_name(self.db_path.name + ".wal")

    @property
    def damage_marker_path(self) -> Path:
        return self.db_path.with_name(self.db_path.name + DAMAGE_MARKER_SUFFIX)

    def exists(self) -> bool:
        return self.db_path.is_file()

    def is_empty_file(self) -> bool:
        """A 0-byte file (e.g. from `touch`): it holds no database yet, and DuckDB refuses to open it."""
        try:
            return self.db_path.stat().st_size == 0
        except (FileNotFoundError, NotADirectoryError):
            return False

    @contextmanager
    def connection(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection closed on exit; DuckDB errors become PlanAlign errors."""
        read_only = read_only or self.read_only
        if read_only and not self.exists():
            raise DatabaseError(
                f"Database {self.db_path} does not exist yet.",
                db_path=self.db_path,
                remediation="Run `planalign init` to create and initialize it.",
            )
        if read_only and self.is_empty_file():
            # A reader sees an empty file as what it is, a database with no tables yet,
            # and leaves it exactly as it is (a writer removes it, below).
            with self.in_memory() as empty:
                yield empty
            return
        self.raise_if_damaged()
        wal_before = _file_signature(self.wal_path)
        if not read_only:
            self._discard_empty_file()
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._open(read_only)
        try:
            if wal_before is None:
                self._check_not_truncated(conn, read_only)
            yield conn
        except duckdb.Error as exc:
            _close_after_failure(conn)
            raise self._translate_query_error(exc, read_only) from exc
        except RuntimeError as exc:
            _close_after_failure(conn)
            if is_interrupt(exc):
                raise KeyboardInterrupt from exc
            raise
        except BaseException:
            _close_after_failure(conn)
            raise
        try:
            conn.close()  # a checkpoint on close writes too, and may find the disk full
        except duckdb.Error as exc:
            raise self._translate_query_error(exc, read_only) from exc
        if not read_only and wal_before is not None:
            self._move_refused_wal_aside(wal_before)

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        with self.connection() as conn:
            return conn.execute(sql, params or []).fetchall()

    def fetch_df(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        with self.connection() as conn:
            return conn.execute(sql, params or []).df()

    @staticmethod
    @contextmanager
    def in_memory() -> Iterator[duckdb.DuckDBPyConnection]:
        """A throwaway in-memory connection, used to inspect input files without touching the database."""
        conn = duckdb.connect(":memory:")
        try:
            yield conn
        except (duckdb.Error, RuntimeError) as exc:
            if is_interrupt(exc):
                raise KeyboardInterrupt from exc
            raise
        finally:
            conn.close()

    def move_aside(self, label: str = "corrupt") -> Path:
        """Rename the file (and its WAL) to `<name>.<label>-<UTC timestamp>`; never deletes it."""
        backup = _free_name(self.db_path, label)
        self.db_path.rename(backup)
        if self.wal_path.exists():
            self.wal_path.rename(backup.with_name(backup.name + ".wal"))
        self.damage_marker_path.unlink(missing_ok=True)
        logger.warning("Moved %s aside to %s", self.db_path, backup)
        return backup

    def _discard_empty_file(self) -> None:
        """DuckDB refuses a 0-byte file as "not a valid database"; it holds no data, so a writer starts afresh."""
        if self.is_empty_file():
            logger.info("Treating empty file %s as a new database", self.db_path)
            self.db_path.unlink()

    # -- damage ----------------------------------------------------------------------

    def record_damage(self, error: BaseException) -> None:
        """Remember that this file is damaged, so no later run writes into it before it is moved aside.

        Some damage only shows when a block is read (a checksum, a short read), possibly
        deep inside a dbt run; the next run's first look would find the header fine and
        write on. The record names the file's identity, so a file restored from a backup
        over it is not held against the restored copy. A reader records nothing.
        """
        signature = _file_signature(self.db_path)
        if self.read_only or signature is None:
            return
        text = getattr(error, "message", None) or str(error)
        record = {"signature": list(signature), "error": text[:2000], "detected_at": _utc_stamp()}
        try:
            self.damage_marker_path.write_text(json.dumps(record))
        except OSError:
            logger.warning("Could not record the damage of %s next to it", self.db_path)

    def recorded_damage(self) -> str | None:
        """The error recorded for this very file when damage was seen, if any."""
        try:
            record = json.loads(self.damage_marker_path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or tuple(record.get("signature") or ()) != _file_signature(self.db_path):
            return None
        return str(record.get("error") or "damage was detected earlier")

    def raise_if_damaged(self) -> None:
        recorded = self.recorded_damage()
        if recorded is not None:
            raise DatabaseCorruptionError(self.db_path, original_error=DatabaseError(recorded, db_path=self.db_path))

    def corruption(self, error: BaseException) -> DatabaseCorruptionError:
        """The corruption error for this file, recorded so nothing writes to it again."""
        self.record_damage(error)
        original = error if isinstance(error, Exception) else None
        return DatabaseCorruptionError(self.db_path, original_error=original)

    # -- opening -----------------------------------------------------------------------

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        """Connect, waiting up to lock_patience_seconds while another process holds the file.

        `planalign status` and other readers hold the file for milliseconds; a writer
        that failed at once would make a simulation fail because someone looked at it.
        """
        deadline = time.monotonic() + self.lock_patience_seconds
        while True:
            try:
                conn = duckdb.connect(str(self.db_path), read_only=read_only)
                conn.execute(f"set memory_limit = '{duckdb_memory_limit()}'")
                conn.execute(f"set max_vacuum_tasks = {MAX_VACUUM_TASKS}")
                return conn
            except duckdb.Error as exc:
                error = self._translate_open_error(exc, read_only)
                if not isinstance(error, DatabaseLockedError) or time.monotonic() >= deadline:
                    raise error from exc
            except RuntimeError as exc:
                if is_interrupt(exc):
                    raise KeyboardInterrupt from exc
                raise
            time.sleep(_LOCK_RETRY_INTERVAL)

    def _check_not_truncated(self, conn: duckdb.DuckDBPyConnection, read_only: bool) -> None:
        """A file too short to hold the blocks its header says are in use was cut short.

        DuckDB reads the catalog from the first blocks, so such a file (a half-finished
        copy, a disk failure) opens and lists its tables; the damage only shows when a
        later read or dbt run reaches the missing blocks, after writes have begun. The
        test is deliberately loose: free blocks may lie beyond the end of the file (DuckDB
        trims them), but the used ones cannot all fit in less than their own size. Only
        checked without a WAL, whose replay can allocate blocks not in the file yet.
        """
        rows = conn.execute("pragma database_size").fetchall()
        row = next((r for r in rows if r[0] == self.database_name), rows[0] if rows else None)
        if row is None:
            return
        block_size, used_blocks = int(row[2]), int(row[4])
        size = self.db_path.stat().st_size
        if size < block_size * used_blocks:
            raise self._corruption_from_text(
                f"the file is {size:,} bytes, too short for the {used_blocks} blocks of {block_size:,} bytes "
                "its header lists as in use: it was truncated",
                read_only=read_only,
            )

    def _move_refused_wal_aside(self, before: tuple[int, int, int]) -> None:
        """Keep a WAL DuckDB refused to replay; left in place, DuckDB would discard it on the next write.

        A WAL DuckDB accepts is replayed and removed when the connection closes; one it
        finds unreadable stays exactly as it was.
        """
        if _file_signature(self.wal_path) != before:
            return
        backup = _free_name(self.wal_path, "refused")
        self.wal_path.rename(backup)
        self.refused_wal_backups.append(backup)
        logger.warning(
            "DuckDB could not replay the write-ahead log next to %s; it was kept as %s and the database "
            "opened without it (changes in it since the last checkpoint are not in the database).",
            self.db_path,
            backup,
        )

    # -- error translation ---------------------------------------------------------------

    def _corruption_from_text(self, text: str, *, read_only: bool) -> DatabaseCorruptionError:
        error = DatabaseError(text, db_path=self.db_path)
        if read_only:
            return DatabaseCorruptionError(self.db_path, original_error=error)
        return self.corruption(error)

    def _translate_open_error(self, exc: duckdb.Error, read_only: bool) -> Exception:
        text = str(exc)
        if is_disk_full(exc):  # opening replays a write-ahead log, and writes the file
            return disk_full_error(exc, self.db_path.parent, purpose=f"opening {self.db_path.name}", low_level=True)
        holder = _LOCK_HOLDER.search(text)
        if holder or "could not set lock" in text.lower():
            return DatabaseLockedError(
                self.db_path,
                holder=holder.group("holder") if holder else None,
                pid=int(holder.group("pid")) if holder else None,
                original_error=exc,
            )
        if is_corruption_message(text):
            return DatabaseCorruptionError(self.db_path, original_error=exc)
        if "permission denied" in text.lower() or "read-only file system" in text.lower():
            return DatabaseError(
                f"Cannot open database {self.db_path} for {'reading' if read_only else 'writing'}: {text}",
                db_path=self.db_path,
                original_error=exc,
                remediation=(
                    f"Make {self.db_path.parent} and the file writable (e.g. `chmod u+w`), or point "
                    "paths.database in simulation_config.yaml at a writable folder."
                ),
            )
        return DatabaseError(
            f"Could not open database {self.db_path}: {text}",
            db_path=self.db_path,
            original_error=exc,
            remediation="Check the file's permissions and free disk space, then retry.",
        )

    def _translate_query_error(self, exc: duckdb.Error, read_only: bool) -> BaseException:
        if is_interrupt(exc):
            return KeyboardInterrupt()
        if is_disk_full(exc):
            return disk_full_error(exc, self.db_path.parent, purpose=f"a write to {self.db_path.name}", low_level=True)
        if is_corruption_message(str(exc)):
            return DatabaseCorruptionError(self.db_path, original_error=exc) if read_only else self.corruption(exc)
        return DatabaseError(
            f"Query on {self.db_path} failed: {exc}",
            db_path=self.db_path,
            original_error=exc,
            remediation="Run `planalign status` to see which tables are missing, then `planalign init`.",
        )


def _close_after_failure(conn: duckdb.DuckDBPyConnection) -> None:
    """Close a connection whose work failed; a failure to close must not replace the error being raised."""
    try:
        conn.close()
    except (duckdb.Error, RuntimeError):
        logger.info("Closing the DuckDB connection after a failure failed too", exc_info=True)


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Begin ... commit, rolled back when the block (or the commit) fails, raising the ORIGINAL error.

    A commit that fails (a full disk cannot take the write-ahead log) ends the
    transaction itself, so the rollback after it fails too ("no transaction is
    active"); that second failure must never replace the first, which says what
    happened. It is kept as the original's context and as a note on it.
    """
    conn.execute("begin transaction")
    try:
        yield
        conn.execute("commit")
    except BaseException as error:
        try:
            conn.execute("rollback")
        except (duckdb.Error, RuntimeError) as rollback_error:
            if error.__context__ is None:
                rollback_error.__context__ = None  # it was raised while handling `error`: no cycle
                error.__context__ = rollback_error
            error.add_note(f"(The rollback after it failed too: {rollback_error})")
        raise


@contextmanager
def attached(conn: duckdb.DuckDBPyConnection, database: Path | str, alias: str) -> Iterator[None]:
    """Another database file attached read-only as `alias` for the block, detached after it.

    A detach failing after the block failed (the transaction is aborted) is noted on
    the block's error, never raised in its place.
    """
    quoted = str(database).replace("'", "''")
    conn.execute(f"attach '{quoted}' as {alias} (read_only)")
    try:
        yield
    except BaseException as error:
        try:
            conn.execute(f"detach {alias}")
        except (duckdb.Error, RuntimeError) as detach_error:
            error.add_note(f"(Detaching {alias} after it failed too: {detach_error})")
        raise
    conn.execute(f"detach {alias}")


def _file_signature(path: Path) -> tuple[int, int, int] | None:
    """(inode, size, mtime) of a file, or None when it does not exist."""
    try:
        stat = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _utc_stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _free_name(path: Path, label: str) -> Path:
    """`<name>.<label>-<UTC timestamp>`, numbered when taken."""
    stamp = _utc_stamp()
    candidate = path.with_name(f"{path.name}.{label}-{stamp}")
    counter = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.{label}-{stamp}-{counter}")
        counter += 1
    return candidate
