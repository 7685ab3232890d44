"""Sequential sample-ratio-mismatch test (Lindon and Malek, 2022).

Arm counts are multinomial with the designed shares ``theta0`` under the null. Against a
Dirichlet(``concentration * theta0``) mixture of alternatives, the Bayes factor

``BF = B(concentration theta0 + counts) / B(concentration theta0) / prod(theta0_i ** counts_i)``

(``B`` the multivariate beta function) is a test martingale, so ``min(1, 1 / BF)`` is a p-value
valid at any look and under continuous monitoring. It depends only on the cumulative counts;
the streaming :class:`SequentialSRM` reports the running minimum over looks.

Examples
--------
>>> r = sequential_srm_test([5050, 4950], concentration=100)
>>> round(r.log_bayes_factor, 6), r.pvalue
(-1.814929, 1.0)
"""

from __future__ import annotations

import dataclasses
import math
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


def _shares(weights: Any, size: int) -> np.ndarray:
    if weights is None:
        return np.full(size, 1.0 / size)
    w = as_float_array("weights", weights, min_size=2)
    if w.size != size:
        raise ValueError(f"`counts` and `weights` must have the same length; got {size} and {w.size}.")
    if np.any(w <= 0):
        raise ValueError(f"`weights` must be greater than 0; got {w}.")
    return np.asarray(w / w.sum(), dtype=np.float64)


def _log_multivariate_beta(a: np.ndarray) -> float:
    return float(special.gammaln(a).sum() - special.gammaln(a.sum()))


def _log_bayes_factor(observed: np.ndarray, shares: np.ndarray, concentration: float) -> float:
    prior = concentration * shares
    return (
        _log_multivariate_beta(prior + observed)
        - _log_multivariate_beta(prior)
        - float(observed @ np.log(shares))
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
    shares = _shares(weights, observed.size)
    concentration = check_positive("concentration", concentration)
    alpha = check_open_unit("alpha", alpha)
    log_bf = _log_bayes_factor(observed, shares, concentration)
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
