"""REQUIRED_TABLES agrees with the dbt project (acceptance point 15).

The project side comes from dbt itself: the parsed manifest (DbtRunner.project_nodes)
for tags and resource types, and the seeds folder for the CSVs.
"""

from __future__ import annotations

import pytest

from planalign_orchestrator.dbt_runner import DbtRunner, ProjectNode
from planalign_orchestrator.factory import create_dbt_runner
from planalign_orchestrator.tables import REQUIRED_TABLES, TableTier
from planalign_orchestrator.workspace import Workspace, dbt_project_dir
from tests.support.helpers import REQUIRED_FOUNDATION, REQUIRED_SEEDS


@pytest.fixture(scope="module")
def project_nodes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ProjectNode]:
    workspace = Workspace.open(tmp_path_factory.mktemp("nodes") / "workspace")
    runner: DbtRunner = create_dbt_runner(workspace.config, workspace.database_path)
    return runner.project_nodes()


def test_point15_required_tables_are_unique_and_select_themselves() -> None:
    """Point 15: one entry per table; the dbt selector of each is the table's own node."""
    names = [table.name for table in REQUIRED_TABLES]
    assert len(names) == len(set(names)) == 10
    assert all(table.dbt_selector == table.name for table in REQUIRED_TABLES)


def test_point15_every_required_seed_has_a_csv_and_every_csv_is_required() -> None:
    """Point 15: the seed tier and dbt/seeds/*.csv are the same set."""
    csvs = {path.stem for path in (dbt_project_dir() / "seeds").glob("*.csv")}

    assert set(REQUIRED_SEEDS) == csvs


@pytest.mark.dbt
def test_point15_every_required_seed_is_a_seed_of_the_parsed_project(project_nodes: dict[str, ProjectNode]) -> None:
    """Point 15: dbt itself knows each required seed as a seed."""
    for name in REQUIRED_SEEDS:
        assert name in project_nodes, f"{name} is not a node of the dbt project"
        assert project_nodes[name].resource_type == "seed"


@pytest.mark.dbt
def test_point15_every_foundation_table_is_a_model_tagged_foundation(project_nodes: dict[str, ProjectNode]) -> None:
    """Point 15: each FOUNDATION entry is a materialized model carrying the tag foundation."""
    for name in REQUIRED_FOUNDATION:
        node = project_nodes.get(name)
        assert node is not None, f"{name} is not a model of the dbt project"
        assert node.resource_type == "model"
        assert "foundation" in node.tags
        assert node.materialized in {"table", "year_table", "year_slice"}, f"{name} must leave a table behind"


@pytest.mark.dbt
def test_point15_every_model_tagged_foundation_is_required(project_nodes: dict[str, ProjectNode]) -> None:
    """Point 15: nothing tagged foundation is left out of REQUIRED_TABLES."""
    tagged = {
        node.name for node in project_nodes.values() if node.resource_type == "model" and "foundation" in node.tags
    }

    assert tagged == {t.name for t in REQUIRED_TABLES if t.tier is TableTier.FOUNDATION}


@pytest.mark.dbt
def test_point15_foundation_models_depend_only_on_seeds_foundation_and_staging(
    project_nodes: dict[str, ProjectNode],
) -> None:
    """Point 15: seeds -> foundation is a complete build order.

    Building the foundation tier needs nothing outside the required tiers (staging models
    are ephemeral and compiled inline).
    """
    required = {t.name for t in REQUIRED_TABLES}
    for name in REQUIRED_FOUNDATION:
        for parent in project_nodes[name].parents:
            assert parent in required or project_nodes[parent].materialized == "ephemeral", (name, parent)
