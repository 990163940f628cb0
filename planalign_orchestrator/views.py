"""The read-only views the faces render, in one public module beside the session.

What a session method returns (a workspace's status, a build plan, a run's summary, a
comparison, an ensemble's result, a study's result) and the catalogues a face lays out (the metrics with
their labels and formats, the levers with their ranges, the fields of the structured
step log) are defined deeper in the engine; a face imports them from here, so the
import contract can hold it to the session, this module, the progress vocabulary and
the exceptions.
"""

from planalign_orchestrator.calibration.results import BacktestResult, ExperienceStudy, FitResult, FittedValue
from planalign_orchestrator.comparison import Comparison
from planalign_orchestrator.compliance import ComplianceReport, ComplianceTest
from planalign_orchestrator.ensemble.result import BandTable, EnsembleResult
from planalign_orchestrator.freshness.checker import YearStatus
from planalign_orchestrator.freshness.report import BuildPlan, PlannedTable, PlannedYear, WorkspaceStatus
from planalign_orchestrator.levers import (
    DESIGN_KEYS,
    LEVERS,
    MATCH_DESIGNS,
    MATCH_TIERS,
    SINGLE_TIER,
    SINGLE_TIER_KEYS,
    Bound,
    Lever,
    describe_match,
    describe_match_design,
    unused_levers,
)
from planalign_orchestrator.metrics import KEY_METRICS, METRICS, Metric, metric
from planalign_orchestrator.optimize.result import OptimizationResult, TrialRecord
from planalign_orchestrator.optimize.space import Dimension
from planalign_orchestrator.optimize.spec import Constraint, Objective, StudySpec, Term
from planalign_orchestrator.pipeline.results import SimulationSummary, YearSummary
from planalign_orchestrator.scenarios import OverrideChange, Scenario
from planalign_orchestrator.self_healing.step_log import STEP_FIELDS, StructuredFormatter
from planalign_orchestrator.tables import TableStatus

__all__ = [
    "DESIGN_KEYS",
    "KEY_METRICS",
    "LEVERS",
    "MATCH_DESIGNS",
    "MATCH_TIERS",
    "METRICS",
    "SINGLE_TIER",
    "SINGLE_TIER_KEYS",
    "STEP_FIELDS",
    "BacktestResult",
    "BandTable",
    "Bound",
    "BuildPlan",
    "Comparison",
    "ComplianceReport",
    "ComplianceTest",
    "Constraint",
    "Dimension",
    "EnsembleResult",
    "ExperienceStudy",
    "FitResult",
    "FittedValue",
    "Lever",
    "Metric",
    "Objective",
    "OptimizationResult",
    "OverrideChange",
    "PlannedTable",
    "PlannedYear",
    "Scenario",
    "SimulationSummary",
    "StructuredFormatter",
    "StudySpec",
    "TableStatus",
    "Term",
    "TrialRecord",
    "WorkspaceStatus",
    "YearStatus",
    "YearSummary",
    "describe_match",
    "describe_match_design",
    "metric",
    "unused_levers",
]
