"""A bad config is refused before anything is written, naming the key, the value and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from planalign_orchestrator.config import CONFIG_FILE_NAME, load_config, validate_config
from planalign_orchestrator.exceptions import ConfigurationError
from planalign_orchestrator.factory import create_orchestrator
from planalign_orchestrator.workspace import Workspace


def _edit_config(workspace: Workspace, section: str, key: str, value: object) -> Path:
    path = workspace.root / CONFIG_FILE_NAME
    raw = yaml.safe_load(path.read_text())
    raw.setdefault(section, {})[key] = value
    path.write_text(yaml.safe_dump(raw))
    return path


def _database_fingerprint(workspace: Workspace) -> bytes | None:
    path = workspace.database_path
    return path.read_bytes() if path.exists() else None


BAD_CONFIGS = [
    pytest.param(
        "workforce",
        "termination_rat",
        0.1,
        "workforce.termination_rat",
        "workforce.termination_rate",
        id="unknown-key-suggests-closest",
    ),
    pytest.param("workforce", "termination_rate", 1.2, "workforce.termination_rate", "< 1.0", id="rate-above-range"),
    pytest.param("plan", "opt_out_rate", -0.1, "plan.opt_out_rate", ">= 0.0", id="rate-below-range"),
    pytest.param("simulation", "end_year", 2020, "simulation.end_year", "start_year", id="end-before-start"),
    pytest.param("simulation", "random_seed", "forty-two", "simulation.random_seed", "int", id="wrong-type"),
    pytest.param(
        "paths", "census", "no_such_census.csv", "paths.census", "planalign census generate", id="missing-census"
    ),
    pytest.param("workforce", "max_working_age", 30, "workforce.max_working_age", ">= 50", id="working-age-too-low"),
    pytest.param("plan", "escalation_cap", 0.5, "plan.escalation_cap", "<= 0.15", id="escalation-cap-above-15pct"),
    pytest.param(
        "plan",
        "match_tiers",
        [{"rate": 1.0, "up_to": 0.05}, {"rate": 0.5, "up_to": 0.03}],
        "plan.match_tiers",
        "tier 2 up_to must be above 0.05",
        id="match-tiers-not-rising",
    ),
]


@pytest.mark.parametrize(("section", "key", "value", "named_key", "fix_hint"), BAD_CONFIGS)
def test_bad_config_is_refused_with_key_value_and_fix(
    workspace: Workspace, section: str, key: str, value: object, named_key: str, fix_hint: str
) -> None:
    config_path = _edit_config(workspace, section, key, value)
    before = _database_fingerprint(workspace)

    with pytest.raises(ConfigurationError) as caught:
        create_orchestrator(config_path)

    error = caught.value
    assert error.key == named_key
    assert named_key in str(error)
    assert repr(value) in str(error) or str(value) in str(error)
    assert fix_hint in error.remediation
    assert _database_fingerprint(workspace) == before


def test_bad_config_leaves_an_initialized_database_byte_identical(initialized_workspace: Workspace) -> None:
    before = _database_fingerprint(initialized_workspace)
    config_path = _edit_config(initialized_workspace, "simulation", "target_growth_rate", 5)

    with pytest.raises(ConfigurationError, match=r"simulation\.target_growth_rate"):
        create_orchestrator(config_path)

    assert _database_fingerprint(initialized_workspace) == before


def test_invalid_yaml_names_the_file(workspace: Workspace) -> None:
    path = workspace.root / CONFIG_FILE_NAME
    path.write_text("simulation: [unclosed\n")

    with pytest.raises(ConfigurationError) as caught:
        load_config(path)

    assert str(path) in str(caught.value)
    assert "YAML" in str(caught.value)


def test_new_workspace_gets_default_config_and_bundled_census(tmp_path: Path) -> None:
    workspace = Workspace.open(tmp_path / "fresh")

    assert workspace.config_path.is_file()
    assert workspace.config.census_path == (tmp_path / "fresh" / "census.csv").resolve()
    assert sum(1 for _ in workspace.config.census_path.open()) == 5_001
    assert workspace.database_path.parent == (tmp_path / "fresh").resolve()
    assert not workspace.database_path.exists()


def test_config_paths_are_relative_to_the_config_file(workspace: Workspace, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    config = load_config(workspace.config_path)

    assert config.workspace_dir == workspace.root
    assert config.census_path == workspace.root / "census.csv"
    assert config.database_path == workspace.root / "simulation.duckdb"
    assert config.dbt_vars(2026)["simulation_year"] == 2026


def test_a_match_given_both_as_tiers_and_as_another_rate_and_cap_is_refused(workspace: Workspace) -> None:
    _edit_config(workspace, "plan", "match_rate", 1.0)
    _edit_config(workspace, "plan", "match_cap", 0.04)
    config_path = _edit_config(workspace, "plan", "match_tiers", [{"rate": 1.0, "up_to": 0.03}])

    with pytest.raises(ConfigurationError) as caught:
        load_config(config_path)

    assert caught.value.key == "plan"
    assert "either match_tiers or match_rate/match_cap" in str(caught.value)
    assert "remove match_cap, match_rate" in caught.value.remediation


def test_single_tier_and_tiered_match_reach_dbt(workspace: Workspace) -> None:
    raw = yaml.safe_load(workspace.config_path.read_text())
    single = validate_config(raw, workspace_dir=workspace.root)
    raw["plan"].pop("match_rate")
    raw["plan"].pop("match_cap")
    raw["plan"]["match_tiers"] = [{"rate": 1.0, "up_to": 0.03}, {"rate": 0.5, "up_to": 0.05}]
    tiered = validate_config(raw, workspace_dir=workspace.root)

    assert {k: single.dbt_vars()[k] for k in ("match_rate", "match_cap", "match_tiers")} == {
        "match_rate": 0.5,
        "match_cap": 0.06,
        "match_tiers": None,
    }
    assert tiered.dbt_vars()["match_tiers"] == [{"rate": 1.0, "up_to": 0.03}, {"rate": 0.5, "up_to": 0.05}]


def test_tiers_replace_the_default_single_tier_so_a_scenario_can_switch_formula(workspace: Workspace) -> None:
    from planalign_orchestrator.scenarios import ScenarioStore

    store = ScenarioStore(workspace)
    safe_harbor = [{"rate": 1.0, "up_to": 0.03}, {"rate": 0.5, "up_to": 0.05}]

    _scenario, config = store.save("safe_harbor", {"plan.match_tiers": safe_harbor})

    assert config.dbt_vars()["match_tiers"] == safe_harbor
