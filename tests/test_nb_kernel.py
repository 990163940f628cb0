"""The notebook calls in a real Jupyter kernel (jupyter_client), read as a front-end reads them: iopub messages.

One kernel runs the cells of an analyst's session in order: an initialization
interrupted while dbt loads seeds, the call that heals it, a status, the cell after
it and a refresh. The messages show what a front-end shows live and what a saved
notebook keeps (display ids and their updates, which JupyterLab and nbclient apply,
and the marks by which planalign_nb.saving saves a live view as its record).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import KernelManager, start_new_kernel

pytestmark = pytest.mark.dbt

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_PREPARING = re.compile(r"Preparing dbt: first run in this kernel · (\d+\.\d) s")


@dataclass
class Cell:
    """What one execution sent on iopub, in order."""

    outputs: list[dict[str, Any]] = field(default_factory=list)  # display_data, update_display_data, stream, error
    widget_html: list[str] = field(default_factory=list)  # every HTML value a widget was sent

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [output for output in self.outputs if output["type"] == kind]


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KernelManager, Any, Path]]:
    folder = tmp_path_factory.mktemp("kernel")
    manager, client = start_new_kernel(kernel_name="python3", cwd=str(folder))
    try:
        yield manager, client, folder
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def run(client: Any, code: str, *, until: Any = None, then: Any = None, timeout: float = 240) -> Cell:
    """Execute `code`, recording its iopub messages; once `until(cell)` holds, call `then()` (once)."""
    msg_id = client.execute(code)
    cell = Cell()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = client.get_iopub_msg(timeout=deadline - time.monotonic())
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = message["msg_type"], message["content"]
        if kind == "status" and content["execution_state"] == "idle":
            return cell
        if kind == "comm_msg":
            value = content["data"].get("state", {}).get("value")
            if isinstance(value, str):
                cell.widget_html.append(value)
        elif kind in ("display_data", "update_display_data", "execute_result", "stream", "error"):
            cell.outputs.append({"type": kind, **content})
        if until is not None and until(cell):
            then()
            until = None
    raise TimeoutError(f"cell did not finish: {code!r}")


def texts(output: dict[str, Any]) -> str:
    data = output.get("data", {})
    return data.get("text/plain", "") + data.get("text/html", "")


def test_an_interrupted_initialize_shows_the_cancelled_panel_and_one_line_not_dbts_traceback(kernel) -> None:
    """Acceptance 5, and the heartbeat while dbt loads in a fresh kernel."""
    manager, client, _folder = kernel
    seeding = re.compile(r"dbt node: seed \d/7")

    cell = run(
        client,
        "import planalign_nb as nb\nnb.initialize('workspace')",
        until=lambda cell: any(seeding.search(html) for html in cell.widget_html),
        then=manager.interrupt_kernel,
    )

    [error] = cell.of("error")
    record = cell.of("display_data")[-1]
    traceback = "\n".join(error["traceback"]).splitlines()
    assert record["data"]["text/plain"].splitlines()[0] == "Initialization cancelled"
    assert "Error: Cancelled by interrupt." in record["data"]["text/plain"]
    assert "planalign-error" in record["data"]["text/html"]
    assert len(traceback) <= 5, traceback
    assert error["ename"] == "KeyboardInterrupt"
    assert "initialization cancelled; run nb.initialize('workspace') again to heal" in traceback[0]
    assert not [output for output in cell.of("stream") if output["name"] == "stderr"]
    elapsed_while_preparing = {match.group(1) for html in cell.widget_html for match in _PREPARING.finditer(html)}
    assert len(elapsed_while_preparing) >= 3, "the heartbeat moves the clock while dbt is imported and parsed"


def test_the_live_view_is_emptied_in_place_and_the_record_follows_it(kernel) -> None:
    """What a saved notebook keeps of nb.initialize: the record, and no frame of the live view."""
    _manager, client, _folder = kernel

    cell = run(client, "result = nb.initialize('workspace')\nprint(result.success)")

    live, record = cell.of("display_data")
    [emptied] = cell.of("update_display_data")
    assert set(live["data"]) == {WIDGET_VIEW}, "the live view carries no text a viewer could keep"
    assert live["metadata"] == {"planalign_nb": {"live_view": True}}, "a save mid-run keeps no widget view"
    assert emptied["transient"]["display_id"] == live["transient"]["display_id"]
    assert emptied["data"] == {}
    assert record["data"]["text/plain"].startswith("Initialized: created")
    assert cell.outputs.index(emptied) < cell.outputs.index(record)
    assert not re.search(r"\b(starting|running)\b", texts(record))
    assert cell.of("stream")[-1]["text"] == "True\n"


def test_a_status_widget_stays_interactive_and_its_output_always_carries_its_current_record(kernel) -> None:
    """Issue 21: the status is live for the kernel's lifetime; its output holds the record a save keeps."""
    _manager, client, _folder = kernel

    status_cell = run(client, "status = nb.status('workspace')\nstatus")
    next_cell = run(client, "1 + 1")
    refresh_cell = run(client, "status.refresh()")

    [shown] = status_cell.of("display_data")
    [refreshed] = refresh_cell.of("update_display_data")
    assert set(shown["data"]) == {WIDGET_VIEW, "text/plain", "text/html"}
    assert shown["metadata"] == {"planalign_nb": {"live_view": True}}, "marked: saved as its record"
    assert shown["data"]["text/plain"].startswith("All 10 required tables present in workspace/")
    assert not next_cell.of("update_display_data"), "the next cell leaves it interactive"
    assert refreshed["transient"]["display_id"] == shown["transient"]["display_id"]
    assert refreshed["data"][WIDGET_VIEW] == shown["data"][WIDGET_VIEW], "the same live widget"
    assert refreshed["data"]["text/plain"] == shown["data"]["text/plain"]
    assert refreshed["metadata"] == shown["metadata"]
