"""The committed example notebooks as documents: what a static viewer sees in them.

nbval (configured in pyproject) re-executes them and compares outputs; these tests
check the saved outputs themselves: the HTML export with text/html preferred over
the widget view shows the tier headings, table states and final step states, and
no output holds an absolute path, a timing or an nbval escape hatch.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
PREFER_STATIC_HTML = [
    "text/html",
    "image/png",
    "application/vnd.jupyter.widget-view+json",
    "text/markdown",
    "text/plain",
]


def export_html(notebook: Path) -> str:
    """`jupyter nbconvert --to html` of the saved notebook, preferring text/html to the widget view."""
    jupyter = Path(sys.executable).with_name("jupyter")
    completed = subprocess.run(
        [
            str(jupyter),
            "nbconvert",
            "--to",
            "html",
            "--stdout",
            f"--NbConvertBase.display_data_priority={json.dumps(PREFER_STATIC_HTML)}",
            str(notebook),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return re.sub(r"<td [^>]*>", "<td>", completed.stdout)  # cell styling is not what is checked


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
    assert "<b>Workspace workspace: 10 of 10 required tables missing</b>" in page
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

    assert "<b>Workspace workspace: 1 of 10 required tables missing</b>" in page
    assert "<td>int_employee_benefits</td><td>missing</td>" in page
    assert "<b>Initialized: created 1 table(s).</b>" in page
    assert "<td>Checking database tables</td><td>failed</td>" in page
    assert "<td>Loading seed data</td><td>skipped</td>" in page
    assert "Database file simulation.duckdb is not a readable DuckDB database" in page
    assert "<b>To fix:</b> Run `planalign init --recreate`" in page


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
