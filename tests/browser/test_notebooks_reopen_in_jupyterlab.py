"""Every example notebook as an analyst first meets it: Run All, save, restart the kernel, reload (issue 21).

The reopened page must show each view's record and nothing a restarted kernel cannot
give it back: no "Error displaying widget: model not found", no widget view at all.

Run All here covers the notebook whose views no other browser test runs and saves:
02 (status and initialize on a damaged, a stale and a corrupt workspace; two live views
in one cell). The other notebooks show only more of the kinds of view that are run,
saved and reopened elsewhere: 01's status on a new workspace, initialize and simulate
(test_widgets_in_jupyterlab.py, cell by cell), 04's levers run last with their
comparison (test_levers_in_jupyterlab.py; its simulations draw the same LiveRunWidget
as 01's, and its scenario listings and comparisons are plain HTML), 03, 06 and 07's
simulations, comparisons and ensembles, 08 and 09's simulations and ensembles of a
compliance and a fitted scenario, 05's ensemble progress and 10's study progress (the
same LiveRunWidget with the same record). nbval executes each of them against its
committed outputs, which tools/execute_notebooks.py saved through the same pre-save
hook; here they are opened as shipped, in a new kernel and a new page (all that a
restart and a reload give a saved notebook), and must show every record with nothing
missing, 04's levers record with its lever values and comparison. Each test runs on
whichever worker is free (conftest.py's SPREAD_FILES).
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

from tests.browser.conftest import JupyterServer
from tests.browser.test_widgets_in_jupyterlab import (
    _cell,
    _clear_outputs,
    _open_notebook,
    _reload,
    _restart_kernel,
    _save,
    _screenshot,
    _shut_down,
    assert_reopened_with_records_only,
    saved_records,
)
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.dbt

EXAMPLES = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
# Their views are of kinds Run All saves and reopens elsewhere, or drawn by the same LiveRunWidget (see above).
REOPENED_AS_SHIPPED = {
    "01_quickstart",
    "03_workforce_analysis",
    "04_scenarios",
    "05_ensembles",
    "06_plan_design",
    "07_contribution_designs",
    "08_compliance",
    "09_calibration",
    "10_optimize",
}
_DONE = re.compile(r"\[\d+\]:")
LEVERS_CELL = 18  # 04_scenarios: the levers cell


def _run_all(page, timeout: float) -> None:
    """Run > Run All Cells, as a user does, and wait until every code cell has run and the kernel is idle."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        prompts = page.locator(".jp-Notebook .jp-CodeCell .jp-InputPrompt").evaluate_all(
            "prompts => prompts.map(p => p.textContent.trim())"
        )
        if prompts and all(_DONE.fullmatch(prompt) for prompt in prompts):
            page.get_by_text(re.compile(r"\| Idle$")).first.wait_for(timeout=30_000)
            return
        time.sleep(0.5)
    raise TimeoutError(f"Run All did not finish within {timeout}s")


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_run_all_save_restart_and_reload_shows_every_record_and_no_missing_model(
    example: Path, browser_context, jupyter_server: JupyterServer
) -> None:
    folder = jupyter_server.root / "examples"
    folder.mkdir(exist_ok=True)
    path = folder / example.name
    notebook = f"examples/{example.name}"
    if example.stem in REOPENED_AS_SHIPPED:
        shutil.copy(example, path)
        page = _open_notebook(browser_context, jupyter_server, notebook)
        try:
            page.wait_for_timeout(2_000)  # a widget manager that found no model says so by now
            assert_reopened_with_records_only(page, path)
            assert saved_records(path) > 0, "the shipped notebook holds its records"
            if example.stem == "04_scenarios":
                _assert_levers_record(page)
        finally:
            page.close()
            _shut_down(jupyter_server, notebook)
        return
    _clear_outputs(example, path)
    page = _open_notebook(browser_context, jupyter_server, notebook)
    try:
        _run_all(page, timeout=600)
        _save(page, path)
        _restart_kernel(jupyter_server, notebook)
        _reload(page)

        assert_reopened_with_records_only(page, path)
    finally:
        page.close()
        _shut_down(jupyter_server, notebook)


def _assert_levers_record(page) -> None:
    """04's levers record keeps the lever values and the comparison they produced."""
    levers = _cell(page, LEVERS_CELL).locator(".planalign-levers.planalign-record")
    levers.scroll_into_view_if_needed()
    text = levers.text_content() or ""  # JupyterLab skips rendering cells out of view: no inner text
    assert "Scenario: safe_harbor" in text
    assert "100% of the first 3% + 50% of the next 2%" in text, "the lever values"
    cost = levers.locator(".planalign-comparison .planalign-metric-employer_cost_rate")
    assert cost.count() == 3, "the comparison they produced: baseline, safe_harbor and the delta"
    assert "nb.levers('scenarios_workspace', scenario='safe_harbor')" in text
    _screenshot(levers, "reopened_levers")
