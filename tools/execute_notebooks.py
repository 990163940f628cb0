"""Re-execute the example notebooks in place, keeping only deterministic outputs.

    python tools/execute_notebooks.py                 # all of notebooks/*.ipynb
    python tools/execute_notebooks.py notebooks/01_quickstart.ipynb

The committed notebooks are both the documentation and nbval's expected outputs.
Their outputs are what JupyterLab saves: progress views replace themselves by their
records when their work is done, and interactive views (status, levers) are saved as
their records by the same function the Jupyter server's pre-save hook applies
(planalign_nb.saving.keep_records). Two more things are set for the documentation:
records without seconds (PLANALIGN_NB_RECORD_TIMINGS=0, as the tests run them) and no
widget state in the metadata (it would hold model ids). Each notebook keeps its
workspace folder beside it, as an analyst's run does.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from planalign_nb.saving import keep_records

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
RECORD_TIMINGS_ENV = "PLANALIGN_NB_RECORD_TIMINGS"


def execute(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=900,
        kernel_name="python3",
        store_widget_state=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute(env={**os.environ, RECORD_TIMINGS_ENV: "0"})
    keep_records(notebook)
    nbformat.write(notebook, path)
    print(f"executed {path.name}")


def main(arguments: list[str]) -> None:
    paths = [Path(a) for a in arguments] or sorted(NOTEBOOKS.glob("*.ipynb"))
    for path in paths:
        execute(path)


if __name__ == "__main__":
    main(sys.argv[1:])
