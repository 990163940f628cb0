"""nb.levers driven as an analyst drives it: JupyterLab 4 in headless Chromium (issue 11, acceptance 4).

The notebook opens the levers of a new workspace; the test types a match rate into
the widget, presses Run, watches the live year progress, then reads the comparison
table the widget shows, all through the rendered DOM and the widgets' CSS classes.
Real dbt and DuckDB run in the kernel.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import nbformat
import pytest

from tests.browser.conftest import JupyterServer
from tests.browser.test_widgets_in_jupyterlab import _open_notebook, _run_cell, _screenshot

pytestmark = pytest.mark.dbt

SCENARIO = "richer_match"


@pytest.fixture(scope="module")
def levers_page(browser_context, jupyter_server: JupyterServer) -> Iterator[object]:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [
        nbformat.v4.new_code_cell("import planalign_nb as nb\nworkspace = nb.open_workspace('levers_workspace')"),
        nbformat.v4.new_code_cell(f"levers = nb.levers(workspace, scenario={SCENARIO!r})\nlevers"),
    ]
    nbformat.write(notebook, jupyter_server.root / "levers.ipynb")
    page = _open_notebook(browser_context, jupyter_server, "levers.ipynb")
    _run_cell(page, 0)
    yield page
    page.close()


def _value_input(widget, key: str):
    return widget.locator(f".planalign-lever-{key.replace('.', '-')} input")


def test_levers_refuse_a_bad_rate_then_run_a_richer_match_with_live_progress_and_its_comparison(
    levers_page, jupyter_server: JupyterServer
) -> None:
    cell = _run_cell(levers_page, 1)
    widget = cell.locator(".planalign-levers").first
    widget.wait_for()
    match_rate = _value_input(widget, "plan.match_rate")
    run = widget.locator(".planalign-run")
    assert match_rate.input_value() == "0.5"

    match_rate.fill("7")
    match_rate.press("Tab")
    panel = widget.locator(".planalign-error-panel")
    panel.get_by_text("Set plan.match_rate to a number >= 0.0 and <= 1.0.").wait_for(timeout=10_000)
    assert run.is_disabled()
    _screenshot(widget, "levers_refused")

    match_rate.fill("1")
    match_rate.press("Tab")
    levers_page.wait_for_function("el => !el.disabled", arg=run.element_handle(), timeout=10_000)
    assert panel.inner_text().strip() == ""
    run.click()

    live_years: set[str] = set()
    live_headers = widget.locator(".planalign-simulation:not(.planalign-record) .planalign-progress-header")
    running_year = re.compile(rf"Simulation {SCENARIO} 2025-\d{{4}}: (\d{{4}}) running")
    deadline = time.monotonic() + 300
    comparison = widget.locator(".planalign-comparison")
    while comparison.count() == 0:
        assert time.monotonic() < deadline, "the scenario did not finish"
        # Read in one round trip: the live view's HTML is redrawn every half second.
        headers = live_headers.evaluate_all("headers => headers.map(header => header.innerText)")
        live_years.update(year for text in headers for year in running_year.findall(text))
        time.sleep(0.05)
    comparison.locator(".planalign-metric-employer_cost_rate").first.wait_for()
    _screenshot(widget, "levers_compared")

    assert live_years, "the scenario's years were shown running, live, while it simulated"
    assert f"Scenarios compared: baseline, {SCENARIO}" in comparison.inner_text()
    cost_delta = comparison.locator(".planalign-metric-employer_cost_rate.planalign-delta").inner_text()
    employer_delta = comparison.locator(".planalign-metric-employer_contributions.planalign-delta").inner_text()
    headcount_delta = comparison.locator(".planalign-metric-headcount_end.planalign-delta").inner_text()
    assert re.findall(r"\+\d+\.\d\d pp", cost_delta), cost_delta
    assert "+0.00 pp" not in cost_delta
    assert re.findall(r"\+\$[\d,]+ \(\+\d", employer_delta), employer_delta
    assert set(re.findall(r"[+-][\d,]+", headcount_delta)) == {"+0"}, "the match changes no one's employment"
    saved = jupyter_server.root / "levers_workspace" / "scenarios" / f"{SCENARIO}.yaml"
    assert "plan.match_rate: 1.0" in saved.read_text()
