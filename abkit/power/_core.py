"""Shared machinery of the power calculations: options, critical values, power functions, solvers.

Every design here reduces to one comparison of a treatment arm with the control arm, with a test
statistic ``(estimate - margin) / se0``: a normal statistic (``se0`` the standard error under the
null, ``se1`` under the alternative) or a noncentral t. The solvers work on the fixed-design
sample size ``n = n_control / inflation_factor``; all arrays are broadcast to one shape and
flattened before solving.

Examples
--------
>>> c, a = critical_values(np.array([0.05]), np.array([1.0]), np.array([1.0]), 2, "bonferroni")
>>> round(float(c[0]), 6), float(a[0])
(1.959964, 0.05)
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import optimize, special

from abkit._inference import normal_tail_quantiles, tail_quantile
from abkit._results import Result, _to_json_safe
from abkit._validation import (
    as_checked_array,
    check_alternative,
    check_choice,
    check_real,
)
from abkit.errors import ConvergenceError
from abkit.power import _kernels

FloatArray = npt.NDArray[np.float64]
FloatOrArray = float | FloatArray

TWO_SIDED_POWER = ("both", "near")
ADJUSTMENTS = ("bonferroni", "dunnett")
_SOLVED = ("mde", "n_control", "power")
_MAX_N = 1e15  # a design needing more units than this is reported as unreachable
_MAX_RATIO = 1e6  # n_treatment / n_control beyond a million to one (either way) is no design
_DUNNETT_GRID = np.linspace(-9.0, 9.0, 4001)


class ArrayResult(Result):
    """A result whose numeric fields may be NumPy arrays (one element per design).

    ``to_dict`` turns arrays into (nested) lists; ``repr`` prints one row per design (the first
    eight and last three of a long grid) under a header with the shared options.
    """

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe ``dict``; array fields become (nested) lists."""
        return {
            name: _to_json_safe(value.tolist() if isinstance(value, np.ndarray) else value)
            for name, value in self._items()
        }

    def __repr__(self) -> str:
        items = self._items()
        arrays = [(name, v) for name, v in items if isinstance(v, np.ndarray)]
        if not arrays:
            return Result.__repr__(self)
        scalars = ", ".join(f"{name}={v!r}" for name, v in items if not isinstance(v, np.ndarray))
        columns = [(name, [f"{x:.6g}" for x in v.ravel()]) for name, v in arrays]
        size = arrays[0][1].size
        rows = list(range(size)) if size <= 12 else [*range(8), -1, *range(size - 3, size)]
        widths = [max(len(name), *(len(s) for s in col)) for name, col in columns]
        shared = f"; {scalars}" if scalars else ""
        lines = [f"{type(self).__name__} ({size} designs, shape {arrays[0][1].shape}{shared})"]
        lines.append("  ".join(name.rjust(w) for (name, _), w in zip(columns, widths, strict=True)))
        for row in rows:
            if row < 0:
                lines.append("...")
                continue
            cells = (col[row].rjust(w) for (_, col), w in zip(columns, widths, strict=True))
            lines.append("  ".join(cells))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        if any(isinstance(value, np.ndarray) for _, value in self._items()):
            return f"<pre>{html.escape(repr(self))}</pre>"
        return Result._repr_html_(self)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class PowerResult(ArrayResult):
    """Fields shared by every power result.

    Numeric fields are Python numbers when every numeric input was a scalar, and NumPy arrays of
    the inputs' broadcast shape otherwise. ``n_control`` and ``n_treatment`` are unrounded (as R
    reports them); ``n_control_rounded`` and ``n_treatment_rounded`` are rounded up, and
    ``n_total = n_control_rounded + n_treatments * n_treatment_rounded``. ``power`` is the power
    of one treatment-versus-control comparison; ``solved_for`` names the argument that was
    ``None``.
    """

    n_control: FloatOrArray
    n_treatment: FloatOrArray
    n_control_rounded: int | npt.NDArray[np.int64]
    n_treatment_rounded: int | npt.NDArray[np.int64]
    n_total: int | npt.NDArray[np.int64]
    power: FloatOrArray
    mde: FloatOrArray
    alpha: FloatOrArray
    ratio: FloatOrArray
    margin: FloatOrArray
    rho: FloatOrArray
    n_treatments: int | npt.NDArray[np.int64]
    inflation_factor: FloatOrArray
    alternative: str
    two_sided_power: str
    adjustment: str
    method: str
    solved_for: str


@dataclasses.dataclass(frozen=True, slots=True)
class Options:
    """Validated, broadcast design options (flattened arrays of one length)."""

    alpha: FloatArray
    ratio: FloatArray
    margin: FloatArray
    rho: FloatArray
    n_treatments: FloatArray
    inflation_factor: FloatArray
    alternative: str
    two_sided_power: str
    adjustment: str
    shape: tuple[int, ...]
    scalar: bool

    @property
    def both_tails(self) -> bool:
        """Whether two-sided power counts the far rejection region too."""
        return self.alternative == "two-sided" and self.two_sided_power == "both"

    @property
    def tails(self) -> int:
        """1 for a one-sided test, 2 for a two-sided one."""
        return 2 if self.alternative == "two-sided" else 1


def which_unknown(mde: Any, n_control: Any, power: Any) -> str:
    """The name of the one argument among ``mde``, ``n_control``, ``power`` that is ``None``."""
    missing = [name for name, v in zip(_SOLVED, (mde, n_control, power), strict=True) if v is None]
    if len(missing) != 1:
        listed = ", ".join(f"`{m}`" for m in missing) if missing else "none"
        raise ValueError(
            f"Exactly one of `mde`, `n_control`, `power` must be None; got {len(missing)} ({listed})."
        )
    return missing[0]


def check_relative(relative: Any) -> bool:
    """``relative`` must be a bool."""
    if not isinstance(relative, bool):
        raise TypeError(f"`relative` must be True or False; got {relative!r}.")
    return relative


def design_arguments(
    *, mde: Any, n_control: Any, power: Any, alpha: Any, ratio: Any, margin: Any, rho: Any,
    n_treatments: Any, inflation_factor: Any,
) -> dict[str, tuple[Any, str]]:
    """The numeric arguments every design shares, each with its validation rule for ``prepare``."""
    return {
        "mde": (mde, "real"),
        "n_control": (n_control, "positive"),
        "power": (power, "open_unit"),
        "alpha": (alpha, "open_unit"),
        "ratio": (ratio, "positive"),
        "margin": (margin, "real"),
        "rho": (rho, "real"),
        "n_treatments": (n_treatments, "count"),
        "inflation_factor": (inflation_factor, "positive"),
    }


def result_fields(n_control: FloatArray, power: FloatArray, mde: FloatArray, options: Options,
                  *, method: str, solved_for: str) -> dict[str, Any]:
    """Sizes, power, MDE, the options, ``method`` and ``solved_for`` as result fields."""
    return {
        **sizes(n_control, options),
        "power": power,
        "mde": mde,
        **option_fields(options),
        "method": method,
        "solved_for": solved_for,
    }


def prepare(
    numeric: dict[str, tuple[Any, str]],
    *,
    alternative: Any,
    two_sided_power: Any,
    adjustment: Any,
) -> tuple[dict[str, FloatArray], Options]:
    """Validate and broadcast the numeric arguments; ``numeric`` maps name -> (value, rule).

    ``None`` values of the unknowns (and of the optional ``mean``) are left out; ``None``
    anywhere else is a ``TypeError``. The option arguments ``alpha``, ``ratio``, ``margin``, ``rho``,
    ``n_treatments`` and ``inflation_factor`` must be in ``numeric``.
    """
    alternative = check_alternative(alternative)
    two_sided_power = check_choice("two_sided_power", two_sided_power, TWO_SIDED_POWER)
    adjustment = check_choice("adjustment", adjustment, ADJUSTMENTS)
    for name, (value, _) in numeric.items():
        if value is None and name not in (*_SOLVED, "mean"):
            raise TypeError(f"`{name}` must be a real number or an array of real numbers; got None.")
    arrays = {
        name: as_checked_array(name, value, rule)
        for name, (value, rule) in numeric.items()
        if value is not None
    }
    if "n_control" in arrays and np.any(arrays["n_control"] > _MAX_N):
        bad = arrays["n_control"][arrays["n_control"] > _MAX_N]
        raise ValueError(f"`n_control` must be at most {_MAX_N:g}; got {float(bad.ravel()[0]):g}.")
    outside = (arrays["ratio"] > _MAX_RATIO) | (arrays["ratio"] < 1.0 / _MAX_RATIO)
    if np.any(outside):
        raise ValueError(f"`ratio` must be in [{1.0 / _MAX_RATIO:g}, {_MAX_RATIO:g}] (n_treatment / "
                         f"n_control); got {float(arrays['ratio'][outside].ravel()[0]):g}.")
    if np.any(arrays["rho"] >= 1.0) or np.any(arrays["rho"] <= -1.0):
        bad = arrays["rho"][np.abs(arrays["rho"]) >= 1.0]
        raise ValueError(f"`rho` must be in (-1, 1); got {float(bad.ravel()[0])}.")
    if np.any(arrays["inflation_factor"] < 1.0):
        bad = arrays["inflation_factor"][arrays["inflation_factor"] < 1.0]
        raise ValueError(f"`inflation_factor` must be at least 1; got {float(bad.ravel()[0])}.")
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError as exc:
        shapes = ", ".join(f"{name} {a.shape}" for name, a in arrays.items() if a.ndim)
        raise ValueError(f"The numeric arguments must broadcast to one shape; got {shapes}.") from exc
    scalar = all(a.ndim == 0 for a in arrays.values())
    flat = {name: np.broadcast_to(a, shape).ravel().copy() for name, a in arrays.items()}
    options = Options(
        alpha=flat.pop("alpha"),
        ratio=flat.pop("ratio"),
        margin=flat.pop("margin"),
        rho=flat.pop("rho"),
        n_treatments=flat.pop("n_treatments"),
        inflation_factor=flat.pop("inflation_factor"),
        alternative=alternative,
        two_sided_power=two_sided_power,
        adjustment=adjustment,
        shape=shape,
        scalar=scalar,
    )
    return flat, options


def check_margin_zero(margin: Any, method: str) -> None:
    """Methods without a margin (the arcsine transform) accept only ``margin=0``."""
    values = np.atleast_1d(np.asarray(margin, dtype=float))
    if np.any(values != 0.0):
        got = check_real("margin", values[values != 0][0])
        raise ValueError(f"`margin` must be 0 with method {method!r}; got {got}.")


def dunnett_critical_value(alpha: float, ratio: float, n_treatments: int, tails: int) -> float:
    """Critical value ``c`` with ``P(max_i Z_i <= c) = 1 - alpha`` (``|Z_i|`` when two-sided).

    The ``Z_i`` are the large-sample statistics of ``n_treatments`` treatments against one
    shared control: standard normal, equicorrelated with correlation ``ratio / (1 + ratio)``
    (``ratio = n_treatment / n_control``). The probability is the one-dimensional integral of the
    equicorrelated normal (Dunnett 1955) on a fine grid.
    """
    if n_treatments == 1:
        return tail_quantile(alpha / tails)
    rho = ratio / (1.0 + ratio)
    u = _DUNNETT_GRID
    weight = np.exp(-0.5 * u * u) / np.sqrt(2.0 * np.pi)
    shift, scale = np.sqrt(rho) * u, np.sqrt(1.0 - rho)

    def coverage(c: float) -> float:
        inside = special.ndtr((c - shift) / scale)
        if tails == 2:
            inside = inside - special.ndtr((-c - shift) / scale)
        return float(np.trapezoid(weight * inside**n_treatments, u)) - (1.0 - alpha)

    low = tail_quantile(alpha / tails)  # unadjusted: coverage too small
    high = tail_quantile(alpha / (tails * n_treatments))  # Bonferroni: too large
    return float(optimize.brentq(coverage, low - 1e-9, high + 1e-9, xtol=1e-13, rtol=1e-14))


def critical_values(
    alpha: FloatArray, ratio: FloatArray, n_treatments: FloatArray, tails: int, adjustment: str
) -> tuple[FloatArray, FloatArray]:
    """Per-comparison normal critical values and significance levels (``tails`` counted).

    Bonferroni tests each comparison at ``alpha / n_treatments``; Dunnett-style uses the
    critical value of :func:`dunnett_critical_value` and the per-comparison level it implies.
    """
    if adjustment == "bonferroni" or np.all(n_treatments == 1):
        level = alpha / n_treatments
        return normal_tail_quantiles(level / tails), level
    keys = np.stack([alpha, ratio, n_treatments], axis=1)
    unique, inverse = np.unique(keys, axis=0, return_inverse=True)
    crit_unique = np.array(
        [dunnett_critical_value(a, r, int(k), tails) for a, r, k in unique], dtype=np.float64
    )
    crit = crit_unique[inverse.ravel()]
    return crit, tails * special.ndtr(-crit)


def normal_power(
    sqrt_n: FloatArray, effect: FloatArray, s0: FloatArray, s1: FloatArray, crit: FloatArray, both: bool
) -> FloatArray:
    """Power of a normal test; ``effect`` is signed toward the alternative (|.| if two-sided).

    ``s0`` and ``s1`` are the standard deviations of the estimate times ``sqrt(n)`` under the
    null and the alternative.
    """
    power = special.ndtr((sqrt_n * effect - crit * s0) / s1)
    if both:
        power = power + special.ndtr((-sqrt_n * effect - crit * s0) / s1)
    return power


def t_power(df: FloatArray, ncp: FloatArray, level: FloatArray, tails: int, both: bool) -> FloatArray:
    """Power of a t test with ``df`` degrees of freedom and noncentrality ``ncp``.

    ``level`` is the per-comparison significance level; a two-sided test rejects beyond
    ``t_{1 - level/2}``, and ``both=False`` ignores the far tail (R's ``strict = FALSE``). The
    noncentral t and the critical value are compiled (:mod:`abkit.power._kernels`).
    """
    df, ncp, level = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (df, ncp, level)))
    q = np.ascontiguousarray(level / tails).ravel()
    power = _kernels.t_power_array(np.ascontiguousarray(df).ravel(), np.ascontiguousarray(ncp).ravel(),
                                   q, normal_tail_quantiles(q), both)
    return power.reshape(df.shape)


def fail(mask: npt.NDArray[np.bool_], message: str, *, scalar: bool) -> None:
    """Raise ``ConvergenceError(message)`` if any element of ``mask`` is set, naming the first."""
    if np.any(mask):
        where = "" if scalar else f" (first at flat index {int(np.flatnonzero(mask)[0])} of {mask.size})"
        raise ConvergenceError(message + where)


def solve_increasing(
    func: Callable[..., FloatArray],
    low: FloatArray,
    high: FloatArray,
    args: tuple[FloatArray, ...],
    *,
    what: str,
    scalar: bool,
    expand: bool = False,
    f_low: FloatArray | None = None,
) -> FloatArray:
    """Root of ``func(x, *args)``, increasing in ``x`` with ``func(low) < 0``, elementwise.

    With ``expand=True`` the upper end doubles its distance from ``low`` until ``func(high) >= 0``
    (up to ``1e15``). The Illinois variant of regula falsi on the shrinking set of unsolved
    elements; stops at ``|func| <= 1e-13`` or a bracket narrower than ``1e-14`` relative, and
    raises ``ConvergenceError`` if a bracket is invalid or 200 steps do not converge.
    """
    x_lo, x_hi = low.astype(np.float64), high.astype(np.float64)
    f_lo = func(x_lo, *args) if f_low is None else f_low
    f_hi = func(x_hi, *args)
    if expand:
        for _ in range(64):
            short = (f_hi < 0.0) & (x_hi < _MAX_N)
            if not short.any():
                break
            x_hi[short] = np.minimum(x_lo[short] + 2.0 * (x_hi[short] - x_lo[short]), _MAX_N)
            f_hi[short] = func(x_hi[short], *(a[short] for a in args))
    fail(~(f_hi >= 0.0), f"Cannot bracket {what}: the target is not reached below {_MAX_N:g}.",
         scalar=scalar)
    fail(~(f_lo < 0.0), f"Cannot bracket {what}: the target is already passed at the lower end.",
         scalar=scalar)
    root = np.where(f_hi == 0.0, x_hi, np.nan)
    index = np.flatnonzero(f_hi != 0.0)
    x_lo, x_hi, f_lo, f_hi = x_lo[index], x_hi[index], f_lo[index], f_hi[index]
    args = tuple(a[index] for a in args)
    side = np.zeros(index.size)
    for _ in range(200):
        if index.size == 0:
            return root
        x = x_hi - f_hi * (x_hi - x_lo) / (f_hi - f_lo)
        x = np.where((x > x_lo) & (x < x_hi), x, 0.5 * (x_lo + x_hi))
        f_x = func(x, *args)
        done = (np.abs(f_x) <= 1e-13) | (x_hi - x_lo <= 1e-14 * np.abs(x))
        root[index[done]] = x[done]
        below = f_x < 0.0
        f_hi = np.where(below & (side < 0), 0.5 * f_hi, f_hi)
        f_lo = np.where(~below & (side > 0), 0.5 * f_lo, f_lo)
        x_lo, f_lo = np.where(below, x, x_lo), np.where(below, f_x, f_lo)
        x_hi, f_hi = np.where(below, x_hi, x), np.where(below, f_hi, f_x)
        side = np.where(below, -1.0, 1.0)
        keep = ~done
        index = index[keep]
        x_lo, x_hi, f_lo, f_hi, side = (v[keep] for v in (x_lo, x_hi, f_lo, f_hi, side))
        args = tuple(a[keep] for a in args)
    fail(np.isnan(root), f"The solve for {what} did not converge in 200 steps.", scalar=scalar)
    return root


def _newton_both_tails(x: FloatArray, effect: FloatArray, s0: FloatArray, s1: FloatArray,
                       crit: FloatArray, target: FloatArray, *, scalar: bool) -> FloatArray:
    step = np.full_like(x, np.inf)
    for _ in range(50):
        upper = (x * effect - crit * s0) / s1
        lower = (-x * effect - crit * s0) / s1
        excess = special.ndtr(upper) + special.ndtr(lower) - target
        slope = effect / s1 * (np.exp(-0.5 * upper**2) - np.exp(-0.5 * lower**2)) / np.sqrt(2 * np.pi)
        step = excess / slope
        x = x - step
        if np.all(np.abs(step) <= 1e-14 * x):
            return x
    fail(~(np.abs(step) <= 1e-14 * x), "The solve for n_control did not converge.", scalar=scalar)
    return x


def solve_sqrt_n_normal(
    effect: FloatArray, s0: FloatArray, s1: FloatArray, crit: FloatArray, target: FloatArray,
    options: Options, *, refine: bool = True,
) -> FloatArray:
    """``sqrt(n)`` at which a normal test reaches ``target`` power (closed form for the near tail).

    ``sqrt(n) = (crit * s0 + z_target * s1) / effect``; when both tails count (and ``refine``),
    refined by a bracketed solve below it (the far tail only adds power). ``refine=False`` gives
    the near-tail closed form, still checked.
    """
    fail(~(effect > 0.0), "No sample size reaches the power: the effect (mde minus margin) is 0 or "
         "points against the alternative.", scalar=options.scalar)
    with np.errstate(over="ignore"):  # an effect of 1e-300 against an sd of 1e300: inf
        sqrt_n = (crit * s0 + special.ndtri(target) * s1) / effect
    floor = special.ndtr(-crit * s0 / s1) * (2.0 if options.both_tails else 1.0)
    fail(sqrt_n > _MAX_N**0.5,
         f"No sample size reaches the power below n_control = {_MAX_N:g} (the normal "
         "approximation already needs more): the effect is too small for the standard deviation.",
         scalar=options.scalar)
    fail(~(sqrt_n > 0.0) | (floor >= target),
         "`power` must exceed the power as n_control -> 0 (the chance of rejecting by the critical "
         "value alone); raise `power` or lower `alpha`.", scalar=options.scalar)
    if options.both_tails and refine:
        # The far tail only adds power, so the root lies below the near-tail one; where it adds
        # more than 1e-15, Newton steps (analytic derivative) from above converge monotonically.
        far = special.ndtr((-sqrt_n * effect - crit * s0) / s1) > 1e-15
        if far.any():
            args = tuple(v[far] for v in (effect, s0, s1, crit, target))
            sqrt_n = sqrt_n.copy()
            sqrt_n[far] = _newton_both_tails(sqrt_n[far], *args, scalar=options.scalar)
    return sqrt_n


def solve_effect_normal(
    sqrt_n: FloatArray, s: FloatArray, crit: FloatArray, target: FloatArray, options: Options
) -> FloatArray:
    """Effect (toward the alternative) a normal test with equal null/alternative SDs detects.

    ``effect = (crit + z_target) * s / sqrt(n)`` for the near tail; refined when both count.
    """
    scaled = crit + special.ndtri(target)
    floor = special.ndtr(-crit) * (2.0 if options.both_tails else 1.0)
    fail(~(scaled > 0.0) | (floor >= target),
         "`power` must exceed the rejection rate at zero effect; raise `power` or lower `alpha`.",
         scalar=options.scalar)
    effect = scaled * s / sqrt_n
    if options.both_tails:
        # In units of s / sqrt(n) the problem is the sample-size one with sqrt_n = effect.
        ones = np.ones_like(effect)
        unit = solve_sqrt_n_normal(ones, ones, ones, crit, target, options)
        effect = unit * s / sqrt_n
    return effect


def sizes(n_control: FloatArray, options: Options) -> dict[str, FloatArray]:
    """Unrounded and rounded-up arm sizes and the total for ``n_control`` (arrays)."""
    with np.errstate(over="ignore"):
        n_treatment = n_control * options.ratio
    fail(~(np.isfinite(n_control) & np.isfinite(n_treatment)),
         "No finite sample size reaches the target (an arm would need more units than a float holds).",
         scalar=options.scalar)
    # Round up, but let floating-point noise from the solver (1e-9 relative) not add a unit.
    n_control_rounded = np.ceil(n_control * (1.0 - 1e-12))
    n_treatment_rounded = np.ceil(n_treatment * (1.0 - 1e-12))
    return {
        "n_control": n_control,
        "n_treatment": n_treatment,
        "n_control_rounded": n_control_rounded,
        "n_treatment_rounded": n_treatment_rounded,
        "n_total": n_control_rounded + options.n_treatments * n_treatment_rounded,
    }


_INTEGER_FIELDS = ("n_control_rounded", "n_treatment_rounded", "n_total", "n_treatments")


def shape_fields(fields: dict[str, Any], options: Options) -> dict[str, Any]:
    """Reshape array fields to the inputs' broadcast shape, or make them Python scalars."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if isinstance(value, np.ndarray):
            array = value.reshape(options.shape)
            if options.scalar:
                out[name] = int(array) if name in _INTEGER_FIELDS else float(array)
            else:
                out[name] = array.astype(np.int64) if name in _INTEGER_FIELDS else array
        else:
            out[name] = value
    return out


def option_fields(options: Options) -> dict[str, Any]:
    """The design options as result fields."""
    return {
        "alpha": options.alpha,
        "ratio": options.ratio,
        "margin": options.margin,
        "rho": options.rho,
        "n_treatments": options.n_treatments,
        "inflation_factor": options.inflation_factor,
        "alternative": options.alternative,
        "two_sided_power": options.two_sided_power,
        "adjustment": options.adjustment,
    }
