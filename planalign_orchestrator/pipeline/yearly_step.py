"""One simulated year: one dbt invocation of every yearly model, the step a single run and an ensemble share.

Year N reads year N-1's snapshot, so years run in order. A single run simulates the
config's random_seed; an ensemble passes its seeds and the same invocation simulates
every one of them side by side (each row carries its random_seed).
"""

from __future__ import annotations

from collections.abc import Sequence

from planalign_orchestrator.config import SimulationConfig
from planalign_orchestrator.dbt_runner import DbtInvocation, DbtRunner, NodeObserver
from planalign_orchestrator.freshness.inputs import Recipe
from planalign_orchestrator.freshness.recipes import ProjectRecipes

YEARLY_SELECTOR = "tag:yearly"
EVENTS_MODEL = "fct_yearly_events"
COLUMNS_CHECKED_VAR = "slice_columns_checked"  # read by the year_slice materialization


def run_year(
    runner: DbtRunner,
    config: SimulationConfig,
    year: int,
    *,
    seeds: Sequence[int] | None = None,
    with_events: bool = True,
    full_refresh: bool = False,
    columns_checked: bool = False,
    on_node: NodeObserver | None = None,
) -> DbtInvocation:
    """Simulate `year` of the config's scenario for its random_seed, or for every one of `seeds`.

    Without events the event log is not built: nothing else reads it (the metrics come
    from the snapshot), and it is a quarter of a year's time. `columns_checked` says an
    earlier year of the same run (same process, same parsed project) has brought the
    fact tables' columns in line with the models, so this year skips that check.
    """
    vars = config.dbt_vars(year)
    if seeds is not None:
        vars["random_seeds"] = list(seeds)
    if columns_checked:
        vars[COLUMNS_CHECKED_VAR] = True
    return runner.run(
        [YEARLY_SELECTOR],
        vars=vars,
        full_refresh=full_refresh,
        exclude=() if with_events else [EVENTS_MODEL],
        on_node=on_node,
    )


def yearly_recipe(runner: DbtRunner) -> Recipe:
    """What a simulated year is built from (files, vars, tables), from the runner's parsed project."""
    return ProjectRecipes(runner.project_nodes(), runner.base_vars).year()
