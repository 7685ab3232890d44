"""Time-uniform boundaries of Howard, Ramdas, McAuliffe and Sekhon (2021, Ann. Statist.).

A uniform boundary ``u(v)`` bounds a sub-Gaussian (or sub-Poisson, sub-Bernoulli) process
``S_t`` with variance process ``V_t`` at every time at once: ``P(exists t: S_t >= u(V_t)) <=
alpha``. Dividing by the sample size gives confidence sequences. Mixture boundaries are tuned
to be tightest at the intrinsic time ``v_opt`` (through the mixing parameter ``rho``); the
polynomial stitching boundary needs no tuning. Conventions follow the ``confseq`` package.

Examples
--------
>>> round(normal_mixture_bound(100, 0.05, 100), 5)
30.35209
"""

from __future__ import annotations

import math
from collections.abc import Callable

from scipy import optimize, special

from abkit._results import ConfidenceInterval
from abkit._validation import check_bool, check_int, check_open_unit, check_positive, check_real
from abkit.errors import ConvergenceError

__all__ = [
    "bernoulli_confidence_sequence",
    "beta_binomial_log_mixture",
    "beta_binomial_mixture_bound",
    "gamma_poisson_log_mixture",
    "gamma_poisson_mixture_bound",
    "normal_log_mixture",
    "normal_mixture_bound",
    "normal_mixture_rho",
    "poly_stitching_bound",
]


# A log-mixture is a sum of terms that can be huge and cancel. Measured against mpmath at 50
# digits, the terms carry relative errors up to ~3e-14 (log-beta at arguments near 1e8), so a
# sum 1e10 times smaller than its terms keeps about 1e-3 of absolute accuracy (0.1% on the
# likelihood ratio); past that the result is noise and is refused.
_MAX_CANCELLATION = 1e10
_NUMERIC_ERRORS = (ValueError, ZeroDivisionError, OverflowError)


def _precise_sum(terms: Callable[[], list[float]], family: str, arguments: dict[str, float],
                 hint: str = "") -> float:
    """``fsum(terms())``, or a ``ValueError`` naming ``arguments`` when the terms cannot be
    evaluated in double precision (a log of 0, an overflow) or cancel beyond its accuracy."""
    shown = ", ".join(f"`{name}`={value:.6g}" for name, value in arguments.items())
    try:
        values = terms()
    except _NUMERIC_ERRORS as exc:
        raise ValueError(f"The {family} mixture at {shown} is beyond double precision "
                         f"({exc}).") from None
    scale = math.fsum(abs(t) for t in values)
    total = math.fsum(values) if math.isfinite(scale) else math.nan
    if not math.isfinite(scale) or scale > _MAX_CANCELLATION * max(1.0, abs(total)):
        raise ValueError(f"The {family} mixture at {shown} is beyond double precision (terms "
                         f"of size {scale:.3g} cancel to {total:.3g}).{hint}")
    return total


def normal_mixture_rho(v_opt: float, alpha_opt: float = 0.05, *, one_sided: bool = False) -> float:
    """Mixing precision ``rho`` that makes the normal mixture tightest at ``v = v_opt``.

    Two-sided: ``v_opt / (2 log(1/alpha) + log(1 + 2 log(1/alpha)))``; one-sided uses
    ``2 alpha`` in that formula.

    Examples
    --------
    >>> round(normal_mixture_rho(500, 0.05), 6)
    63.002805
    """
    v_opt = check_positive("v_opt", v_opt)
    alpha_opt = check_open_unit("alpha_opt", alpha_opt)
    a = min(2.0 * alpha_opt, 1.0 - 1e-12) if check_bool("one_sided", one_sided) else alpha_opt
    log_inv = math.log(1.0 / a)
    return v_opt / (2.0 * log_inv + math.log1p(2.0 * log_inv))


def normal_log_mixture(
    s: float, v: float, v_opt: float, *, alpha_opt: float = 0.05, one_sided: bool = False
) -> float:
    """Log of the normal-mixture supermartingale at sum ``s`` and intrinsic time ``v``.

    Examples
    --------
    >>> round(normal_log_mixture(10, 100, 100, one_sided=True), 8)
    -0.06502391
    """
    s = check_real("s", s)
    v = check_positive("v", v)
    rho = normal_mixture_rho(v_opt, alpha_opt, one_sided=one_sided)
    two_sided = 0.5 * math.log(rho / (v + rho)) + s * s / (2.0 * (v + rho))
    if not one_sided:
        return two_sided
    return math.log(4.0) / 2.0 + two_sided + float(special.log_ndtr(s / math.sqrt(v + rho)))


def _root_bound(log_mixture: Callable[[float], float], v: float, alpha: float, s_max: float) -> float:
    """The ``s`` at which ``log_mixture(s)`` reaches ``log(1/alpha)`` (bisection bracket [0, s_max])."""
    threshold = math.log(1.0 / alpha)
    upper = s_max
    if math.isinf(upper):
        upper = v
        for _ in range(60):
            if log_mixture(upper) > threshold:
                break
            upper *= 2.0
        else:  # pragma: no cover - the mixtures grow without bound in s
            raise ConvergenceError("Could not bracket the mixture boundary.")
    if log_mixture(upper) < threshold:
        return upper
    return float(optimize.brentq(lambda s: log_mixture(s) - threshold, 0.0, upper, xtol=1e-12))


def normal_mixture_bound(
    v: float, alpha: float, v_opt: float, *, alpha_opt: float = 0.05, one_sided: bool = False
) -> float:
    """Normal-mixture uniform boundary at intrinsic time ``v`` (Howard et al. 2021, sec. 3).

    Two-sided: ``sqrt((v + rho) (log(1 + v / rho) + 2 log(1 / alpha)))``; one-sided: the root
    of the one-sided mixture.

    Examples
    --------
    >>> round(normal_mixture_bound(100, 0.05, 100, one_sided=True), 5)
    27.66071
    """
    v = check_positive("v", v)
    alpha = check_open_unit("alpha", alpha)
    rho = normal_mixture_rho(v_opt, alpha_opt, one_sided=one_sided)
    if not one_sided:
        return math.sqrt((v + rho) * (math.log1p(v / rho) + 2.0 * math.log(1.0 / alpha)))
    return _root_bound(
        lambda s: normal_log_mixture(s, v, v_opt, alpha_opt=alpha_opt, one_sided=True), v, alpha, math.inf
    )


def gamma_poisson_log_mixture(
    s: float, v: float, v_opt: float, c: float, *, alpha_opt: float = 0.05
) -> float:
    """Log of the gamma-Poisson mixture (sub-Poisson processes with scale ``c > 0``).

    Examples
    --------
    >>> round(gamma_poisson_log_mixture(10, 100, 100, 2), 8)
    -0.06991219
    """
    s = check_real("s", s)
    v = check_positive("v", v)
    c = check_positive("c", c)
    rho = normal_mixture_rho(v_opt, alpha_opt, one_sided=True)

    def terms() -> list[float]:
        r = rho / (c * c)
        shape_v = (v + rho) / (c * c)
        shape = s / c + shape_v
        return [r * math.log(r), -float(special.gammaln(r)), -math.log(special.gammaincc(r, r)),
                float(special.gammaln(shape)), math.log(special.gammaincc(shape, shape_v)),
                -shape * math.log(shape_v), v / (c * c)]

    return _precise_sum(terms, "gamma-Poisson", {"s": s, "v": v, "v_opt": v_opt, "c": c},
                        " As `c` nears 0 the normal mixture (normal_log_mixture, one-sided) is its limit.")


def gamma_poisson_mixture_bound(
    v: float, alpha: float, v_opt: float, c: float, *, alpha_opt: float = 0.05
) -> float:
    """Gamma-Poisson mixture uniform boundary at intrinsic time ``v``.

    Examples
    --------
    >>> round(gamma_poisson_mixture_bound(100, 0.05, 100, 2), 4)
    30.1949
    """
    alpha = check_open_unit("alpha", alpha)
    v = check_positive("v", v)
    v_opt = check_positive("v_opt", v_opt)
    c = check_positive("c", c)
    return _root_bound(
        lambda s: gamma_poisson_log_mixture(s, v, v_opt, c, alpha_opt=alpha_opt), v, alpha, math.inf
    )


def _log_incomplete_beta(a: float, b: float, x: float) -> float:
    if x == 1.0:
        return float(special.betaln(a, b))
    return float(math.log(special.betainc(a, b, x)) + special.betaln(a, b))


def beta_binomial_log_mixture(
    s: float,
    v: float,
    v_opt: float,
    g: float,
    h: float,
    *,
    alpha_opt: float = 0.05,
    one_sided: bool = False,
) -> float:
    """Log of the beta-binomial mixture for increments in ``[-g, h]`` (sub-Bernoulli processes).

    Examples
    --------
    >>> round(beta_binomial_log_mixture(10, 100, 100, 0.2, 0.8), 7)
    -0.6941012
    """
    s = check_real("s", s)
    v = check_positive("v", v)
    g = check_positive("g", g)
    h = check_positive("h", h)
    rho = normal_mixture_rho(v_opt, alpha_opt, one_sided=one_sided)

    def terms() -> list[float]:
        r = max(rho - g * h, 1e-3 * g * h)
        x = h / (g + h) if one_sided else 1.0
        return [
            v / (g * h) * math.log(g + h),
            -(v + h * s) / (h * (g + h)) * math.log(g),
            -(v - g * s) / (g * (g + h)) * math.log(h),
            _log_incomplete_beta((r + v - g * s) / (g * (g + h)), (r + v + h * s) / (h * (g + h)), x),
            -_log_incomplete_beta(r / (g * (g + h)), r / (h * (g + h)), x),
        ]

    return _precise_sum(terms, "beta-binomial", {"s": s, "v": v, "v_opt": v_opt, "g": g, "h": h})


def beta_binomial_mixture_bound(
    v: float,
    alpha: float,
    v_opt: float,
    g: float,
    h: float,
    *,
    alpha_opt: float = 0.05,
    one_sided: bool = False,
) -> float:
    """Beta-binomial mixture uniform boundary at intrinsic time ``v`` (at most ``v / g``).

    Examples
    --------
    >>> round(beta_binomial_mixture_bound(100, 0.05, 100, 0.2, 0.8), 4)
    31.4308
    """
    alpha = check_open_unit("alpha", alpha)
    v = check_positive("v", v)
    v_opt = check_positive("v_opt", v_opt)
    g = check_positive("g", g)
    h = check_positive("h", h)
    return _root_bound(
        lambda s: beta_binomial_log_mixture(s, v, v_opt, g, h, alpha_opt=alpha_opt, one_sided=one_sided),
        v,
        alpha,
        v / g,
    )


def poly_stitching_bound(
    v: float, alpha: float, v_min: float, *, c: float = 0.0, s: float = 1.4, eta: float = 2.0
) -> float:
    """Polynomial stitched boundary (Howard et al. 2021, Theorem 1), valid for ``v >= v_min``.

    Examples
    --------
    >>> round(poly_stitching_bound(100, 0.05, 10, c=3), 5)
    64.48755
    """
    v = check_positive("v", v)
    alpha = check_open_unit("alpha", alpha)
    v_min = check_positive("v_min", v_min)
    c = check_real("c", c)
    s = check_positive("s", s)
    eta = check_positive("eta", eta)
    if s <= 1.0 or eta <= 1.0:
        raise ValueError(f"`s` and `eta` must be greater than 1; got s={s}, eta={eta}.")
    k1 = (eta**0.25 + eta**-0.25) / math.sqrt(2.0)
    k2 = (math.sqrt(eta) + 1.0) / 2.0
    # a = log(zeta(s) / log(eta)**s), in logs: log(eta)**s under- or overflows for large s.
    a = math.log(float(special.zeta(s))) - s * math.log(math.log(eta))
    use_v = max(v, v_min)
    ell = s * math.log(math.log(eta * use_v / v_min)) + a + math.log(1.0 / alpha)
    term2 = k2 * c * ell
    bound = math.hypot(k1 * math.sqrt(use_v * ell), term2) + term2
    if not math.isfinite(bound):
        raise ValueError(f"`v`, `v_min`, `c`, `s` and `eta` put the stitched boundary beyond the "
                         f"float range; got v={v}, v_min={v_min}, c={c}, s={s}, eta={eta}.")
    return bound


def bernoulli_confidence_sequence(
    successes: int, n: int, *, alpha: float = 0.05, t_opt: float, alpha_opt: float = 0.05
) -> ConfidenceInterval:
    """Confidence sequence for a Bernoulli rate from the two-sided beta-binomial mixture.

    Valid at every ``n`` simultaneously; ``t_opt`` is the number of trials at which it is tuned
    to be tightest.

    Examples
    --------
    >>> ci = bernoulli_confidence_sequence(15, 50, t_opt=50)
    >>> round(ci.low, 5), round(ci.high, 5)
    (0.12956, 0.5119)
    """
    n = check_int("n", n, minimum=1)
    successes = check_int("successes", successes)
    if successes > n:
        raise ValueError(f"`successes` must be at most `n` ({n}); got {successes}.")
    alpha = check_open_unit("alpha", alpha)
    t_opt = check_positive("t_opt", t_opt)
    threshold = math.log(1.0 / alpha)
    rate = successes / n

    def objective(p: float, at_zero: float, at_one: float) -> float:
        if p <= 0.0:
            return at_zero
        if p >= 1.0:
            return at_one
        v = p * (1.0 - p)
        return (
            beta_binomial_log_mixture((rate - p) * n, v * n, v * t_opt, p, 1.0 - p, alpha_opt=alpha_opt)
            - threshold
        )

    low, high = 0.0, 1.0
    try:
        if rate > 0.0:
            low = float(optimize.brentq(objective, 0.0, rate, args=(1.0, -1.0), xtol=1e-12))
        if rate < 1.0:
            high = float(optimize.brentq(objective, rate, 1.0, args=(-1.0, 1.0), xtol=1e-12))
    except ValueError as exc:  # the mixture left double precision inside the search
        raise ConvergenceError(
            f"The Bernoulli confidence sequence could not be solved at successes={successes}, "
            f"n={n}, t_opt={t_opt}: {exc}") from None
    return ConfidenceInterval(low, high)
