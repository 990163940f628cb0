"""What a workspace holds (WorkspaceStatus) and what a run would build (BuildPlan), in words.

Both render themselves as text (terminal) and HTML (notebook), so every face shows
the same statuses and reasons; faces only choose where to print them.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

from planalign_orchestrator.freshness.checker import YearStatus
from planalign_orchestrator.tables import TableState, TableStatus, TableTier


@dataclass(frozen=True)
class PlannedYear:
    """One year of a simulate call: run it (with why), or reuse it as it is (reason None)."""

    year: int
    reason: str | None

    @property
    def runs(self) -> bool:
        return self.reason is not None


@dataclass(frozen=True, repr=False)
class WorkspaceStatus:
    """Every required table and simulated year of a workspace, with its state and why."""

    root: Path
    tables: list[TableStatus]
    years: list[YearStatus] = field(default_factory=list)

    @property
    def tables_needing_build(self) -> list[TableStatus]:
        return [status for status in self.tables if status.state.needs_build]

    @property
    def years_needing_run(self) -> list[YearStatus]:
        return [status for status in self.years if status.state.needs_build]

    @property
    def up_to_date(self) -> bool:
        return not self.tables_needing_build and not self.years_needing_run

    @property
    def headline(self) -> str:
        tables = self.tables_needing_build
        if not tables and not self.years_needing_run:
            years = f" and {len(self.years)} simulated year(s)" if self.years else ""
            return f"All {len(self.tables)} required tables{years} present and up to date."
        parts = []
        for state in (TableState.MISSING, TableState.EMPTY, TableState.STALE, TableState.UNKNOWN):
            count = sum(status.state is state for status in tables)
            if count:
                parts.append(f"{count} {state.value}")
        summary = f"{', '.join(parts)} of {len(self.tables)} required tables" if parts else ""
        stale_years = len(self.years_needing_run)
        years = f"{stale_years} simulated year(s) out of date" if stale_years else ""
        return "; ".join(part for part in (summary, years) if part) + "."

    def __repr__(self) -> str:
        return str(self)

    def __str__(self) -> str:
        lines = []
        for tier in TableTier:
            lines.append(f"{tier.heading}:")
            for status in (s for s in self.tables if s.table.tier is tier):
                rows = f"{status.row_count:,} rows" if status.row_count is not None else ""
                line = f"  {status.table.name:<36} {status.state.value:<8} {rows:>12}"
                why = status.explanation if status.state.needs_build else ""
                lines.append(f"{line}  {why}".rstrip())
        if self.years:
            lines.append(f"Simulated years ({self.years[0].scenario}):")
            for year in self.years:
                why = year.explanation if year.state.needs_build else ""
                lines.append(f"  {year.year:<36} {year.state.value:<8} {'':>12}  {why}".rstrip())
        lines.append(self.headline)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = []
        for tier in TableTier:
            rows.append(f"<tr><th colspan='4' style='text-align:left'>{html.escape(tier.heading)}</th></tr>")
            for status in (s for s in self.tables if s.table.tier is tier):
                rows.append(
                    _row(
                        status.table.name,
                        status.state,
                        f"{status.row_count:,}" if status.row_count is not None else "",
                        status.explanation if status.state.needs_build else "",
                    )
                )
        if self.years:
            rows.append("<tr><th colspan='4' style='text-align:left'>Simulated years</th></tr>")
            rows += [_row(str(y.year), y.state, "", y.explanation if y.state.needs_build else "") for y in self.years]
        return (
            f"<div class='planalign-workspace-status'><b>{html.escape(self.headline)}</b>"
            f"<table>{''.join(rows)}</table></div>"
        )


@dataclass(frozen=True)
class PlannedTable:
    """A required table the next initialization builds, and why."""

    name: str
    tier: TableTier
    state: TableState
    reason: str


@dataclass(frozen=True, repr=False)
class BuildPlan:
    """What `simulate` (or `init`) would build and why, tier by tier and year by year.

    Made without building anything or writing to the database. `years` is empty for
    an initialization-only plan.
    """

    tables: list[PlannedTable]
    years: list[PlannedYear] = field(default_factory=list)
    span: tuple[int, int] | None = None

    @property
    def tables_to_build(self) -> list[str]:
        return [table.name for table in self.tables]

    @property
    def years_to_run(self) -> list[int]:
        return [year.year for year in self.years if year.runs]

    @property
    def empty(self) -> bool:
        return not self.tables and not self.years_to_run

    @property
    def headline(self) -> str:
        if self.empty:
            return "Nothing to build: every table and year is up to date."
        parts = []
        if self.tables:
            parts.append(f"build {len(self.tables)} table(s)")
        if self.years_to_run:
            parts.append(f"simulate {len(self.years_to_run)} year(s)")
        reused = len(self.years) - len(self.years_to_run)
        if reused:
            parts.append(f"reuse {reused} up-to-date year(s)")
        return "Would " + ", ".join(parts) + "."

    def __repr__(self) -> str:
        return str(self)

    def __str__(self) -> str:
        lines = [self.headline]
        for tier in TableTier:
            planned = [t for t in self.tables if t.tier is tier]
            if planned:
                lines.append(f"{tier.heading}:")
                lines += [f"  {t.name:<36} {t.state.value:<8} {t.reason}" for t in planned]
        if self.years:
            span = f" {self.span[0]}-{self.span[1]}" if self.span else ""
            lines.append(f"Years (simulate{span}):")
            for year in self.years:
                action = "simulate" if year.runs else "reuse"
                lines.append(f"  {year.year:<36} {action:<8} {year.reason or 'up to date'}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = [
            _row(t.name, t.state, tier_heading, t.reason)
            for tier in TableTier
            for t in self.tables
            if t.tier is tier
            for tier_heading in [tier.heading]
        ]
        rows += [
            _row(str(y.year), "simulate" if y.runs else "reuse", "year", y.reason or "up to date") for y in self.years
        ]
        table = f"<table>{''.join(rows)}</table>" if rows else ""
        return f"<div class='planalign-plan'><b>{html.escape(self.headline)}</b>{table}</div>"


def _row(name: str, state: object, detail: str, why: str) -> str:
    cells = (name, str(state), detail, why)
    return "<tr>" + "".join(f"<td style='text-align:left'>{html.escape(cell)}</td>" for cell in cells) + "</tr>"
