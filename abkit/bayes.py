"""Bayesian A/B summaries: chance to win, expected loss, and credible intervals.

Two models, both with independent arms:

- :func:`bayes_proportions`: conversion rates with a Beta prior, so each posterior is
  ``Beta(prior_alpha + successes, prior_beta + failures)``.
- :func:`bayes_means`: the large-sample normal posterior of each mean (flat prior),
  ``N(mean, var / n)``.

Nothing is Monte Carlo. For Beta posteriors, ``P(T > C) = E[S_T(C)]`` is one smooth integral
over the normal scores of the narrower posterior's quantiles, evaluated by adaptive quadrature
to ~1e-12 (``scipy.integrate.quad``); the expected losses reduce to the same
integral with shifted parameters, since ``x f(x; a, b) = a / (a + b) f(x; a + 1, b)``:
``E[(T - C)+] = E[T] P(T' > C) - E[C] P(T > C')``, ``T' ~ Beta(a_T + 1, b_T)``. For normal
posteriors everything is closed form: with ``D = T - C ~ N(mu, s^2)``,
``P(D > 0) = Phi(mu / s)`` and ``E[D+] = mu Phi(mu / s) + s phi(mu / s)``.

``control_expected_loss`` is the expected loss of shipping the control, ``E[max(T - C, 0)]``
(what is given up if the treatment is in fact better); ``treatment_expected_loss`` is
``E[max(C - T, 0)]``. Credible intervals are equal-tailed; those of the difference and of the
relative lift ``T / C - 1`` come from the exact distribution of each, by root-finding on its
CDF (an integral as above). ``relative_effect`` is the ratio of the posterior means minus 1.

Examples
--------
>>> from abkit import ProportionStats, bayes_proportions
>>> r = bayes_proportions(ProportionStats(100, 1000), ProportionStats(120, 1000))
>>> round(r.chance_to_win, 6)
0.923183
>>> r.treatment_expected_loss < r.control_expected_loss
True
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import integrate, optimize, special, stats

from abkit._inference import NAN_INTERVAL, interval, warn_degenerate
from abkit._results import ConfidenceInterval, Result
from abkit._validation import check_confidence_level, check_positive
from abkit.errors import ConvergenceError
from abkit.means import _as_mean_stats
from abkit.proportions import as_proportion_stats

__all__ = ["BayesMeansResult", "BayesProportionsResult", "bayes_means", "bayes_proportions"]

# Quadrature tolerances: far below any decision threshold, and what quad reaches here.
_EPSABS, _EPSREL = 1e-13, 1e-12
# The z grid of the credible-interval integrals: step 0.05 on [-9, 9] (the mass outside is
# below 1e-18); trapezoid weights phi(z) dz, normalised to sum to 1. Over the narrower
# posterior's quantiles the integrand varies on a z scale of at least about 1, where the
# trapezoidal error is of order exp(-2 pi^2 / 0.05^2): nil.
_Z_GRID = np.linspace(-9.0, 9.0, 361)
_Z_WEIGHTS = np.exp(-0.5 * _Z_GRID**2)
_Z_WEIGHTS /= _Z_WEIGHTS.sum()
# The normal-score range of the posterior integrals (phi(12) < 1e-31) and sqrt(2 pi).
_Z_MAX = 12.0
_SQRT_2PI = math.sqrt(2.0 * math.pi)
# Largest acceptable error estimate of a posterior probability.
_MAX_ERROR = 1e-9
# A normal control posterior must have less mass than this at or below 0 for a relative lift.
_RELATIVE_MASS = 1e-9


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class BayesMeansResult(Result):
    """Result of :func:`bayes_means` (and the base of :class:`BayesProportionsResult`).

    ``chance_to_win`` is ``P(T > C)`` under the posterior; ``control_expected_loss`` is
    ``E[max(T - C, 0)]``, the expected loss of choosing the control, and
    ``treatment_expected_loss`` is ``E[max(C - T, 0)]``. ``effect`` is the posterior mean of
    ``T - C`` with credible interval ``ci``; ``relative_effect`` is ``E[T] / E[C] - 1`` and
    ``relative_ci`` the credible interval of ``T / C - 1``; ``control_mean``/``treatment_mean``
    are the posterior means with intervals ``control_ci``/``treatment_ci``.
    """

    chance_to_win: float
    control_expected_loss: float
    treatment_expected_loss: float
    effect: float
    ci: ConfidenceInterval
    relative_effect: float
    relative_ci: ConfidenceInterval
    control_mean: float
    treatment_mean: float
    control_ci: ConfidenceInterval
    treatment_ci: ConfidenceInterval
    confidence_level: float
    method: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class BayesProportionsResult(BayesMeansResult):
    """Result of :func:`bayes_proportions`: :class:`BayesMeansResult`'s fields for the two
    rates, plus the posterior Beta parameters of each arm."""

    control_alpha: float
    control_beta: float
    treatment_alpha: float
    treatment_beta: float


def _beta_ppf_z(a: float, b: float, z: Any) -> Any:
    """``F^{-1}(Phi(z))`` of a Beta(a, b), accurate in both tails (the upper one via betainccinv)."""
    z = np.asarray(z, dtype=np.float64)
    lower = special.betaincinv(a, b, special.ndtr(np.minimum(z, 0.0)))
    upper = special.betainccinv(a, b, special.ndtr(-np.maximum(z, 0.0)))
    return np.where(z <= 0.0, lower, upper)


def _expect_over_z(function: Callable[[float], float]) -> float:
    """``integral function(z) phi(z) dz`` over the standard normal scale, by adaptive quadrature.

    QUADPACK's "roundoff detected" notice is expected when the integrand is nearly constant and
    is not an error; the error estimate decides instead.
    """
    value, error, *_ = integrate.quad(
        lambda z: function(z) * math.exp(-0.5 * z * z) / _SQRT_2PI, -_Z_MAX, _Z_MAX,
        points=(-4.0, -2.0, 0.0, 2.0, 4.0), epsabs=_EPSABS, epsrel=_EPSREL, limit=200, full_output=1,
    )
    if not error <= _MAX_ERROR:
        raise ConvergenceError(f"Posterior integral did not converge: error estimate {error:.3g}.")
    return min(max(float(value), 0.0), 1.0)


def prob_greater(a_t: float, b_t: float, a_c: float, b_c: float) -> float:
    """``P(T > C)`` for independent ``T ~ Beta(a_t, b_t)`` and ``C ~ Beta(a_c, b_c)``.

    ``E[S_T(C)]`` as an integral over the normal scores ``z`` of ``C``'s quantiles,
    ``C = F_C^{-1}(Phi(z))``. The integration variable is the narrower posterior (the other's
    survival function then varies slowly along it), and the integrand is whichever of ``S_T``
    and ``F_T`` is small, so the error stays relative to a small probability.

    >>> round(prob_greater(121, 881, 101, 901), 9)
    0.923183439
    """
    if _beta_variance(a_t, b_t) < _beta_variance(a_c, b_c):
        return 1.0 - prob_greater(a_c, b_c, a_t, b_t)
    if special.betaincc(a_t, b_t, special.betaincinv(a_c, b_c, 0.5)) > 0.5:
        return 1.0 - _expect_over_z(lambda z: float(special.betainc(a_t, b_t, _beta_ppf_z(a_c, b_c, z))))
    return _expect_over_z(lambda z: float(special.betaincc(a_t, b_t, _beta_ppf_z(a_c, b_c, z))))


def _beta_variance(a: float, b: float) -> float:
    return a * b / ((a + b) ** 2 * (a + b + 1.0))


def _equal_tailed(cdf: Callable[[float], float], lower: float, upper: float,
                  confidence_level: float) -> ConfidenceInterval:
    """Equal-tailed interval of a continuous distribution with ``cdf``, bracketed by [lower, upper]."""
    tail = (1.0 - confidence_level) / 2.0

    def quantile(p: float) -> float:
        return float(optimize.brentq(lambda x: cdf(x) - p, lower, upper, xtol=1e-14, rtol=1e-12))

    return ConfidenceInterval(quantile(tail), quantile(1.0 - tail))


def _quantile_nodes(a: float, b: float) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Nodes ``x = F^{-1}(Phi(z))`` of a Beta(a, b) on a fine z grid, with normal weights.

    ``E[h(X)] = integral h(F^{-1}(Phi(z))) phi(z) dz``; the trapezoidal rule on a z grid is
    exponentially accurate for smooth integrands with Gaussian decay, and vectorises.
    """
    return _beta_ppf_z(a, b, _Z_GRID), _Z_WEIGHTS


def _beta_difference_cdf(a_t: float, b_t: float, a_c: float, b_c: float) -> Callable[[float], float]:
    """``d -> P(T - C <= d)``, an expectation over the narrower posterior (smooth integrand)."""
    if _beta_variance(a_t, b_t) < _beta_variance(a_c, b_c):
        x, w = _quantile_nodes(a_t, b_t)  # P(C >= T - d) = E_T[S_C(T - d)]
        return lambda d: float(w @ special.betaincc(a_c, b_c, np.clip(x - d, 0.0, 1.0)))
    x, w = _quantile_nodes(a_c, b_c)  # E_C[F_T(C + d)]
    return lambda d: float(w @ special.betainc(a_t, b_t, np.clip(x + d, 0.0, 1.0)))


def _beta_ratio_cdf(a_t: float, b_t: float, a_c: float, b_c: float) -> Callable[[float], float]:
    """``r -> P(T / C - 1 <= r)`` for ``r > -1``, over the posterior narrower on the log scale
    (smaller coefficient of variation: the other's CDF then varies slowly along it)."""
    # Squared coefficient of variation of a Beta(a, b): b / (a (a + b + 1)).
    if b_t / (a_t * (a_t + b_t + 1.0)) < b_c / (a_c * (a_c + b_c + 1.0)):
        x, w = _quantile_nodes(a_t, b_t)  # P(C >= T / (1 + r)) = E_T[S_C(T / (1 + r))]
        return lambda r: float(w @ special.betaincc(a_c, b_c, np.clip(x / (1.0 + r), 0.0, 1.0)))
    x, w = _quantile_nodes(a_c, b_c)  # E_C[F_T((1 + r) C)]
    return lambda r: float(w @ special.betainc(a_t, b_t, np.clip((1.0 + r) * x, 0.0, 1.0)))


def bayes_proportions(
    control: Any,
    treatment: Any,
    *,
    prior: tuple[float, float] = (1.0, 1.0),
    confidence_level: float = 0.95,
) -> BayesProportionsResult:
    """Beta-binomial posterior comparison of two conversion rates.

    Parameters
    ----------
    control, treatment
        ``ProportionStats`` (successes, n) or 0/1 arrays.
    prior
        ``(alpha, beta)`` of the Beta prior of both rates; ``(1, 1)`` is uniform.
    confidence_level
        Of the equal-tailed credible intervals.

    Returns
    -------
    BayesProportionsResult
        ``chance_to_win`` (``P(T > C)``, exact up to quadrature error ~1e-12),
        ``control_expected_loss``, ``treatment_expected_loss``, credible intervals.

    Examples
    --------
    >>> from abkit import ProportionStats
    >>> r = bayes_proportions(ProportionStats(40, 500), ProportionStats(55, 500), prior=(0.5, 0.5))
    >>> round(r.chance_to_win, 4), round(r.effect, 4), r.ci.low < 0 < r.ci.high
    (0.9473, 0.0299, True)
    """
    if not isinstance(prior, tuple | list) or len(prior) != 2:
        raise TypeError(f"`prior` must be an (alpha, beta) pair of positive numbers; got {prior!r}.")
    prior_alpha = check_positive("prior[0]", prior[0])
    prior_beta = check_positive("prior[1]", prior[1])
    confidence_level = check_confidence_level(confidence_level)
    c = as_proportion_stats("control", control)
    t = as_proportion_stats("treatment", treatment)
    a_c, b_c = prior_alpha + c.successes, prior_beta + c.n - c.successes
    a_t, b_t = prior_alpha + t.successes, prior_beta + t.n - t.successes
    mean_c, mean_t = a_c / (a_c + b_c), a_t / (a_t + b_t)
    loss_control = max(
        mean_t * prob_greater(a_t + 1, b_t, a_c, b_c) - mean_c * prob_greater(a_t, b_t, a_c + 1, b_c), 0.0
    )
    tail = (1.0 - confidence_level) / 2.0
    # Brackets from quantiles far in the tails (the CDFs are evaluated inside them).
    far_c = (float(special.betaincinv(a_c, b_c, 1e-15)), float(special.betaincinv(a_c, b_c, 1.0 - 1e-15)))
    far_t = (float(special.betaincinv(a_t, b_t, 1e-15)), float(special.betaincinv(a_t, b_t, 1.0 - 1e-15)))
    ci = _equal_tailed(_beta_difference_cdf(a_t, b_t, a_c, b_c), far_t[0] - far_c[1], far_t[1] - far_c[0],
                       confidence_level)
    ratio_bracket = (max(far_t[0] / far_c[1] - 1.0, -1.0 + 1e-12), far_t[1] / max(far_c[0], 1e-300) - 1.0)
    relative_ci = _equal_tailed(_beta_ratio_cdf(a_t, b_t, a_c, b_c), *ratio_bracket, confidence_level)
    return BayesProportionsResult(
        chance_to_win=prob_greater(a_t, b_t, a_c, b_c),
        control_expected_loss=loss_control,
        treatment_expected_loss=max(loss_control - (mean_t - mean_c), 0.0),
        effect=mean_t - mean_c,
        ci=ci,
        relative_effect=mean_t / mean_c - 1.0,
        relative_ci=relative_ci,
        control_mean=mean_c,
        treatment_mean=mean_t,
        control_ci=_beta_interval(a_c, b_c, tail),
        treatment_ci=_beta_interval(a_t, b_t, tail),
        confidence_level=confidence_level,
        method="beta-binomial",
        control_alpha=a_c,
        control_beta=b_c,
        treatment_alpha=a_t,
        treatment_beta=b_t,
    )


def _beta_interval(a: float, b: float, tail: float) -> ConfidenceInterval:
    low, high = special.betaincinv(a, b, tail), special.betaincinv(a, b, 1.0 - tail)
    return ConfidenceInterval(float(low), float(high))


def bayes_means(
    control: Any,
    treatment: Any,
    *,
    confidence_level: float = 0.95,
) -> BayesMeansResult:
    """Large-sample normal posterior comparison of two means.

    Each arm's mean has the posterior ``N(mean, var / n)`` (flat prior; the normal limit of any
    smooth prior), so ``D = T - C ~ N(mu, s^2)`` and every summary is closed form except the
    relative lift's interval (root-finding on ``P(T <= (1 + r) C)``, which needs a control
    posterior with no appreciable mass at or below 0; otherwise it is NaN with a warning).

    Parameters
    ----------
    control, treatment
        ``MeanStats`` (n, mean, var) or raw arrays (at least 2 values each).
    confidence_level
        Of the equal-tailed credible intervals.

    Examples
    --------
    >>> from abkit import MeanStats
    >>> r = bayes_means(MeanStats(2000, 10.0, 16.0), MeanStats(2000, 10.3, 16.0))
    >>> round(r.chance_to_win, 4), round(r.treatment_expected_loss, 5)
    (0.9911, 0.00037)
    """
    confidence_level = check_confidence_level(confidence_level)
    c = _as_mean_stats("control", control)
    t = _as_mean_stats("treatment", treatment)
    var_c, var_t = c.var / c.n, t.var / t.n
    mu, s = t.mean - c.mean, math.sqrt(var_c + var_t)
    # Normal posteriors (flat prior): the credible intervals are the Wald intervals.
    control_ci = interval(c.mean, math.sqrt(var_c), "two-sided", confidence_level)
    treatment_ci = interval(t.mean, math.sqrt(var_t), "two-sided", confidence_level)
    if s == 0.0:
        warn_degenerate("Both arms have zero variance; the posterior summaries are NaN.")
        chance = loss_control = loss_treatment = math.nan
        ci = relative_ci = NAN_INTERVAL
    else:
        chance = float(special.ndtr(mu / s))
        density = float(stats.norm.pdf(mu / s))
        loss_control = mu * chance + s * density
        loss_treatment = -mu * (1.0 - chance) + s * density
        ci = interval(mu, s, "two-sided", confidence_level)
        relative_ci = _normal_relative_interval(c.mean, var_c, t.mean, var_t, confidence_level)
    return BayesMeansResult(
        chance_to_win=chance,
        control_expected_loss=loss_control,
        treatment_expected_loss=loss_treatment,
        effect=mu,
        ci=ci,
        relative_effect=t.mean / c.mean - 1.0 if c.mean > 0.0 else math.nan,
        relative_ci=relative_ci,
        control_mean=c.mean,
        treatment_mean=t.mean,
        control_ci=control_ci,
        treatment_ci=treatment_ci,
        confidence_level=confidence_level,
        method="normal",
    )


def _normal_relative_interval(mean_c: float, var_c: float, mean_t: float, var_t: float,
                              confidence_level: float) -> ConfidenceInterval:
    """Credible interval of ``T / C - 1`` for independent normal posteriors with ``C > 0``.

    ``P(T / C - 1 <= r) = P(T - (1 + r) C <= 0) = Phi(((1 + r) mean_c - mean_t) /
    sqrt(var_t + (1 + r)^2 var_c))`` when ``C > 0``.
    """
    if mean_c <= 0.0:
        mass_below_zero = 1.0
    else:
        mass_below_zero = float(special.ndtr(-mean_c / math.sqrt(var_c))) if var_c > 0.0 else 0.0
    if mass_below_zero >= _RELATIVE_MASS:
        warn_degenerate(
            "The relative lift needs a control posterior clearly above 0; relative_effect or "
            "relative_ci is NaN."
        )
        return NAN_INTERVAL

    def cdf(r: float) -> float:
        ratio = 1.0 + r
        return float(special.ndtr((ratio * mean_c - mean_t) / math.sqrt(var_t + ratio**2 * var_c)))

    far = 12.0
    lower = (mean_t - far * math.sqrt(var_t)) / (mean_c + far * math.sqrt(var_c)) - 1.0
    upper = (mean_t + far * math.sqrt(var_t)) / max(mean_c - far * math.sqrt(var_c), mean_c * 1e-6) - 1.0
    return _equal_tailed(cdf, lower, upper, confidence_level)
