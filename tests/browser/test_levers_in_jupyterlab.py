"""nb.levers driven as an analyst drives it: JupyterLab 4 in headless Chromium (issues 11 and 21).

The notebook shows the status of a new workspace, then its levers; the test types a
match rate into the widget, presses Run, watches the live year progress, then reads
the comparison table the widget shows, all through the rendered DOM and the widgets'
CSS classes. Then, the levers being the last thing run and still interactive, it saves
the notebook, restarts the kernel and reloads the page: the records of the status and
of the levers (their values and their comparison) come back, and no missing model.
Real dbt and DuckDB run in the kernel.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import nbformat
import pytest

from tests.browser.conftest import JupyterServer
from tests.browser.test_widgets_in_jupyterlab import (
    _cell,
    _open_notebook,
    _reload,
    _restart_kernel,
    _run_cell,
    _save,
    _screenshot,
    assert_reopened_with_records_only,
)

pytestmark = pytest.mark.dbt

SCENARIO = "richer_match"
LEVERS = 2  # the levers cell, the last of the notebook

# The widest option of a <select> in its own font, and the room its box leaves for text.
_TEXT_ROOM_JS = """(select) => {
  const style = getComputedStyle(select);
  const context = document.createElement('canvas').getContext('2d');
  context.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
  const widest = Math.max(...[...select.options].map(option => context.measureText(option.text).width));
  const room = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  return {widest, room};
}"""


@pytest.fixture(scope="module")
def levers_page(browser_context, jupyter_server: JupyterServer) -> Iterator[object]:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [
        nbformat.v4.new_code_cell("import planalign_nb as nb\nworkspace = nb.open_workspace('levers_workspace')"),
        nbformat.v4.new_code_cell("nb.status(workspace)"),
        nbformat.v4.new_code_cell(f"levers = nb.levers(workspace, scenario={SCENARIO!r})\nlevers"),
    ]
    nbformat.write(notebook, jupyter_server.root / "levers.ipynb")
    page = _open_notebook(browser_context, jupyter_server, "levers.ipynb")
    _run_cell(page, 0)
    _run_cell(page, 1)
    yield page
    page.close()


def _value_input(widget, key: str):
    return widget.locator(f".planalign-lever-{key.replace('.', '-')} input")


def test_levers_refuse_a_bad_rate_then_run_a_richer_match_with_live_progress_and_its_comparison(
    levers_page, jupyter_server: JupyterServer
) -> None:
    cell = _run_cell(levers_page, LEVERS)
    widget = cell.locator(".planalign-levers").first
    widget.wait_for()
    match_rate = _value_input(widget, "plan.match_rate")
    run = widget.locator(".planalign-run")
    assert match_rate.input_value() == "0.5"
    opt_out = widget.locator(".planalign-lever-plan-opt_out_rate").locator("xpath=..")
    assert "0 ≤ x < 1" in opt_out.locator(".planalign-lever-range").inner_text(), "below 1, as the config validates"
    formula = widget.locator(".planalign-lever-match-formula select").evaluate(_TEXT_ROOM_JS)
    assert formula["widest"] <= formula["room"], f"the match formula list cuts its text off: {formula}"

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


def test_the_levers_run_last_reopen_after_save_and_restart_with_their_values_and_comparison(
    levers_page, jupyter_server: JupyterServer
) -> None:
    """Issue 21, item 1: the view last run is still interactive when saved; its record is what comes back."""
    path = jupyter_server.root / "levers.ipynb"
    _save(levers_page, path)
    _restart_kernel(jupyter_server, "levers.ipynb")
    _reload(levers_page)

    assert_reopened_with_records_only(levers_page, path)
    record = _cell(levers_page, LEVERS).locator(".planalign-levers.planalign-record")
    status = _cell(levers_page, 1).locator(".planalign-status.planalign-record")
    text = record.inner_text()
    assert f"Scenario: {SCENARIO}" in text
    assert re.search(r"Match rate\s+100\.00%", text), "the lever values of the run"
    cost_delta = record.locator(".planalign-comparison .planalign-metric-employer_cost_rate.planalign-delta")
    assert re.findall(r"\+\d+\.\d\d pp", cost_delta.inner_text()), "and the comparison they produced"
    assert f"nb.levers('levers_workspace', scenario='{SCENARIO}')" in text, "how to reopen the controls"
    assert "10 of 10 required tables missing in levers_workspace/" in status.inner_text()
    _screenshot(record, "levers_reopened")
