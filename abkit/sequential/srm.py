"""Sequential sample-ratio-mismatch test (Lindon and Malek, 2022).

Arm counts are multinomial with the designed shares ``theta0`` under the null. Against a
Dirichlet(``concentration * theta0``) mixture of alternatives, the Bayes factor

``BF = B(concentration theta0 + counts) / B(concentration theta0) / prod(theta0_i ** counts_i)``

(``B`` the multivariate beta function) is a test martingale, so ``min(1, 1 / BF)`` is a p-value
valid at any look and under continuous monitoring. It depends only on the cumulative counts;
the streaming :class:`SequentialSRM` reports the running minimum over looks.

``log BF`` is a difference of log-gammas of the counts, each about ``N log N``: at 1e16 units
their rounding alone exceeds the whole answer. It is computed instead from Stirling's form with
the cancelling parts removed analytically, in shares: with ``z_i = k theta_i + x_i``,
``Z = k + N``, ``e_i = x_i - theta_i N`` (exact, in rationals) and ``u_i = e_i / (theta_i Z)``,

``log BF = sum_i e_i^2 / (theta_i Z) + sum_i z_i (log1p(u_i) - u_i) - sum_i log1p(u_i) / 2
- (K - 1)/2 log(Z / k) + sum_i [R(z_i) - R(k theta_i)] - R(Z) + R(k)``

(``R`` the Stirling remainder, ``K`` arms), whose terms are each accurate to rounding, so the
answer is right to about 1e-12 relative (checked against 60-digit arithmetic) for counts up to
what a float holds (counts are float64: exact integers to 2**53, rounded above).

Examples
--------
>>> r = sequential_srm_test([5050, 4950], concentration=100)
>>> round(r.log_bayes_factor, 6), r.pvalue
(-1.814929, 1.0)
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction
from typing import Any

import numpy as np
from scipy import special

from abkit._results import Result
from abkit._validation import as_float_array, check_open_unit, check_positive

__all__ = ["SequentialSRM", "SequentialSRMResult", "sequential_srm_test"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class SequentialSRMResult(Result):
    """Anytime-valid SRM check at one look; ``mismatch`` is ``pvalue <= alpha``."""

    log_bayes_factor: float
    pvalue: float
    observed: tuple[int, ...]
    expected_shares: tuple[float, ...]
    concentration: float
    alpha: float
    mismatch: bool


def _counts(counts: Any) -> np.ndarray:
    observed = as_float_array("counts", counts, min_size=2)
    if np.any(observed < 0) or np.any(observed != np.floor(observed)):
        raise ValueError(f"`counts` must be non-negative integers; got {observed}.")
    return observed


def _weights(weights: Any, size: int) -> np.ndarray:
    if weights is None:
        return np.ones(size)
    w = as_float_array("weights", weights, min_size=2)
    if w.size != size:
        raise ValueError(f"`counts` and `weights` must have the same length; got {size} and {w.size}.")
    if np.any(w <= 0):
        raise ValueError(f"`weights` must be greater than 0; got {w}.")
    return w


_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
# Stirling series of R(z) = log Gamma(z) - ((z - 1/2) log z - z + log(2 pi) / 2) in 1/z: its
# seventh term at z = 10 is below 1e-16 of R.
_STIRLING = (1.0 / 12.0, -1.0 / 360.0, 1.0 / 1260.0, -1.0 / 1680.0, 1.0 / 1188.0, -691.0 / 360360.0)


def _stirling_remainder(z: np.ndarray) -> np.ndarray:
    """``R(z)``: the series from 10 up, the direct difference (small terms) below."""
    z = np.asarray(z, dtype=np.float64)
    out = np.empty_like(z)
    large = z >= 10.0
    inverse = 1.0 / z[large]
    series = np.zeros_like(inverse)
    for c in reversed(_STIRLING):
        series = series * inverse**2 + c
    out[large] = series * inverse
    small = z[~large]
    out[~large] = special.gammaln(small) - ((small - 0.5) * np.log(small) - small + _HALF_LOG_2PI)
    return out


def _log1pmx(u: np.ndarray, log_ratio: np.ndarray) -> np.ndarray:
    """``log(1 + u) - u`` without cancellation: its Taylor series where ``|u| < 0.01``, else
    ``log_ratio - u`` (``log_ratio = log(1 + u)`` from the caller; relative rounding at most
    ``2 / |u|`` ulps there)."""
    small = np.abs(u) < 0.01
    series = np.zeros_like(u)
    for k in range(10, 1, -1):  # 0.01**8 = 1e-16
        series = series * u + (1.0 if k % 2 else -1.0) / k
    return np.where(small, series * u * u, log_ratio - u)


def _deviations(observed: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``x_i - theta_i N`` in exact rational arithmetic, then rounded once."""
    w = [Fraction(v) for v in weights.tolist()]
    x = [Fraction(v) for v in observed.tolist()]
    total_w, total_x = sum(w), sum(x)
    return np.array([float(xi - wi * total_x / total_w) for xi, wi in zip(x, w, strict=True)])


def _log_bayes_factor(observed: np.ndarray, weights: np.ndarray, concentration: float) -> float:
    # The module docstring's formula, with the prior's log B(k theta) also in Stirling's form,
    # so that sum_i (k theta_i - 1/2) log theta_i and sum_i k theta_i u_i (= k sum e_i / Z = 0)
    # cancel analytically instead of in floating point.
    shares = weights / weights.sum()
    prior = concentration * shares
    posterior = prior + observed  # z_i
    total = concentration + float(observed.sum())  # Z
    deviation = _deviations(observed, weights)
    u = deviation / (shares * total)
    with np.errstate(divide="ignore", invalid="ignore"):  # log(1 + u) from the ratio where u is near -1
        log_ratio = np.where(np.abs(u) < 0.5, np.log1p(u), np.log(posterior) - np.log(shares * total))
    return (
        math.fsum(deviation**2 / (shares * total))
        + math.fsum(posterior * _log1pmx(u, log_ratio))
        - 0.5 * math.fsum(log_ratio)
        - 0.5 * (observed.size - 1) * math.log1p(float(observed.sum()) / concentration)
        + math.fsum(_stirling_remainder(np.concatenate([posterior, [concentration]])))
        - math.fsum(_stirling_remainder(np.concatenate([prior, [total]])))
    )


def sequential_srm_test(
    counts: Any, weights: Any = None, *, concentration: float = 100.0, alpha: float = 0.001
) -> SequentialSRMResult:
    """Dirichlet-multinomial Bayes-factor SRM test on cumulative arm counts.

    Parameters
    ----------
    counts
        Units seen so far in each arm (cumulative).
    weights
        Designed traffic shares (normalised); ``None`` means equal.
    concentration
        Total Dirichlet concentration ``k`` of the mixture (Lindon and Malek's ``k``); larger
        values concentrate the alternatives near ``theta0``.
    alpha
        Threshold for flagging a mismatch.

    Examples
    --------
    >>> sequential_srm_test([10300, 9700]).mismatch
    False
    """
    observed = _counts(counts)
    raw_weights = _weights(weights, observed.size)
    shares = raw_weights / raw_weights.sum()
    concentration = check_positive("concentration", concentration)
    alpha = check_open_unit("alpha", alpha)
    log_bf = _log_bayes_factor(observed, raw_weights, concentration)
    pvalue = min(1.0, math.exp(-log_bf)) if log_bf > -700 else 1.0
    return SequentialSRMResult(
        log_bayes_factor=log_bf,
        pvalue=pvalue,
        observed=tuple(int(c) for c in observed),
        expected_shares=tuple(float(s) for s in shares),
        concentration=concentration,
        alpha=alpha,
        mismatch=pvalue <= alpha,
    )


class SequentialSRM:
    """Streaming SRM check: add each batch of arm counts; ``pvalue`` is the running minimum.

    Examples
    --------
    >>> srm = SequentialSRM([0.5, 0.5], alpha=0.01)
    >>> _ = srm.update([500, 500])
    >>> r = srm.update([700, 300])
    >>> srm.counts, srm.mismatch
    ((1200, 800), True)
    """

    def __init__(self, weights: Any = None, *, concentration: float = 100.0, alpha: float = 0.001) -> None:
        self._weights = None if weights is None else as_float_array("weights", weights, min_size=2)
        self.concentration = check_positive("concentration", concentration)
        self.alpha = check_open_unit("alpha", alpha)
        self.counts: tuple[int, ...] | None = None
        self.pvalue = 1.0
        self.looks = 0

    def update(self, counts: Any) -> SequentialSRMResult:
        """Add the new units per arm and look."""
        new = _counts(counts)
        if self.counts is not None and new.size != len(self.counts):
            raise ValueError(f"`counts` must have {len(self.counts)} arms; got {new.size}.")
        total = new if self.counts is None else np.asarray(self.counts, dtype=np.float64) + new
        result = sequential_srm_test(total, self._weights, concentration=self.concentration, alpha=self.alpha)
        self.counts = result.observed
        self.pvalue = min(self.pvalue, result.pvalue)
        self.looks += 1
        return result

    @property
    def mismatch(self) -> bool:
        """Whether a mismatch has been flagged at some look."""
        return self.pvalue <= self.alpha
