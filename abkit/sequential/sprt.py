"""Wald's sequential probability ratio test for a Bernoulli rate.

``H0: p = p0`` against ``H1: p = p1``. After ``n`` trials with ``s`` successes the log likelihood
ratio is ``s log(p1/p0) + (n - s) log((1-p1)/(1-p0))``; sampling continues while
``log B < LLR < log A`` with Wald's ``A = (1 - beta) / alpha`` and ``B = beta / (1 - alpha)``
(Wald, 1945, 1947). The same rule in the ``(n, s)`` plane is two parallel lines:
reject above ``reject_intercept + slope n``, accept below ``-accept_intercept + slope n``.

Examples
--------
>>> test = SPRT(0.1, 0.12, alpha=0.05, beta=0.2)
>>> test.decision(262, 2000), test.decision(130, 1500), test.decision(110, 1000)
('reject', 'accept', 'continue')
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from scipy import optimize

from abkit._results import Result, object_html, object_repr
from abkit._validation import check_int, check_open_unit

__all__ = ["SPRT", "SPRTOperatingCharacteristics"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class SPRTOperatingCharacteristics(Result):
    """Exact error rates and expected sample size of an SPRT truncated at ``n_max`` trials."""

    p: float
    prob_reject: float
    prob_accept: float
    prob_undecided: float
    expected_n: float
    n_max: int


class SPRT:
    """Wald's SPRT of ``p = p0`` against ``p = p1`` for Bernoulli trials.

    Parameters
    ----------
    p0, p1
        Rates under the null and the alternative (distinct, in ``(0, 1)``).
    alpha, beta
        Target type-I and type-II error rates.

    Attributes
    ----------
    log_a, log_b
        ``log((1 - beta) / alpha)`` (reject at or above) and ``log(beta / (1 - alpha))``
        (accept at or below).
    slope, accept_intercept, reject_intercept
        The decision lines in the ``(n, successes)`` plane.

    Examples
    --------
    >>> t = SPRT(0.01, 0.1, alpha=0.05, beta=0.1)
    >>> round(t.log_a, 6), round(t.slope, 6)
    (2.890372, 0.039747)
    """

    def __init__(self, p0: float, p1: float, *, alpha: float = 0.05, beta: float = 0.2) -> None:
        self.p0 = check_open_unit("p0", p0)
        self.p1 = check_open_unit("p1", p1)
        if self.p0 == self.p1:
            raise ValueError(f"`p1` must differ from `p0`; got p0 = p1 = {self.p0}.")
        self.alpha = check_open_unit("alpha", alpha)
        self.beta = check_open_unit("beta", beta)
        if self.alpha + self.beta >= 1.0:
            raise ValueError(f"`alpha + beta` must be less than 1; got {self.alpha + self.beta}.")
        self.log_a = math.log((1.0 - self.beta) / self.alpha)
        self.log_b = math.log(self.beta / (1.0 - self.alpha))
        self._log_success = math.log(self.p1 / self.p0)
        self._log_failure = math.log((1.0 - self.p1) / (1.0 - self.p0))
        d = self._log_success - self._log_failure
        self.slope = -self._log_failure / d
        self.accept_intercept = -self.log_b / d
        self.reject_intercept = self.log_a / d

    def _repr_items(self) -> list[tuple[str, Any]]:
        return [("p0", self.p0), ("p1", self.p1), ("alpha", self.alpha), ("beta", self.beta),
                ("log_a", round(self.log_a, 6)), ("log_b", round(self.log_b, 6)),
                ("slope", round(self.slope, 6))]

    def __repr__(self) -> str:
        return object_repr("SPRT", self._repr_items())

    def _repr_html_(self) -> str:
        return object_html("SPRT", self._repr_items())

    def llr(self, successes: int, n: int) -> float:
        """Log likelihood ratio of ``H1`` to ``H0`` after ``successes`` out of ``n`` trials."""
        n = check_int("n", n)
        successes = check_int("successes", successes)
        if successes > n:
            raise ValueError(f"`successes` must be at most `n` ({n}); got {successes}.")
        return successes * self._log_success + (n - successes) * self._log_failure

    def decision(self, successes: int, n: int) -> str:
        """``"reject"`` (H0), ``"accept"`` (H0) or ``"continue"`` for the cumulative counts."""
        value = self.llr(successes, n)
        if value >= self.log_a:
            return "reject"
        if value <= self.log_b:
            return "accept"
        return "continue"

    def _drift_root(self, p: float) -> float:
        """Wald's ``h`` with ``E_p[exp(h z)] = 1`` (``h = 1`` at ``p0``, ``-1`` at ``p1``)."""
        log_p, log_q = math.log(p), math.log1p(-p)

        def log_moment(h: float) -> float:
            # log E_p[exp(h z)], in log space: h reaches the thousands as p nears 0 or 1.
            return float(np.logaddexp(log_p + h * self._log_success, log_q + h * self._log_failure))

        mean = p * self._log_success + (1.0 - p) * self._log_failure
        if abs(mean) < 1e-14:
            return 0.0
        # The nonzero root lies on the opposite side of 0 from the drift.
        lo, hi = (1e-9, 1.0) if mean < 0 else (-1.0, -1e-9)
        while log_moment(lo) * log_moment(hi) > 0.0:
            lo, hi = (lo, hi * 2.0) if mean < 0 else (lo * 2.0, hi)
        return float(optimize.brentq(log_moment, lo, hi, xtol=1e-14))

    def operating_characteristic(self, p: float) -> float:
        """Wald's approximate probability of accepting ``H0`` when the true rate is ``p``."""
        p = check_open_unit("p", p)
        h = self._drift_root(p)
        a, b = self.log_a, self.log_b
        if h == 0.0:
            return a / (a - b)
        # (e^{ha} - 1) / (e^{ha} - e^{hb}), scaled by the larger exponential so none overflows.
        if h > 0.0:
            return math.expm1(-h * a) / math.expm1(h * (b - a))
        return (math.exp(h * (a - b)) - math.exp(-h * b)) / math.expm1(h * (a - b))

    def expected_sample_size(self, p: float) -> float:
        """Wald's approximate average sample number at rate ``p`` (overshoot ignored).

        Examples
        --------
        >>> round(SPRT(0.5, 0.6, alpha=0.05, beta=0.05).expected_sample_size(0.5), 4)
        129.8317
        """
        p = check_open_unit("p", p)
        mean = p * self._log_success + (1.0 - p) * self._log_failure
        if abs(mean) < 1e-14:
            second = p * self._log_success**2 + (1.0 - p) * self._log_failure**2
            return -self.log_a * self.log_b / second
        oc = self.operating_characteristic(p)
        return (oc * self.log_b + (1.0 - oc) * self.log_a) / mean

    def exact_operating_characteristics(
        self, p: float, *, n_max: int = 10_000
    ) -> SPRTOperatingCharacteristics:
        """Exact stopping probabilities and expected trials, truncated at ``n_max`` trials.

        Dynamic programming over the success counts still inside the continuation band, one
        trial at a time; with discrete data the actual error rates differ from the targets.

        Examples
        --------
        >>> oc = SPRT(0.5, 0.6, alpha=0.05, beta=0.05).exact_operating_characteristics(0.5, n_max=2000)
        >>> round(oc.prob_reject, 6)
        0.046282
        """
        p = check_open_unit("p", p)
        n_max = check_int("n_max", n_max, minimum=1)
        # Probability of the continuing paths by success count, for counts offset, offset + 1, ...
        # Only the band between the two decision lines survives, so the arrays stay short.
        mass = np.ones(1)
        offset = 0
        reject = accept = expected = 0.0
        for n in range(1, n_max + 1):
            grown = np.zeros(mass.size + 1)
            grown[:-1] += mass * (1.0 - p)
            grown[1:] += mass * p
            counts = offset + np.arange(grown.size)
            llr = counts * self._log_success + (n - counts) * self._log_failure
            up = llr >= self.log_a
            down = llr <= self.log_b
            stop_up, stop_down = float(grown[up].sum()), float(grown[down].sum())
            reject += stop_up
            accept += stop_down
            expected += n * (stop_up + stop_down)
            keep = np.flatnonzero(~(up | down))
            if keep.size == 0:
                mass = np.zeros(0)
                break
            mass = grown[keep[0] : keep[-1] + 1]
            offset += int(keep[0])
            if not mass.any():  # every continuing path has underflowed to 0: nothing more changes
                break
        undecided = float(mass.sum())
        return SPRTOperatingCharacteristics(
            p=p,
            prob_reject=reject,
            prob_accept=accept,
            prob_undecided=undecided,
            expected_n=expected + n_max * undecided,
            n_max=n_max,
        )
