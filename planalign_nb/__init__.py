"""PlanAlign in Jupyter: table status, live initialization progress, simulations and scenarios.

    import planalign_nb as nb
    nb.status("my_workspace")              # tables by tier and years, with why; "Build 2 missing, rebuild 3 stale"
    result = nb.initialize("my_workspace")  # live step progress; returns InitializationResult
    run = nb.simulate("my_workspace", 2025, 2027)
    run.summary, run.snapshot, run.events, run.plot()
    ens = nb.ensemble("my_workspace", 2025, 2029, seeds=100)   # seed ensemble: ens.fan_chart(), ens.bands
    study = nb.experience_study("my_workspace", "history/")    # actual vs expected: study.chart()
    fitted = nb.fit("my_workspace", "history/", scenario="fitted")   # a new scenario, with its report
    bt = nb.backtest("my_workspace", "history/", 2026, seeds=20, scenario="fitted")  # bt.scorecard, bt.chart()
    opt = nb.optimize("my_workspace", ["min employer_cost_rate"], ["participation_rate >= 0.8"],
                      {"plan.opt_out_rate": (0, 0.6, 0.02)}, trials=15, seeds=10)  # opt.chart(), opt.scenarios

or `%load_ext planalign_nb` and `%planalign status|init|simulate 2025-2027`.

A thin face over planalign_orchestrator: the engine checks, builds and simulates and
reports through progress events; the widgets show those events, and each leaves a
static record in the notebook: progress views when their work is done, and every view
in the saved notebook (planalign_nb.saving, also a Jupyter server extension).
Importing this package does not import dbt.
"""

from planalign_nb.api import (
    compare,
    compliance,
    initialize,
    levers,
    open_workspace,
    plan,
    scenarios,
    simulate,
    status,
    step_log,
)
from planalign_nb.calibration import (
    BacktestView,
    ExperienceStudyView,
    FitView,
    backtest,
    experience_study,
    fit,
    generate_history,
)
from planalign_nb.charts import chart_style
from planalign_nb.comparison import ScenarioComparison
from planalign_nb.ensemble import EnsembleView, ensemble
from planalign_nb.levers import LeversWidget
from planalign_nb.magics import load_ipython_extension
from planalign_nb.optimize import OptimizationProgress, OptimizationView, optimize
from planalign_nb.progress_widget import InitializationProgress
from planalign_nb.rendering import Snapshot
from planalign_nb.results import SimulationResult
from planalign_nb.simulation_widget import SimulationProgress
from planalign_nb.status_widget import TableStatusWidget
from planalign_orchestrator.progress import ItemState


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """The Jupyter server extension: notebooks are saved with the records of their live views."""
    return [{"module": "planalign_nb.saving"}]


__all__ = [
    "BacktestView",
    "EnsembleView",
    "ExperienceStudyView",
    "FitView",
    "InitializationProgress",
    "ItemState",
    "LeversWidget",
    "OptimizationProgress",
    "OptimizationView",
    "ScenarioComparison",
    "SimulationProgress",
    "SimulationResult",
    "Snapshot",
    "TableStatusWidget",
    "backtest",
    "chart_style",
    "compare",
    "compliance",
    "ensemble",
    "experience_study",
    "fit",
    "generate_history",
    "initialize",
    "levers",
    "load_ipython_extension",
    "open_workspace",
    "optimize",
    "plan",
    "scenarios",
    "simulate",
    "status",
    "step_log",
]
