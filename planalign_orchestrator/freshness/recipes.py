"""Recipes from dbt's manifest: which files, vars, tables and census each build reads.

Dependencies come from the parsed project (DbtRunner.project_nodes), never from a
hand-kept list. Ephemeral models (the census staging model) are compiled into the
models that use them, so their files, vars and parents are folded into those models'
recipes. Which vars a build reads is found by looking for each var's name, quoted, in
its raw SQL and in the SQL of the macros it uses (as dbt recorded them): models and
macros always read vars as `var('name')`, `num_var('name', ...)` and the like, with
the name written out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from planalign_orchestrator.dbt_runner import ProjectNode
from planalign_orchestrator.freshness.inputs import Recipe
from planalign_orchestrator.tables import REQUIRED_TABLES

YEARLY_TAG = "yearly"
# The ephemeral staging model that reads the census file (see dbt/models/staging).
CENSUS_MODEL = "stg_census"


class ProjectRecipes:
    """Recipes of the required tables and of one simulated year, for one parsed project."""

    def __init__(self, nodes: Mapping[str, ProjectNode], var_names: Iterable[str]) -> None:
        self._nodes = nodes
        self._var_names = tuple(var_names)

    def table(self, name: str) -> Recipe:
        """The recipe of one required table (seed or foundation model)."""
        return self._fold([name], exclude_upstream=set())

    def tables(self) -> dict[str, Recipe]:
        return {table.name: self.table(table.name) for table in REQUIRED_TABLES}

    def year(self) -> Recipe:
        """What one `dbt run --select tag:yearly` reads: every yearly model, folded together."""
        yearly = [name for name, node in self._nodes.items() if YEARLY_TAG in node.tags]
        return self._fold(yearly, exclude_upstream=set(yearly))

    def _fold(self, names: list[str], *, exclude_upstream: set[str]) -> Recipe:
        files: set[str] = set()
        texts: list[str] = []
        upstream: set[str] = set()
        reads_census = False
        pending, seen = list(names), set()
        while pending:
            name = pending.pop()
            if name in seen or name not in self._nodes:
                continue
            seen.add(name)
            node = self._nodes[name]
            files.update(node.code_files)
            texts.extend(node.code_texts)
            reads_census = reads_census or name == CENSUS_MODEL
            for parent in node.parents:
                parent_node = self._nodes.get(parent)
                if parent_node is None or parent in exclude_upstream:
                    continue
                if parent_node.materialized == "ephemeral":
                    pending.append(parent)
                else:
                    upstream.add(parent)
        vars_read = sorted(name for name in self._var_names if _mentions(texts, name))
        return Recipe(
            files=tuple(sorted(files)),
            vars=tuple(vars_read),
            upstream=tuple(sorted(upstream)),
            reads_census=reads_census,
        )


def _mentions(texts: Iterable[str], var_name: str) -> bool:
    pattern = re.compile(rf"""['"]{re.escape(var_name)}['"]""")
    return any(pattern.search(text) for text in texts)
