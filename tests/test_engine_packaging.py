"""The dbt project ships inside the wheel and is found there as well as in a checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from planalign_orchestrator.workspace import dbt_project_dir
from tests.conftest import REPO_ROOT


def test_source_checkout_finds_the_repository_dbt_project() -> None:
    assert dbt_project_dir() == REPO_ROOT / "dbt"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "--target", "wheel", "--directory", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    return next(out.glob("*.whl"))


def test_wheel_contains_the_dbt_project_and_the_example_census(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())

    assert "planalign_orchestrator/_dbt_project/dbt_project.yml" in names
    assert "planalign_orchestrator/_dbt_project/seeds/irs_contribution_limits.csv" in names
    assert "planalign_orchestrator/data/example_census.csv" in names
    assert "planalign_launcher.py" in names  # the console script's first module
    # The Jupyter server extension that saves live views as their records, enabled on install.
    assert "planalign_notebook-0.1.0.data/data/etc/jupyter/jupyter_server_config.d/planalign_nb.json" in names
    assert not any("/target/" in name or name.endswith(".user.yml") for name in names)


def test_installed_wheel_finds_its_bundled_dbt_project(wheel: Path, tmp_path: Path) -> None:
    zipfile.ZipFile(wheel).extractall(tmp_path / "site")

    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "from planalign_orchestrator.workspace import dbt_project_dir; print(dbt_project_dir())",
        ],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path / "site"), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert probe.returncode == 0, probe.stderr
    assert Path(probe.stdout.strip()) == tmp_path / "site" / "planalign_orchestrator" / "_dbt_project"
