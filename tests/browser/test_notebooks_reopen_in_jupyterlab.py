"""Every example notebook as an analyst first meets it: Run All, save, restart the kernel, reload (issue 21).

The reopened page must show each view's record and nothing a restarted kernel cannot
give it back: no "Error displaying widget: model not found", no widget view at all.
In the scenarios notebook the levers cell is run again after Run All (so it is the
last thing run, still interactive when saved), and its record must keep the lever
values and the comparison they produced.

Run All covers every kind of live view the notebooks show, in every state they end in:
02 (status and initialize on a damaged, a stale and a corrupt workspace; two live views
in one cell), 04 (simulations, scenarios, compare, levers). The other notebooks show
only more of those views (01: status on a new workspace, initialize, simulate, which
test_widgets_in_jupyterlab.py also runs, saves and reopens; 03, 06, 07: simulations,
comparisons, ensembles; 08, 09: simulations and ensembles of a compliance and a fitted
scenario), or views drawn by the same LiveRunWidget with the same record (05: an
ensemble's progress, a simulation view; 10: a study's progress). nbval executes each of
them against its committed outputs, which tools/execute_notebooks.py saved through the
same pre-save hook; here they are opened as shipped, in a new kernel and a new page
(all that a restart and a reload give a saved notebook), and must show every record
with nothing missing. Each test runs on whichever worker is free (conftest.py's
SPREAD_FILES).
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
    _run_cell,
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
        finally:
            page.close()
            _shut_down(jupyter_server, notebook)
        return
    _clear_outputs(example, path)
    page = _open_notebook(browser_context, jupyter_server, notebook)
    try:
        _run_all(page, timeout=600)
        if example.stem == "04_scenarios":
            # The levers cell run again after Run All: the last thing run, interactive when saved.
            _run_cell(page, LEVERS_CELL)
            _cell(page, LEVERS_CELL).locator(".planalign-levers .planalign-comparison").first.wait_for()
        _save(page, path)
        _restart_kernel(jupyter_server, notebook)
        _reload(page)

        assert_reopened_with_records_only(page, path)
        if example.stem == "04_scenarios":
            levers = _cell(page, LEVERS_CELL).locator(".planalign-levers.planalign-record")
            levers.scroll_into_view_if_needed()
            text = levers.text_content() or ""  # JupyterLab skips rendering cells out of view: no inner text
            assert "Scenario: safe_harbor" in text
            assert "100% of the first 3% + 50% of the next 2%" in text, "the lever values"
            cost = levers.locator(".planalign-comparison .planalign-metric-employer_cost_rate")
            assert cost.count() == 3, "the comparison they produced: baseline, safe_harbor and the delta"
            assert "nb.levers('scenarios_workspace', scenario='safe_harbor')" in text
            _screenshot(levers, "reopened_levers")
    finally:
        page.close()
        _shut_down(jupyter_server, notebook)
