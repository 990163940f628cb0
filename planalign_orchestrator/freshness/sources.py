"""Inputs from outside the dbt project that a scenario's overrides were derived from: a fit's history files.

A fitted scenario's overrides are what its census history showed when it was fitted
(scenarios.FitProvenance records each file's content digest). When a history file
changes, the overrides no longer describe it, so every year simulated from them is
stale, whatever its build record says, and simulating again cannot help: only a new
fit (under a new name) can. Files are compared by content, as every input is: touching
a file without changing its bytes changes nothing.
"""

from __future__ import annotations

from pathlib import Path

from planalign_orchestrator.freshness.inputs import ABSENT, FileDigests
from planalign_orchestrator.scenarios import FitProvenance


def history_changes(provenance: FitProvenance, root: Path) -> str | None:
    """Why a fitted scenario's history no longer matches its fit, in words; None while every file is as fitted."""
    changed, missing = [], []
    for source in provenance.sources:
        digest = FileDigests.digest(source.resolve(root))
        if digest == ABSENT:
            missing.append(Path(source.path).name)
        elif digest != source.digest:
            changed.append(Path(source.path).name)
    if not changed and not missing:
        return None
    parts = []
    if changed:
        parts.append(f"history file {', '.join(changed)} changed")
    if missing:
        parts.append(f"history file {', '.join(missing)} is missing")
    when = f" since the fit on {provenance.fitted_at}" if provenance.fitted_at else " since the fit"
    return " and ".join(parts) + when + " (fit again under a new name)"
