"""A shipped notebook opened as it comes from a clone or GitHub: untrusted, so sanitized (issue 21, item 2).

JupyterLab drops <style> blocks, CSS variables and `inherit` from an untrusted
notebook's HTML outputs. The records must look as designed all the same: the same
notebook signed as trusted (as saving it in JupyterLab would) draws them with exactly
the same styles, in the light theme and the dark one. The checks read computed styles
of the records' rows, icons, bar and header; screenshots land in tests/browser/artifacts.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator

import nbformat
import pytest

from tests.browser.conftest import JupyterServer
from tests.browser.test_widgets_in_jupyterlab import (
    _cell,
    _luminance,
    _open_notebook,
    _rgba,
    _screenshot,
    _set_theme,
    _shut_down,
    contrast,
)
from tests.conftest import REPO_ROOT

STATUS_AFTER, INITIALIZE = 7, 5  # cells of the quickstart
NAMES = ("untrusted", "trusted")

# The styles that make a record look as designed, read in one round trip.
_RECORD_STYLE_JS = """(cell) => {
  const record = cell.querySelector('.planalign-status.planalign-record');
  const row = record.querySelector('.planalign-table-present');
  const cells = [...row.querySelectorAll('td')];
  const summary = record.querySelector('.planalign-summary');
  const style = e => getComputedStyle(e);
  return {
    cell_align: cells.map(td => style(td).textAlign),
    row_background: style(row).backgroundColor,
    second_row_background: style(record.querySelectorAll('.planalign-table')[1]).backgroundColor,
    table_margin_left: style(record.querySelector('table')).marginLeft,
    icon: style(cells[0]).color,
    text: style(cells[1]).color,
    summary_wrap: style(summary).whiteSpace,
    page: style(document.querySelector('.jp-NotebookPanel-notebook')).backgroundColor,
  };
}"""
_BAR_STYLE_JS = """(cell) => {
  const bar = cell.querySelector('.planalign-progress.planalign-record .planalign-bar');
  const fill = bar.querySelector('.planalign-bar-fill');
  return {
    bar_width: bar.getBoundingClientRect().width,
    fill_width: fill.getBoundingClientRect().width,
    fill: getComputedStyle(fill).backgroundColor,
    track: getComputedStyle(bar).backgroundColor,
    line: getComputedStyle(bar.parentElement).display,
  };
}"""


@pytest.fixture(scope="module")
def shipped_pages(browser_context, jupyter_server: JupyterServer) -> Iterator[dict[str, object]]:
    """The shipped quickstart twice: as it comes (untrusted) and signed as trusted with the server's secret."""
    folder = jupyter_server.root / "shipped"
    folder.mkdir()
    for name in NAMES:
        # Trust is kept per content digest: identical copies would share it, so each copy is told apart.
        notebook = nbformat.read(REPO_ROOT / "notebooks" / "01_quickstart.ipynb", as_version=4)
        notebook.metadata["copy"] = name
        nbformat.write(notebook, folder / f"{name}.ipynb")
    environment = {**os.environ, "JUPYTER_DATA_DIR": str(jupyter_server.root.parent / "data")}
    jupyter = shutil.which("jupyter-trust", path=os.path.dirname(sys.executable))
    assert jupyter is not None
    subprocess.run([jupyter, str(folder / "trusted.ipynb")], check=True, capture_output=True, env=environment)
    pages = {name: _open_notebook(browser_context, jupyter_server, f"shipped/{name}.ipynb") for name in NAMES}
    yield pages
    for name, page in pages.items():
        page.close()
        _shut_down(jupyter_server, f"shipped/{name}.ipynb")


def _styles(page) -> dict[str, object]:
    status = _cell(page, STATUS_AFTER)
    status.scroll_into_view_if_needed()
    initialize = _cell(page, INITIALIZE)
    return {**status.evaluate(_RECORD_STYLE_JS), **initialize.evaluate(_BAR_STYLE_JS)}


def test_an_untrusted_shipped_notebook_shows_its_records_as_designed(shipped_pages) -> None:
    """What failed before: names right-aligned, zebra rows, no progress bar, black ✓ until the first save."""
    untrusted, trusted = _styles(shipped_pages["untrusted"]), _styles(shipped_pages["trusted"])
    for name, page in shipped_pages.items():
        _screenshot(_cell(page, STATUS_AFTER).locator(".planalign-record").first, f"shipped_{name}_status")
        _screenshot(_cell(page, INITIALIZE).locator(".planalign-record").first, f"shipped_{name}_initialize")

    assert untrusted == trusted, "sanitized or not, the records are drawn alike"
    assert set(untrusted["cell_align"]) == {"left"}
    assert untrusted["row_background"] == untrusted["second_row_background"] == "rgba(0, 0, 0, 0)", "no zebra"
    assert untrusted["table_margin_left"] == "0px", "not centred"
    assert untrusted["icon"] == "rgb(58, 157, 74)", "a green ✓"
    assert untrusted["icon"] != untrusted["text"]
    assert untrusted["summary_wrap"] == "nowrap"
    assert untrusted["line"] == "flex", "the bar beside its figures"
    assert untrusted["bar_width"] >= 120
    assert untrusted["fill_width"] == pytest.approx(untrusted["bar_width"], abs=1), "a completed run fills it"
    assert untrusted["fill"] == "rgb(58, 157, 74)"


def test_the_untrusted_records_read_in_the_dark_theme(shipped_pages) -> None:
    page = shipped_pages["untrusted"]
    _set_theme(page, "JupyterLab Dark")
    try:
        dark = _styles(page)
        _screenshot(_cell(page, STATUS_AFTER).locator(".planalign-record").first, "shipped_untrusted_status_dark")
        _screenshot(_cell(page, INITIALIZE).locator(".planalign-record").first, "shipped_untrusted_initialize_dark")
    finally:
        _set_theme(page, "JupyterLab Light")

    background = _rgba(str(dark["page"]))
    assert _luminance(str(dark["text"])) > 0.5, "the text keeps the theme's light colour"
    assert contrast(_rgba(str(dark["text"])), background) >= 7
    assert contrast(_rgba(str(dark["icon"])), background) >= 3, "the ✓ reads on near-black"
    assert contrast(_rgba(str(dark["fill"])), background) >= 3, "so does the bar"
    assert not re.search(r"rgb\(255, 255, 255\)", str(dark["row_background"])), "no white rows"
