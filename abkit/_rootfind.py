"""Brent's root finder exactly as R's ``R_zeroin2`` (what ``uniroot`` calls).

Rank statistics are step functions of the shift, so the root R reports depends on the path its
search takes; following the same path reproduces R's (and Kayenta's, whose ``BrentSolver`` is
the same algorithm) estimates and intervals to the last digit rather than to the tolerance.

Examples
--------
>>> round(zeroin(lambda x: x * x - 2.0, 0.0, 2.0, -2.0, 2.0, tol=1e-12), 10)
1.4142135624
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["zeroin"]

_EPS = float(np.finfo(float).eps)


def zeroin(
    f: Callable[[float], float],
    low: float,
    high: float,
    f_low: float,
    f_high: float,
    *,
    tol: float,
    maxiter: int = 1000,
) -> float:
    """A root of ``f`` in ``[low, high]`` given ``f`` at both ends (of opposite signs).

    Returns the last iterate after ``maxiter`` steps, as R does.
    """
    a, b, fa, fb = low, high, f_low, f_high
    c, fc = a, fa
    if fa == 0.0:
        return a
    if fb == 0.0:
        return b
    for _ in range(maxiter + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2.0 * _EPS * abs(b) + tol / 2.0
        new_step = (c - b) / 2.0
        if abs(new_step) <= tol_act or fb == 0.0:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:
                t1 = fb / fa
                p, q = cb * t1, 1.0 - t1
            else:
                q, t1, t2 = fa / fc, fb / fc, fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0.0:
                q = -q
            else:
                p = -p
            if p < 0.75 * cb * q - abs(tol_act * q) / 2.0 and p < abs(prev_step * q / 2.0):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0.0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0.0 and fc > 0.0) or (fb < 0.0 and fc < 0.0):
            c, fc = a, fa
    return b
