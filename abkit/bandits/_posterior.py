"""Which arm is best, and what choosing each arm for good would cost, by one-dimensional quadrature.

For independent posteriors with densities ``f_i``, distribution functions ``F_i`` and quantile
functions ``Q_i``:

* ``P(arm i is best) = integral f_i(x) prod_{j != i} F_j(x) dx``;
* ``E[max_j mu_j] = sum_i integral x f_i(x) prod_{j != i} F_j(x) dx``, and the expected loss of
  arm ``i`` is ``E[max_j mu_j] - E[mu_i]``.

Posteriors are Beta (``scipy.stats.beta``) or, for Normal-Inverse-Gamma, the marginal of the
mean: Student t with ``2 alpha`` degrees of freedom, location ``mu`` and scale
``sqrt(beta / (alpha kappa))``.

The fast path is a fixed composite Gauss-Legendre rule in ``x``, shared by all arms: panels
break at every arm's quantiles ``Q_j(p)`` for the levels ``p`` in ``_LEVELS`` (from 1e-13 to
1 - 1e-13), so on each panel ``prod_{j != i} F_j`` is smooth. On every panel the rule's
``f_i`` and ``(x - low) f_i`` are rescaled to their exact integrals (from ``F_i`` and the
closed-form partial first moment), which removes the densities' rounding and endpoint
singularities (Beta with ``a < 1``, far Student t tails) from the error; panels where a bound
(each arm's mass there times ``prod_{j != i} F_j`` at the panel's top) is below 1e-18 are
skipped, which drops most panels of well-separated arms; the upper tail beyond the last
breakpoint is added in closed form, the lower one (probability below ~1e-26) dropped. That costs
``n_arms`` times 34 nodes (orders 20 and 14) per kept panel (at most ``15 n_arms - 1``) of
``betainc``/``stdtr`` in one vectorised call: about 1 ms for three arms (20-70 ms adaptively).
The error is estimated as the difference from the rule of order 14 on the same panels (plus
the skipped bounds); above 1e-10 (``E[max]``: relative to the larger of ``|E[max]|`` and the
widest 2%-98% range), one adaptive vector quadrature (``scipy.integrate.quad_vec``) of the
quantile-transformed integrands on ``u in [0, 1]`` (``x = Q_i(u)``) is used instead (Beta
priors with ``a < 1`` for ``expected_loss``, Student t with ``df <= 1``). Both are deterministic
and accurate to about 1e-10, where Monte Carlo would need ~10^20 draws for the same; the
adaptive rule can, rarely, miss a posterior far narrower than another (probabilities summing to
``1 - 1e-5``), which the fixed rule does not.

Examples
--------
>>> import numpy as np
>>> round(float(prob_best(beta_marginals(np.array([101.0, 121.0]), np.array([901.0, 881.0])))[1]), 9)
0.923183439
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import integrate, special

__all__ = ["Marginals", "beta_marginals", "expected_loss", "prob_best", "t_marginals"]

FloatArray = npt.NDArray[np.float64]
ArrayFunction = Callable[[FloatArray], FloatArray]

# Quantile levels where the fixed rule's panels break (for every arm), and its order per panel.
_TAIL = 1e-13
_LEVELS = np.array([_TAIL, 1e-9, 1e-6, 1e-4, 1e-3, 0.02, 0.2, 0.5, 0.8, 0.98, 0.999, 1 - 1e-4, 1 - 1e-6,
                    1 - 1e-9, 1 - _TAIL])
_ORDER = 20
_SPREAD = tuple(np.flatnonzero((_LEVELS == 0.02) | (_LEVELS == 0.98)))  # error scale of E[max]
_TOLERANCE = 1e-10
_NEGLIGIBLE = 1e-18  # panels whose contribution is bounded by this are skipped


class Marginals(NamedTuple):
    """Every arm's posterior of its mean, vectorised over arms (``x`` broadcast as ``(1, n)``)."""

    quantile: ArrayFunction  # u of shape (n,) -> Q_i(u_n) of shape (arms, n)
    cdf: ArrayFunction  # x of shape (n,) -> F_i(x_n) of shape (arms, n)
    mean: FloatArray
    pdf: ArrayFunction  # x of shape (n,) -> f_i(x_n) of shape (arms, n)
    upper_moment: ArrayFunction  # x of shape (n,) -> integral_{x_n}^inf t f_i(t) dt, shape (arms, n)


def _gauss_legendre(order: int) -> tuple[FloatArray, FloatArray]:
    nodes, weights = np.polynomial.legendre.leggauss(order)
    return (nodes + 1.0) / 2.0, weights / 2.0


_RULES = (_gauss_legendre(_ORDER), _gauss_legendre(_ORDER - 6))


def beta_marginals(a: FloatArray, b: FloatArray) -> Marginals:
    """Beta(a, b) posteriors."""
    a2, b2 = a[:, None], b[:, None]
    mean = a / (a + b)
    c = mean[:, None]
    # The density around the mean c, log f = (a-1) log1p((x-c)/c) + (b-1) log1p((c-x)/(1-c)) + const,
    # keeps large a, b accurate; the constant's rounding cancels in _fixed_rule's renormalisation.
    log_c = special.xlogy(a2 - 1.0, c) + special.xlog1py(b2 - 1.0, -c) - special.betaln(a2, b2)

    def pdf(x: FloatArray) -> FloatArray:
        x = np.clip(x, 0.0, 1.0)[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ratio = special.xlog1py(a2 - 1.0, (x - c) / c) + special.xlog1py(b2 - 1.0, (c - x) / (1 - c))
            return np.exp(log_ratio + log_c)

    return Marginals(
        lambda u: special.betaincinv(a2, b2, u[None, :]),
        lambda x: special.betainc(a2, b2, np.clip(x, 0.0, 1.0)[None, :]),
        mean,
        pdf,
        lambda x: c * special.betaincc(a2 + 1.0, b2, np.clip(x, 0.0, 1.0)[None, :]),
    )


def t_marginals(df: FloatArray, loc: FloatArray, scale: FloatArray) -> Marginals:
    """Student t posteriors (the mean's marginal under a Normal-Inverse-Gamma posterior)."""
    mean = np.where(df > 1, loc, np.nan)
    log_norm = -special.betaln(df / 2.0, 0.5) - 0.5 * np.log(df)  # accurate for large df too

    def standard_pdf(z: FloatArray, nu: FloatArray, log_c: FloatArray) -> FloatArray:
        return np.exp(log_c - (nu + 1.0) / 2.0 * np.log1p(z * z / nu))

    df2, loc2, scale2 = df[:, None], loc[:, None], scale[:, None]

    def upper_moment(x: FloatArray) -> FloatArray:
        # int_x^inf t f(t) dt = loc P(T > z) + scale (df + z^2) / (df - 1) f_std(z), z = (x - loc) / scale
        z = (x[None, :] - loc2) / scale2
        with np.errstate(divide="ignore", invalid="ignore"):
            tail = scale2 * (df2 + z * z) / (df2 - 1.0) * standard_pdf(z, df2, log_norm[:, None])
            return np.where(df2 > 1, loc2 * special.stdtr(df2, -z) + tail, np.nan)

    return Marginals(
        lambda u: loc2 + scale2 * special.stdtrit(df2, u[None, :]),
        lambda x: special.stdtr(df2, (x[None, :] - loc2) / scale2),
        mean,
        lambda x: standard_pdf((x[None, :] - loc2) / scale2, df2, log_norm[:, None]) / scale2,
        upper_moment,
    )


def _others(cdf: FloatArray) -> FloatArray:
    """``prod_{j != i} F_j`` for every row ``i`` of ``cdf`` (shape ``(arms, n)``), without dividing."""
    ones = np.ones_like(cdf[:1])
    before = np.cumprod(np.concatenate([ones, cdf[:-1]]), axis=0)
    after = np.cumprod(np.concatenate([ones, cdf[:0:-1]]), axis=0)[::-1]
    return before * after


def _rescaled(weights: FloatArray, others: FloatArray, exact: FloatArray) -> tuple[FloatArray, float]:
    """Per panel ``sum(weights * others)`` rescaled so that ``sum(weights)`` is ``exact``, and the
    exact mass of panels where every weight underflowed (then lost)."""
    rule = weights.sum(axis=2)
    with np.errstate(invalid="ignore"):
        usable = (rule > 0) & (exact > 0)
    ratio = np.divide(exact, rule, out=np.zeros_like(exact), where=usable)
    return (weights * others).sum(axis=2) * ratio, float(np.nansum(np.abs(exact), where=~usable))


def _fixed_rule(marginals: Marginals) -> tuple[FloatArray, float, float, float]:
    # Composite Gauss-Legendre in x on panels broken at every arm's quantile levels, plus the upper
    # tail in closed form. Returns P_i, E[max], and the error estimates of both (the difference from
    # the rule of order 14, plus the bound on the panels skipped; the higher order's own error is
    # far smaller).
    quantiles = marginals.quantile(_LEVELS)
    edges = np.unique(quantiles)
    at_edges = marginals.cdf(edges)  # (arms, edges)
    mass = np.diff(at_edges, axis=1)  # each arm's probability in each panel
    # Arm i's contribution from a panel is at most its mass there times prod_{j != i} F_j at the
    # panel's top: panels where that bound is negligible for every arm are skipped.
    bound = (mass * _others(at_edges[:, 1:])).max(axis=0) * np.maximum(1.0, np.abs(edges[1:]))
    keep = bound > _NEGLIGIBLE
    low, width = edges[:-1][keep, None], np.diff(edges)[keep, None]
    with np.errstate(invalid="ignore"):  # NaN moments where the mean does not exist (t, df <= 1)
        moments = marginals.upper_moment(edges)
        others_top = _others(at_edges[:, -1:])[:, 0]
        tail_p = (1.0 - at_edges[:, -1]) * others_top
        tail_m = float((moments[:, -1] * others_top).sum())
        # exact int (x - low) f_i(x) dx over each kept panel
        kept_mass, kept_shift = mass[:, keep], -np.diff(moments, axis=1)[:, keep] - low[:, 0] * mass[:, keep]
    results = []
    for nodes, weights in _RULES:
        x = (low + width * nodes).ravel()
        shape = (kept_mass.shape[0], -1, nodes.size)
        pdf = (marginals.pdf(x) * (width * weights).ravel()).reshape(shape)
        # Rescaling the rule's f_i and (x - low) f_i to their exact integrals on every panel cancels
        # the density's normalising error and most of the error from densities singular at a panel's
        # end (Beta(a < 1), far t tails): what remains is the average of the smooth prod F_j.
        others = _others(marginals.cdf(x)).reshape(shape)
        pdf_others, lost_p = _rescaled(pdf, others, kept_mass)
        shift_others, lost_m = _rescaled(pdf * (width * nodes), others, kept_shift)
        p = pdf_others.sum(axis=1) + tail_p
        results.append((p, float((pdf_others * low[:, 0] + shift_others).sum()) + tail_m, lost_p, lost_m))
    (p, m, lost_p, lost_m), (p_low, m_low, _, _) = results
    skipped = float(bound[~keep].sum())
    spread = float((quantiles[:, _SPREAD[1]] - quantiles[:, _SPREAD[0]]).max())
    p_error = float(np.abs(p - p_low).max()) + skipped + lost_p
    return p, m, p_error, (abs(m - m_low) + skipped + lost_m) / max(abs(m), spread)


def _adaptive(marginals: Marginals) -> tuple[FloatArray, float]:
    # One adaptive vector quadrature over u in (0, 1) for every arm i at once:
    # P_i = int prod_{j != i} F_j(Q_i(u)) du and M_i = int Q_i(u) prod_{j != i} F_j(Q_i(u)) du.
    def integrand(u: float) -> FloatArray:
        # Clipping u keeps heavy t tails finite; it drops at most the mass beyond 1e-15.
        x = marginals.quantile(np.array([min(max(u, 1e-15), 1.0 - 1e-15)]))[:, 0]
        below = marginals.cdf(x)  # below[j, i] = F_j(x_i)
        np.fill_diagonal(below, 1.0)
        others = below.prod(axis=0)
        return np.concatenate([others, x * others])

    values = integrate.quad_vec(integrand, 0.0, 1.0, epsabs=1e-12, epsrel=1e-10, limit=2_000)[0]
    n = values.size // 2
    return values[:n], float(values[n:].sum())


def _integrals(marginals: Marginals, moment: bool) -> tuple[FloatArray, float]:
    p, m, p_error, m_error = _fixed_rule(marginals)
    if p_error <= _TOLERANCE and (not moment or m_error <= _TOLERANCE):
        return p, m
    return _adaptive(marginals)


def prob_best(marginals: Marginals) -> FloatArray:
    """``P(arm i has the largest mean)``; independent continuous posteriors.

    Examples
    --------
    >>> import numpy as np
    >>> prob_best(beta_marginals(np.array([1.0, 1.0]), np.array([1.0, 1.0]))).round(12).tolist()
    [0.5, 0.5]
    """
    return _integrals(marginals, moment=False)[0]


def expected_loss(marginals: Marginals) -> FloatArray:
    """``E[max_j mu_j - mu_i]`` for each arm ``i`` (NaN where a posterior has no mean)."""
    expected_max = _integrals(marginals, moment=True)[1]
    return np.maximum(expected_max - marginals.mean, 0.0)
