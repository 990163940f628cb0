"""DatabaseConnectionManager: the only code that opens DuckDB.

Connections are opened per operation and closed straight after. DuckDB allows one
writing process per file, and dbt (in this process) needs the file between our
queries, so holding a connection open would block the very work we orchestrate.
DuckDB's own error text is translated here into the three situations a user must
tell apart: the file is held by another process, the file is not a database, or a
query failed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from planalign_orchestrator.exceptions import (
    DatabaseCorruptionError,
    DatabaseError,
    DatabaseLockedError,
)

if TYPE_CHECKING:  # pandas costs most of a `planalign status` start-up; DuckDB loads it on demand
    import pandas as pd

logger = logging.getLogger(__name__)

_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<holder>.+?) \(PID (?P<pid>\d+)\)")
_CORRUPTION_MARKERS = (
    "not a valid duckdb database file",
    "the file is not a valid",
    "database file is corrupted",
    "failed to read database header",
    "checksum",
    "serialization error",
)


class DatabaseConnectionManager:
    """Opens short-lived DuckDB connections to one database file."""

    def __init__(self, db_path: Path | str) -> None:
        self.db_path = Path(db_path).resolve()

    def __repr__(self) -> str:
        return f"DatabaseConnectionManager({str(self.db_path)!r})"

    @property
    def database_name(self) -> str:
        """DuckDB's catalog name for the file, which dbt-duckdb uses as the database."""
        return self.db_path.stem

    def exists(self) -> bool:
        return self.db_path.is_file()

    @contextmanager
    def connection(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection closed on exit; DuckDB errors become PlanAlign errors."""
        if read_only and not self.exists():
            raise DatabaseError(
                f"Database {self.db_path} does not exist yet.",
                db_path=self.db_path,
                remediation="Run `planalign init` to create and initialize it.",
            )
        self._discard_zero_byte_file()
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = duckdb.connect(str(self.db_path), read_only=read_only)
        except duckdb.Error as exc:
            raise self._translate_open_error(exc) from exc
        try:
            yield conn
        except duckdb.Error as exc:
            raise self._translate_query_error(exc) from exc
        finally:
            conn.close()

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
        finally:
            conn.close()

    def move_aside(self, label: str = "corrupt") -> Path:
        """Rename the file (and its WAL) to `<name>.<label>-<UTC timestamp>`; never deletes it."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        backup = self.db_path.with_name(f"{self.db_path.name}.{label}-{stamp}")
        counter = 1
        while backup.exists():
            backup = self.db_path.with_name(f"{self.db_path.name}.{label}-{stamp}-{counter}")
            counter += 1
        self.db_path.rename(backup)
        wal = self.db_path.with_name(self.db_path.name + ".wal")
        if wal.exists():
            wal.rename(backup.with_name(backup.name + ".wal"))
        logger.warning("Moved %s aside to %s", self.db_path, backup)
        return backup

    def _discard_zero_byte_file(self) -> None:
        # A 0-byte file (e.g. from `touch`) holds no data; DuckDB refuses it as
        # "not a valid database", so it is treated as a database not created yet.
        if self.db_path.is_file() and self.db_path.stat().st_size == 0:
            logger.info("Treating empty file %s as a new database", self.db_path)
            self.db_path.unlink()

    def _translate_open_error(self, exc: duckdb.Error) -> Exception:
        text = str(exc)
        holder = _LOCK_HOLDER.search(text)
        if holder or "could not set lock" in text.lower():
            return DatabaseLockedError(
                self.db_path,
                holder=holder.group("holder") if holder else None,
                pid=int(holder.group("pid")) if holder else None,
                original_error=exc,
            )
        if any(marker in text.lower() for marker in _CORRUPTION_MARKERS):
            return DatabaseCorruptionError(self.db_path, original_error=exc)
        return DatabaseError(
            f"Could not open database {self.db_path}: {text}",
            db_path=self.db_path,
            original_error=exc,
            remediation="Check the file's permissions and free disk space, then retry.",
        )

    def _translate_query_error(self, exc: duckdb.Error) -> Exception:
        return DatabaseError(
            f"Query on {self.db_path} failed: {exc}",
            db_path=self.db_path,
            original_error=exc,
            remediation="Run `planalign status` to see which tables are missing, then `planalign init`.",
        )
