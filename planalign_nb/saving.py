"""What a saved notebook keeps of a live view: its record, never a widget view a restarted kernel no longer has.

A widget lives in the kernel. Saved and reopened after the kernel restarted, an output
that holds a widget view shows "Error displaying widget: model not found" in a trusted
notebook, hiding the text and HTML beside it; JupyterLab's "Save Widget State
Automatically" does not help for long (it keeps only widgets whose kernel is alive, so
the next save drops them). So every output a planalign_nb view displays carries its
record (text/plain and text/html, kept current by display updates as the view
changes) beside the widget view, marked with LIVE_VIEW_METADATA, and the notebook is
saved without those widget views: the saved file holds the records, whatever the
order of the cells and whichever view is still interactive when the analyst saves.

Two places save notebooks, and both apply `keep_records`: the Jupyter server, through
the pre-save hook this module registers as a server extension (enabled by
`jupyter-config/jupyter_server_config.d/planalign_nb.json`, which the package installs
into `etc/jupyter`), and tools/execute_notebooks.py for the shipped notebooks. The
page that saved keeps its live widgets until it is reloaded.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
MARKER = "planalign_nb"
LIVE_VIEW_METADATA: dict[str, Any] = {MARKER: {"live_view": True}}


def keep_records(notebook: MutableMapping[str, Any]) -> int:
    """Drop the widget view of every marked output (and the mark), keeping its record; how many were dropped."""
    dropped = 0
    for cell in notebook.get("cells") or []:
        for output in cell.get("outputs") or []:
            metadata = output.get("metadata")
            if not isinstance(metadata, MutableMapping) or MARKER not in metadata:
                continue
            del metadata[MARKER]
            if output.get("data", {}).pop(WIDGET_VIEW, None) is not None:
                dropped += 1
    return dropped


def pre_save_hook(model: MutableMapping[str, Any], **_context: Any) -> None:
    """The Jupyter server's pre-save hook: a notebook is written with its live views' records."""
    if model.get("type") == "notebook" and isinstance(model.get("content"), MutableMapping):
        keep_records(model["content"])


def _load_jupyter_server_extension(server_app: Any) -> None:
    """Register the pre-save hook with the server's contents manager (jupyter_server's extension API)."""
    server_app.contents_manager.register_pre_save_hook(pre_save_hook)
    server_app.log.info("planalign_nb: notebooks are saved with the records of their live views")
