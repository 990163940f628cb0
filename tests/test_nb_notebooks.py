"""The committed example notebooks as documents: what a static viewer sees in them.

nbval (configured in pyproject) re-executes them and compares outputs; these tests
check the saved outputs themselves: the HTML export shows the tier headings, table
states and final step states and no live frame ("starting", "running"), no output
holds a widget view, an absolute path, a timing or an nbval escape hatch, and each
notebook keeps its work in a workspace folder beside it.
"""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

import nbformat
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@cache
def exported_page(notebook: Path) -> str:
    """What `jupyter nbconvert --to html` writes for the saved notebook (once per notebook).

    nbconvert's HTMLExporter with its default settings is what that command runs; in this
    process it is imported once for every notebook instead of once per command.
    """
    from nbconvert import HTMLExporter

    return HTMLExporter().from_filename(str(notebook))[0]


def export_html(notebook: Path) -> str:
    """The exported page with the inline styles of cells and code left out, for checks of what it says."""
    return re.sub(r"<(td|code) [^>]*>", r"<\1>", exported_page(notebook))


def text_outputs(notebook: Path) -> list[str]:
    """Every compared text of every output (streams, text/plain, text/html) of a saved notebook."""
    texts = []
    for cell in nbformat.read(notebook, as_version=4).cells:
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                texts.append(output.text)
            texts += [output.get("data", {}).get(mime, "") for mime in ("text/plain", "text/html")]
    return texts


def test_quickstart_html_shows_tiers_table_states_and_final_step_states() -> None:
    page = export_html(REPO_ROOT / "notebooks" / "01_quickstart.ipynb")

    assert page.count("<b>Seed tables</b>") == 2
    assert page.count("<b>Foundation models</b>") == 2
    assert "<b>10 of 10 required tables missing in quickstart_workspace/</b>" in page
    assert "<td>config_age_bands</td><td>missing</td>" in page
    assert "<td>int_employee_benefits</td><td>present</td><td>5,000 rows</td>" in page
    assert "<b>Initialized: created 10 table(s).</b>" in page
    for step in (
        "Checking database tables",
        "Loading seed data",
        "Building foundation models",
        "Verifying initialization",
    ):
        assert f"<td>{step}</td><td>done</td>" in page
    assert "<b>Simulation 2025-2027 completed: 3 of 3 years done</b>" in page


def test_self_healing_html_shows_the_missing_table_and_the_error_with_its_remediation() -> None:
    page = export_html(REPO_ROOT / "notebooks" / "02_self_healing.ipynb")

    assert "<b>1 of 10 required tables missing in self_healing_workspace/</b>" in page
    assert "<td>int_employee_benefits</td><td>missing</td>" in page
    assert "<b>Initialized: created 1 table(s).</b>" in page
    assert "<td>Checking database tables</td><td>failed</td>" in page
    assert "<td>Loading seed data</td><td>skipped</td>" in page
    assert "Database file simulation.duckdb is not a readable DuckDB database" in page
    assert "<b>To fix:</b> Run <code>nb.initialize('self_healing_workspace', recreate_corrupt=True)</code>" in page
    assert "planalign init --recreate" not in page, "the notebook speaks Python"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_html_export_shows_records_and_no_live_frame(notebook: Path) -> None:
    """Acceptance 2: no "starting" or "running" frame in what nbconvert renders, and no widget placeholder."""
    page = export_html(notebook)

    assert "planalign-record" in page
    assert "Initialization starting" not in page
    assert "<b>Initialization: " not in page, "a running step's title"
    assert not re.search(r"Simulation [\d-]+( starting|: \d{4} running)", page)
    assert "planalign-state-running" not in page
    assert "planalign-state-pending" not in page
    assert WIDGET_VIEW not in page
    assert "Loading widget" not in page


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_saved_outputs_hold_no_absolute_paths_timings_or_nbval_escape_hatches(notebook: Path) -> None:
    saved = nbformat.read(notebook, as_version=4)
    texts = "\n".join(text_outputs(notebook))

    assert all(cell.execution_count for cell in saved.cells if cell.cell_type == "code"), "execute and save it"
    assert not re.search(r"(/tmp/|/var/folders/|/home/|/work/|/root/|[A-Z]:\\)", texts)
    assert str(REPO_ROOT) not in texts
    assert not re.search(r"\b\d+\.\d+ ?s\b", texts), "timings belong to the live widget only"
    assert not any("NBVAL_IGNORE_OUTPUT" in cell.source or "NBVAL_SKIP" in cell.source for cell in saved.cells)
    assert "widgets" not in saved.metadata, "live widget state holds timings: run tools/execute_notebooks.py"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_saved_outputs_hold_records_not_widget_views(notebook: Path) -> None:
    """A reopened notebook has no widget to find: every planalign output is a record."""
    outputs = [output for cell in nbformat.read(notebook, as_version=4).cells for output in cell.get("outputs", [])]

    assert not [output for output in outputs if WIDGET_VIEW in output.get("data", {})]
    assert not re.search(r"\b(starting|running)\b", "\n".join(text_outputs(notebook)))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_each_notebook_keeps_its_work_in_a_folder_beside_it_that_git_ignores(notebook: Path) -> None:
    saved = nbformat.read(notebook, as_version=4)
    setup = next(cell.source for cell in saved.cells if cell.cell_type == "code")
    [folder] = re.findall(r'folder = Path\("(\w+)"\)', setup)

    assert "tempfile" not in setup
    assert not any("rmtree" in cell.source for cell in saved.cells[2:] if cell.cell_type == "code")
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", f"notebooks/{folder}/simulation.duckdb"], cwd=REPO_ROOT, check=False
    )
    assert ignored.returncode == 0, f"notebooks/{folder}/ must be git-ignored"


def test_no_figure_asks_jupyterlab_for_a_light_or_dark_block_behind_it() -> None:
    """Point 8: figures stay transparent, so they read in the light and the dark theme alike."""
    images = [
        output
        for notebook in NOTEBOOKS
        for cell in nbformat.read(notebook, as_version=4).cells
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]

    assert len(images) >= 3
    assert [output.get("metadata", {}).get("needs_background") for output in images] == [None] * len(images)


def test_the_html_export_draws_records_with_inline_styles_that_need_no_stylesheet() -> None:
    """Issue 21, item 2: nbconvert and GitHub show the records as JupyterLab does, trusted or not."""
    page = exported_page(REPO_ROOT / "notebooks" / "01_quickstart.ipynb")
    records = "".join(re.findall(r"<div class=\"planalign-[^\"]*planalign-record\".*?</table>", page, flags=re.S))

    assert records, "the records are in the page"
    assert ".planalign-" not in page.replace('class="planalign-', ""), "no stylesheet rule is needed for them"
    assert re.search(r"<td style=\"[^\"]*text-align:left[^\"]*color:#3a9d4a;font-weight:bold\">✓</td>", records)
    assert re.search(r"<tr class=\"planalign-table [^\"]*\" style=\"background:transparent\">", records)
    assert "background:#3a9d4a" in records, "a completed run's bar"
