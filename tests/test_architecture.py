"""The architecture holds by construction: one door for the faces, imports pointing down, one metrics model.

The import contract lives in pyproject.toml ([tool.importlinter]); `lint-imports` checks
it here and in CI. The second test shows the check is real: the same contract fails on
a copy of the packages where a face reaches past the facade.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from planalign_orchestrator.metrics import KEY_COLUMNS, METRICS, METRICS_MODEL
from planalign_orchestrator.workspace import Workspace
from tests.support.helpers import query

REPO_ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=root, capture_output=True, text=True, check=False, timeout=120
    )


def test_the_faces_use_one_door_imports_point_down_and_no_cycle_exists() -> None:
    result = lint_imports(REPO_ROOT)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken." in result.stdout


def test_a_face_importing_an_engine_module_past_the_facade_breaks_the_contract(tmp_path: Path) -> None:
    for package in ("planalign_orchestrator", "planalign_nb"):
        shutil.copytree(REPO_ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "data"))
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    charts = tmp_path / "planalign_nb" / "charts.py"
    charts.write_text(charts.read_text() + "\nfrom planalign_orchestrator.config import SimulationConfig  # noqa\n")

    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={"PYTHONPATH": str(tmp_path), "PATH": str(LINT_IMPORTS.parent)},
    )

    assert result.returncode != 0
    assert "planalign_nb.charts -> planalign_orchestrator.config" in result.stdout
    assert "Faces use only the session facade and the base vocabulary BROKEN" in result.stdout


def documented_metric_columns() -> list[str]:
    properties = yaml.safe_load((REPO_ROOT / "dbt" / "models" / "marts" / "_marts.yml").read_text())
    model = next(m for m in properties["models"] if m["name"] == METRICS_MODEL)
    return [column["name"] for column in model["columns"]]


def test_every_documented_column_of_the_metrics_model_has_one_catalogue_entry() -> None:
    assert documented_metric_columns() == [*KEY_COLUMNS, *(metric.column for metric in METRICS)]


@pytest.mark.dbt
def test_the_built_metrics_model_has_exactly_the_documented_columns(simulated_workspace: Workspace) -> None:
    built = query(
        simulated_workspace.database_path,
        "select column_name from information_schema.columns where table_name = ? order by ordinal_position",
        [METRICS_MODEL],
    )

    assert [name for (name,) in built] == documented_metric_columns()
