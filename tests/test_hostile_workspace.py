"""Read-only places, killed runs and bad numbers end cleanly (issue 15, defects 9, 10, 11).

Permissions are real: as root (CI containers) the CLI runs without the capabilities
that bypass them (see helpers.unprivileged).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from planalign_orchestrator.exceptions import ConfigurationError
from planalign_orchestrator.factory import create_orchestrator
from planalign_orchestrator.workspace import Workspace
from tests.support.helpers import (
    initializer_for,
    kill_and_wait,
    make_read_only,
    make_writable,
    sha256,
    unprivileged,
)

PLANALIGN = str(Path(sys.executable).with_name("planalign"))


def _run(*args: str, cwd: Path, as_unprivileged: bool = False) -> subprocess.CompletedProcess[str]:
    command = [PLANALIGN, *args]
    return subprocess.run(
        unprivileged(command) if as_unprivileged else command, cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_init_in_an_empty_read_only_folder_names_the_folder_and_the_fix(tmp_path: Path) -> None:
    """Defect 9: no OSError traceback while copying the census; nothing is created."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    make_read_only(folder)
    try:
        result = _run("init", "--workspace", str(folder), cwd=tmp_path, as_unprivileged=True)
    finally:
        make_writable(folder)

    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert f"Cannot create a workspace (default config and example census) in {folder}" in result.stderr
    assert f"chmod u+w {folder}" in result.stderr
    assert list(folder.iterdir()) == []


def test_simulate_in_a_read_only_workspace_is_refused_and_changes_nothing(initialized_workspace: Workspace) -> None:
    root = initialized_workspace.root
    files = [path for path in root.iterdir() if path.is_file()]
    digest = sha256(initialized_workspace.database_path)
    make_read_only(*files, root)
    try:
        result = _run("simulate", "2025", "--workspace", str(root), cwd=root, as_unprivileged=True)
    finally:
        make_writable(root, *files)

    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert f"Cannot initialize or simulate in {root}" in result.stderr
    assert sha256(initialized_workspace.database_path) == digest


@pytest.mark.dbt
def test_a_run_killed_while_dbt_parses_leaves_no_temporary_folder_behind(workspace: Workspace, tmp_path: Path) -> None:
    """Defect 10: dbt's parse folder lives in the workspace, and the next run removes a killed run's one."""
    system_temp = tmp_path / "system-temp"
    system_temp.mkdir()
    target = workspace.dbt_target_dir
    process = subprocess.Popen(
        [PLANALIGN, "init", "--workspace", str(workspace.root)],
        env={**os.environ, "TMPDIR": str(system_temp)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (any(system_temp.iterdir()) or any(target.glob(".planalign-parse-*"))):
            assert process.poll() is None, "the run ended before dbt parsed"
            assert time.monotonic() < deadline, "no parse folder appeared"
            time.sleep(0.005)
    finally:
        kill_and_wait(process, signal.SIGKILL)
    leaked_into_workspace = list(target.glob(".planalign-parse-*"))

    result = initializer_for(workspace).ensure_initialized()

    assert list(system_temp.iterdir()) == []
    assert leaked_into_workspace, "killed mid-parse, the run had no chance to remove its folder"
    assert result.success, result
    assert list(target.glob(".planalign-parse-*")) == []


@pytest.mark.parametrize(
    "option",
    [
        ("--threads", "0"),
        ("--threads", "-2"),
        ("--threads", "two"),
        ("--timeout", "-5"),
        ("--timeout", "0"),
        ("--timeout", "nan"),
        ("--timeout", "inf"),
    ],
    ids=lambda option: " ".join(option),
)
def test_non_positive_or_non_finite_numbers_are_refused_before_anything_is_created(
    tmp_path: Path, option: tuple[str, str]
) -> None:
    """Defect 11: --threads and --timeout must be finite and positive."""
    folder = tmp_path / "empty"
    folder.mkdir()

    result = _run("init", *option, cwd=folder)

    assert result.returncode == 2, result.stdout + result.stderr
    assert f"argument {option[0]}" in result.stderr
    assert "positive" in result.stderr
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize(
    "options",
    [
        {"threads": 0},
        {"initializer_options": {"timeout_seconds": float("nan")}},
        {"initializer_options": {"timeout_seconds": -5}},
    ],
    ids=["threads-0", "timeout-nan", "timeout-negative"],
)
def test_api_refuses_the_same_numbers_as_the_cli(workspace: Workspace, options: dict) -> None:
    with pytest.raises(ConfigurationError, match="positive"):
        create_orchestrator(workspace.config, **options)
