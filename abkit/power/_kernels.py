"""Compiled kernels of the power calculations: noncentral t tails and the t-test sample-size solver.

The noncentral t CDF is the Poisson mixture of incomplete beta functions (Guenther 1978; Lenth
1989, AS 243), summed outward from the Poisson mode in both directions with the stable
incomplete-beta recurrences of Benton and Krishnamoorthy (2003), as Boost (and so scipy's
``nctdtr``) does. For ``t >= 0`` with ``x = t**2 / (t**2 + df)``::

    cdf = Phi(-nc) + 1/2 sum_j [p_j I_x(j + 1/2, df/2) + q_j I_x(j + 1, df/2)]
    sf  =            1/2 sum_j [p_j Q_x(j + 1/2, df/2) + q_j Q_x(j + 1, df/2)]

with Poisson weights ``p_j`` of mean ``nc**2 / 2``, ``q_j = nc exp(-nc**2/2) (nc**2/2)**j /
(sqrt(2) Gamma(j + 3/2))`` and ``Q = 1 - I``. The smaller tail is summed (``t < 0`` by the
reflection ``cdf(t, nc) = sf(-t, -nc)``), and the other tail is its complement. The regularized
incomplete beta is a Lentz continued fraction with the DiDonato and Morris (1992) form of its
prefactor for large parameters, so that no ``lgamma`` differences of large numbers lose digits;
the Poisson weights use Stirling's series in the same cancellation-free form.

Accuracy (tested against scipy and 40-digit mpmath, ``df`` up to 1e6): where ``t`` and ``nc``
have one sign, all terms are positive and the smaller tail is within 1e-10 relative (the
incomplete beta within about 2e-11 up to 1e6 degrees of freedom). Where they have opposite signs
(the far rejection region of a two-sided test) the ``q_j`` terms alternate, and the tail is
accurate in absolute terms: about 1e-13, growing with ``df`` to about 5e-12 at 1e6 (no power
here needs that region: two-sided power is one positive series, see below). Tails whose terms at the Poisson
mode underflow (far below 1e-300) are accurate in absolute terms only. The two-sided power
``P(|T| > c)`` is the single positive series ``sum_j p_j Q_x(j + 1/2, df/2)`` (the tail of the
noncentral F(1, df) that ``T**2`` follows).

The sample-size solver (:func:`t_sample_size`) sums that series upward from ``j = 0``, where
``Q_x(1/2, df/2)`` is the central two-sided tail at ``c``: one pass gives the central tail, the
power and their derivatives (:func:`_power_terms`), so that Newton steps move ``n`` and the
critical value together from a normal-approximation start, two or three passes per design.

Examples
--------
>>> cdf, sf = nct_tails(2.0, 10.0, 1.0)
>>> round(cdf, 12), round(sf, 12)
(0.80761156253, 0.19238843747)
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from abkit._numba import kernel

FloatArray = npt.NDArray[np.float64]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_SQRT2 = math.sqrt(2.0)
_TINY = 1e-300
_SERIES_TOL = 1e-17  # a term this small relative to the sum ends a series
_MAX_TERMS = 100_000
_CF_DF = 1e5  # from here up the Cornish-Fisher t quantile is exact to double precision


@kernel
def _stirling_correction(z: float) -> float:
    """``lgamma(z) - ((z - 1/2) log z - z + log sqrt(2 pi))`` for ``z >= 10`` (error < 1e-17)."""
    r = 1.0 / z
    r2 = r * r
    return r * (1.0 / 12.0 + r2 * (-1.0 / 360.0 + r2 * (1.0 / 1260.0 + r2 * (
        -1.0 / 1680.0 + r2 * (1.0 / 1188.0 + r2 * (-691.0 / 360360.0 + r2 / 156.0))))))


@kernel
def _log_beta(a: float, b: float) -> float:
    """``log B(a, b)`` for ``min(a, b) < 10``, without cancellation when the other is large."""
    small, large = min(a, b), max(a, b)
    if large < 10.0:
        return math.lgamma(small) + math.lgamma(large) - math.lgamma(small + large)
    # log Gamma(large) - log Gamma(small + large) by Stirling, in a cancellation-free form.
    ratio = (-(large - 0.5) * math.log1p(small / large) - small * math.log(small + large) + small
             + _stirling_correction(large) - _stirling_correction(small + large))
    return math.lgamma(small) + ratio


@kernel
def _log1p_minus(u: float, ratio: float) -> float:
    """``log(1 + u) - u`` where ``ratio = 1 + u``, from whichever of them is accurate."""
    return math.log1p(u) - u if abs(u) < 0.5 else math.log(ratio) - u


@kernel
def _log_prefix(a: float, b: float, x: float, y: float) -> float:
    """``log(x**a y**b / B(a, b))`` with ``y = 1 - x`` (DiDonato and Morris 1992 for large a, b)."""
    if a < 10.0 or b < 10.0:
        # log of the one near 1 from the small one, which carries the relative accuracy.
        log_x = math.log1p(-y) if y < 0.5 else math.log(x)
        log_y = math.log1p(-x) if x < 0.5 else math.log(y)
        return a * log_x + b * log_y - _log_beta(a, b)
    total = a + b
    x0, y0 = a / total, b / total
    # x / x0 = 1 + u, y / y0 = 1 + v with a u + b v = 0 exactly, from whichever of x, y is small.
    if x <= 0.5:
        u = (x - x0) / x0
        v = -(x - x0) / y0
    else:
        v = (y - y0) / y0
        u = -(y - y0) / x0
    return (a * _log1p_minus(u, x / x0) + b * _log1p_minus(v, y / y0) + 0.5 * math.log(a * b / total)
            - _LOG_SQRT_2PI - (_stirling_correction(a) + _stirling_correction(b)
                               - _stirling_correction(total)))


@kernel
def _beta_fraction(a: float, b: float, x: float, tol: float) -> float:
    """Continued fraction of ``I_x(a, b)`` (modified Lentz); converges for ``x < (a+1)/(a+b+2)``."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, _MAX_TERMS):
        m2 = 2.0 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        step = d * c
        h *= step
        if abs(step - 1.0) < tol:
            break
    return h


@kernel
def ibeta(a: float, b: float, x: float, y: float, tol: float = 4e-16) -> tuple[float, float]:
    """Regularized incomplete beta ``(I_x(a, b), 1 - I_x(a, b))``; ``y = 1 - x`` passed exactly.

    ``tol`` ends the continued fraction (the relative size of its last factor minus 1).
    """
    if x <= 0.0:
        return 0.0, 1.0
    if y <= 0.0:
        return 1.0, 0.0
    # The fraction in x converges for x below x_b = (a + 1) / (a + b + 2), that in y = 1 - x
    # above it. Near x_b, the one in the variable near 1 loses digits (as that variable over its
    # distance to x_b); the other, just past its range, still converges fast and accurately.
    x_b, y_b = (a + 1.0) / (a + b + 2.0), (b + 1.0) / (a + b + 2.0)
    use_x = x < x_b
    distance = abs(y - y_b) if y <= 0.5 else abs(x - x_b)
    if use_x and b <= 1.0 and x > 100.0 * distance and y < 3.0 * y_b:
        use_x = False
    elif not use_x and a <= 1.0 and y > 100.0 * distance and x < 3.0 * x_b:
        use_x = True
    if use_x:
        p = math.exp(_log_prefix(a, b, x, y)) * _beta_fraction(a, b, x, tol) / a
        return p, 1.0 - p
    q = math.exp(_log_prefix(b, a, y, x)) * _beta_fraction(b, a, y, tol) / b
    return 1.0 - q, q


@kernel
def _log_poisson(k: int, lam: float, shift: float) -> float:
    """``-lam + k log(lam) - lgamma(k + shift)``, by Stirling without cancellation for large k."""
    m = k + shift
    if m < 10.0:
        return -lam + k * math.log(lam) - math.lgamma(m)
    v = (lam - m) / m
    return (k * _log1p_minus(v, lam / m) - shift * v + (0.5 - shift) * math.log(m) - _LOG_SQRT_2PI
            - _stirling_correction(m))


@kernel
def _add(total: float, carry: float, term: float) -> tuple[float, float]:
    """One step of Neumaier's compensated summation."""
    new = total + term
    if abs(total) >= abs(term):
        carry += (total - new) + term
    else:
        carry += (term - new) + total
    return new, carry


@kernel
def _nct_series(t: float, df: float, nc: float, upper: bool, odd: bool) -> float:
    """``sum_j [p_j A(j + 1/2) + q_j A(j + 1)]`` with ``A = I_x`` (lower) or ``Q_x`` (upper), t > 0.

    ``odd=False`` leaves out the ``q_j`` terms: ``sum_j p_j Q_x(j + 1/2, df/2)`` is
    ``P(|T| > t)``, the tail of the noncentral F(1, df) that ``T**2`` follows.
    """
    tt = t * t
    x, y = tt / (tt + df), df / (tt + df)
    b = 0.5 * df
    lam = 0.5 * nc * nc
    k = int(lam)
    if lam > 0.0:
        p_k = math.exp(_log_poisson(k, lam, 1.0))
        q_k = nc / _SQRT2 * math.exp(_log_poisson(k, lam, 1.5)) if odd else 0.0
    else:
        p_k, q_k = 1.0, 0.0
    a1, a2 = k + 0.5, k + 1.0
    i1, c1 = ibeta(a1, b, x, y)
    i2, c2 = ibeta(a2, b, x, y) if odd else (0.0, 0.0)
    start1, start2 = (c1, c2) if upper else (i1, i2)
    # xterm(a) = x**a y**b / (a B(a, b)): I(a + 1) = I(a) - xterm(a), Q(a + 1) = Q(a) + xterm(a).
    xt1 = math.exp(_log_prefix(a1, b, x, y)) / a1
    xt2 = math.exp(_log_prefix(a2, b, x, y)) / a2 if odd else 0.0
    sign = 1.0 if upper else -1.0
    total, carry = 0.0, 0.0  # Neumaier-compensated sum: the terms may alternate in sign
    # Forward from the mode.
    p, q, s1, s2, f1, f2 = p_k, q_k, start1, start2, xt1, xt2
    last = math.inf
    for j in range(k, k + _MAX_TERMS):
        total, carry = _add(total, carry, p * s1 + q * s2)
        bound = p * abs(s1) + abs(q) * abs(s2)
        if bound <= last and bound <= _SERIES_TOL * abs(total):
            break
        last = bound
        s1 += sign * f1
        s2 += sign * f2
        f1 *= x * (j + 0.5 + b) / (j + 1.5)
        f2 *= x * (j + 1.0 + b) / (j + 2.0)
        p *= lam / (j + 1.0)
        q *= lam / (j + 1.5)
    # Backward from the mode (a decreasing): I(a - 1) = I(a) + xterm(a - 1).
    p, q, s1, s2, f1, f2 = p_k, q_k, start1, start2, xt1, xt2
    last = math.inf
    for j in range(k, 0, -1):
        f1 *= (j + 0.5) / (x * (j - 0.5 + b))
        f2 *= (j + 1.0) / (x * (j + b))
        s1 -= sign * f1
        s2 -= sign * f2
        p *= j / lam
        q *= (j + 0.5) / lam
        total, carry = _add(total, carry, p * s1 + q * s2)
        bound = p * abs(s1) + abs(q) * abs(s2)
        if bound <= last and bound <= _SERIES_TOL * abs(total):
            break
        last = bound
    return total + carry


@kernel
def nct_tails(t: float, df: float, nc: float) -> tuple[float, float]:
    """``(cdf, sf)`` of the noncentral t with ``df`` degrees of freedom and noncentrality ``nc``.

    The smaller of the two is computed directly; the other is one minus it (see the module
    docstring for the accuracy).
    """
    flip = t < 0.0
    if flip:
        t, nc = -t, -nc
    if math.isinf(df):
        cdf = 0.5 * math.erfc((nc - t) / _SQRT2)
        sf = 0.5 * math.erfc((t - nc) / _SQRT2)
    elif t * t < 1e-200 * df:  # x = t**2 / (t**2 + df) below 1e-200: the series adds O(sqrt(x))
        cdf = 0.5 * math.erfc(nc / _SQRT2)
        sf = 0.5 * math.erfc(-nc / _SQRT2)
    else:
        tt = t * t
        x = tt / (tt + df)
        b = 0.5 * df
        d2 = nc * nc
        c = 0.5 + b + 0.5 * d2
        cross = 1.0 - (b / c) * (1.0 + d2 / (2.0 * c * c))
        if nc < 0.0 or x >= cross:
            sf = min(max(0.5 * _nct_series(t, df, nc, True, True), 0.0), 1.0)
            cdf = 1.0 - sf
        else:
            cdf = min(0.5 * math.erfc(nc / _SQRT2) + 0.5 * _nct_series(t, df, nc, False, True), 1.0)
            sf = 1.0 - cdf
    if flip:
        return sf, cdf
    return cdf, sf


@kernel
def _t_sf(t: float, df: float) -> float:
    """Upper tail of the central t for ``t >= 0``: ``I_{df/(df+t^2)}(df/2, 1/2) / 2``."""
    tt = t * t
    return 0.5 * ibeta(0.5 * df, 0.5, df / (df + tt), tt / (df + tt))[0]


@kernel
def t_isf(q: float, z: float, df: float) -> float:
    """Critical value ``t`` with upper tail ``q < 1/2``; ``z`` is the normal one, ``-ndtri(q)``
    (from ``q`` itself: ``ndtri(1 - q)`` is 3e-10 off at ``q = 1e-8``, and the Cornish-Fisher
    branch would inherit it).

    A Cornish-Fisher start refined by Newton steps on ``log sf`` in ``log t`` (nearly linear in
    the tail for every ``df``) to about 1e-15 relative.
    """
    if df == 1.0:
        return 1.0 / math.tan(math.pi * q)
    if df == 2.0:
        return (1.0 - 2.0 * q) / math.sqrt(2.0 * q * (1.0 - q))
    z2 = z * z
    t = z * (1.0 + (z2 + 1.0) / (4.0 * df) + (5.0 * z2 * z2 + 16.0 * z2 + 3.0) / (96.0 * df * df)
             + (3.0 * z2**3 + 19.0 * z2 * z2 + 17.0 * z2 - 15.0) / (384.0 * df**3))
    if df >= _CF_DF:
        # The expansion's next term is O(z**9 / df**4): below 1e-16 relative here. Newton on the
        # incomplete beta, whose first parameter is df / 2, loses digits instead (1e-6 at 1e12).
        return t
    log_norm = math.lgamma(0.5 * (df + 1.0)) - math.lgamma(0.5 * df) - 0.5 * math.log(df * math.pi)
    log_q = math.log(q)
    u = math.log(t)
    for _ in range(100):
        t = math.exp(u)
        sf = _t_sf(t, df)
        log_pdf = log_norm - 0.5 * (df + 1.0) * math.log1p(t * t / df)
        step = (math.log(sf) - log_q) / (math.exp(log_pdf) * t / sf)
        step = min(max(step, -2.0), 2.0)
        u += step
        if abs(step) < 1e-9:  # Newton converges quadratically: the error left is below 1e-16
            break
    return math.exp(u)


@kernel
def t_power(df: float, nc: float, q: float, z: float, both: bool) -> float:
    """Power of a t test: reject beyond the upper ``q`` critical value (``z = -ndtri(q)``).

    ``both`` adds the far rejection region of a two-sided test (below minus the critical value).
    """
    crit = t_isf(q, z, df)
    if both:  # P(|T| > crit): one series of positive terms instead of two tails
        return min(max(_nct_series(crit, df, nc, True, False), 0.0), 1.0)
    return nct_tails(crit, df, nc)[1]


@kernel
def t_power_array(df: FloatArray, nc: FloatArray, q: FloatArray, z: FloatArray,
                  both: bool) -> FloatArray:
    """:func:`t_power` over arrays of designs."""
    out = np.empty(df.size)
    for i in range(df.size):
        out[i] = t_power(df[i], nc[i], q[i], z[i], both)
    return out


@kernel
def _t_quantile_cf(z: float, df: float) -> tuple[float, float]:
    """Cornish-Fisher t quantile from the normal one ``z`` and its derivative in ``df``."""
    z2 = z * z
    g1 = z * (z2 + 1.0) / 4.0
    g2 = z * ((5.0 * z2 + 16.0) * z2 + 3.0) / 96.0
    g3 = z * (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) / 384.0
    g4 = z * ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) / 92160.0
    v = 1.0 / df
    t = z + v * (g1 + v * (g2 + v * (g3 + v * g4)))
    slope = -v * v * (g1 + v * (2.0 * g2 + v * (3.0 * g3 + v * 4.0 * g4)))
    return t, slope


@kernel
def _power_terms(c: float, df: float, nc: float, both: bool, tol: float
                 ) -> tuple[float, float, float, float, float]:
    """Two-sided tail ``P(|T0| > c)`` of the central t and the power at ``c`` with derivatives.

    Returns ``(tail, tail_c, power, power_c, power_nc)``: the central two-sided tail and its
    derivative in ``c``, the power (``P(|T| > c)`` with ``both``, else ``P(T > c)``) and its
    derivatives in ``c`` and ``nc``. With ``f_i = x**a y**b / (a B(a, b))`` at ``a = i + 1/2``,
    ``b = df/2`` (so ``Q_x(j + 1/2, b) = 1 - sum_{i >= j} f_i``) and ``F_i`` the Poisson CDF::

        tail = 1 - sum_i f_i        P(|T| > c) = 1 - sum_i f_i F_i

    (swapping the order of the double sum), one upward pass of positive terms that ends when
    the rest of the ``f`` series (ratio ``x (a + b) / (a + 1)``, decreasing) is below
    ``tol / 20``; ``tol`` also ends the incomplete beta's continued fraction.
    For ``x > 0.3`` (few degrees of freedom) that series is slow (and below 2 degrees of freedom
    its ratios grow): the tail is then one incomplete beta and the ``Q`` add up from it. The odd
    terms of one-sided power, ``q_j = nc e**-lam lam**j / (sqrt(2) Gamma(j + 3/2))`` with
    ``Q_x(j + 1, b)`` (from ``Q_x(1, b) = y**b``), are summed upward until their Poisson-like
    tail is below ``tol / 20``.
    """
    cc = c * c
    x, y = cc / (cc + df), df / (cc + df)
    b = 0.5 * df
    lam = 0.5 * nc * nc
    f = 2.0 * math.exp(_log_prefix(0.5, b, x, y))  # f_0
    tail_c = -f / c
    series = x <= 0.3 and b >= 1.0  # then the ratios decrease to x: the tail bound below holds
    tail = 1.0 if series else ibeta(0.5, b, x, y, tol)[1]
    p = math.exp(-lam)
    cdf, big_q = p, tail
    q = 0.0 if both else nc * p * _SQRT2 / math.sqrt(math.pi)
    big_r = 0.0 if both else math.exp(b * (math.log1p(-x) if x < 0.5 else math.log(y)))  # Q_x(1, b)
    g = x * b * big_r
    total, d_c, d_lam, odd, d_odd = 0.0, 0.0, 0.0, 0.0, 0.0
    small = 0.05 * tol  # what the rest of a series may add
    for i in range(_MAX_TERMS):
        a = i + 0.5
        ratio = x * (a + b) / (a + 1.0)
        d_c += p * a * f
        d_lam += p * f
        if series:
            tail -= f
            total += f * cdf
            done = ratio < 1.0 and f * ratio <= small * (1.0 - ratio)
        else:
            total += p * big_q
            big_q += f
            done = i > lam and p * lam <= small * (i + 1.0 - lam)
        if not both:
            odd += q * big_r
            d_c += q * (i + 1.0) * g
            d_odd += q * ((2.0 * i + 1.0) / nc - nc) * big_r
            done = done and i > lam and q * lam <= small * (i + 1.5 - lam)
            big_r += g
            g *= x * (i + 1.0 + b) / (i + 2.0)
            q *= lam / (i + 1.5)
        if done:
            break
        f *= ratio
        p *= lam / (i + 1.0)
        cdf += p
    even = 1.0 - total if series else total  # P(|T| > c)
    if both:
        return tail, tail_c, even, -2.0 / c * d_c, nc * d_lam
    return tail, tail_c, 0.5 * (even + odd), -d_c / c, 0.5 * (nc * d_lam + d_odd)


@kernel
def _t_power_slope_df(c: float, df: float, nc: float) -> float:
    """Approximate ``d power / d df`` at fixed ``c`` and ``nc`` (normal approximation of the t)."""
    spread = 1.0 + c * c / (2.0 * df)
    root = math.sqrt(spread)
    w = (nc - c * (1.0 - 0.25 / df)) / root
    dw = (-0.25 * c + w * c * c / (4.0 * spread)) / (df * df * root)
    return math.exp(-0.5 * w * w) / math.sqrt(2.0 * math.pi) * dw


@kernel
def _start_n(e: float, sd: float, r: float, z: float, z_target: float, offset: float) -> float:
    """``n_control`` from the normal approximation ``Phi((nc - t (1 - 1/(4 df))) / sqrt(1 + t^2/(2 df)))``."""
    n = ((z + z_target) * sd / e) ** 2 + z * z / (2.0 * (1.0 + r))
    for _ in range(4):
        df = max(n * (1.0 + r) - offset, 1.0)
        c = _t_quantile_cf(z, df)[0]
        nc = z_target * math.sqrt(1.0 + c * c / (2.0 * df)) + c * (1.0 - 0.25 / df)
        n = (nc * sd / e) ** 2
    return n


@kernel
def _solve_n(e: float, sd: float, r: float, q: float, z: float, z_target: float, target: float,
             both: bool, offset: float) -> float:
    """``n_control`` and the t critical value by joint Newton steps (NaN when they do not settle).

    Each step sums the power at the current ``(n, c)`` once (:func:`_power_terms`), moves ``c`` by
    a Newton step on the central tail (``2 q``) and ``n`` by a Newton step on the power corrected
    to that ``c``. The slope in ``n`` is exact in the noncentrality and the critical value's
    Cornish-Fisher slope and approximate (normal approximation) in the degrees of freedom at a
    fixed ``c``, a term of relative size ``O(1/df)`` whose error ``O(1/df**2)`` makes the steps
    converge at that linear rate on top of Newton's quadratic one. The first sum is rough
    (``tol`` 1e-10); the solve ends when the error predicted after the last step,
    ``rel (10 rel + 3 / df**2)`` for a step ``rel`` relative, is below 1e-13 (and ``c`` has
    settled to 3e-7 relative, so that its quadratic error is below 1e-12).
    """
    n_min = (1.0 + offset) / (1.0 + r)  # 1 degree of freedom
    n = _start_n(e, sd, r, z, z_target, offset)
    if not n > n_min or 0.5 * n * (e / sd) ** 2 > 200.0:
        return math.nan
    c = _t_quantile_cf(z, n * (1.0 + r) - offset)[0]
    for k in range(12):
        df = n * (1.0 + r) - offset
        nc = math.sqrt(n) * e / sd
        tail, tail_c, power, power_c, power_nc = _power_terms(c, df, nc, both, 1e-10 if k == 0 else 4e-16)
        step_c = -(tail - 2.0 * q) / tail_c
        excess = power + power_c * step_c - target
        c_slope = _t_quantile_cf(z, df)[1]
        slope = power_nc * nc / (2.0 * n) + (1.0 + r) * (power_c * c_slope + _t_power_slope_df(c, df, nc))
        step = -excess / slope
        n_new = n + step
        if not n_new > n_min:
            return math.nan
        c = c + step_c + c_slope * (1.0 + r) * step
        n = n_new
        rel = abs(step) / n
        if k > 0 and rel * (10.0 * rel + 3.0 / (df * df)) <= 1e-13 and abs(step_c) <= 3e-7 * c:
            return n
    return math.nan


@kernel
def t_sample_size(sqrt_n_z: FloatArray, effect: FloatArray, s: FloatArray, ratio: FloatArray,
                  q: FloatArray, z: FloatArray, target: FloatArray, both: bool,
                  offset: float = 2.0) -> FloatArray:
    """Fixed-design ``n_control`` at which the t test reaches ``target`` power, one design at a time.

    ``sqrt_n_z`` is the near-tail normal solution (``(z + z_target) s / effect``), ``q`` the
    upper tail of the critical value and ``z = -ndtri(q)``. Starts from the normal
    approximation of the noncentral t with the Cornish-Fisher critical value (within about
    1e-3 relative of the answer, 3e-5 typically) and takes joint Newton steps
    (:func:`_solve_n`): two or three sums of the power per design, to about 1e-13 relative. NaN
    where the start is below 1 degree of freedom, the noncentrality beyond 20 or a step leaves
    the range (the caller falls back to a bracketed solve). The degrees of freedom are
    ``n_control (1 + ratio) - offset``: ``offset`` 2 for two samples, 1 (with ``ratio`` 0) for
    one sample or pairs.
    """
    out = np.empty(effect.size)
    for i in range(effect.size):
        z_target = sqrt_n_z[i] * effect[i] / s[i] - z[i]
        out[i] = _solve_n(effect[i], s[i], ratio[i], q[i], z[i], z_target, target[i], both, offset)
    return out


@kernel
def _solve_ncp(df: float, q: float, z: float, z_target: float, target: float, both: bool) -> float:
    """Noncentrality at which the t test with ``df`` degrees of freedom reaches ``target``.

    The critical value is exact (:func:`t_isf`), so Newton steps on the summed power
    (:func:`_power_terms`, exact derivative) converge quadratically from the normal
    approximation; the solve ends after a step below 1e-8 relative (the error left is of the
    order of its square). NaN when a step leaves ``nc > 0`` or the solve does not settle.
    """
    c = t_isf(q, z, df)
    nc = z_target * math.sqrt(1.0 + c * c / (2.0 * df)) + c * (1.0 - 0.25 / df)
    for _ in range(30):
        if not 0.0 < nc < 20.0:
            return math.nan
        power, power_nc = _power_terms(c, df, nc, both, 4e-16)[2::2]
        step = (target - power) / power_nc
        nc += step
        if abs(step) <= 1e-8 * nc:
            return nc
    return math.nan


@kernel
def t_effect(df: FloatArray, q: FloatArray, z: FloatArray, z_target: FloatArray, target: FloatArray,
             both: bool) -> FloatArray:
    """Noncentrality at which the t test reaches ``target`` power, one design at a time.

    ``q`` is the upper tail of the critical value, ``z = -ndtri(q)`` and
    ``z_target = ndtri(target)``; see :func:`_solve_ncp` (NaN where it declines: the caller
    falls back to a bracketed solve).
    """
    out = np.empty(df.size)
    for i in range(df.size):
        out[i] = _solve_ncp(df[i], q[i], z[i], z_target[i], target[i], both)
    return out
