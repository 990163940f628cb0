"""A saved notebook keeps the records of its live views, never a widget view a restarted kernel no longer has.

The Jupyter server saves through its contents manager; planalign_nb registers a
pre-save hook there as a server extension (enabled by the config file the package
installs). Here a real jupyter_server FileContentsManager saves a notebook whose
outputs are what the views display.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace

import nbformat
from jupyter_server.services.contents.filemanager import FileContentsManager

import planalign_nb
from planalign_nb.saving import LIVE_VIEW_METADATA, WIDGET_VIEW, _load_jupyter_server_extension, keep_records
from tests.conftest import REPO_ROOT

RECORD = {"text/plain": "All 10 required tables present in ws/", "text/html": "<div class='planalign-status'>…</div>"}


def notebook_with_views() -> nbformat.NotebookNode:
    """A status view (widget view beside its record), a finished progress view and someone else's widget."""
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("nb.status(ws)")
    view = {WIDGET_VIEW: {"model_id": "a1", "version_major": 2, "version_minor": 0}}
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={**view, **RECORD}, metadata=dict(LIVE_VIEW_METADATA)),
        nbformat.v4.new_output("display_data", data={}, metadata={}),
        nbformat.v4.new_output("display_data", data={WIDGET_VIEW: {"model_id": "b2"}}, metadata={}),
    ]
    notebook.cells = [cell]
    return notebook


def test_the_server_saves_a_live_view_as_its_record_and_leaves_other_widgets_alone(tmp_path: Path) -> None:
    manager = FileContentsManager(root_dir=str(tmp_path))
    _load_jupyter_server_extension(SimpleNamespace(contents_manager=manager, log=logging.getLogger("test")))
    model = {"type": "notebook", "format": "json", "content": json.loads(nbformat.writes(notebook_with_views()))}

    manager.save(model, "analysis.ipynb")

    [status, emptied, foreign] = nbformat.read(tmp_path / "analysis.ipynb", as_version=4).cells[0].outputs
    assert status["data"] == RECORD, "the record, without the widget view"
    assert status["metadata"] == {}, "and without the mark"
    assert emptied["data"] == {}
    assert foreign["data"] == {WIDGET_VIEW: {"model_id": "b2"}}, "only planalign's views are saved as records"


def test_keep_records_is_idempotent_and_counts_what_it_dropped() -> None:
    notebook = notebook_with_views()

    assert keep_records(notebook) == 1
    assert keep_records(notebook) == 0


def test_the_package_enables_its_server_extension_where_jupyter_looks_for_config() -> None:
    config = json.loads((REPO_ROOT / "jupyter-config/jupyter_server_config.d/planalign_nb.json").read_text())

    [point] = planalign_nb._jupyter_server_extension_points()

    assert config == {"ServerApp": {"jpserver_extensions": {"planalign_nb": True}}}
    assert point == {"module": "planalign_nb.saving"}
