"""Recursive numerical integration for group-sequential boundaries (Armitage, McPherson, Rowe).

The z statistics ``Z_1, ..., Z_K`` at information fractions ``t_1 < ... < t_K`` are a Brownian
motion with drift ``theta`` observed at those times: ``Z_k sqrt(t_k) = S_k`` with independent
increments ``S_k - S_{k-1} ~ N(theta (t_k - t_{k-1}), t_k - t_{k-1})``. The sub-density of
``Z_k`` on the paths that have not stopped is carried on the grid of Jennison and Turnbull
(2000, ch. 19): ``6r - 1`` points centred on the mean ``theta sqrt(t_k)``, trimmed to the
continuation region, with midpoints added for Simpson's rule. Every step sums the normal
transition kernel over the previous nodes within reach of each new one (a compiled banded
product, :mod:`abkit.sequential._kernels`).

Examples
--------
>>> up, low = crossing_probabilities(np.array([0.5, 1.0]), np.full(2, 1.959964), np.full(2, -1.959964))
>>> round(float(up.sum() + low.sum()), 4)
0.0831
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import optimize, special

from abkit.errors import ConvergenceError
from abkit.sequential import _kernels

FloatArray = npt.NDArray[np.float64]

MIN_GRID_R = 32
MAX_GRID_R = 256
BOUND_RANGE = (-12.0, 40.0)


def grid_size(fractions: FloatArray, r: int = MIN_GRID_R) -> int:
    """``r`` large enough that Simpson nodes resolve the narrowest transition kernel.

    Jennison and Turnbull recommend ``r = 32`` for a handful of looks; with many close looks the
    conditional sd of ``Z_k`` given ``Z_{k-1}`` shrinks and the node spacing ``2 / r`` follows it.
    """
    if fractions.size < 2:
        return r
    sd = np.sqrt(np.diff(fractions) / fractions[1:])
    return int(min(max(r, math.ceil(2.0 / float(sd.min()))), MAX_GRID_R))


@functools.lru_cache(maxsize=16)
def _offsets(r: int) -> FloatArray:
    """The ``6r - 1`` grid points of Jennison and Turnbull (19.3) around a zero mean."""
    i = np.arange(1, 6 * r, dtype=np.float64)
    x = np.where(
        i < r,
        -3.0 - 4.0 * np.log(r / np.maximum(i, 1.0)),
        np.where(i <= 5 * r, -3.0 + 1.5 * (i - r) / r, 3.0 + 4.0 * np.log(r / np.maximum(6 * r - i, 1.0))),
    )
    x.flags.writeable = False
    return x


def _nodes(mean: float, r: int, lower: float, upper: float) -> tuple[FloatArray, FloatArray]:
    """Simpson nodes and weights of the J&T grid around ``mean`` trimmed to ``[lower, upper]``."""
    x = mean + _offsets(r)
    inside = x[(x > lower) & (x < upper)]
    points = np.concatenate(([lower] if lower > x[0] else [], inside, [upper] if upper < x[-1] else []))
    if points.size < 2:
        return np.empty(0), np.empty(0)
    width = np.diff(points)
    nodes = np.empty(2 * points.size - 1)
    nodes[0::2] = points
    nodes[1::2] = points[:-1] + width / 2.0
    weights = np.zeros_like(nodes)
    weights[0:-1:2] += width / 6.0
    weights[2::2] += width / 6.0
    weights[1::2] = 4.0 * width / 6.0
    return nodes, weights


class Walk:
    """The sub-density of ``Z_k`` on continuing paths, advanced one look at a time.

    Starts before the first look (a point mass at ``S_0 = 0``). ``upper_exit(b)`` and
    ``lower_exit(a)`` give the probability of stopping at the next look above ``b`` / below
    ``a``; ``advance(a, b)`` moves to the next look with continuation region ``(a, b)``.
    """

    def __init__(self, fractions: FloatArray, theta: float, r: int) -> None:
        self.fractions = fractions
        self.theta = theta
        self.r = r
        self.k = 0
        self.t_prev = 0.0
        self.z = np.zeros(1)
        self.mass = np.ones(1)  # weight x density at each node

    def _shift(self) -> tuple[FloatArray, float, float]:
        t = self.fractions[self.k]
        delta = t - self.t_prev
        return self.z * math.sqrt(self.t_prev) + self.theta * delta, math.sqrt(t), math.sqrt(delta)

    def upper_exit(self, b: float) -> float:
        """P(continue to the next look and stop there with ``Z >= b``)."""
        if b == math.inf:
            return 0.0
        centre, root_t, sd = self._shift()
        return float(self.mass @ special.ndtr((centre - b * root_t) / sd))

    def upper_exit_slope(self, b: float) -> tuple[float, float]:
        """``upper_exit(b)`` and its derivative in ``b``."""
        centre, root_t, sd = self._shift()
        u = (centre - b * root_t) / sd
        with np.errstate(over="ignore"):  # a Newton step far into the tail: the density is 0
            density = np.exp(-0.5 * u * u) / math.sqrt(2.0 * math.pi)
        return float(self.mass @ special.ndtr(u)), -float(self.mass @ density) * root_t / sd

    def lower_exit(self, a: float) -> float:
        """P(continue to the next look and stop there with ``Z <= a``)."""
        if a == -math.inf:
            return 0.0
        centre, root_t, sd = self._shift()
        return float(self.mass @ special.ndtr((a * root_t - centre) / sd))

    def advance(self, lower: float, upper: float) -> None:
        """Move to the next look, keeping only the paths with ``lower < Z < upper``."""
        centre, root_t, sd = self._shift()
        nodes, weights = _nodes(self.theta * root_t, self.r, lower, upper)
        if nodes.size:
            self.mass = weights * _kernels.transition_density(
                np.ascontiguousarray(self.mass), np.ascontiguousarray(centre), nodes, root_t, sd)
        else:
            self.mass = np.zeros(0)
        self.z = nodes
        self.t_prev = float(self.fractions[self.k])
        self.k += 1


def solve_bound(
    exit_probability: Callable[[float], float], target: float, *, upper: bool, clip: bool = False
) -> float:
    """The boundary whose exit probability equals ``target`` (``inf`` when nothing is spent).

    With ``clip``, a target out of reach gives the end of the search range instead of an error
    (a futility bound that stops every remaining path).
    """
    if target <= 0.0:
        return math.inf if upper else -math.inf
    lo, hi = BOUND_RANGE if upper else (-BOUND_RANGE[1], -BOUND_RANGE[0])

    def excess(b: float) -> float:
        return exit_probability(b) - target

    if excess(lo) * excess(hi) > 0.0:
        if clip:
            return hi if excess(hi) < 0.0 else lo
        raise ConvergenceError(
            f"No boundary spends {target:.3g} at this look; the spending increments exceed the "
            "probability of reaching it."
        )
    return float(optimize.brentq(excess, lo, hi, xtol=1e-12, rtol=1e-14))


def solve_upper(walk: Walk, target: float) -> float:
    """Upper bound spending ``target`` at the walk's next look: Newton on the log probability.

    The log exit probability is nearly linear in the bound, so a few steps from the
    single-look quantile converge; bisection is the fallback.
    """
    if target <= 0.0:
        return math.inf
    b = -float(special.ndtri(target))
    log_target = math.log(target)
    for _ in range(40):
        p, slope = walk.upper_exit_slope(b)
        if not (p > 0.0 and slope < 0.0):
            break
        step = (math.log(p) - log_target) * p / slope
        b -= step
        if abs(step) < 1e-11:
            return b
    return solve_bound(walk.upper_exit, target, upper=True)


def crossing_probabilities(
    fractions: FloatArray,
    upper: FloatArray,
    lower: FloatArray,
    theta: float = 0.0,
    r: int | None = None,
    advance: Callable[[float], Any] = lambda n: None,
) -> tuple[FloatArray, FloatArray]:
    """Probabilities of first stopping above ``upper[k]`` / below ``lower[k]`` at each look.

    ``advance(1)`` is called after each look (a progress bar's step).
    """
    walk = Walk(fractions, theta, grid_size(fractions) if r is None else r)
    up = np.zeros(fractions.size)
    low = np.zeros(fractions.size)
    for k in range(fractions.size):
        up[k] = walk.upper_exit(float(upper[k]))
        low[k] = walk.lower_exit(float(lower[k]))
        if k + 1 < fractions.size:
            walk.advance(float(lower[k]), float(upper[k]))
        advance(1)
    return up, low


def efficacy_bounds(
    fractions: FloatArray, increments: FloatArray, two_sided: bool, r: int | None = None
) -> tuple[FloatArray, FloatArray]:
    """Upper bounds spending ``increments`` under the null (mirrored below when two-sided).

    Returns the bounds and the probability actually spent on the upper side at each look.
    """
    walk = Walk(fractions, 0.0, grid_size(fractions) if r is None else r)
    bounds = np.empty(fractions.size)
    spent = np.empty(fractions.size)
    for k in range(fractions.size):
        bounds[k] = solve_upper(walk, float(increments[k]))
        spent[k] = walk.upper_exit(float(bounds[k]))
        if k + 1 < fractions.size:
            walk.advance(-float(bounds[k]) if two_sided else -math.inf, float(bounds[k]))
    return bounds, spent


def futility_bounds(
    fractions: FloatArray, upper: FloatArray, increments: FloatArray, theta: float, r: int | None = None
) -> FloatArray:
    """Lower (futility) bounds spending ``increments`` of beta under drift ``theta``.

    Paths continue only below the efficacy bound, so a futility bound above it acts as the
    efficacy bound; the raw solutions are returned (the caller caps them).
    """
    walk = Walk(fractions, theta, grid_size(fractions) if r is None else r)
    lower = np.empty(fractions.size)
    for k in range(fractions.size):
        lower[k] = solve_bound(walk.lower_exit, float(increments[k]), upper=False, clip=True)
        if k + 1 < fractions.size:
            walk.advance(min(float(lower[k]), float(upper[k])), float(upper[k]))
    return lower
