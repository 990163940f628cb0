"""A real JupyterLab 4 on 127.0.0.1 and Debian's Chromium driven by Playwright.

Everything the session starts lives under one temporary root (the server's root_dir,
its runtime dir for kernel connection files, Chromium's profile), so teardown can
prove that no server, kernel or browser process outlived the tests by scanning
/proc for that root.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from planalign_nb.rendering import RECORD_TIMINGS_ENV
from tests.conftest import REPO_ROOT

CHROMIUM = shutil.which("chromium")
INSTALL_HINT = "sudo apt-get install -y chromium && pip install -e '.[test]'"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def _browser_stack_missing() -> str | None:
    if CHROMIUM is None:
        return f"Chromium is not installed; install it with: {INSTALL_HINT}"
    try:
        import jupyterlab  # noqa: F401
        import playwright.sync_api  # noqa: F401
    except ImportError as missing:
        return f"{missing.name} is not installed; install it with: {INSTALL_HINT}"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _browser_stack_missing()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        raise pytest.UsageError(f"Browser tests must run in CI, but: {reason}")
    browser_dir = Path(__file__).resolve().parent
    for item in items:
        if browser_dir in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.skip(reason=reason))


@dataclass(frozen=True)
class JupyterServer:
    url: str
    token: str
    root: Path

    def lab_url(self, notebook: str) -> str:
        """The notebook in a JupyterLab workspace of its own, so no other test's open tabs are restored over it."""
        return f"{self.url}/lab/workspaces/{Path(notebook).stem}/tree/{notebook}?token={self.token}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_status(url: str, token: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as response:
                if response.status == 200:
                    json.load(response)
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"Jupyter server at {url} did not answer /api/status in time")


def processes_under(root: Path) -> list[str]:
    """Command lines of live processes that mention the session root."""
    marker = str(root)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            found.append(f"{entry.name}: {cmdline[:200]}")
    return found


@pytest.fixture(scope="session")
def browser_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("planalign-browser")


@pytest.fixture(scope="session")
def jupyter_server(browser_root: Path) -> Iterator[JupyterServer]:
    notebooks = browser_root / "notebooks"
    notebooks.mkdir()
    shutil.copy(REPO_ROOT / "notebooks" / "01_quickstart.ipynb", notebooks / "quickstart.ipynb")
    token = secrets.token_hex(16)
    port = _free_port()
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(browser_root / "runtime"),
        "JUPYTER_CONFIG_DIR": str(browser_root / "config"),
        "JUPYTER_DATA_DIR": str(browser_root / "data"),
        "IPYTHONDIR": str(browser_root / "ipython"),
    }
    env.pop(RECORD_TIMINGS_ENV, None)  # the browser shows records as an analyst gets them, with seconds
    # JupyterLab asks once whether to fetch its news, in a toast over the page; answered "no" beforehand.
    news = browser_root / "config" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    # planalign_nb's server extension (notebooks saved with their views' records), enabled as the
    # installed package enables it: its jupyter_server_config.d file, here in the server's config dir.
    server_config = browser_root / "config" / "jupyter_server_config.d"
    server_config.mkdir(parents=True)
    shutil.copy(REPO_ROOT / "jupyter-config" / "jupyter_server_config.d" / "planalign_nb.json", server_config)
    # The kernelspec must be the interpreter running the tests (it has planalign_nb).
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ipykernel",
            "install",
            "--prefix",
            str(browser_root / "data-prefix"),
            "--name",
            "python3",
        ],
        check=True,
        capture_output=True,
        env=env,
    )
    env["JUPYTER_PATH"] = str(browser_root / "data-prefix" / "share" / "jupyter")
    log = (browser_root / "jupyter.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--allow-root",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={notebooks}",
            f"--LabApp.workspaces_dir={browser_root / 'lab-workspaces'}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
            "--ServerApp.shutdown_no_activity_timeout=600",
        ],
        cwd=notebooks,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_status(url, token, time.monotonic() + 60)
        yield JupyterServer(url=url, token=token, root=notebooks)
    finally:
        _shutdown(server, url, token)
        log.close()


def _shutdown(server: subprocess.Popen, url: str, token: str) -> None:
    """Ask the server to stop its kernels and itself; then make sure nothing is left."""
    try:
        request = urllib.request.Request(f"{url}/api/shutdown?token={token}", method="POST")
        urllib.request.urlopen(request, timeout=10).close()
        server.wait(timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)


@pytest.fixture(scope="session")
def browser_context(browser_root: Path, jupyter_server: JupyterServer) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(browser_root / "chromium-profile"),
            executable_path=CHROMIUM,
            headless=True,
            viewport={"width": 1280, "height": 1000},
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="session", autouse=True)
def no_process_survives(browser_root: Path) -> Iterator[None]:
    """Runs last in teardown (first set up): fails the session if any process outlived it."""
    yield
    deadline = time.monotonic() + 15
    leftovers = processes_under(browser_root)
    while leftovers and time.monotonic() < deadline:
        time.sleep(0.5)
        leftovers = processes_under(browser_root)
    assert not leftovers, "processes outlived the browser tests:\n" + "\n".join(leftovers)
