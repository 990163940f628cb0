"""No user string is rendered as Jinja, spliced into SQL or run by a shell (issue 15, defects 1, 2, 3, 11).

A workspace folder and a census file named with template syntax, quotes, a command
substitution, spaces and an accent are simulated on real dbt and DuckDB: they give
the same results as a plainly named workspace, and nothing else runs.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from planalign_orchestrator.config import CONFIG_FILE_NAME, default_config_yaml, load_config
from planalign_orchestrator.exceptions import ConfigurationError, DbtError
from planalign_orchestrator.factory import create_dbt_runner, create_orchestrator
from planalign_orchestrator.workspace import BUNDLED_CENSUS, Workspace, dbt_project_dir
from tests.support.helpers import ALL_REQUIRED, query, table_names

HOSTILE_FOLDER = "Q3 {{ 1 + 1 }} it's $(touch pwned) DROP é"
# Would create a table if dbt rendered the path; the quotes and parentheses are legal in a file name.
HOSTILE_CENSUS = "census {{ run_query('create table pwned as select 1') }} $(touch pwned) é.csv"
SNAPSHOT = "select * from main.fct_workforce_snapshot where simulation_year = 2025 order by employee_id"


def _hostile_workspace(parent: Path) -> Workspace:
    root = parent / HOSTILE_FOLDER
    root.mkdir(parents=True)
    shutil.copyfile(BUNDLED_CENSUS, root / HOSTILE_CENSUS)
    config = yaml.safe_load(default_config_yaml())
    config["paths"]["census"] = HOSTILE_CENSUS
    (root / CONFIG_FILE_NAME).write_text(yaml.safe_dump(config))
    return Workspace.open(root, create=False)


def _no_stray_file(*folders: Path) -> None:
    for folder in folders:
        assert list(folder.rglob("pwned")) == [], f"a shell ran $(touch pwned) in {folder}"


@pytest.mark.dbt
def test_hostile_folder_and_census_names_simulate_exactly_like_plain_ones(
    simulated_template: Path, tmp_path: Path
) -> None:
    """Defect 1: `{{ }}`, quotes, `$( )`, spaces and é in paths are data, never template code or SQL."""
    workspace = _hostile_workspace(tmp_path)

    create_orchestrator(workspace.config).execute_multi_year_simulation(2025, 2025)

    db_path = workspace.database_path
    assert db_path.parent.name == HOSTILE_FOLDER
    expected_tables = table_names(simulated_template / "simulation.duckdb")
    assert table_names(db_path) == expected_tables
    assert "pwned" not in table_names(db_path)
    assert set(ALL_REQUIRED) <= expected_tables
    assert query(db_path, SNAPSHOT) == query(simulated_template / "simulation.duckdb", SNAPSHOT)
    _no_stray_file(tmp_path, Path.cwd())


@pytest.mark.dbt
def test_reproduce_command_pasted_into_a_shell_reruns_exactly_the_failing_invocation(tmp_path: Path) -> None:
    """Defects 2 and 11: the printed command is shell-quoted, round-trips, and names the command that ran.

    The failure is real: the baseline model is run before any seed was loaded.
    """
    workspace = _hostile_workspace(tmp_path)
    dbt = str(Path(sys.executable).with_name("dbt"))
    runner = create_dbt_runner(workspace.config, workspace.database_path, dbt_executable=dbt)
    year_vars = workspace.config.dbt_vars(2025)

    with pytest.raises(DbtError) as caught:
        runner.run(["int_baseline_workforce"], vars=year_vars)

    error = caught.value
    pasted = subprocess.run(["bash", "-c", error.command], cwd=tmp_path, capture_output=True, text=True, timeout=300)

    _no_stray_file(tmp_path)
    assert pasted.returncode == 1, pasted.stdout + pasted.stderr
    assert "config_job_levels does not exist" in pasted.stdout
    words = shlex.split(error.command)
    assert words[:2] == [
        f"PLANALIGN_DB_PATH={workspace.database_path}",
        f"PLANALIGN_CENSUS_PATH={workspace.config.census_path}",
    ]
    assert words[2:6] == [dbt, "run", "--select", "int_baseline_workforce"]
    assert words[words.index("--project-dir") + 1] == str(dbt_project_dir())
    assert json.loads(words[words.index("--vars") + 1]) == year_vars
    assert error.message.startswith("dbt run failed at node 'int_baseline_workforce'")
    assert "config_job_levels does not exist" in error.message


def test_template_text_in_a_dbt_var_is_refused_before_dbt_runs(workspace: Workspace) -> None:
    """Defect 1: a text var would be rendered by dbt as Jinja; it is refused, naming the var."""
    runner = create_dbt_runner(workspace.config, workspace.database_path)

    with pytest.raises(ConfigurationError) as caught:
        runner.run(["tag:yearly"], vars={"scenario_name": "Q3 {{ run_query('drop table x') }}"})

    assert caught.value.key == "scenario_name"
    assert "Jinja" in str(caught.value)
    assert not workspace.database_path.exists()


@pytest.mark.parametrize("name", ["it's db.duckdb", 'the "best" db.duckdb'])
def test_database_file_name_dbt_duckdb_cannot_quote_is_refused_by_config_validation(
    workspace: Workspace, name: str
) -> None:
    """Defect 3: refused at validation, saying why, instead of failing deep in dbt-duckdb's SQL."""
    config = yaml.safe_load(workspace.config_path.read_text())
    config["paths"]["database"] = name
    workspace.config_path.write_text(yaml.safe_dump(config))

    with pytest.raises(ConfigurationError) as caught:
        load_config(workspace.config_path)

    assert caught.value.key == "paths.database"
    assert "catalog name" in str(caught.value)
    assert not (workspace.root / name).exists()
