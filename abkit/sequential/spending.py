"""Alpha (and beta) spending functions of the information fraction.

A spending function ``f(t)`` gives the cumulative error allowed to be spent by information
fraction ``t`` in ``[0, 1]``: ``f(0) = 0``, ``f(1) = alpha``, non-decreasing. Group-sequential
designs turn the increments into boundaries (:mod:`abkit.sequential.group`); because only the
fraction matters, looks can happen at any information, planned or not (Lan and DeMets, 1983).

All functions take the error ``alpha`` *of one side*: a two-sided design at total level 0.05
spends 0.025 on each side (the rpact/gsDesign convention).

- ``"obrien-fleming"``: Lan-DeMets O'Brien-Fleming type, ``2 (1 - Phi(z_{1-alpha/2} / sqrt(t)))``.
- ``"pocock"``: Lan-DeMets Pocock type, ``alpha log(1 + (e - 1) t)``.
- ``"hsd"``: Hwang, Shih and DeCani (1990), ``alpha (1 - exp(-gamma t)) / (1 - exp(-gamma))``
  (``gamma = 0`` is linear; ``gamma = -4`` resembles O'Brien-Fleming, ``gamma = 1`` Pocock).
- ``"power"``: Kim and DeMets (1987) power family, ``alpha t**rho``.

Examples
--------
>>> round(float(obrien_fleming_spending(0.5, 0.025)), 6)
0.001525
>>> float(power_spending(0.25, 0.05, rho=2.0))
0.003125
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import special

from abkit._inference import tail_quantile
from abkit._validation import check_choice, check_open_unit, check_positive, check_real, to_array

__all__ = [
    "SPENDING_FUNCTIONS",
    "hsd_spending",
    "obrien_fleming_spending",
    "pocock_spending",
    "power_spending",
    "spending_function",
]

SPENDING_FUNCTIONS = ("obrien-fleming", "pocock", "hsd", "power")

FloatArray = npt.NDArray[np.float64]


def _fractions(t: Any) -> FloatArray:
    array = to_array("t", t, np.float64)
    if np.any(~np.isfinite(array)) or np.any(array < 0.0):
        raise ValueError(f"`t` must be information fractions of at least 0; got {t}.")
    return np.minimum(array, 1.0)


def obrien_fleming_spending(t: Any, alpha: float) -> FloatArray:
    """Lan-DeMets O'Brien-Fleming-type spending ``2 (1 - Phi(z_{1-alpha/2} / sqrt(t)))``.

    Parameters
    ----------
    t
        Information fraction(s) in ``[0, 1]`` (values above 1 are treated as 1).
    alpha
        Error of one side, spent in full at ``t = 1``.

    Returns
    -------
    numpy.ndarray
        Cumulative error spent at each fraction.

    Examples
    --------
    >>> np.round(obrien_fleming_spending([0.2, 1.0], 0.025), 8)
    array([5.4e-07, 2.5e-02])
    """
    alpha = check_open_unit("alpha", alpha)
    frac = _fractions(t)
    z = tail_quantile(alpha / 2.0)
    with np.errstate(divide="ignore"):
        spent = 2.0 * special.ndtr(-z / np.sqrt(frac))
    return np.asarray(np.where(frac > 0.0, spent, 0.0), dtype=np.float64)


def pocock_spending(t: Any, alpha: float) -> FloatArray:
    """Lan-DeMets Pocock-type spending ``alpha log(1 + (e - 1) t)``.

    Examples
    --------
    >>> float(pocock_spending(1.0, 0.05))
    0.05
    """
    alpha = check_open_unit("alpha", alpha)
    return np.asarray(alpha * np.log1p((math.e - 1.0) * _fractions(t)), dtype=np.float64)


def hsd_spending(t: Any, alpha: float, gamma: float = -4.0) -> FloatArray:
    """Hwang-Shih-DeCani spending ``alpha (1 - exp(-gamma t)) / (1 - exp(-gamma))``.

    ``gamma = 0`` is the linear limit ``alpha t``.

    Examples
    --------
    >>> float(hsd_spending(0.5, 0.05, gamma=0.0))
    0.025
    """
    alpha = check_open_unit("alpha", alpha)
    gamma = check_real("gamma", gamma)
    frac = _fractions(t)
    if gamma == 0.0:
        return np.asarray(alpha * frac, dtype=np.float64)
    if gamma > 0.0:
        return np.asarray(alpha * np.expm1(-gamma * frac) / math.expm1(-gamma), dtype=np.float64)
    # gamma < 0: (e^{a t} - 1) / (e^a - 1) with a = -gamma, written as
    # e^{a (t - 1)} (1 - e^{-a t}) / (1 - e^{-a}) so that no exponential overflows.
    a = -gamma
    with np.errstate(under="ignore"):
        ratio = np.exp(a * (frac - 1.0)) * -np.expm1(-a * frac) / -math.expm1(-a)
    return np.asarray(alpha * ratio, dtype=np.float64)


def power_spending(t: Any, alpha: float, rho: float = 3.0) -> FloatArray:
    """Power-family spending ``alpha t**rho`` (Kim and DeMets; ``rho > 0``).

    Examples
    --------
    >>> float(power_spending(0.5, 0.04, rho=1.0))
    0.02
    """
    alpha = check_open_unit("alpha", alpha)
    rho = check_positive("rho", rho)
    return np.asarray(alpha * _fractions(t) ** rho, dtype=np.float64)


def spending_function(kind: str, param: float | None = None) -> Callable[[Any, float], FloatArray]:
    """The spending function ``f(t, alpha)`` named ``kind``, with its parameter bound.

    Parameters
    ----------
    kind
        ``"obrien-fleming"``, ``"pocock"``, ``"hsd"`` (``param`` is gamma, default -4) or
        ``"power"`` (``param`` is rho, default 3).
    param
        The family's parameter; must be ``None`` for the two Lan-DeMets functions.

    Examples
    --------
    >>> f = spending_function("hsd", 1.0)
    >>> round(float(f(1.0, 0.025)), 6)
    0.025
    """
    return named_spending_function(kind, param, names=("kind", "param"))


def named_spending_function(
    kind: str, param: float | None, *, names: tuple[str, str]
) -> Callable[[Any, float], FloatArray]:
    """:func:`spending_function`, its errors naming the caller's arguments ``names``
    (``("spending", "spending_param")`` or ``("futility", "futility_param")`` in a design)."""
    kind_name, param_name = names
    kind = check_choice(kind_name, kind, SPENDING_FUNCTIONS)
    if kind in ("obrien-fleming", "pocock"):
        if param is not None:
            raise ValueError(f"`{param_name}` must be None for spending {kind!r}; got {param}.")
        return obrien_fleming_spending if kind == "obrien-fleming" else pocock_spending
    if kind == "hsd":
        gamma = -4.0 if param is None else check_real(param_name, param)
        return lambda t, alpha: hsd_spending(t, alpha, gamma)
    rho = 3.0 if param is None else check_positive(param_name, param)
    return lambda t, alpha: power_spending(t, alpha, rho)
