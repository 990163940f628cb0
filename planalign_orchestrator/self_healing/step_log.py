"""Structured step records (NFR-001/002): stdlib logging attributes plus a JSON-lines file.

The fields travel as LogRecord attributes, so any formatter or handler can use them;
`StructuredFormatter` appends them to the message so a plain log line still shows
them (a peer's formatter silently dropped them). The same records are appended to
`<workspace>/logs/initialization.jsonl` for later analysis, e.g. as a DataFrame.
"""

from __future__ import annotations

import errno
import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from planalign_orchestrator.initialization import InitializationStep

logger = logging.getLogger("planalign_orchestrator.self_healing")

STEP_FIELDS = (
    "event",
    "step_name",
    "started_at",
    "completed_at",
    "duration_seconds",
    "success",
    "error",
)


class StructuredFormatter(logging.Formatter):
    """Appends the step fields of a record (when present) as key=value pairs."""

    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        fields = [f"{name}={getattr(record, name)}" for name in STEP_FIELDS if getattr(record, name, None) is not None]
        return f"{base} [{' '.join(fields)}]" if fields else base


class StepLog:
    """Writes one record per step start and completion, to logging and to a JSONL file."""

    def __init__(self, jsonl_path: Path | None) -> None:
        self.jsonl_path = jsonl_path

    def started(self, step: InitializationStep) -> None:
        self._write("step_started", step, logging.INFO)

    def completed(self, step: InitializationStep) -> None:
        self._write("step_completed", step, logging.INFO if step.success else logging.ERROR)

    def _write(self, event: str, step: InitializationStep, level: int) -> None:
        record: dict[str, Any] = {
            "event": event,
            "step_name": step.name,
            "started_at": _iso(step.started_at),
            "completed_at": _iso(step.completed_at),
            "duration_seconds": step.duration_seconds,
            "success": step.success,
            "error": step.error_message,
        }
        verb = "started" if event == "step_started" else ("completed" if step.success else "failed")
        logger.log(level, "Initialization step %s %s", step.name, verb, extra=record)
        if self.jsonl_path is not None:
            try:
                self.jsonl_path.parent.mkdir(parents=True, exist_ok=True)
                with self.jsonl_path.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(record) + "\n")
            except OSError as error:
                # The log is a record, not the work: a full disk is reported once, by the step
                # that needs the room; anything else is one line, without a traceback.
                level = logging.INFO if error.errno in (errno.ENOSPC, errno.EDQUOT) else logging.WARNING
                logger.log(level, "Could not append to step log %s: %s", self.jsonl_path, error.strerror or error)


def read_step_log(jsonl_path: Path) -> list[dict[str, Any]]:
    """The records of a JSONL step log, oldest first (empty when there is none yet)."""
    if not jsonl_path.is_file():
        return []
    return [json.loads(line) for line in jsonl_path.read_text().splitlines() if line.strip()]


def last_durations(jsonl_path: Path) -> dict[str, float]:
    """Seconds each step took the last time it completed successfully here: the basis of an ETA."""
    durations: dict[str, float] = {}
    try:
        records = read_step_log(jsonl_path)
    except (OSError, ValueError):  # an unreadable log only costs the estimate
        return durations
    for record in records:
        if record.get("event") == "step_completed" and record.get("success") and record.get("duration_seconds"):
            durations[record["step_name"]] = float(record["duration_seconds"])
    return durations


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
