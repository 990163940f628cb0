"""Metric: a labelled figure and how every face formats it (thousands, currency, percentages).

The comparison of scenarios and the summary of one run show the same kinds of numbers;
one formatter keeps "$1,234,567" and "3.00%" the same wherever they appear.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    column: str
    label: str
    kind: str  # "count", "money", "fraction" (0.03 is 3%) or "percent" (3.0 is 3%)

    def format(self, value: float | None) -> str:
        if value is None or value != value:  # None or NaN
            return "–"
        if self.kind == "fraction":
            return f"{value:.2%}"
        if self.kind == "percent":
            return f"{value:.2f}%"
        if self.kind == "money":
            return f"${value:,.0f}"
        return f"{value:,.0f}"

    def format_delta(self, absolute: float | None, relative: float | None) -> str:
        if absolute is None or absolute != absolute:
            return "–"
        if self.kind in ("fraction", "percent"):
            return f"{absolute * (100 if self.kind == 'fraction' else 1):+.2f} pp"
        text = f"{'+' if absolute >= 0 else '-'}{'$' if self.kind == 'money' else ''}{abs(absolute):,.0f}"
        if relative is not None and relative == relative:
            text += f" ({relative:+.1%})"
        return text
