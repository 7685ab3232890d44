"""Which arm is best, and what choosing each arm for good would cost, by one-dimensional quadrature.

For independent posteriors with densities ``f_i``, distribution functions ``F_i`` and quantile
functions ``Q_i``:

* ``P(arm i is best) = integral f_i(x) prod_{j != i} F_j(x) dx``;
* ``E[max_j mu_j] = sum_i integral x f_i(x) prod_{j != i} F_j(x) dx``, and the expected loss of
  arm ``i`` is ``E[max_j mu_j] - E[mu_i]``.

Posteriors are Beta (``scipy.stats.beta``) or, for Normal-Inverse-Gamma, the marginal of the
mean: Student t with ``2 alpha`` degrees of freedom, location ``mu`` and scale
``sqrt(beta / (alpha kappa))``.

The fast path is a fixed composite Gauss-Legendre rule in ``y = x - center`` (centred on the
best posterior mean, so that offsets such as 1e12 keep their resolution), shared by all arms.
Its panels break at the arms' quantiles ``Q_j(p)`` for the levels ``p`` in ``_LEVELS`` (from
1e-13 to 1 - 1e-13): every level of every arm for up to ``_FEW`` arms, and beyond that snapped
to a power-of-two grid at about twice each arm's level spacing, so that similar arms share
edges. Nothing below ``max_j Q_j(1e-13)`` is integrated (the maximum lies there with probability
below 1e-13) and arms whose ``Q(1 - 1e-13)`` is below it are left out (best with probability
below 2e-13). On every panel the rule's ``f_i`` and ``(y - low) f_i`` are rescaled to their exact
integrals (from ``F_i`` and the closed-form partial first moment), which removes the densities'
rounding and endpoint singularities (Beta with ``a < 1``, far Student t tails) from the error;
panels where a bound (each arm's mass there times ``prod_{j != i} F_j`` at the panel's top) is
below 1e-18 are skipped; the upper tail beyond the last edge is added in closed form.
``prod_{j != i} F_j`` comes from one sum of ``log F_j`` per node (zeros counted apart), so the
cost is ``arms x nodes`` evaluations of ``betainc``/``stdtr`` (34 nodes, orders 20 and 14, per
kept panel). ``prob_best`` first tries orders 14 and 10 (24 nodes) with, beyond ``_FEW`` arms,
only the extreme quantile levels exact (the others only place edges before snapping; for
Beta posteriors with ``min(a, b) >= 10``). Each rule pair is first tried with the higher
order's CDFs integrated from its densities (``_integrated_cdf``) and the lower order's exact,
so the error estimate covers the integration: about 1 ms for three arms, 0.035 s for 1,000
similar arms and 0.31 s for 10,000 (``benchmarks/bench_posterior.py``). The error is estimated
as the difference from the rule of the lower order on the same panels (plus the skipped
bounds); above 1e-10 (``E[max]``: relative to the larger of ``|E[max]|`` and the widest 2%-98%
range) the panels are halved (up to twice), then one adaptive vector quadrature
(``scipy.integrate.quad_vec``; the mass beyond the 1 - 1e-15 quantiles added in closed form) of the
quantile-transformed integrands on ``u in [0, 1]`` (``y = Q_i(u)``) is used instead (Beta
priors with ``a < 1`` for ``expected_loss``, Student t with ``df <= 1``). Both are deterministic
and accurate to about 1e-10, where Monte Carlo would need ~10^20 draws for the same; the
adaptive rule can, rarely, miss a posterior far narrower than another (probabilities summing to
``1 - 1e-5``), which the fixed rule does not.

Beta posteriors with ``min(a, b)`` above 1e9, where scipy's incomplete beta loses accuracy
(1e-5 at 1e11), are their Edgeworth expansions (skewness and kurtosis terms, error of order
``min(a, b) ** -1.5``), with each mean's distance from the centre in double-double arithmetic:
counts up to 1e300 keep the probabilities summing to 1 and posteriors narrower than the float
spacing of their means apart.

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
from numpy.polynomial import legendre
from scipy import integrate, special

__all__ = ["Marginals", "beta_marginals", "expected_loss", "normal_marginals", "prob_best", "t_marginals"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
ArrayFunction = Callable[[FloatArray], FloatArray]

# Quantile levels where the fixed rule's panels break (for every arm), and its order per panel.
_TAIL = 1e-13
_LEVELS = np.array([_TAIL, 1e-9, 1e-6, 1e-4, 1e-3, 0.02, 0.2, 0.5, 0.8, 0.98, 0.999, 1 - 1e-4, 1 - 1e-6,
                    1 - 1e-9, 1 - _TAIL])
_ORDER = 20
_SPREAD = tuple(np.flatnonzero((_LEVELS == 0.02) | (_LEVELS == 0.98)))  # error scale of E[max]
_TOLERANCE = 1e-10
_NEGLIGIBLE = 1e-18  # panels whose contribution is bounded by this are skipped
_FEW = 8  # up to this many contending arms, every quantile level of every arm is a panel edge
_SNAP = 2.0  # beyond, edges snap to a power-of-two grid below twice the local spacing
_SQRT_2PI = float(np.sqrt(2.0 * np.pi))
_REFINEMENTS = 2  # halve the panels up to this many times before the fallback


class Marginals(NamedTuple):
    """Every arm's posterior of its mean, vectorised over arms (``y`` broadcast as ``(1, n)``).

    Every function and ``mean`` are in coordinates ``y = x - center``, centred on the best
    posterior mean, so that rewards offset by a constant (say 1e12) keep their resolution:
    ``prob_best`` and ``expected_loss`` are shift-invariant.
    """

    quantile: ArrayFunction  # u of shape (n,) -> Q_i(u_n) - center of shape (arms, n)
    cdf: ArrayFunction  # y of shape (n,) -> F_i(center + y_n) of shape (arms, n)
    mean: FloatArray  # E[mu_i] - center
    pdf: ArrayFunction  # y of shape (n,) -> f_i(center + y_n) of shape (arms, n)
    upper_moment: ArrayFunction  # y -> integral_{center + y}^inf (t - center) f_i(t) dt, (arms, n)
    center: float = 0.0
    # Every density smooth up to its support's ends (Beta with a, b >= 1 and not all edges near
    # them, t, normal): the panel edges may then come from a normal fit between the extreme
    # quantiles (_quantiles); a Beta with a < 1 needs its own quantiles to grade the panels
    # toward the singularity at 0, or both rules miss it alike (5e-9 against an estimate of 2e-14).
    smooth: bool = True


def _gauss_legendre(order: int) -> tuple[FloatArray, FloatArray]:
    nodes, weights = np.polynomial.legendre.leggauss(order)
    return (nodes + 1.0) / 2.0, weights / 2.0


_RULES = (_gauss_legendre(_ORDER), _gauss_legendre(_ORDER - 6))
# Tried first by prob_best: orders 14 and 10 (24 nodes a panel instead of 34). Smooth posteriors,
# the common case, meet the tolerance with them (the estimate, |G14 - G10|, bounds the lower order's error,
# so it is conservative for the G14 value returned); the others fall back to _RULES.
_LIGHT_RULES = (_gauss_legendre(_ORDER - 6), _gauss_legendre(_ORDER - 10))


def _cumulative_matrix(nodes: FloatArray) -> FloatArray:
    """``S[k, j] = integral_0^{t_k} l_j(t) dt`` for the Lagrange basis ``l_j`` on the ``nodes`` ``t``
    in ``[0, 1]``: ``S @ f(t)`` integrates the interpolating polynomial of ``f`` from 0 to each node
    (through the Legendre basis, whose integrals are exact: ``P_m' `` recurrences in ``legint``)."""
    size = nodes.size
    s = 2.0 * nodes - 1.0
    integrals = np.stack([legendre.legval(s, legendre.legint(np.eye(size)[m], lbnd=-1.0)) / 2.0
                          for m in range(size)], axis=1)
    return np.asarray(integrals @ np.linalg.inv(legendre.legvander(s, size - 1)), dtype=np.float64)


# The higher-order rule of each pair gets its CDFs by integrating the densities it needs anyway
# (_integrated_cdf), the lower-order one from the exact CDF (betainc, stdtr).
_CUMULATIVE = {rules[0][0].size: _cumulative_matrix(rules[0][0]) for rules in (_RULES, _LIGHT_RULES)}


def _center(mean: FloatArray) -> float:
    finite = mean[np.isfinite(mean)]
    return float(finite.max()) if finite.size else 0.0


# Above this min(a, b), scipy's incomplete beta loses accuracy (1e-5 at 1e11, 1e-3 at 1e14):
# the posterior is its Edgeworth expansion instead (skewness and kurtosis terms; error of order
# min(a, b) ** -1.5, below 1e-13 here), with the mean's distance from the centre in
# double-double arithmetic so that posteriors narrower than a float's spacing stay apart.
_HUGE = 1e9
# Beta posteriors with min(a, b) below this have their panel edges at their own quantiles (Marginals.smooth).
_SMOOTH = 10.0


def _two_product(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``x * y`` as an unevaluated sum ``p + e``, exactly (Dekker's algorithm)."""
    def split(v: FloatArray) -> tuple[FloatArray, FloatArray]:
        c = 134217729.0 * v
        high = c - (c - v)
        return high, v - high

    p = x * y
    (xh, xl), (yh, yl) = split(x), split(y)
    return p, ((xh * yh - p) + xh * yl + xl * yh) + xl * yl


def _mean_gap(a: FloatArray, b: FloatArray, k: int) -> FloatArray:
    """``a / (a + b) - a_k / (a_k + b_k)`` to a few ulps of itself, however close the means."""
    exponent = np.frexp(np.maximum(a, b))[1]
    a, b = np.ldexp(a, -exponent), np.ldexp(b, -exponent)  # exact scaling into [0.5, 1)
    p1, e1 = _two_product(a, np.full_like(a, b[k]))
    p2, e2 = _two_product(np.full_like(b, a[k]), b)
    return ((p1 - p2) + (e1 - e2)) / ((a + b) * (a[k] + b[k]))


def _hermite(z: FloatArray) -> tuple[FloatArray, ...]:
    z2 = z * z
    return (z, z2 - 1.0, z * (z2 - 3.0), z2 * (z2 - 6.0) + 3.0, z * (z2 * (z2 - 10.0) + 15.0),
            z2 * (z2 * (z2 - 15.0) + 45.0) - 15.0)


def _edgeworth(a: FloatArray, b: FloatArray, gap: FloatArray) -> tuple[ArrayFunction, ...]:
    """Quantile, CDF, density and upper moment of Beta(a, b) by its Edgeworth expansion, in
    coordinates centred ``gap`` below the mean (arms as rows)."""
    n = a + b
    sd = np.sqrt(a / n * (b / n) / (n + 1.0))[:, None]
    r = (b - a) / np.sqrt(a) / np.sqrt(b)  # in this order so that counts to 1e300 do not overflow
    g1 = (2.0 * r * np.sqrt(n + 1.0) / (n + 2.0))[:, None]
    g2 = (6.0 * (r * r * ((n + 1.0) / (n + 2.0) / (n + 3.0)) - 1.0 / (n + 3.0)))[:, None]
    gap = gap[:, None]

    def standard(y: FloatArray) -> tuple[FloatArray, tuple[FloatArray, ...]]:
        z = (y[None, :] - gap) / sd
        return z, _hermite(z)

    def quantile(u: FloatArray) -> FloatArray:
        z = special.ndtri(u)[None, :]
        w = (z + g1 / 6.0 * (z * z - 1.0) + g2 / 24.0 * (z**3 - 3.0 * z)
             - g1 * g1 / 36.0 * (2.0 * z**3 - 5.0 * z))  # Cornish-Fisher
        return gap + sd * w

    def cdf(y: FloatArray) -> FloatArray:
        z, h = standard(y)
        correction = g1 / 6.0 * h[1] + g2 / 24.0 * h[2] + g1 * g1 / 72.0 * h[4]
        return np.clip(special.ndtr(z) - np.exp(-0.5 * z * z) / _SQRT_2PI * correction, 0.0, 1.0)

    def pdf(y: FloatArray) -> FloatArray:
        z, h = standard(y)
        shape = 1.0 + g1 / 6.0 * h[2] + g2 / 24.0 * h[3] + g1 * g1 / 72.0 * h[5]
        return np.maximum(np.exp(-0.5 * z * z) / _SQRT_2PI * shape / sd, 0.0)

    def upper_moment(y: FloatArray) -> FloatArray:
        z, h = standard(y)
        phi = np.exp(-0.5 * z * z) / _SQRT_2PI
        correction = g1 / 6.0 * h[1] + g2 / 24.0 * h[2] + g1 * g1 / 72.0 * h[4]
        above = special.ndtr(-z) + phi * correction
        spread = phi * (1.0 + g1 / 6.0 * (h[2] + 3.0 * h[0]) + g2 / 24.0 * (h[3] + 4.0 * h[1])
                        + g1 * g1 / 72.0 * (h[5] + 6.0 * h[3]))
        return gap * above + sd * spread

    return quantile, cdf, pdf, upper_moment


def beta_marginals(a: FloatArray, b: FloatArray) -> Marginals:
    """Beta(a, b) posteriors."""
    a2, b2 = a[:, None], b[:, None]
    mean = a / (a + b)
    center = _center(mean)
    c = mean[:, None]
    d = c - center  # the mean in centred coordinates
    # The density around the mean c, log f = (a-1) log1p((x-c)/c) + (b-1) log1p((c-x)/(1-c)) + const,
    # keeps large a, b accurate; the constant's rounding cancels in _fixed_rule's renormalisation.
    log_c = special.xlogy(a2 - 1.0, c) + special.xlog1py(b2 - 1.0, -c) - special.betaln(a2, b2)

    def x_of(y: FloatArray) -> FloatArray:
        return np.clip(center + y, 0.0, 1.0)[None, :]

    def pdf(y: FloatArray) -> FloatArray:
        step = np.clip(y, -center, 1.0 - center)[None, :] - d  # x - c
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ratio = special.xlog1py(a2 - 1.0, step / c) + special.xlog1py(b2 - 1.0, -step / (1 - c))
            return np.exp(log_ratio + log_c)

    def upper_moment(y: FloatArray) -> FloatArray:
        # int_x^1 t f(t) dt = c Q_x(a + 1, b) = c Q_x(a, b) + x (1 - x) f(x) / (a + b), by the
        # recurrence I_x(a + 1, b) = I_x(a, b) - x^a (1 - x)^b / (a B(a, b)): one incomplete beta,
        # and Q_x(a, b) = I_{1-x}(b, a) (scipy's betaincc takes five times as long; rounding 1 - x
        # moves Q by at most f(x) 1.1e-16, far below the tolerance of E[max]).
        x = x_of(y)
        with np.errstate(invalid="ignore"):
            tail = np.where((x > 0.0) & (x < 1.0), x * (1.0 - x) * pdf(y) / (a2 + b2), 0.0)
        return d * special.betainc(b2, a2, 1.0 - x) + tail

    functions: tuple[ArrayFunction, ...] = (lambda u: special.betaincinv(a2, b2, u[None, :]) - center,
                 lambda y: special.betainc(a2, b2, x_of(y)), pdf, upper_moment)
    gap = mean - center
    huge = np.minimum(a, b) > _HUGE
    if huge.any():
        best = int(np.argmax(mean))
        gap = np.where(huge, _mean_gap(a, b, best), gap)
        rows = huge[:, None]
        approximations = _edgeworth(a, b, gap)

        def either(exact: ArrayFunction, approximate: ArrayFunction) -> ArrayFunction:
            def function(v: FloatArray) -> FloatArray:
                with np.errstate(all="ignore"):
                    return np.where(rows, approximate(v), exact(v))
            return function

        functions = tuple(either(e, f) for e, f in zip(functions, approximations, strict=True))
    quantile, cdf, density, moment = functions
    return Marginals(quantile, cdf, gap, density, moment, center, bool(np.all(np.minimum(a, b) >= _SMOOTH)))


def t_marginals(df: FloatArray, loc: FloatArray, scale: FloatArray) -> Marginals:
    """Student t posteriors (the mean's marginal under a Normal-Inverse-Gamma posterior)."""
    center = _center(loc)
    loc = loc - center
    mean = np.where(df > 1, loc, np.nan)
    log_norm = -special.betaln(df / 2.0, 0.5) - 0.5 * np.log(df)  # accurate for large df too

    def standard_pdf(z: FloatArray, nu: FloatArray, log_c: FloatArray) -> FloatArray:
        return np.exp(log_c - (nu + 1.0) / 2.0 * np.log1p(z * z / nu))

    df2, loc2, scale2 = df[:, None], loc[:, None], scale[:, None]

    def upper_moment(y: FloatArray) -> FloatArray:
        # int_y^inf t f(t) dt = loc P(T > z) + scale (df + z^2) / (df - 1) f_std(z), z = (y - loc) / scale
        z = (y[None, :] - loc2) / scale2
        with np.errstate(divide="ignore", invalid="ignore"):
            tail = scale2 * (df2 + z * z) / (df2 - 1.0) * standard_pdf(z, df2, log_norm[:, None])
            return np.where(df2 > 1, loc2 * special.stdtr(df2, -z) + tail, np.nan)

    return Marginals(
        lambda u: loc2 + scale2 * special.stdtrit(df2, u[None, :]),
        lambda y: special.stdtr(df2, (y[None, :] - loc2) / scale2),
        mean,
        lambda y: standard_pdf((y[None, :] - loc2) / scale2, df2, log_norm[:, None]) / scale2,
        upper_moment,
        center,
    )


def normal_marginals(loc: FloatArray, scale: FloatArray) -> Marginals:
    """Normal posteriors ``N(loc_i, scale_i^2)`` (``scale > 0``): a contextual Thompson policy's
    score of each arm for one context (:mod:`abkit.bandits.contextual`).

    Examples
    --------
    >>> import numpy as np
    >>> p = prob_best(normal_marginals(np.array([0.0, 1.0]), np.array([1.0, 1.0])))
    >>> round(float(p[1]), 10)  # P(N(1, 1) > N(0, 1)) = Phi(1 / sqrt(2))
    0.7602499389
    """
    center = _center(loc)
    loc2, scale2 = (loc - center)[:, None], scale[:, None]

    def upper_moment(y: FloatArray) -> FloatArray:
        # int_y^inf t f(t) dt = loc P(Z > z) + scale phi(z), z = (y - loc) / scale
        z = (y[None, :] - loc2) / scale2
        return loc2 * special.ndtr(-z) + scale2 * np.exp(-0.5 * z * z) / _SQRT_2PI

    return Marginals(
        lambda u: loc2 + scale2 * special.ndtri(u[None, :]),
        lambda y: special.ndtr((y[None, :] - loc2) / scale2),
        loc - center,
        lambda y: np.exp(-0.5 * ((y[None, :] - loc2) / scale2) ** 2) / (scale2 * _SQRT_2PI),
        upper_moment,
        center,
    )


def _others(cdf: FloatArray) -> FloatArray:
    """``prod_{j != i} F_j`` for every row ``i`` of ``cdf`` (shape ``(arms, n)``) in O(arms n):
    one sum of ``log F_j`` per column, with the zeros counted apart (a column with one zero gives
    the product of the rest to that arm and 0 to the others; with two or more, 0 to all)."""
    zero = cdf <= 0.0
    with np.errstate(divide="ignore"):
        logs = np.log(np.where(zero, 1.0, cdf))
    total = logs.sum(axis=0)
    zeros = zero.sum(axis=0)
    others = np.exp(total - logs)
    return np.where(zeros == 0, others, np.where((zeros == 1) & zero, others, 0.0))


def _rescaled(weights: FloatArray, others: FloatArray, exact: FloatArray) -> tuple[FloatArray, float]:
    """Per panel ``sum(weights * others)`` rescaled so that ``sum(weights)`` is ``exact``, and the
    exact mass of panels where every weight underflowed (then lost)."""
    rule = weights.sum(axis=2)
    with np.errstate(invalid="ignore"):
        usable = (rule > 0) & (exact > 0)
    ratio = np.divide(exact, rule, out=np.zeros_like(exact), where=usable)
    return (weights * others).sum(axis=2) * ratio, float(np.nansum(np.abs(exact), where=~usable))


def _edges(quantiles: FloatArray, refine: int) -> tuple[FloatArray, BoolArray]:
    """The panel edges shared by all arms, and which arms can be best.

    Below ``floor = max_i Q_i(1e-13)`` every arm's contribution is below ``P(max < floor)``,
    at most 1e-13, and an arm whose ``Q(1 - 1e-13)`` is below ``floor`` is best with probability
    below 2e-13: such dominated arms are left out (probability 0, distribution function 1).
    With at most ``_FEW`` arms left, every remaining quantile level of every arm is an edge;
    with more, each arm's levels are snapped down to a power-of-two grid finer than twice their
    local spacing (a panel of 20 nodes then spans about two of an arm's level gaps at most), so
    that many similar arms share edges: the number of panels then grows with the spread of the
    arms in units of their widths, not with their number. ``refine`` halves every panel that
    many times (the fallback when the error estimate is too large).
    """
    floor = quantiles[:, 0].max()
    contending = quantiles[:, -1] > floor
    q = quantiles[contending]
    if q.shape[0] > _FEW:
        gaps = np.diff(q, axis=1)
        spacing = np.minimum(np.concatenate([gaps[:, :1], gaps], axis=1),
                             np.concatenate([gaps, gaps[:, -1:]], axis=1))
        with np.errstate(divide="ignore"):
            step = np.exp2(np.floor(np.log2(_SNAP * spacing)))
        q = np.where(step > 0.0, np.floor(q / np.where(step > 0.0, step, 1.0)) * step, q)
    candidates = q.ravel()
    edges = np.unique(np.concatenate([[floor], candidates[candidates > floor]]))
    for _ in range(refine):
        middle = (edges[:-1] + edges[1:]) / 2.0
        edges = np.sort(np.concatenate([edges, middle]))
    return edges, contending


def _quantiles(marginals: Marginals, exact: bool) -> FloatArray:
    """Every arm's quantiles at ``_LEVELS``. With ``exact=False`` and many arms, only the two
    extreme levels are exact (they decide what is skipped and which arms contend); the others,
    which only place panel edges before snapping, are a normal fit between them (the error
    estimate of the rule still checks the panels)."""
    if exact or marginals.mean.size <= _FEW or not marginals.smooth:
        return marginals.quantile(_LEVELS)
    ends = marginals.quantile(_LEVELS[[0, -1]])
    z = special.ndtri(_LEVELS)
    scale = (ends[:, 1:] - ends[:, :1]) / (z[-1] - z[0])
    fitted = (ends[:, :1] + ends[:, 1:]) / 2.0 + scale * z[None, :]
    fitted[:, 0], fitted[:, -1] = ends[:, 0], ends[:, 1]
    return fitted


def _integrated_cdf(values: FloatArray, density: FloatArray, width: FloatArray, below: FloatArray,
                    above: FloatArray, mass: FloatArray, matrix: FloatArray) -> FloatArray:
    """Every arm's CDF at the rule's nodes from its densities there: ``F`` at the panel's low edge
    plus the integral of the density's interpolating polynomial up to each node, rescaled so
    that the whole panel integrates to the arm's exact mass there (as in :func:`_rescaled`), and
    kept between ``F`` at the two edges. ``values`` (arms, panels, nodes) are the densities,
    ``density`` the same times the rule's weights; ``below``, ``above`` and ``mass`` (arms,
    panels) ``F`` at the edges and their difference."""
    rule = density.sum(axis=2)
    with np.errstate(invalid="ignore"):
        usable = (rule > 0) & (mass > 0)
    ratio = np.divide(mass, rule, out=np.zeros_like(mass), where=usable)
    cumulative = (values @ matrix.T) * (width[:, 0] * ratio)[:, :, None]
    return np.clip(below[:, :, None] + cumulative, below[:, :, None], above[:, :, None])


def _fixed_rule(marginals: Marginals, refine: int = 0, moment: bool = True,
                rules: tuple[tuple[FloatArray, FloatArray], ...] = _RULES, exact: bool = True,
                integrated: bool = False) -> tuple[FloatArray, float, float, float]:
    # Composite Gauss-Legendre in x on panels shared by all arms (_edges), plus the upper tail in
    # closed form. Returns P_i, E[max], and the error estimates of both (the difference from the
    # rule of order 14, plus the bound on the panels skipped; the higher order's own error is far
    # smaller). Every array is (contending arms, nodes): the cost is O(arms x nodes).
    all_quantiles = _quantiles(marginals, exact)
    edges, contending = _edges(all_quantiles, refine)
    quantiles = all_quantiles[contending]
    arms = np.flatnonzero(contending)

    def cdf(x: FloatArray) -> FloatArray:
        return marginals.cdf(x)[arms] if arms.size < contending.size else marginals.cdf(x)

    def pdf(x: FloatArray) -> FloatArray:
        return marginals.pdf(x)[arms] if arms.size < contending.size else marginals.pdf(x)

    at_edges = cdf(edges)  # (arms, edges)
    mass = np.diff(at_edges, axis=1)  # each arm's probability in each panel
    # Arm i's contribution from a panel is at most its mass there times prod_{j != i} F_j at the
    # panel's top: panels where that bound is negligible for every arm are skipped.
    bound = (mass * _others(at_edges[:, 1:])).max(axis=0) * arms.size
    keep = bound > _NEGLIGIBLE
    # ... and its contribution to E[max] (centred) at most that times the panel's largest |y|
    moment_bound = bound * np.maximum(np.abs(edges[:-1]), np.abs(edges[1:]))
    low, width = edges[:-1][keep, None], np.diff(edges)[keep, None]
    with np.errstate(invalid="ignore"):  # NaN moments where the mean does not exist (t, df <= 1)
        # (E[max] only when asked: the incomplete betas of the moments cost more than the rest)
        moments = marginals.upper_moment(edges)[arms] if moment else np.zeros_like(at_edges)
        others_top = _others(at_edges[:, -1:])[:, 0]
        tail_p = (1.0 - at_edges[:, -1]) * others_top
        tail_m = float((moments[:, -1] * others_top).sum())
        # exact int (x - low) f_i(x) dx over each kept panel
        kept_mass, kept_shift = mass[:, keep], -np.diff(moments, axis=1)[:, keep] - low[:, 0] * mass[:, keep]
    results = []
    for index, (nodes, weights) in enumerate(rules):
        x = (low + width * nodes).ravel()
        shape = (kept_mass.shape[0], -1, nodes.size)
        values = pdf(x).reshape(shape)
        density = values * (width * weights)[None, :, :]
        # Rescaling the rule's f_i and (x - low) f_i to their exact integrals on every panel cancels
        # the density's normalising error and most of the error from densities singular at a panel's
        # end (Beta(a < 1), far t tails): what remains is the average of the smooth prod F_j.
        if integrated and index == 0:
            # The CDFs of the higher order from its densities: its difference from the lower
            # order, whose CDFs are exact, then estimates the integration's error too.
            below = _integrated_cdf(values, density, width, at_edges[:, :-1][:, keep],
                                    at_edges[:, 1:][:, keep], kept_mass, _CUMULATIVE[nodes.size])
            others = _others(below.reshape(shape[0], -1)).reshape(shape)
        else:
            others = _others(cdf(x)).reshape(shape)
        pdf_others, lost_p = _rescaled(density, others, kept_mass)
        shift_others, lost_m = _rescaled(density * (width * nodes), others, kept_shift)
        p = pdf_others.sum(axis=1) + tail_p
        results.append((p, float((pdf_others * low[:, 0] + shift_others).sum()) + tail_m, lost_p, lost_m))
    (p, m, lost_p, lost_m), (p_low, m_low, _, _) = results
    skipped, skipped_m = float(bound[~keep].sum()), float(moment_bound[~keep].sum())
    spread = float((quantiles[:, _SPREAD[1]] - quantiles[:, _SPREAD[0]]).max())
    p_error = float(np.abs(p - p_low).max()) + skipped + lost_p
    full = np.zeros(contending.size)
    full[arms] = p
    return full, m, p_error, (abs(m - m_low) + skipped_m + lost_m) / max(abs(m), spread)


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
    # Above u = 1 - 1e-15 the integrand was held at x_i = Q_i(1 - 1e-15): add the rest of each
    # arm's upper moment there (prod F_j taken at x_i, where it is near 1). Heavy tails need it:
    # Student t at 1.05 df has 3.8 of its mean beyond that quantile.
    top = marginals.quantile(np.array([1.0 - 1e-15]))[:, 0]
    with np.errstate(invalid="ignore"):
        below = marginals.cdf(top)
        np.fill_diagonal(below, 1.0)
        rest = np.diag(marginals.upper_moment(top)) - top * 1e-15
        tail = float(np.nansum(below.prod(axis=0) * rest))
    return values[:n], float(values[n:].sum()) + tail


def _integrals(marginals: Marginals, moment: bool) -> tuple[FloatArray, float]:
    # First with the higher order's CDFs integrated from its densities (no incomplete beta there);
    # if the estimate is too large, the rules below with every CDF exact.
    if not moment:  # E[max] rarely meets its (relative) tolerance with the light rules
        p, m, p_error, _ = _fixed_rule(marginals, 0, moment, _LIGHT_RULES, exact=False, integrated=True)
        if p_error <= _TOLERANCE:
            return p, m
    else:
        p, m, p_error, m_error = _fixed_rule(marginals, 0, moment, exact=False, integrated=True)
        if p_error <= _TOLERANCE and m_error <= _TOLERANCE:
            return p, m
    for refine in range(_REFINEMENTS + 1):  # halving is cheaper than the adaptive rule at any size
        p, m, p_error, m_error = _fixed_rule(marginals, refine, moment)
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
