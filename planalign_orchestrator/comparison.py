"""Comparison: the metrics of several scenarios, per year, with deltas against the first.

The numbers are the scenarios' rows of the metrics model (fct_year_metrics, where
every scenario's rows live side by side). `.metrics` and `.table` hold every metric;
the text, HTML and workbook views lead with the key ones. The layout is transposed so
that it fits a terminal or a notebook at any number of scenarios: one column per
year, and for each metric one row per scenario plus one delta row per scenario
after the first.
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planalign_orchestrator.config import BASELINE_SCENARIO, SimulationConfig
from planalign_orchestrator.database import DatabaseConnectionManager
from planalign_orchestrator.export import flat_config, write_workbook
from planalign_orchestrator.freshness.inputs import package_version
from planalign_orchestrator.freshness.state import read_build_state
from planalign_orchestrator.metrics import KEY_METRICS, NUMERIC_METRICS, metrics_frame, read_year_metrics
from planalign_orchestrator.scenarios import Scenario

if TYPE_CHECKING:
    import pandas as pd


def simulate_commands(scenario: str, first: int, last: int) -> str:
    """The terminal command that simulates a scenario's years, with the notebook call beside it."""
    flag = "" if scenario == BASELINE_SCENARIO else f" --scenario {scenario}"
    keyword = "" if scenario == BASELINE_SCENARIO else f", scenario={scenario!r}"
    return f"`planalign simulate {first}-{last}{flag}` (or nb.simulate(ws, {first}, {last}{keyword}))"


def years_text(years: Sequence[int]) -> str:
    """Sorted years as runs: [2025, 2028, 2029] -> '2025, 2028-2029'."""
    runs: list[list[int]] = []
    for year in sorted(years):
        if runs and year == runs[-1][-1] + 1:
            runs[-1].append(year)
        else:
            runs.append([year])
    return ", ".join(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]) for run in runs)


@dataclass(frozen=True)
class LeftOutYears:
    """Up-to-date years of the compared scenarios outside the compared range, so a comparison never hides them.

    `years` maps each scenario to its up-to-date years outside first..last; `asked`
    says whether that range was asked for or is the config's simulation years.
    """

    years: dict[str, tuple[int, ...]] = field(default_factory=dict)
    first: int = 0
    last: int = 0
    asked: bool = False

    @classmethod
    def of(cls, fresh: Mapping[str, Collection[int]], first: int, last: int, *, asked: bool) -> LeftOutYears:
        """From each scenario's up-to-date years."""
        outside = {name: tuple(sorted(y for y in years if not first <= y <= last)) for name, years in fresh.items()}
        return cls(outside, first, last, asked)

    def lines(self) -> list[str]:
        """Which years were left out and why; for the config's range, how to include them.

        Commands are the terminal's, with the notebook call beside them.
        """
        left = sorted({year for years in self.years.values() for year in years})
        if not left:
            return []
        names = list(self.years)
        why = "the years asked for" if self.asked else "the config's simulation years (simulation.start_year/end_year)"
        lines = [f"Not compared: {years_text(left)}, outside {self.first}-{self.last}, {why}."]
        if self.asked:
            return lines
        lo, hi = min(left[0], self.first), max(left[-1], self.last)
        lacking = {name: [y for y in left if y not in self.years[name]] for name in names}
        for name, missing in lacking.items():
            if missing:
                lines.append(
                    f"{name} has no up-to-date results for {years_text(missing)}: simulate them with "
                    f"{simulate_commands(name, lo, hi)}."
                )
        then = "Then compare" if any(lacking.values()) else "Compare"
        lines.append(
            f"{then} {lo}-{hi}: `planalign compare {' '.join(names)} --years {lo}-{hi}` "
            f"(or nb.compare(ws, {names!r}, {lo}, {hi}))."
        )
        return lines


_CODE = re.compile(r"`([^`]+)`")


def _with_code(text: str) -> str:
    """Escaped text whose `backticked` commands become <code>."""
    return _CODE.sub(r"<code>\1</code>", html.escape(text))


class Comparison:
    """Scenarios side by side: `.metrics` (tidy), `.table`, `.deltas`, text/HTML views, `.to_excel()`.

    `left_out` holds the up-to-date years of the compared scenarios that fall outside
    the compared range; the text and HTML views say which and why.
    """

    def __init__(
        self,
        scenarios: Sequence[Scenario],
        configs: dict[str, SimulationConfig],
        metrics: pd.DataFrame,
        years: tuple[int, int],
        fingerprints: dict[tuple[str, int], str],
        left_out: LeftOutYears | None = None,
    ) -> None:
        self.scenarios = list(scenarios)
        self.configs = configs
        self.metrics = metrics
        self.years = years
        self.fingerprints = fingerprints
        self.left_out = left_out or LeftOutYears(first=years[0], last=years[1])
        self.created_at = datetime.now(UTC)

    @property
    def names(self) -> list[str]:
        return [scenario.name for scenario in self.scenarios]

    @cached_property
    def table(self) -> pd.DataFrame:
        """Index (metric, year), one column per scenario: the values."""
        long = self.metrics.melt(id_vars=["scenario", "year"], var_name="metric")
        table = long.pivot_table(index=["metric", "year"], columns="scenario", values="value", sort=False)
        order = [m.column for m in NUMERIC_METRICS]
        table = table.reindex(columns=self.names)
        table.columns.name = None
        return table.sort_index(level="metric", key=lambda index: index.map(order.index))

    @cached_property
    def deltas(self) -> pd.DataFrame:
        """Index (metric, year); for each scenario after the first, its absolute and relative delta."""
        import pandas as pd

        base = self.table[self.names[0]]
        columns = {}
        for name in self.names[1:]:
            columns[(name, "abs")] = self.table[name] - base
            columns[(name, "pct")] = (self.table[name] - base) / base.where(base != 0)
        return pd.DataFrame(columns, index=self.table.index)

    def rows(self) -> list[tuple[str, str, list[str]]]:
        """(metric label, row label, one formatted cell per year) for the text and HTML views."""
        years = list(range(self.years[0], self.years[1] + 1))
        rows = []
        for metric in KEY_METRICS:
            for name in self.names:
                cells = [metric.format(self._value(metric.column, year, name)) for year in years]
                rows.append((metric.label, name, cells))
            for name in self.names[1:]:
                cells = [
                    metric.format_delta(
                        self._delta(metric.column, year, name, "abs"), self._delta(metric.column, year, name, "pct")
                    )
                    for year in years
                ]
                rows.append((metric.label, f"Δ {name}", cells))
        return rows

    def __str__(self) -> str:
        years = [str(y) for y in range(self.years[0], self.years[1] + 1)]
        rows = self.rows()
        width = max(len(label) for _, label, _ in rows) + 2
        cell = max(14, *(len(c) for _, _, cells in rows for c in cells))
        lines = [
            f"Scenarios compared: {', '.join(self.names)} (deltas against {self.names[0]})",
            "",
            " " * width + "".join(f"{year:>{cell + 1}}" for year in years),
        ]
        current = None
        for metric_label, label, cells in rows:
            if metric_label != current:
                current = metric_label
                lines.append(metric_label)
            lines.append(f"  {label:<{width - 2}}" + "".join(f"{c:>{cell + 1}}" for c in cells))
        notes = self.left_out.lines()
        return "\n".join(lines + (["", *notes] if notes else []))

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        years = list(range(self.years[0], self.years[1] + 1))
        head = "".join(f"<th style='text-align:right'>{year}</th>" for year in years)
        columns = {metric.label: metric.column for metric in KEY_METRICS}
        body, current = [], None
        for metric_label, label, cells in self.rows():
            if metric_label != current:
                current = metric_label
                body.append(
                    f"<tr><th colspan='{len(years) + 1}' style='text-align:left'>{html.escape(metric_label)}</th></tr>"
                )
            delta = label.startswith("Δ")
            # Stable classes (metric, and delta or value) for readers of the rendered page, e.g. browser tests.
            classes = f"planalign-metric-{columns[metric_label]} planalign-{'delta' if delta else 'value'}"
            style = " style='font-style:italic'" if delta else ""
            body.append(
                f"<tr class='{classes}'{style}><td style='text-align:left'>{html.escape(label)}</td>"
                + "".join(f"<td style='text-align:right'>{html.escape(c)}</td>" for c in cells)
                + "</tr>"
            )
        title = f"Scenarios compared: {', '.join(self.names)} (deltas against {self.names[0]})"
        notes = "".join(f"<p class='planalign-left-out'>{_with_code(line)}</p>" for line in self.left_out.lines())
        return (
            f"<div class='planalign-comparison'><b>{html.escape(title)}</b>"
            f"<table><tr><th></th>{head}</tr>{''.join(body)}</table>{notes}</div>"
        )

    def to_excel(self, path: Path | str) -> Path:
        """A workbook: comparison, deltas, metrics, each scenario's config and overrides, run metadata."""
        import pandas as pd

        comparison = pd.DataFrame(
            [[metric, label, *cells] for metric, label, cells in self.rows()],
            columns=["metric", "scenario", *[str(y) for y in range(self.years[0], self.years[1] + 1)]],
        ).set_index(["metric", "scenario"])
        deltas = self.deltas.copy()
        deltas.columns = [f"{column[0]} {column[1]}" for column in deltas.columns]
        configs = pd.DataFrame({name: flat_config(config) for name, config in self.configs.items()})
        overrides = pd.DataFrame(
            [(s.name, key, value) for s in self.scenarios for key, value in s.overrides.items()],
            columns=["scenario", "key", "value"],
        ).set_index("scenario")
        return write_workbook(
            path,
            {
                "comparison": comparison,
                "deltas": deltas,
                "metrics": self.metrics.set_index(["scenario", "year"]),
                "config": configs,
                "overrides": overrides,
                "metadata": self.metadata(),
            },
        )

    def metadata(self) -> pd.DataFrame:
        """Package version, when, and per scenario-year the seed and the input fingerprint."""
        import pandas as pd

        rows: list[tuple[str, Any]] = [
            ("package_version", package_version()),
            ("created_at", self.created_at.isoformat(timespec="seconds")),
            ("years", f"{self.years[0]}-{self.years[1]}"),
        ]
        for name, config in self.configs.items():
            rows.append((f"{name}.random_seed", config.simulation.random_seed))
        for (name, year), fingerprint in sorted(self.fingerprints.items()):
            rows.append((f"{name}.{year}.input_fingerprint", fingerprint))
        return pd.DataFrame(rows, columns=["item", "value"]).set_index("item")

    def _value(self, column: str, year: int, name: str) -> float | None:
        return _cell(self.table, (column, year), name)

    def _delta(self, column: str, year: int, name: str, kind: str) -> float | None:
        return _cell(self.deltas, (column, year), (name, kind))


def _cell(frame: pd.DataFrame, row: tuple[str, int], column: object) -> float | None:
    try:
        value: Any = frame.at[row, column]
    except KeyError:
        return None
    return None if value is None else float(value)


def compare_scenarios(
    db: DatabaseConnectionManager,
    scenarios: Sequence[Scenario],
    configs: dict[str, SimulationConfig],
    first: int,
    last: int,
    *,
    left_out: LeftOutYears | None = None,
) -> Comparison:
    """Read the metrics of the scenarios' years (already checked up to date) into a Comparison."""
    names = [scenario.name for scenario in scenarios]
    metrics = scenario_metrics_frame(db, names, first, last)
    with db.connection(read_only=True) as conn:
        state = read_build_state(conn)
    fingerprints = {
        (name, year): state.years[(name, year)].fingerprint
        for name in names
        for year in range(first, last + 1)
        if (name, year) in state.years
    }
    return Comparison(scenarios, configs, metrics, (first, last), fingerprints, left_out)


def scenario_metrics_frame(db: DatabaseConnectionManager, names: Sequence[str], first: int, last: int) -> pd.DataFrame:
    """One row per (scenario, year) with every numeric metric of fct_year_metrics (single runs: one seed each)."""
    frame = metrics_frame(read_year_metrics(db, names, first, last))
    frame = frame.rename(columns={"scenario_id": "scenario", "simulation_year": "year"})
    return frame[["scenario", "year", *(m.column for m in NUMERIC_METRICS)]].reset_index(drop=True)
