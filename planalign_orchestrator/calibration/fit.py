"""The fit: assumptions that reproduce a history, as a scenario's overrides, each with its interval and its data.

What is fitted, and how (every value is credibility-weighted toward the current
assumption, calibration.statistics, so a thin cell moves it little):

    workforce.termination_rate          experienced separations (terminations and retirements) over
                                        the employee-years at risk: the model calibrates to it
    assumptions.tenure_termination_multipliers, age_termination_multipliers,
    level_termination_factors           one Poisson regression of terminations on tenure band, age
                                        band and level (and year, since the model recalibrates its
                                        base every year), offset by the current expected terminations:
                                        each coefficient adjusts a current multiplier; bands too thin
                                        to estimate keep theirs
    assumptions.retirement_rates        retirements by age (needs termination_reason in the history)
    workforce.new_hire_termination_rate the hazard of leaving over the time hires were employed
    assumptions.promotion_probabilities promotions by level (the top level is never promoted)
    simulation.target_growth_rate       the mean yearly headcount growth (a plan target; the history's)
    plan.opt_out_rate                   hires not enrolled (with auto-enrolment)
    plan.escalation_opt_out_rate        eligible participants not escalated (with auto-escalation)

Raises are studied but not fitted: the model spreads the merit budget by compa-ratio
and caps it at the range maximum, so a realised raise is not the budget; set
compensation.merit_rate by hand from the study's raises table.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from planalign_orchestrator.assumption_tables import (
    AGE_MULTIPLIERS,
    LEVEL_FACTORS,
    PROMOTION_PROBABILITIES,
    RETIREMENT_RATES,
    TENURE_MULTIPLIERS,
    AssumptionTable,
)
from planalign_orchestrator.calibration.expected import CurrentAssumptions
from planalign_orchestrator.calibration.history import CensusHistory
from planalign_orchestrator.calibration.results import (
    ENROLLMENT,
    ESCALATIONS,
    MULTIPLIER_DECIMALS,
    NEW_HIRE_TERMINATIONS,
    PROMOTIONS,
    RATE_DECIMALS,
    RETIREMENTS_BY_AGE,
    SEPARATIONS,
    ExperienceStudy,
    FitResult,
    FittedValue,
)
from planalign_orchestrator.calibration.statistics import (
    Z95,
    is_small,
    poisson_adjustments,
    shrink_adjustments,
    t_interval,
)
from planalign_orchestrator.freshness.inputs import FileDigests
from planalign_orchestrator.scenarios import FitProvenance, HistorySource


def default_name(history: CensusHistory) -> str:
    """A fitted scenario's name when none is given: fitted_<year of the last snapshot>."""
    return f"fitted_{history.snapshots[-1].as_of.year}"


def provenance_of(history: CensusHistory, root: Path) -> FitProvenance:
    """The history files, dates and content digests a fit came from (paths relative to the workspace inside it)."""
    sources = []
    for snapshot in history.snapshots:
        path = snapshot.path.resolve()
        try:
            shown = str(path.relative_to(root.resolve()))
        except ValueError:
            shown = str(path)
        sources.append(HistorySource(shown, snapshot.as_of.isoformat(), FileDigests.digest(path)))
    return FitProvenance(tuple(sources), datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))


def fit_history(study: ExperienceStudy, history: CensusHistory, current: CurrentAssumptions) -> FitResult:
    """Every fitted value (see the module) and the overrides that put them into a scenario."""
    values: list[FittedValue] = []
    overrides: dict[str, Any] = {}
    notes: list[str] = []
    config = current.config

    values.append(
        _single(study, SEPARATIONS, "workforce.termination_rate", config.workforce.termination_rate, "separations")
    )
    overrides["workforce.termination_rate"] = values[-1].fitted

    for table, fitted in _multipliers(study, current):
        values.extend(fitted)
        overrides[table.key] = [value.fitted for value in fitted]

    if history.has_reasons:
        fitted = _rate_table(
            study,
            RETIREMENTS_BY_AGE,
            RETIREMENT_RATES,
            [str(age) for age in current.retirement_ages],
            list(current.retirement_rates),
            "retirements",
        )
        values.extend(fitted)
        overrides[RETIREMENT_RATES.key] = [value.fitted for value in fitted]
    else:
        notes.append("Retirement rates are not fitted: the history has no termination_reason column.")

    nh = _row(study.table(NEW_HIRE_TERMINATIONS), "all hires")
    values.append(
        _value(
            "workforce.new_hire_termination_rate",
            "",
            config.workforce.new_hire_termination_rate,
            nh,
            "new-hire leavers over the years hires were employed (hazard)",
            RATE_DECIMALS,
        )
    )
    overrides["workforce.new_hire_termination_rate"] = values[-1].fitted

    year = history.snapshots[-1].as_of.year
    levels = [f"{i} {n}".strip() for i, n in zip(current.level_ids, current.level_names, strict=True)]
    promotions = study.table(PROMOTIONS)
    rates = current.promotion_rates(year)
    fitted_promotions = []
    for level, name, rate in zip(current.level_ids, levels, rates, strict=True):
        if level >= current.top_level or name not in promotions.index:
            fitted_promotions.append(_kept(PROMOTION_PROBABILITIES.key, name, rate, "the top level is never promoted"))
        else:
            fitted_promotions.append(
                _value(PROMOTION_PROBABILITIES.key, name, rate, _row(promotions, name), "promotions", RATE_DECIMALS)
            )
    values.extend(fitted_promotions)
    overrides[PROMOTION_PROBABILITIES.key] = [value.fitted for value in fitted_promotions]
    if config.compensation.promotion_probability is not None:
        overrides["compensation.promotion_probability"] = None  # the per-level list replaces it

    growth = _growth(history, config.simulation.target_growth_rate)
    values.append(growth)
    overrides["simulation.target_growth_rate"] = growth.fitted

    if ENROLLMENT in study.tables:
        enrolled = study.table(ENROLLMENT).iloc[0]
        values.append(_complement("plan.opt_out_rate", config.plan.opt_out_rate, enrolled, "hires"))
        overrides["plan.opt_out_rate"] = values[-1].fitted
    if ESCALATIONS in study.tables:
        escalated = study.table(ESCALATIONS).iloc[0]
        values.append(
            _complement(
                "plan.escalation_opt_out_rate", config.plan.escalation_opt_out_rate, escalated, "eligible participants"
            )
        )
        overrides["plan.escalation_opt_out_rate"] = values[-1].fitted
    notes.append(
        "Raises are studied, not fitted (the model spreads merit by compa-ratio and caps it at the range "
        "maximum): see the study's raises table and set compensation.merit_rate by hand."
    )
    return FitResult(
        scenario="",
        history=history.describe(),
        overrides=overrides,
        values=tuple(values),
        study=study,
        notes=tuple(notes),
        base_scenario=config.scenario,
    )


def _value(key: str, item: str, current: float, row: pd.Series, what: str, decimals: int) -> FittedValue:
    """A fitted value from a study row (its credibility-weighted rate and interval)."""
    exposure, events = float(row["exposure"]), float(row["actual"])
    small = bool(row["small"])
    fitted = float(row["fitted_rate"]) if exposure > 0 else current
    basis = (
        f"{events:,.0f} {what} in {exposure:,.0f} at risk, actual {float(row['actual_rate']):.2%}"
        if exposure
        else "no data"
    )
    return FittedValue(
        key,
        item,
        float(current),
        round(fitted, decimals),
        float(row["fitted_lower"]) if exposure > 0 else current,
        float(row["fitted_upper"]) if exposure > 0 else current,
        exposure,
        events,
        float(row["credibility"]) if exposure > 0 else 0.0,
        small,
        basis,
    )


def _row(frame: pd.DataFrame, item: str) -> pd.Series:
    """One group's row of a study table (indexed by its group)."""
    row: Any = frame.loc[item]
    return cast("pd.Series", row)


def _kept(key: str, item: str, current: float, why: str) -> FittedValue:
    return FittedValue(
        key, item, float(current), float(current), float(current), float(current), 0.0, 0.0, 0.0, True, why
    )


def _single(study: ExperienceStudy, table: str, key: str, current: float, what: str) -> FittedValue:
    return _value(key, "", current, study.table(table).iloc[0], what, RATE_DECIMALS)


def _complement(key: str, current: float, row: pd.Series, what: str) -> FittedValue:
    """A fitted opt-out share: one minus the fitted share of those who did not opt out."""
    base = _value(key, "", 1 - current, row, what, RATE_DECIMALS)
    opted_out = base.exposure - base.events
    share = opted_out / base.exposure if base.exposure else float("nan")
    return FittedValue(
        key,
        "",
        float(current),
        round(1 - base.fitted, RATE_DECIMALS),
        1 - base.upper,
        1 - base.lower,
        base.exposure,
        opted_out,
        base.credibility,
        base.small,
        f"{opted_out:,.0f} of {base.exposure:,.0f} {what} opted out, actual {share:.2%}"
        if base.exposure
        else "no data",
    )


def _rate_table(
    study: ExperienceStudy,
    name: str,
    table: AssumptionTable,
    items: list[str],
    current: list[float],
    what: str,
) -> list[FittedValue]:
    frame = study.table(name)
    fitted = []
    for item, rate in zip(items, current, strict=True):
        if item in frame.index and float(_row(frame, item)["exposure"]) > 0:
            fitted.append(_value(table.key, item, rate, _row(frame, item), what, RATE_DECIMALS))
        else:
            fitted.append(_kept(table.key, item, rate, "no one at risk"))
    return fitted


def _growth(history: CensusHistory, current: float) -> FittedValue:
    headcount = history.experience.headcount
    growth = headcount["growth"].to_numpy(dtype=float)
    low, high = t_interval(growth)
    mean = float(np.mean(growth))
    shown = ", ".join(f"{g:.2%}" for g in growth)
    return FittedValue(
        "simulation.target_growth_rate",
        "",
        float(current),
        round(mean, RATE_DECIMALS),
        low,
        high,
        float(len(growth)),
        float(headcount["active_end"].iloc[-1] - headcount["active_start"].iloc[0]),
        1.0,
        len(growth) < 2,
        f"mean yearly headcount growth over {len(growth)} interval(s) ({shown}); a plan target",
    )


def _multipliers(
    study: ExperienceStudy, current: CurrentAssumptions
) -> list[tuple[AssumptionTable, list[FittedValue]]]:
    """Tenure, age and level termination multipliers from one Poisson regression (see the module)."""
    people = study.experienced
    people = people[people["expected_termination"] > 0]
    factors = (
        (
            TENURE_MULTIPLIERS,
            current.tenure.index(people["tenure"]),
            list(current.tenure.labels),
            current.tenure.values,
        ),
        (AGE_MULTIPLIERS, current.age.index(people["age"]), list(current.age.labels), current.age.values),
        (
            LEVEL_FACTORS,
            np.searchsorted(np.array(current.level_ids), people["level_id"].to_numpy()),
            [f"{i} {n}".strip() for i, n in zip(current.level_ids, current.level_names, strict=True)],
            current.level_factors,
        ),
    )
    keys = pd.DataFrame(
        {
            "interval": people["interval"].to_numpy(),
            "tenure": factors[0][1],
            "age": factors[1][1],
            "level": factors[2][1],
            "exposure": people["exposure"].to_numpy(),
            "events": people["terminated"].astype(float).to_numpy(),
            "expected": (people["expected_termination"] * people["exposure"]).to_numpy(),
        }
    )
    cells = keys.groupby(["interval", "tenure", "age", "level"], as_index=False)[
        ["exposure", "events", "expected"]
    ].sum()
    totals, estimable = [], []
    for column, (_table, _index, labels, _values) in zip(("tenure", "age", "level"), factors, strict=True):
        band = (
            keys.groupby(column)[["exposure", "events", "expected"]].sum().reindex(range(len(labels)), fill_value=0.0)
        )
        totals.append(band)
        estimable.append(~is_small(band["exposure"], band["events"], band["expected"]))
    fits = poisson_adjustments(
        cells["events"],
        np.log(cells["expected"].to_numpy()),
        cells["interval"],
        [cells[column] for column in ("tenure", "age", "level")],
        [len(f[2]) for f in factors],
        [band["exposure"].to_numpy() for band in totals],
        estimable,
    )
    results = []
    for (table, _index, labels, values), fit, band in zip(factors, fits, totals, strict=True):
        shrunk = shrink_adjustments(fit)
        fitted = []
        for position, label in enumerate(labels):
            m0 = float(values[position])
            exposure, events = float(band["exposure"].iloc[position]), float(band["events"].iloc[position])
            if not fit.fitted[position]:
                why = "too little data: kept" if exposure else "no one at risk: kept"
                fitted.append(
                    FittedValue(
                        table.key,
                        label,
                        m0,
                        m0,
                        m0,
                        m0,
                        exposure,
                        events,
                        0.0,
                        True,
                        f"{events:,.0f} terminations in {exposure:,.0f}; {why}",
                    )
                )
                continue
            adjustment, sd = float(shrunk.adjustment[position]), float(shrunk.std_dev[position])
            fitted.append(
                FittedValue(
                    table.key,
                    label,
                    m0,
                    round(m0 * np.exp(adjustment), MULTIPLIER_DECIMALS),
                    m0 * float(np.exp(adjustment - Z95 * sd)),
                    m0 * float(np.exp(adjustment + Z95 * sd)),
                    exposure,
                    events,
                    float(shrunk.weight[position]),
                    False,
                    f"{events:,.0f} terminations in {exposure:,.0f} at risk (Poisson fit by tenure, age and level)",
                )
            )
        results.append((table, fitted))
    return results


def write_report(result: FitResult, path: Path) -> Path:
    """The change report as CSV: one row per fitted value with its interval and the data behind it."""
    result.changes.to_csv(path, index=False, float_format="%.6g")
    return path
