"""The statistics of an experience study: rate intervals, credibility and a Poisson fit.

Rates are events over exposure (employee-years at risk). Intervals are 95% unless said:

- Wilson for a proportion (a yearly probability, events over the people at risk): it
  keeps inside [0, 1] and covers close to its nominal level even for small cells, where
  the normal approximation does not.
- Garwood's exact Poisson interval for a hazard (events over central exposure, the time
  actually spent at risk): the chi-square quantiles of the Poisson count.
- A bootstrap percentile interval for a mean with no closed form worth trusting (a
  skewed, capped distribution such as raises), resampling people with a fixed seed so
  the same data give the same interval.

Credibility weighting toward the current assumption is Bühlmann-Straub's, in its
Bayesian form. A cell with exposure E and E·r events, whose current assumption is q0,
gets

    fitted = Z·r + (1 - Z)·q0,    Z = E / (E + K)

which is the mean of the Beta posterior Beta(K·q0 + x, K·(1 - q0) + E - x): the current
assumption counts as K employee-years of experience, and the fitted 95% interval is that
posterior's. K = s²/a is estimated from the cells of one table: s² the expected process
variance of a cell's rate per unit exposure (the binomial r(1 - r), exposure-weighted),
a the variance of the cells' true rates around their current assumptions, estimated as
how far the actual rates scatter around the expected ones beyond what chance explains:

    a = max(0, [Σ E_i (r_i - q0_i)² - n·s²] / Σ E_i)

When the scatter is no more than chance (a = 0, the data agree with the assumption) K
would be infinite; it is capped at MAX_PRIOR_EXPOSURE, so the current assumption never
counts for more than that much experience. A table of one cell (a single rate) has no
scatter to estimate a from and uses DEFAULT_PRIOR_EXPOSURE.

Multipliers (termination by tenure band, age band and level) are fitted together by a
Poisson regression of events on the bands, with the current assumption's expected
events as offset, so each coefficient is a log adjustment of a current multiplier.
Their credibility is the normal-normal form of the same idea: a log adjustment b with
standard error se shrinks to Z·b, Z = τ²/(τ² + se²), with posterior standard deviation
√Z·se, where τ² = max(MIN_TAU², mean(b² - se²)) is the variance of the true adjustments
around zero (the current table) beyond chance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

Z95 = 1.959963984540054
# A cell is small (flagged, and pulled to its current assumption by credibility) below
# this exposure (employee-years) or when neither its actual nor expected events reach MIN_EVENTS.
MIN_EXPOSURE = 100.0
MIN_EVENTS = 5.0
# The most and (for a single rate) the default experience, in employee-years, the current assumption counts as.
MAX_PRIOR_EXPOSURE = 1000.0
DEFAULT_PRIOR_EXPOSURE = 100.0
# The least variance of the true log adjustments a multiplier's credibility assumes: a
# current multiplier is never trusted to better than about 5%.
MIN_TAU2 = 0.05**2
BOOTSTRAP_SAMPLES = 1000

Floats = NDArray[np.float64]


def as_floats(values: ArrayLike) -> Floats:
    return np.asarray(values, dtype=np.float64)


def wilson_interval(events: ArrayLike, exposure: ArrayLike, z: float = Z95) -> tuple[Floats, Floats]:
    """Wilson score interval of events/exposure (NaN where exposure is 0)."""
    x, n = as_floats(events), as_floats(exposure)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.clip(x / n, 0.0, 1.0)
        denominator = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denominator
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denominator
    lower = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
    upper = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    return lower, upper


def poisson_interval(events: ArrayLike, exposure: ArrayLike, level: float = 0.95) -> tuple[Floats, Floats]:
    """Garwood's exact interval of the hazard events/exposure (per unit of exposure)."""
    from scipy.stats import chi2

    x, e = as_floats(events), as_floats(exposure)
    tail = (1 - level) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = np.where(x > 0, chi2.ppf(tail, 2 * x) / 2, 0.0) / e
        upper = chi2.ppf(1 - tail, 2 * x + 2) / 2 / e
    return np.where(e > 0, lower, np.nan), np.where(e > 0, upper, np.nan)


def bootstrap_mean_interval(values: ArrayLike, *, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of a mean (people resampled with replacement; deterministic)."""
    data = as_floats(values)
    data = data[np.isfinite(data)]
    if data.size < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    batch = max(1, min(BOOTSTRAP_SAMPLES, 2_000_000 // data.size))  # bounded memory for large groups
    means = np.concatenate(
        [
            data[rng.integers(0, data.size, size=(min(batch, BOOTSTRAP_SAMPLES - start), data.size))].mean(axis=1)
            for start in range(0, BOOTSTRAP_SAMPLES, batch)
        ]
    )
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def t_interval(values: ArrayLike, level: float = 0.95) -> tuple[float, float]:
    """Student-t interval of a mean of a few values (e.g. yearly growth); NaN with fewer than two."""
    from scipy.stats import t

    data = as_floats(values)
    if data.size < 2:
        return float("nan"), float("nan")
    half = float(t.ppf(1 - (1 - level) / 2, data.size - 1) * data.std(ddof=1) / np.sqrt(data.size))
    return float(data.mean()) - half, float(data.mean()) + half


def is_small(exposure: ArrayLike, events: ArrayLike, expected: ArrayLike) -> NDArray[np.bool_]:
    """Cells too thin to move an assumption on their own (flagged in every table)."""
    e, x, m = as_floats(exposure), as_floats(events), as_floats(expected)
    return (e < MIN_EXPOSURE) | (np.maximum(x, m) < MIN_EVENTS)


def prior_exposure(exposure: ArrayLike, events: ArrayLike, prior_rate: ArrayLike) -> float:
    """Bühlmann-Straub's K (employee-years the current assumption counts as) for one table's cells."""
    e, x, q0 = as_floats(exposure), as_floats(events), as_floats(prior_rate)
    keep = e > 0
    e, x, q0 = e[keep], x[keep], q0[keep]
    if e.size < 3:
        return DEFAULT_PRIOR_EXPOSURE
    r = np.clip(x / e, 0.0, 1.0)
    s2 = float(np.sum(e * r * (1 - r)) / np.sum(e))
    a = max(0.0, float(np.sum(e * (r - q0) ** 2) - e.size * s2) / float(np.sum(e)))
    if a <= 0.0:
        return MAX_PRIOR_EXPOSURE
    return float(min(s2 / a, MAX_PRIOR_EXPOSURE))


@dataclass(frozen=True)
class Credible:
    """Credibility-weighted rates of a table's cells: weight, fitted rate and its 95% interval."""

    prior_exposure: float
    weight: Floats
    rate: Floats
    lower: Floats
    upper: Floats


def credible_rates(events: ArrayLike, exposure: ArrayLike, prior_rate: ArrayLike, k: float | None = None) -> Credible:
    """The Beta posterior of each cell's yearly probability, the current assumption as its prior (see module)."""
    from scipy.stats import beta

    x, e, q0 = as_floats(events), as_floats(exposure), np.clip(as_floats(prior_rate), 0.0, 1.0)
    k = prior_exposure(e, x, q0) if k is None else k
    a = np.maximum(k * q0 + x, 1e-9)
    b = np.maximum(k * (1 - q0) + e - x, 1e-9)
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = e / (e + k)
    return Credible(k, weight, a / (a + b), beta.ppf(0.025, a, b), beta.ppf(0.975, a, b))


def credible_hazard(events: float, exposure: float, prior_hazard: float, k: float = DEFAULT_PRIOR_EXPOSURE) -> Credible:
    """The Gamma posterior of one hazard (events per year at risk), the current hazard as K years of prior."""
    from scipy.stats import gamma

    shape = max(k * prior_hazard + events, 1e-9)
    rate = k + exposure
    return Credible(
        k,
        np.array([exposure / (exposure + k)]),
        np.array([shape / rate]),
        np.array([gamma.ppf(0.025, shape, scale=1 / rate)]),
        np.array([gamma.ppf(0.975, shape, scale=1 / rate)]),
    )


@dataclass(frozen=True)
class FactorFit:
    """One factor's fitted log adjustments of its current multipliers, centred, with standard errors.

    `fitted` marks the bands the data could estimate (others keep their current value: 0).
    """

    adjustment: Floats
    std_error: Floats
    fitted: NDArray[np.bool_]


def poisson_adjustments(
    events: ArrayLike,
    offset: ArrayLike,
    strata: ArrayLike,
    factors: Sequence[ArrayLike],
    sizes: Sequence[int],
    weights: Sequence[ArrayLike],
    estimable: Sequence[ArrayLike],
) -> list[FactorFit]:
    """Fit log E[events] = offset + stratum effect + Σ adjustment[factor][band] by Poisson maximum likelihood.

    Each row is an aggregate cell: its events, log of its expected events under the
    current assumption (offset), its stratum (the year: the model recalibrates its base
    every year) and, per factor, the index of its band. Only the bands marked estimable
    get a coefficient (treatment coding against the estimable band of most weight);
    the others keep adjustment 0. Adjustments are then centred to a weighted mean of
    zero over the estimable bands (`weights`: each band's exposure), because the model
    calibrates the overall level itself: only ratios within a table matter. Standard
    errors are the Poisson ones (conservative for yearly probabilities, whose variance
    is below the Poisson's).
    """
    y, o = as_floats(events), as_floats(offset)
    stratum_ids = np.asarray(strata)
    columns: list[Floats] = []
    for stratum in np.unique(stratum_ids):
        columns.append((stratum_ids == stratum).astype(np.float64))
    layout: list[tuple[list[int], int]] = []  # per factor: band per column, reference band
    for index, size in zip(factors, sizes, strict=True):
        bands = np.asarray(index)
        can = np.asarray(estimable[len(layout)], dtype=bool)
        weight = as_floats(weights[len(layout)])
        candidates = [band for band in range(size) if can[band]]
        if not candidates:
            layout.append(([], -1))
            continue
        reference = max(candidates, key=lambda band: weight[band])
        banded = [band for band in candidates if band != reference]
        for band in banded:
            columns.append((bands == band).astype(np.float64))
        layout.append((banded, reference))
    design = np.column_stack(columns)
    beta = _poisson_irls(design, y, o)
    mu = np.exp(design @ beta + o)
    information = design.T @ (design * mu[:, None])
    covariance = np.linalg.pinv(information)
    fits: list[FactorFit] = []
    column = len(np.unique(stratum_ids))
    for (banded, reference), size, weight_values, can_values in zip(layout, sizes, weights, estimable, strict=True):
        can = np.asarray(can_values, dtype=bool)
        if reference < 0:
            fits.append(FactorFit(np.zeros(size), np.full(size, np.nan), np.zeros(size, dtype=bool)))
            continue
        # full = P @ beta_factor: one value per band (reference and non-estimable bands 0)
        projection = np.zeros((size, len(banded)))
        for position, band in enumerate(banded):
            projection[band, position] = 1.0
        weight = np.where(can, as_floats(weight_values), 0.0)
        share = weight / weight.sum() if weight.sum() > 0 else weight
        centring = np.eye(size) - np.where(can[:, None], 1.0, 0.0) * share[None, :]
        transform = centring @ projection
        block = covariance[column : column + len(banded), column : column + len(banded)]
        coefficients = beta[column : column + len(banded)]
        adjustment = transform @ coefficients
        std_error = np.sqrt(np.clip(np.diag(transform @ block @ transform.T), 0.0, None))
        fits.append(FactorFit(np.where(can, adjustment, 0.0), np.where(can, std_error, np.nan), can.astype(bool)))
        column += len(banded)
    return fits


def _poisson_irls(design: Floats, y: Floats, offset: Floats, iterations: int = 50) -> Floats:
    """Poisson regression with a log link by iteratively reweighted least squares (a tiny ridge keeps it solvable)."""
    beta = np.zeros(design.shape[1])
    ridge = 1e-8 * np.eye(design.shape[1])
    for _ in range(iterations):
        eta = np.clip(design @ beta + offset, -30, 30)
        mu = np.exp(eta)
        working = eta - offset + (y - mu) / np.maximum(mu, 1e-12)
        weighted = design * mu[:, None]
        updated = np.linalg.solve(design.T @ weighted + ridge, weighted.T @ working)
        updated = np.clip(updated, -10, 10)
        if np.max(np.abs(updated - beta)) < 1e-10:
            return np.asarray(updated, dtype=np.float64)
        beta = np.asarray(updated, dtype=np.float64)
    return beta


@dataclass(frozen=True)
class Shrunk:
    """Credibility-weighted log adjustments of one factor: value, posterior sd and weight Z per band."""

    adjustment: Floats
    std_dev: Floats
    weight: Floats
    tau2: float


def shrink_adjustments(fit: FactorFit) -> Shrunk:
    """Each band's log adjustment b shrunk to Z·b, Z = τ²/(τ² + se²), posterior sd √Z·se (see module)."""
    b, se = fit.adjustment[fit.fitted], fit.std_error[fit.fitted]
    tau2 = max(MIN_TAU2, float(np.mean(b**2 - se**2))) if b.size else MIN_TAU2
    errors = np.where(fit.fitted, np.nan_to_num(fit.std_error, nan=0.0), np.inf)
    weight = np.where(fit.fitted, tau2 / (tau2 + errors**2), 0.0)
    std_dev = np.where(fit.fitted, np.sqrt(weight) * np.where(fit.fitted, errors, 0.0), 0.0)
    return Shrunk(weight * fit.adjustment, std_dev, weight, tau2)
