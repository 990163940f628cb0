"""ComplianceReport: the nondiscrimination tests of a scenario's years, as every face shows them.

The figures are the rows of the dbt model fct_compliance (DOMAIN.md "Nondiscrimination
testing"): per year and test, the HCE and NHCE figures, the limit, the margin and the
result, with what a failed test costs to correct. This module only reads and lays
them out; the CLI prints `str(report)`, a notebook shows `_repr_html_()` (static HTML,
no widget front-end needed).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from planalign_orchestrator.database import DatabaseConnectionManager

COMPLIANCE_MODEL = "fct_compliance"
TEST_LABELS = {
    "adp": "ADP (401(k)(3))",
    "acp": "ACP (401(m)(2))",
    "coverage_deferrals": "Coverage, deferrals (410(b))",
    "coverage_employer": "Coverage, employer money (410(b))",
    "top_heavy": "Top-heavy (416)",
}
_COLUMNS = ("test", "HCE", "NHCE", "limit", "margin", "result")


@dataclass(frozen=True)
class ComplianceTest:
    """One test of one year: the fct_compliance row as a face reads it."""

    year: int
    test: str
    hce_count: int
    nhce_count: int
    hce_value: float | None
    nhce_value: float | None
    limit_value: float | None
    margin: float | None
    passed: bool
    deemed_passed: bool
    fails: bool
    excess_amount: float
    refund_amount: float
    corrective_contribution: float
    testing_method: str

    @property
    def label(self) -> str:
        return TEST_LABELS.get(self.test, self.test)

    @property
    def result(self) -> str:
        """pass, FAIL, or 'deemed (safe harbor)' when the design is deemed to pass a test it would fail."""
        if self.fails:
            return "FAIL"
        if self.deemed_passed:
            return "deemed (safe harbor)"
        return "pass"

    def cells(self) -> tuple[str, ...]:
        """The test's row: label, HCE and NHCE figures, limit, margin in percentage points, result."""
        limit = _percent(self.limit_value)
        if self.test.startswith("coverage"):
            limit = f"ratio >= {limit}"
        elif self.test == "top_heavy":
            limit = f"key <= {limit}"
        margin = "–" if self.margin is None else f"{self.margin * 100:+.2f} pp"
        return (self.label, _percent(self.hce_value), _percent(self.nhce_value), limit, margin, self.result)

    def correction(self) -> str | None:
        """What a failed test costs to correct, in words; None when nothing is owed."""
        if not self.fails:
            return None
        if self.test in ("adp", "acp"):
            qnec = "QNEC" if self.test == "adp" else "QMAC"
            return (
                f"{self.year} {self.test.upper()}: refund ${self.refund_amount:,.2f} of HCE excess "
                f"(${self.excess_amount:,.2f} by leveling), or a {qnec} of ${self.corrective_contribution:,.2f} "
                "to the NHCEs to pass"
            )
        if self.test == "top_heavy":
            owed = f"${self.corrective_contribution:,.2f}"
            return f"{self.year} top-heavy: minimum contribution owed to non-key employees {owed}"
        return f"{self.year} {self.label}: too few NHCEs benefit; widen eligibility for the employer money or deferrals"


@dataclass(frozen=True)
class ComplianceReport:
    """The nondiscrimination tests of one scenario and seed over a range of years."""

    scenario: str
    random_seed: int
    tests: tuple[ComplianceTest, ...]

    @property
    def years(self) -> tuple[int, ...]:
        return tuple(sorted({test.year for test in self.tests}))

    @property
    def failures(self) -> tuple[ComplianceTest, ...]:
        return tuple(test for test in self.tests if test.fails)

    @property
    def passes(self) -> bool:
        """Whether every test of every year passes (or is deemed to)."""
        return not self.failures

    def frame(self) -> Any:
        """The tests as a pandas DataFrame, one row per year and test (figures as fractions)."""
        import pandas as pd

        return pd.DataFrame([test.__dict__ for test in self.tests])

    def headline(self) -> str:
        failing = len(self.failures)
        verdict = "every test passes" if not failing else f"{failing} failing test-year(s)"
        span = f"{self.years[0]}-{self.years[-1]}" if self.years else "no years"
        method = self.tests[0].testing_method.replace("_", "-") if self.tests else "current-year"
        return f"Nondiscrimination tests, scenario {self.scenario!r}, {span} ({method} method): {verdict}."

    def __str__(self) -> str:
        lines = [self.headline()]
        for year in self.years:
            rows = [test.cells() for test in self.tests if test.year == year]
            widths = [max(len(_COLUMNS[i]), *(len(row[i]) for row in rows)) for i in range(len(_COLUMNS))]
            lines.append("")
            lines.append(str(year))
            lines.append(
                "  ".join(name.ljust(widths[i]) if i == 0 else name.rjust(widths[i]) for i, name in enumerate(_COLUMNS))
            )
            for row in rows:
                lines.append(
                    "  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row))
                )
        corrections = [text for test in self.tests if (text := test.correction())]
        if corrections:
            lines.append("")
            lines.extend(corrections)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        """A compact pass/fail grid (tests by years) with the margins, then the corrections owed."""
        colour = {"pass": "#1a7f37", "FAIL": "#cf222e", "deemed (safe harbor)": "#57606a"}
        head = "".join(f"<th style='padding:2px 10px;text-align:center'>{year}</th>" for year in self.years)
        body = []
        for name, label in TEST_LABELS.items():
            cells = []
            for year in self.years:
                found = [t for t in self.tests if t.year == year and t.test == name]
                if not found:
                    cells.append("<td></td>")
                    continue
                test = found[0]
                margin = "" if test.margin is None else f" <small>{test.margin * 100:+.2f} pp</small>"
                cells.append(
                    f"<td style='padding:2px 10px;text-align:center;color:{colour[test.result]}'>"
                    f"<b>{html.escape(test.result)}</b>{margin}</td>"
                )
            body.append(f"<tr><td style='padding:2px 10px 2px 0'>{html.escape(label)}</td>{''.join(cells)}</tr>")
        corrections = "".join(f"<li>{html.escape(text)}</li>" for test in self.tests if (text := test.correction()))
        return (
            f"<div class='planalign-compliance'><b>{html.escape(self.headline())}</b>"
            f"<table style='border-collapse:collapse;margin:4px 0'><tr><th></th>{head}</tr>{''.join(body)}</table>"
            + (f"<ul style='margin:2px 0'>{corrections}</ul>" if corrections else "")
            + "</div>"
        )


def read_compliance(
    db: DatabaseConnectionManager, scenario: str, random_seed: int, first: int, last: int
) -> ComplianceReport:
    """The fct_compliance rows of a scenario's seed and years."""
    with db.connection(read_only=True) as conn:
        cursor = conn.execute(
            f"select * from main.{COMPLIANCE_MODEL} where scenario_id = $scenario and random_seed = $seed "
            "and simulation_year between $first and $last order by simulation_year, test",
            {"scenario": scenario, "seed": random_seed, "first": first, "last": last},
        )
        names = [column[0] for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    order = list(TEST_LABELS)
    tests = [
        ComplianceTest(
            year=int(row["simulation_year"]),
            test=str(row["test"]),
            hce_count=int(row["hce_count"]),
            nhce_count=int(row["nhce_count"]),
            hce_value=row["hce_value"],
            nhce_value=row["nhce_value"],
            limit_value=row["limit_value"],
            margin=row["margin"],
            passed=bool(row["passed"]),
            deemed_passed=bool(row["deemed_passed"]),
            fails=bool(row["fails"]),
            excess_amount=_money(row["excess_amount"]),
            refund_amount=_money(row["refund_amount"]),
            corrective_contribution=_money(row["corrective_contribution"]),
            testing_method=str(row["testing_method"]),
        )
        for row in rows
    ]
    tests.sort(key=lambda t: (t.year, order.index(t.test) if t.test in order else len(order)))
    return ComplianceReport(scenario, random_seed, tuple(tests))


def _money(value: object) -> float:
    return float(value) if isinstance(value, Decimal | int | float) else 0.0


def _percent(value: float | None) -> str:
    return "–" if value is None or value != value else f"{value:.2%}"
