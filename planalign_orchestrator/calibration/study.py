"""The experience study: what a workforce did, against what the current config expects of the same people.

Every table has one row per group (a tenure band, an age band, a level, ...) with
the data behind it and its statistics (calibration.statistics):

    exposure        employee-years at risk (hires: the people hired, or years employed for
                    the new-hire hazard)
    actual          events seen (leavers, promotions, ...)
    expected        events the current config expects of the same people
    actual_rate     actual / exposure, with its 95% interval lower .. upper (Wilson; Garwood
                    for the new-hire hazard; a bootstrap for raises, whose rate is a mean)
    expected_rate   expected / exposure
    ae              actual / expected, with ae_lower .. ae_upper (the rate's interval over
                    the expected rate)
    credibility     Z, the weight of the cell's own experience against the current assumption
    fitted_rate     Z x actual_rate + (1 - Z) x expected_rate, with fitted_lower .. fitted_upper
                    (the credibility posterior's 95% interval)
    small           too little exposure or too few events to move an assumption on its own

Terminations are the experienced leavers other than retirements and reductions in
force (and those missing from the later snapshot, whose reason is unknown); their rate
is the share of the people at risk on the interval's first day who leave that way, the
model's (1 - p_retire) x p_terminate. Retirements are studied by age; new-hire
terminations as a hazard over the time employed (a late hire has weeks to leave).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from planalign_orchestrator.calibration.expected import DAYS_PER_YEAR, NO_BAND, CurrentAssumptions
from planalign_orchestrator.calibration.history import CensusHistory
from planalign_orchestrator.calibration.results import (
    ENROLLMENT,
    ESCALATIONS,
    NEW_HIRE_TERMINATIONS,
    PROMOTIONS,
    RETIREMENTS_BY_AGE,
    SEPARATIONS,
    TENURE_BY_AGE,
    TERMINATION_OUTCOMES,
    ExperienceStudy,
    StudyTable,
)
from planalign_orchestrator.calibration.statistics import (
    bootstrap_mean_interval,
    credible_hazard,
    credible_rates,
    is_small,
    poisson_interval,
    wilson_interval,
)

# -- building the study ------------------------------------------------------------------


def study_history(history: CensusHistory, current: CurrentAssumptions) -> ExperienceStudy:
    """The experience study of a validated history against one config's assumptions."""
    experience = history.experience
    people = experience.experienced.copy()
    people = people.join(current.experienced(people))
    people["tenure_band"] = current.tenure.label(people["tenure"])
    people["age_band"] = current.age.label(people["age"])
    people["terminated"] = people["outcome"].isin(TERMINATION_OUTCOMES)
    people["retired"] = people["outcome"] == "retirement"
    level_names = dict(zip(current.level_ids, current.level_names, strict=True))
    people["level"] = people["level_id"].map(lambda level: f"{level} {level_names.get(int(level), '')}".strip())
    hires = experience.hires.copy()
    hires["expected_leaving"] = current.new_hire_leaving(hires["days_left"])
    hires["level"] = hires["level_id"].map(lambda level: f"{level} {level_names.get(int(level), '')}".strip())

    tenure_order = list(current.tenure.labels)
    age_order = list(current.age.labels)
    level_order = [f"{i} {n}".strip() for i, n in zip(current.level_ids, current.level_names, strict=True)]
    tables: dict[str, StudyTable] = {}

    def add(name: str, rate: str, frame: pd.DataFrame, groups: tuple[str, ...]) -> None:
        tables[name] = StudyTable(name, rate, frame, groups)

    separations = people.assign(
        separated=people["terminated"] | people["retired"],
        expected_separation=people["p_retire"] + people["expected_termination"],
        group="all experienced",
    )
    add(
        SEPARATIONS,
        "share of those at risk who retire or leave (workforce.termination_rate)",
        _binomial(_events(separations, "separated", "expected_separation"), ["group"], {"group": ["all experienced"]}),
        ("group",),
    )
    terminations = _events(people, "terminated", "expected_termination")
    add(
        "terminations by tenure band",
        "share of those at risk who leave",
        _binomial(terminations, ["tenure_band"], {"tenure_band": tenure_order}),
        ("tenure_band",),
    )
    add(
        "terminations by age band",
        "share of those at risk who leave",
        _binomial(terminations, ["age_band"], {"age_band": age_order}),
        ("age_band",),
    )
    add(
        "terminations by level",
        "share of those at risk who leave",
        _binomial(terminations, ["level"], {"level": level_order}),
        ("level",),
    )
    add(
        TENURE_BY_AGE,
        "share of those at risk who leave",
        _binomial(terminations, ["tenure_band", "age_band"], {"tenure_band": tenure_order, "age_band": age_order}),
        ("tenure_band", "age_band"),
    )
    notes = []
    if history.has_reasons:
        retirements = _events(people, "retired", "p_retire")
        add(
            "retirements by age band",
            "share of those at risk who retire",
            _binomial(retirements, ["age_band"], {"age_band": age_order}),
            ("age_band",),
        )
        oldest = max(current.retirement_ages)
        in_table = retirements[
            (retirements["age"] >= min(current.retirement_ages))
            & (retirements["age"] <= current.config.workforce.max_working_age)
        ].assign(age_row=lambda f: np.minimum(f["age"], oldest).astype(str))
        add(
            RETIREMENTS_BY_AGE,
            "share of those at risk who retire",
            _binomial(in_table, ["age_row"], {"age_row": [str(age) for age in current.retirement_ages]}),
            ("age_row",),
        )
        young = int(people.loc[people["retired"] & (people["age"] < min(current.retirement_ages)), "retired"].sum())
        if young:
            notes.append(
                f"{young} retirement(s) below age {min(current.retirement_ages)}, where config_retirement_rates "
                "has no rate: the model retires nobody that young."
            )
    else:
        notes.append(
            "The history has no termination_reason column: every experienced leaver counts as a termination, "
            "so rates at retirement ages include retirements, and retirements are not studied."
        )
    unknown = int((people["outcome"] == "unknown").sum())
    if unknown:
        notes.append(
            f"{unknown} employee(s) active in one snapshot are missing from the next: counted as terminations "
            "of unknown date."
        )
    add(
        NEW_HIRE_TERMINATIONS,
        "share of a full-year cohort who leave (hazard over time employed)",
        _new_hire_hazard(hires, current, level_order),
        ("level",),
    )
    present = people[people["present"]].copy()
    present["promotion_expected"] = current.promotion_rates_of(present["level_id"], present["year"])
    promotable = present[present["level_id"] < current.top_level]
    add(
        PROMOTIONS,
        "share promoted",
        _binomial(
            _events(promotable, "promoted", "promotion_expected"), ["level"], {"level": level_order[:-1]}, small=False
        ),
        ("level",),
    )
    add("raises by level", "mean raise", _raises(present, current, level_order), ("level",))
    enrollment = _enrollment(hires, current)
    if enrollment is not None:
        add(ENROLLMENT, "share enrolled", enrollment, ("group",))
    escalation = _escalation(present, current)
    if escalation is not None:
        add(ESCALATIONS, "share of eligible participants escalated", escalation, ("group",))
    return ExperienceStudy(
        scenario=current.config.scenario,
        history=history.describe(),
        snapshots=tuple(snapshot.name for snapshot in history.snapshots),
        tables=tables,
        notes=tuple(notes),
        experienced=people,
        hires=hires,
    )


def _events(frame: pd.DataFrame, event: str, probability: str) -> pd.DataFrame:
    """Rows with the study's three numbers: exposure, the event (0/1) and its expected count."""
    return frame.assign(
        actual=frame[event].astype(float),
        expected=frame[probability].astype(float) * frame["exposure"],
    )


def _binomial(
    frame: pd.DataFrame,
    by: list[str],
    order: Mapping[str, list[str]],
    *,
    small: bool = True,
    prior_exposure: float | None = None,
) -> pd.DataFrame:
    """One row per group: the yearly probability's actual, expected, intervals and credibility."""
    grouped = frame.groupby(by, observed=True)[["exposure", "actual", "expected"]].sum().reset_index()
    grouped = _ordered(grouped, by, order)
    e, x, m = (grouped[c].to_numpy(dtype=float) for c in ("exposure", "actual", "expected"))
    with np.errstate(divide="ignore", invalid="ignore"):
        rate, expected_rate = x / e, m / e
    lower, upper = wilson_interval(x, e)
    credible = credible_rates(x, e, expected_rate, prior_exposure)
    fitted = (credible.rate, credible.lower, credible.upper)
    return _with_stats(grouped, e, x, m, rate, lower, upper, expected_rate, credible.weight, fitted, small)


def _with_stats(
    grouped: pd.DataFrame,
    e: np.ndarray,
    x: np.ndarray,
    m: np.ndarray,
    rate: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    expected_rate: np.ndarray,
    weight: np.ndarray,
    fitted: tuple[np.ndarray, np.ndarray, np.ndarray],
    small: bool,
) -> pd.DataFrame:
    with np.errstate(divide="ignore", invalid="ignore"):
        grouped["actual_rate"] = rate
        grouped["lower"] = lower
        grouped["upper"] = upper
        grouped["expected_rate"] = expected_rate
        grouped["ae"] = np.where(m > 0, x / m, np.nan)
        grouped["ae_lower"] = np.where(expected_rate > 0, lower / expected_rate, np.nan)
        grouped["ae_upper"] = np.where(expected_rate > 0, upper / expected_rate, np.nan)
    grouped["credibility"] = weight
    grouped["fitted_rate"], grouped["fitted_lower"], grouped["fitted_upper"] = fitted
    grouped["small"] = is_small(e, x, m) if small else e < 1
    return grouped


def _ordered(frame: pd.DataFrame, by: list[str], order: Mapping[str, list[str]]) -> pd.DataFrame:
    """Groups in the seed's order (bands, levels), every known group listed even without exposure.

    Groups outside the seed's (an age no band holds: "(no band)") follow, when they have exposure.
    """
    keyed = frame.assign(**{column: frame[column].astype(str) for column in by}).set_index(by)
    known = [
        [value for value in order.get(column, sorted(frame[column].astype(str).unique())) if value != NO_BAND]
        for column in by
    ]
    index = pd.MultiIndex.from_product(known, names=by) if len(by) > 1 else pd.Index(known[0], name=by[0])
    full = keyed.reindex(index.append(keyed.index.difference(index)))
    return full.fillna({"exposure": 0.0, "actual": 0.0, "expected": 0.0}).reset_index()


def _new_hire_hazard(hires: pd.DataFrame, current: CurrentAssumptions, level_order: list[str]) -> pd.DataFrame:
    """New-hire leaving as a constant hazard over the years employed, per level and in all (the fitted rate)."""
    frame = hires.assign(
        exposure=hires["days_employed"] / DAYS_PER_YEAR,
        actual=hires["left"].astype(float),
        expected=hires["expected_leaving"],
    )
    grouped = _ordered(
        frame.groupby("level")[["exposure", "actual", "expected"]].sum().reset_index(),
        ["level"],
        {"level": level_order},
    )
    total = pd.DataFrame({"level": ["all hires"], **{c: [frame[c].sum()] for c in ("exposure", "actual", "expected")}})
    grouped = pd.concat([grouped, total], ignore_index=True)
    e, x, m = (grouped[c].to_numpy(dtype=float) for c in ("exposure", "actual", "expected"))
    hazard_low, hazard_high = poisson_interval(x, e)
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = x / e
    # as the full-year share the config states: 1 - exp(-hazard)
    rate, lower, upper = (1 - np.exp(-h) for h in (hazard, hazard_low, hazard_high))
    expected_rate = np.full(len(grouped), current.config.workforce.new_hire_termination_rate)
    fitted = [credible_hazard(xi, ei, current.new_hire_hazard) for xi, ei in zip(x, e, strict=True)]
    posterior = (
        np.array([1 - np.exp(-f.rate[0]) for f in fitted]),
        np.array([1 - np.exp(-f.lower[0]) for f in fitted]),
        np.array([1 - np.exp(-f.upper[0]) for f in fitted]),
    )
    weight = np.array([f.weight[0] for f in fitted])
    return _with_stats(grouped, e, x, m, rate, lower, upper, expected_rate, weight, posterior, True)


def _raises(present: pd.DataFrame, current: CurrentAssumptions, level_order: list[str]) -> pd.DataFrame:
    """Mean raise of those not promoted, per level, against the plan year's COLA + merit budget (not fitted)."""
    raised = present[present["raise"].notna()].copy()
    raised["nominal"] = current.nominal_raises_of(raised["level_id"], raised["year"])
    rows = []
    for level in level_order:
        group = raised[raised["level"] == level]
        if group.empty:
            continue
        mean = float(group["raise"].mean())
        low, high = bootstrap_mean_interval(group["raise"])
        nominal = float(group["nominal"].mean())
        rows.append(
            {
                "level": level,
                "exposure": float(len(group)),
                "actual": float(group["raise"].sum()),
                "expected": float(group["nominal"].sum()),
                "actual_rate": mean,
                "lower": low,
                "upper": high,
                "expected_rate": nominal,
            }
        )
    frame = pd.DataFrame(
        rows, columns=["level", "exposure", "actual", "expected", "actual_rate", "lower", "upper", "expected_rate"]
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["ae"] = frame["actual_rate"] / frame["expected_rate"]
        frame["ae_lower"] = frame["lower"] / frame["expected_rate"]
        frame["ae_upper"] = frame["upper"] / frame["expected_rate"]
    for column in ("credibility", "fitted_rate", "fitted_lower", "fitted_upper"):
        frame[column] = np.nan
    frame["small"] = frame["exposure"] < 30
    return frame


def _enrollment(hires: pd.DataFrame, current: CurrentAssumptions) -> pd.DataFrame | None:
    """Hires enrolled at the snapshot after their hire, against 1 - opt_out_rate (auto-enrolment only)."""
    plan = current.config.plan
    if not plan.auto_enrollment or hires.empty:
        return None
    frame = pd.DataFrame(
        {
            "group": "all hires",
            "exposure": 1.0,
            "actual": (hires["deferral_rate"] > 0).astype(float),
            "expected": 1 - plan.opt_out_rate,
        },
        index=hires.index,
    )
    return _binomial(frame, ["group"], {"group": ["all hires"]}, prior_exposure=None)


def _escalation(present: pd.DataFrame, current: CurrentAssumptions) -> pd.DataFrame | None:
    """Participants below the escalation cap whose deferral rose, against 1 - escalation_opt_out_rate."""
    plan = current.config.plan
    eligible = present[(present["deferral_start"] > 0) & (present["deferral_start"] < plan.escalation_cap - 1e-9)]
    if not plan.auto_escalation or eligible.empty:
        return None
    frame = pd.DataFrame(
        {
            "group": "eligible participants",
            "exposure": 1.0,
            "actual": (eligible["deferral_end"] > eligible["deferral_start"] + 1e-9).astype(float),
            "expected": 1 - plan.escalation_opt_out_rate,
        },
        index=eligible.index,
    )
    return _binomial(frame, ["group"], {"group": ["eligible participants"]})
