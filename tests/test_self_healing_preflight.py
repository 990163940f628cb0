"""Preflight failures come before any dbt call (acceptance points 10 and 14).

Each case runs on a private copy of the dbt project that this process has never
parsed, so "no dbt invocation and no parse" is measured, not assumed: both
DbtRunner.invocation_count and DbtRunner.parse_count() must stay unchanged.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from planalign_orchestrator.dbt_runner import DbtRunner
from planalign_orchestrator.exceptions import InitializationError
from planalign_orchestrator.progress import StepFinished
from planalign_orchestrator.workspace import Workspace
from tests.support.helpers import EventRecorder, assert_remediation, copy_dbt_project, initializer_for


@pytest.fixture
def unparsed_project(tmp_path: Path) -> Path:
    return copy_dbt_project(tmp_path / "dbt")


def _fails_in_preflight(workspace: Workspace, project: Path, **options) -> InitializationError:
    recorder = EventRecorder()
    initializer = initializer_for(workspace, project_dir=project, on_progress=recorder, **options)
    invocations, parses = DbtRunner.invocation_count, DbtRunner.parse_count()

    with pytest.raises(InitializationError) as raised:
        initializer.ensure_initialized()

    assert DbtRunner.invocation_count == invocations, "a dbt command ran before preflight failed"
    assert DbtRunner.parse_count() == parses, "dbt parsed the project before preflight failed"
    assert raised.value.step == "check_tables"
    assert_remediation(raised.value)
    [failed] = [e for e in recorder.of_type(StepFinished) if not e.success]
    assert failed.step_name == "check_tables"
    assert failed.remediation == raised.value.remediation
    assert not workspace.database_path.exists(), "nothing is written when preflight fails"
    return raised.value


def test_point10_missing_seed_csv_is_named_before_any_dbt_call(workspace: Workspace, unparsed_project: Path) -> None:
    """Point 10: a project without one seed CSV fails naming that file."""
    missing = unparsed_project / "seeds" / "config_tenure_bands.csv"
    missing.unlink()

    error = _fails_in_preflight(workspace, unparsed_project)

    assert str(missing) in str(error)
    assert error.missing_tables == ["config_tenure_bands"]


def test_point10_missing_census_is_named_before_any_dbt_call(workspace: Workspace, unparsed_project: Path) -> None:
    """Point 10: a census deleted after the config was loaded fails naming the census path."""
    workspace.config.census_path.unlink()

    error = _fails_in_preflight(workspace, unparsed_project)

    assert str(workspace.config.census_path) in str(error)
    assert "paths.census" in error.remediation


def test_point10_too_little_disk_is_named_before_any_dbt_call(workspace: Workspace, unparsed_project: Path) -> None:
    """Point 10: a minimum free space no disk has fails naming the database folder."""
    error = _fails_in_preflight(workspace, unparsed_project, min_free_disk_mb=10**12)

    assert str(workspace.database_path.parent) in str(error)
    assert "MB" in str(error)
