"""What an initialization did: its standard steps, their timing and outcome, and the result.

`InitializationResult` renders itself (text and HTML) because analysts see it as the
last value of a notebook cell; keeping that here means every face shows the same words.
The progress events carry these types, so they sit below everything that emits them.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path


class InitializationState(str, Enum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"


class StepStatus(str, Enum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass
class InitializationStep:
    name: str
    display_name: str
    started_at: datetime | None = None
    completed_at: datetime | None = None
    success: bool | None = None
    error_message: str | None = None

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.completed_at is None:
            return None
        return (self.completed_at - self.started_at).total_seconds()

    @property
    def status(self) -> StepStatus:
        if self.started_at is None:
            return StepStatus.PENDING
        if self.completed_at is None:
            return StepStatus.RUNNING
        return StepStatus.COMPLETED if self.success else StepStatus.FAILED


STANDARD_STEPS: tuple[tuple[str, str], ...] = (
    ("check_tables", "Checking database tables"),
    ("load_seeds", "Loading seed data"),
    ("build_foundation", "Building foundation models"),
    ("verify", "Verifying initialization"),
)


def standard_step(name: str) -> InitializationStep:
    display = dict(STANDARD_STEPS)[name]
    return InitializationStep(name=name, display_name=display)


@dataclass
class InitializationResult:
    state: InitializationState
    started_at: datetime
    completed_at: datetime | None = None
    steps: list[InitializationStep] = field(default_factory=list)
    missing_tables_found: list[str] = field(default_factory=list)
    tables_created: list[str] = field(default_factory=list)
    error: str | None = None
    backup_path: Path | None = None
    # Tables that existed but could not be used as they were (empty, stale, or of
    # unknown build state), each with why; rebuilt with the missing ones. Kept apart
    # from the contract's missing_tables_found, which means "did not exist".
    stale_tables_found: dict[str, str] = field(default_factory=dict)

    @property
    def duration_seconds(self) -> float | None:
        if self.completed_at is None:
            return None
        return (self.completed_at - self.started_at).total_seconds()

    @property
    def success(self) -> bool:
        return self.state is InitializationState.COMPLETED

    @property
    def headline(self) -> str:
        """One line saying what happened, shared by every face."""
        if not self.success:
            return f"Initialization {self.state.value}: {self.error or 'see steps'}"
        created, rebuilt = len(self.missing_tables_found), len(self.stale_tables_found)
        if not created and not rebuilt:
            return "Database already initialized: all required tables present."
        if not rebuilt:
            return f"Initialized: created {created} table(s)."
        if not created:
            return f"Initialized: rebuilt {rebuilt} out-of-date table(s)."
        return f"Initialized: created {created} and rebuilt {rebuilt} out-of-date table(s)."

    def __str__(self) -> str:
        lines = [self.headline]
        for step in self.steps:
            duration = f" ({step.duration_seconds:.2f}s)" if step.duration_seconds is not None else ""
            lines.append(f"  [{step.status.value}] {step.display_name}{duration}")
            if step.error_message:
                lines.append(f"      {step.error_message}")
        if self.missing_tables_found:
            lines.append("  Created: " + ", ".join(self.missing_tables_found))
        lines += [f"  Rebuilt {name}: {why}" for name, why in self.stale_tables_found.items()]
        if self.backup_path:
            lines.append(f"  Unreadable database kept as: {self.backup_path.name}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(step.display_name)}</td><td>{step.status.value}</td>"
            f"<td>{html.escape(step.error_message or '')}</td></tr>"
            for step in self.steps
        )
        created = (
            f"<p>Created: {html.escape(', '.join(self.missing_tables_found))}</p>" if self.missing_tables_found else ""
        )
        created += "".join(
            f"<p>Rebuilt {html.escape(name)}: {html.escape(why)}</p>" for name, why in self.stale_tables_found.items()
        )
        if self.backup_path:
            created += f"<p>Unreadable database kept as: {html.escape(self.backup_path.name)}</p>"
        return (
            f"<div class='planalign-init-result'><p><b>{html.escape(self.headline)}</b></p>"
            f"<table><tr><th>Step</th><th>Status</th><th>Error</th></tr>{rows}</table>{created}</div>"
        )
