"""The widgets as an analyst sees them: JupyterLab 4 in headless Chromium (issue 5).

Cells of a copy of the quickstart notebook (outputs cleared) run in a real kernel
with real dbt and DuckDB; assertions read the rendered DOM through the widgets'
stable CSS classes (planalign_nb.rendering documents them).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from tests.browser.conftest import ARTIFACTS, JupyterServer

pytestmark = pytest.mark.dbt

STEP_NAMES = ("check_tables", "load_seeds", "build_foundation", "verify")
QUICKSTART_CELLS = {"setup": 1, "status_before": 3, "initialize": 5, "status_after": 7}
_DONE_PROMPT = re.compile(r"\[\d+\]:")

# One round trip: the state of every step row and the node label of the live progress widget.
_READ_PROGRESS_JS = """
(cell) => {
  const stepNames = STEP_NAMES;
  const live = cell.querySelector('.planalign-progress:not(.planalign-record)');
  if (!live) return null;
  const steps = {};
  for (const name of stepNames) {
    const row = live.querySelector('.planalign-step-' + name);
    const state = row && [...row.classList].find(c => c.startsWith('planalign-state-'));
    steps[name] = state ? state.replace('planalign-state-', '') : null;
  }
  const node = live.querySelector('.planalign-node');
  return {steps, node: node ? node.innerText.trim() : ''};
}
""".replace("STEP_NAMES", json.dumps(list(STEP_NAMES)))


def _clear_outputs(source: Path, destination: Path) -> None:
    notebook = nbformat.read(source, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    notebook.metadata.pop("widgets", None)
    nbformat.write(notebook, destination)


def _open_notebook(context, server: JupyterServer, name: str):
    page = context.new_page()
    page.goto(server.lab_url(name))
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
    # The kernel is usable once the status bar reports it idle (not merely the notebook's indicator).
    page.get_by_text(re.compile(r"\| Idle$")).first.wait_for(timeout=90_000)
    return page


def _cell(page, index: int):
    return page.locator(".jp-Notebook .jp-Cell").nth(index)


def _start_cell(page, index: int):
    """Run a cell as a user does (click, Shift+Enter) and wait until the kernel has taken it."""
    cell = _cell(page, index)
    for _ in range(3):
        cell.scroll_into_view_if_needed()
        cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if cell.locator(".jp-InputPrompt").inner_text().strip() != "[ ]:":
                return cell
            time.sleep(0.1)
    raise TimeoutError(f"the kernel never took cell {index}")


def _wait_until_done(cell, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _DONE_PROMPT.fullmatch(cell.locator(".jp-InputPrompt").inner_text().strip()):
            return
        time.sleep(0.1)
    _screenshot(cell.page, "timeout")
    raise TimeoutError(f"cell did not finish within {timeout}s: {cell.inner_text()[:500]}")


def _run_cell(page, index: int, timeout: float = 180):
    cell = _start_cell(page, index)
    _wait_until_done(cell, timeout)
    return cell


def _screenshot_region(page, locators: list, name: str) -> None:
    """One picture spanning several outputs (docs/img/notebook_widgets.png is a copy of one)."""
    locators[0].evaluate("element => element.scrollIntoView({block: 'start'})")
    boxes = [locator.bounding_box() for locator in locators]
    left, top = min(b["x"] for b in boxes), min(b["y"] for b in boxes)
    right = max(b["x"] + b["width"] for b in boxes)
    bottom = max(b["y"] + b["height"] for b in boxes)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(
        path=str(ARTIFACTS / f"{name}.png"), clip={"x": left, "y": top, "width": right - left, "height": bottom - top}
    )


def _running_before_pending(states: tuple[str | None, ...]) -> bool:
    """A step shown running while every later step is still pending."""
    if "running" not in states:
        return False
    later = states[states.index("running") + 1 :]
    return bool(later) and all(state == "pending" for state in later)


def _screenshot(locator, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    locator.screenshot(path=str(ARTIFACTS / f"{name}.png"))


@pytest.fixture(scope="module")
def quickstart(browser_context, jupyter_server: JupyterServer) -> Iterator[object]:
    _clear_outputs(jupyter_server.root / "quickstart.ipynb", jupyter_server.root / "quickstart.ipynb")
    page = _open_notebook(browser_context, jupyter_server, "quickstart.ipynb")
    _run_cell(page, QUICKSTART_CELLS["setup"])
    yield page
    page.close()


def test_status_before_initialization_groups_ten_missing_tables_by_tier(quickstart) -> None:
    cell = _run_cell(quickstart, QUICKSTART_CELLS["status_before"])

    widget = cell.locator(".planalign-status").first
    widget.wait_for()
    assert widget.locator(".planalign-tier-seed").inner_text().startswith("Seed tables")
    assert widget.locator(".planalign-tier-foundation").inner_text().startswith("Foundation models")
    assert widget.locator(".planalign-table-missing").count() == 10
    assert widget.locator(".planalign-table-present").count() == 0
    assert "10 of 10 required tables missing" in widget.inner_text()
    _screenshot(widget, "status_before")


def test_initialize_shows_live_progress_before_the_final_state(quickstart) -> None:
    cell = _start_cell(quickstart, QUICKSTART_CELLS["initialize"])
    observed: list[tuple[tuple[str | None, ...], str]] = []
    captured_running = False
    deadline = time.monotonic() + 180
    while not _DONE_PROMPT.fullmatch(cell.locator(".jp-InputPrompt").inner_text().strip()):
        assert time.monotonic() < deadline, "initialization did not finish"
        reading = cell.element_handle().evaluate(_READ_PROGRESS_JS)
        if reading is not None:
            state = (tuple(reading["steps"][name] for name in STEP_NAMES), reading["node"])
            if not observed or observed[-1] != state:
                observed.append(state)
            if not captured_running and "running" in state[0] and state[1]:
                _screenshot(cell.locator(".planalign-progress").first, "progress_running")
                captured_running = True
        time.sleep(0.05)

    step_states = [states for states, _ in observed]
    distinct_steps = list(dict.fromkeys(step_states))
    assert len(distinct_steps) >= 3, observed
    assert any(_running_before_pending(states) for states in step_states), observed
    node_labels = [node for _, node in observed if node]
    assert len(set(node_labels)) >= 2, observed
    assert any(re.search(r"(seed|model) \d+/\d+ \w+", label) for label in node_labels), node_labels
    record = cell.locator(".planalign-progress.planalign-record").first
    record.wait_for()
    for name in STEP_NAMES:
        row = record.locator(f".planalign-step-{name}")
        assert "planalign-state-done" in (row.get_attribute("class") or ""), name
    _screenshot(record, "progress_done")


def test_status_after_initialization_shows_all_tables_present(quickstart) -> None:
    cell = _run_cell(quickstart, QUICKSTART_CELLS["status_after"])

    widget = cell.locator(".planalign-status").first
    widget.wait_for()
    assert widget.locator(".planalign-table-present").count() == 10
    assert widget.locator(".planalign-table-missing").count() == 0
    _screenshot(widget, "status_after")
    initialize_record = _cell(quickstart, QUICKSTART_CELLS["initialize"]).locator(".planalign-record").first
    _screenshot_region(quickstart, [initialize_record, widget], "overview")


@pytest.fixture(scope="module")
def corrupt_notebook(browser_context, jupyter_server: JupyterServer) -> Iterator[object]:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "import planalign_nb as nb\n"
            "workspace = nb.open_workspace('corrupt_workspace')\n"
            "workspace.database_path.write_bytes(b'this is not a DuckDB database ' * 100)"
        ),
        nbformat.v4.new_code_cell(
            "try:\n    nb.initialize(workspace)\nexcept Exception as error:\n    print(type(error).__name__)"
        ),
    ]
    nbformat.write(notebook, jupyter_server.root / "corrupt.ipynb")
    page = _open_notebook(browser_context, jupyter_server, "corrupt.ipynb")
    _run_cell(page, 0)
    yield page
    page.close()


def test_error_panel_shows_the_remediation(corrupt_notebook) -> None:
    cell = _run_cell(corrupt_notebook, 1)

    panel = cell.locator(".planalign-record .planalign-error").first
    panel.wait_for()
    assert "not a readable DuckDB database" in panel.inner_text()
    assert "recreate" in panel.locator(".planalign-remediation").inner_text()
    assert "DatabaseCorruptionError" in cell.locator(".jp-OutputArea").inner_text()
    _screenshot(panel, "error_panel")
