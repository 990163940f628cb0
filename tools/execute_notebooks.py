"""Re-execute the example notebooks in place, keeping only deterministic outputs.

    python tools/execute_notebooks.py                 # all of notebooks/*.ipynb
    python tools/execute_notebooks.py notebooks/01_quickstart.ipynb

The committed notebooks are both the documentation and nbval's expected outputs.
Live widget state (ipywidgets model state in the notebook metadata, and the
widget-view outputs pointing at it) holds elapsed times and random model ids, so it
is not kept: every widget also renders as text/plain and text/html, and that static
rendering is what viewers show and what nbval compares.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def execute(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=900,
        kernel_name="python3",
        store_widget_state=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            output.get("data", {}).pop(WIDGET_VIEW, None)
    nbformat.write(notebook, path)
    print(f"executed {path.name}")


def main(arguments: list[str]) -> None:
    paths = [Path(a) for a in arguments] or sorted(NOTEBOOKS.glob("*.ipynb"))
    for path in paths:
        execute(path)


if __name__ == "__main__":
    main(sys.argv[1:])
