"""The calibration's statistics against known values and simulated truths (no dbt).

Wilson and Garwood intervals against published values; the credibility formula
against its definition; the Poisson regression against multipliers it must recover
from data simulated with numpy; the bootstrap's determinism.
"""

from __future__ import annotations

import numpy as np
import pytest

from planalign_orchestrator.calibration.statistics import (
    MAX_PRIOR_EXPOSURE,
    bootstrap_mean_interval,
    credible_rates,
    poisson_adjustments,
    poisson_interval,
    prior_exposure,
    shrink_adjustments,
    wilson_interval,
)


def test_wilson_interval_matches_published_values() -> None:
    """Newcombe (1998), table I: 81/263 -> 0.2553-0.3662; 15/148 -> 0.0624-0.1605; 0/20 -> 0-0.1611."""
    lower, upper = wilson_interval([81, 15, 0], [263, 148, 20])

    assert lower == pytest.approx([0.2553, 0.0624, 0.0], abs=5e-5)
    assert upper == pytest.approx([0.3662, 0.1605, 0.1611], abs=5e-5)


def test_garwood_interval_matches_the_exact_poisson_limits() -> None:
    """X = 0: upper 3.689 (= -ln 0.025); x = 5: 1.6235-11.668 (tables of exact Poisson limits)."""
    lower, upper = poisson_interval([0, 5], [1.0, 10.0])

    assert lower == pytest.approx([0.0, 0.16235], abs=1e-4)
    assert upper == pytest.approx([3.6889, 1.16683], abs=1e-4)


def test_credibility_blends_actual_and_current_by_exposure() -> None:
    """Fitted = Z x actual + (1 - Z) x current with Z = E / (E + K), the Beta posterior's mean."""
    events, exposure, prior = np.array([30.0, 2.0]), np.array([100.0, 10.0]), np.array([0.2, 0.2])

    credible = credible_rates(events, exposure, prior, k=50.0)

    weight = exposure / (exposure + 50.0)
    assert credible.weight == pytest.approx(weight)
    assert credible.rate == pytest.approx(weight * events / exposure + (1 - weight) * prior)
    assert np.all(credible.lower < credible.rate)
    assert np.all(credible.rate < credible.upper)


def test_the_current_assumption_counts_for_little_when_cells_scatter_and_for_much_when_they_agree() -> None:
    exposure = np.full(6, 1000.0)
    prior = np.array([0.05, 0.1, 0.15, 0.2, 0.25, 0.3])
    agreeing = prior * exposure  # exactly as expected: no scatter beyond chance
    scattered = np.array([0.15, 0.02, 0.3, 0.08, 0.4, 0.1]) * exposure

    assert prior_exposure(exposure, agreeing, prior) == MAX_PRIOR_EXPOSURE
    assert prior_exposure(exposure, scattered, prior) < 10


def test_poisson_regression_recovers_known_multipliers_within_their_intervals() -> None:
    """Terminations simulated from known tenure, age and level multipliers: the fitted adjustments find them."""
    rng = np.random.default_rng(3)
    tenure_true = np.array([2.4, 0.8, 0.5, 0.35, 0.25])
    age_true = np.array([0.7, 1.3, 1.0, 1.6, 1.0, 1.2])
    level_true = np.array([1.0, 0.9, 0.8, 0.7, 0.6])
    tenure_current, age_current, level_current = np.ones(5), np.ones(6), np.ones(5)
    n = 60_000
    tenure, age, level = rng.integers(0, 5, n), rng.integers(0, 6, n), rng.integers(0, 5, n)
    year = rng.integers(0, 3, n)
    base = np.array([0.08, 0.085, 0.075])[year]
    events = rng.random(n) < base * tenure_true[tenure] * age_true[age] * level_true[level]
    expected = 0.1 * tenure_current[tenure] * age_current[age] * level_current[level]

    def cells(index: np.ndarray, size: int) -> np.ndarray:
        return np.bincount(index, minlength=size).astype(float)

    fits = poisson_adjustments(
        events.astype(float),
        np.log(expected),
        year,
        [tenure, age, level],
        [5, 6, 5],
        [cells(tenure, 5), cells(age, 6), cells(level, 5)],
        [np.ones(5, bool), np.ones(6, bool), np.ones(5, bool)],
    )

    for fit, truth, index in zip(fits, (tenure_true, age_true, level_true), (tenure, age, level), strict=True):
        log_truth = np.log(truth)
        # adjustments are centred on the exposure-weighted mean (the model calibrates the level itself)
        centred = log_truth - np.average(log_truth, weights=np.bincount(index, minlength=len(truth)))
        inside = np.abs(fit.adjustment - centred) <= 2.576 * fit.std_error
        assert inside.mean() >= 0.8, (fit.adjustment, centred, fit.std_error)
        assert np.corrcoef(fit.adjustment, centred)[0, 1] > 0.98
    shrunk = shrink_adjustments(fits[0])
    assert shrunk.weight == pytest.approx(np.ones(5), abs=0.05), "thousands of events: the data decide"


def test_a_band_too_thin_to_estimate_keeps_its_current_multiplier() -> None:
    rng = np.random.default_rng(5)
    band = rng.integers(0, 3, 5000)
    events = (rng.random(5000) < 0.1).astype(float)

    [fit] = poisson_adjustments(
        events,
        np.log(np.full(5000, 0.1)),
        np.zeros(5000),
        [band],
        [3],
        [np.bincount(band, minlength=3)],
        [np.array([True, True, False])],
    )

    assert fit.adjustment[2] == 0.0
    assert not fit.fitted[2]
    assert shrink_adjustments(fit).adjustment[2] == 0.0


def test_bootstrap_interval_is_deterministic_and_holds_the_mean() -> None:
    values = np.random.default_rng(1).gamma(2.0, 0.02, size=500)

    first, again = bootstrap_mean_interval(values), bootstrap_mean_interval(values)

    assert first == again
    assert first[0] < values.mean() < first[1]
