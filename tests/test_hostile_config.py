"""A config PyYAML would read silently wrong, or crash on, is refused clearly (issue 15, defect 7).

The refusals come through the console script as a user meets them: exit 2, the file
named, a fix, no traceback, and nothing created.
"""

from __future__ import annotations

import pytest

from planalign_orchestrator.config import default_config_yaml, load_config
from planalign_orchestrator.exceptions import ConfigurationError, SimulationError
from planalign_orchestrator.factory import create_orchestrator
from planalign_orchestrator.workspace import Workspace

ALIAS_BOMB = (
    'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "simulation: [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
)


def _refused(planalign_cli, workspace: Workspace, *args: str):
    result = planalign_cli(*args, "--workspace", str(workspace.root))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert str(workspace.config_path) in result.stderr
    assert "To fix:" in result.stderr
    assert not workspace.database_path.exists()
    return result


@pytest.mark.parametrize("text", ["", "# only a comment\n\n"], ids=["empty", "comments-only"])
def test_empty_config_is_refused_naming_the_sections(workspace: Workspace, planalign_cli, text: str) -> None:
    workspace.config_path.write_text(text)

    result = _refused(planalign_cli, workspace, "status")

    assert (
        "simulation, workforce, compensation, plan, eligibility, vesting, balances, forfeitures, match, core, "
        "safe_harbor, compliance, paths" in result.stderr
    )
    assert "planalign init" in result.stderr


def test_duplicated_key_is_refused_naming_the_key_and_both_lines(workspace: Workspace, planalign_cli) -> None:
    text = default_config_yaml().replace("  random_seed: 42", "  random_seed: 42\n  random_seed: 7", 1)
    workspace.config_path.write_text(text)

    result = _refused(planalign_cli, workspace, "simulate", "2025")

    assert "'random_seed' twice" in result.stderr
    assert "line 5" in result.stderr
    assert "line 6" in result.stderr


def test_non_utf8_byte_is_refused_naming_the_file_and_the_byte_offset(workspace: Workspace, planalign_cli) -> None:
    text = default_config_yaml().encode().replace(b"census: census.csv", b"census: b\xe9b\xe9.csv")
    workspace.config_path.write_bytes(text)
    offset = text.index(b"\xe9")

    result = _refused(planalign_cli, workspace, "init")

    assert f"byte offset {offset}" in result.stderr
    assert "0xe9" in result.stderr
    assert "UTF-8" in result.stderr


def test_yaml_alias_bomb_is_refused_with_a_short_message(workspace: Workspace, planalign_cli) -> None:
    workspace.config_path.write_text(ALIAS_BOMB)

    result = _refused(planalign_cli, workspace, "status")

    assert "alias" in result.stderr
    assert len(result.stderr) < 2_000


def test_long_bad_values_are_cut_in_error_messages(workspace: Workspace) -> None:
    text = default_config_yaml().replace("  random_seed: 42", f"  random_seed: {'x' * 100_000}", 1)
    workspace.config_path.write_text(text)

    with pytest.raises(ConfigurationError) as caught:
        load_config(workspace.config_path)

    assert caught.value.key == "simulation.random_seed"
    assert "characters)" in str(caught.value)
    assert len(str(caught.value)) < 2_000


def test_small_anchors_and_aliases_still_work(workspace: Workspace) -> None:
    text = default_config_yaml().replace("  termination_rate: 0.12", "  termination_rate: &rate 0.12", 1)
    text = text.replace("  new_hire_termination_rate: 0.25", "  new_hire_termination_rate: *rate", 1)
    workspace.config_path.write_text(text)

    config = load_config(workspace.config_path)

    assert config.workforce.new_hire_termination_rate == 0.12


def test_year_range_beyond_the_config_bounds_is_refused_before_anything_is_written(tmp_path, planalign_cli) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()

    result = planalign_cli("simulate", "2025-9999", cwd=empty, timeout=120)

    assert result.returncode == 2, result.stdout + result.stderr
    assert "9999" in result.stderr
    assert "2000-2100" in result.stderr
    assert list(empty.iterdir()) == []


def test_api_year_range_beyond_the_config_bounds_is_refused_before_the_hooks_run(workspace: Workspace) -> None:
    orchestrator = create_orchestrator(workspace.config)

    with pytest.raises(SimulationError, match="2000-2100"):
        orchestrator.execute_multi_year_simulation(2025, 2101)

    assert not workspace.database_path.exists()
