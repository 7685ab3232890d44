"""Diebold-Mariano test of equal predictive accuracy for two forecasters' losses.

As R forecast's ``dm.test``: the loss differential's long-run variance from autocovariances up
to lag ``horizon - 1`` (divisor ``n``), equal weights (``"acf"``) or Bartlett weights
``1 - k/h``; the Harvey-Leybourne-Newbold (1997) small-sample correction with Student t on
``n - 1`` degrees of freedom (``small_sample=True``), or the original Diebold-Mariano (1995)
statistic against the normal (``small_sample=False``). ``dm.test`` takes forecast errors and a
power; here the losses are given directly (``|e|**power`` reproduces it), and the differential
is oriented ``challenger - champion``, so R's statistic for ``dm.test(e_champion,
e_challenger)`` is minus ours.

Examples
--------
>>> r = diebold_mariano_test([1.0, 2.0, 1.5, 3.0, 2.5], [0.5, 1.5, 1.4, 2.0, 2.6])
>>> round(r.statistic, 4), round(r.pvalue, 4)
(-2.1082, 0.1027)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from abkit._inference import pvalue_from_statistic, warn_degenerate
from abkit._results import Result
from abkit._validation import (
    as_float_array,
    as_paired_float_arrays,
    check_alternative,
    check_bool,
    check_choice,
    check_int,
    check_real,
)

__all__ = ["DieboldMarianoTestResult", "diebold_mariano_from_autocovariances", "diebold_mariano_test"]

VARIANCES = ("acf", "bartlett")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class DieboldMarianoTestResult(Result):
    """Result of :func:`diebold_mariano_test`.

    ``effect`` is the mean loss differential ``challenger - champion``; ``horizon_used`` differs
    from ``horizon`` only when the long-run variance was not positive and, as ``dm.test``, the
    test fell back to ``horizon = 1``. ``method`` names the form: ``"HLN"`` (corrected, t) or
    ``"DM"`` (original, normal).
    """

    statistic: float
    pvalue: float
    effect: float
    df: float
    n: int
    horizon: int
    horizon_used: int
    variance: str
    method: str
    alternative: str


def _autocovariances(diff: np.ndarray, horizon: int) -> list[float]:
    """``gamma_0 .. gamma_{h-1}`` of ``diff`` (divisor ``n``, as ``dm.test``)."""
    n = diff.size
    centred = diff - diff.mean()
    return [float(centred @ centred) / n] + [
        float(centred[lag:] @ centred[:-lag]) / n for lag in range(1, horizon)
    ]


def _long_run_variance(gammas: Sequence[float], horizon: int, variance: str, n: int) -> float:
    total = gammas[0]
    for lag in range(1, horizon):
        weight = 1.0 if variance == "acf" else 1.0 - lag / horizon
        total += 2.0 * weight * gammas[lag]
    return total / n


def diebold_mariano_test(
    champion_loss: Any,
    challenger_loss: Any,
    *,
    horizon: int = 1,
    variance: str = "acf",
    small_sample: bool = True,
    alternative: str = "two-sided",
) -> DieboldMarianoTestResult:
    """Diebold-Mariano test on per-period losses of two forecasters (R forecast ``dm.test``).

    Parameters
    ----------
    champion_loss, challenger_loss
        Losses in time order (e.g. squared errors), aligned by period.
    horizon
        Forecast horizon ``h``: autocovariances up to lag ``h - 1`` enter the variance.
    variance
        ``"acf"`` (equal weights, ``dm.test``'s default) or ``"bartlett"``.
    small_sample
        Harvey-Leybourne-Newbold correction with t(n - 1) (``dm.test``); ``False`` gives the
        original Diebold-Mariano statistic against the normal.
    alternative
        ``"greater"``: the challenger's expected loss is larger.

    Returns
    -------
    DieboldMarianoTestResult

    Examples
    --------
    >>> champion = [0.9, 1.2, 0.4, 2.0, 1.1, 0.7, 1.6, 0.3]
    >>> challenger = [0.5, 1.0, 0.6, 1.1, 0.8, 0.4, 1.2, 0.5]
    >>> r = diebold_mariano_test(champion, challenger, alternative="less")
    >>> r.method, round(r.effect, 4), round(r.pvalue, 4)
    ('HLN', -0.2625, 0.0372)
    """
    champ, chall = as_paired_float_arrays(
        "champion_loss", champion_loss, "challenger_loss", challenger_loss, min_size=2
    )
    horizon = check_int("horizon", horizon, minimum=1)
    variance = check_choice("variance", variance, VARIANCES)
    if not isinstance(small_sample, bool):
        raise TypeError(f"`small_sample` must be True or False; got {small_sample!r}.")
    alternative = check_alternative(alternative)
    n = int(champ.size)
    if horizon >= n:
        raise ValueError(f"`horizon` must be less than the number of periods ({n}); got {horizon}.")
    diff = chall - champ
    return diebold_mariano_from_autocovariances(
        n, float(diff.mean()), _autocovariances(diff, horizon), horizon=horizon, variance=variance,
        small_sample=small_sample, alternative=alternative,
    )


def diebold_mariano_from_autocovariances(
    n: int,
    mean_difference: float,
    autocovariances: Sequence[float],
    *,
    horizon: int = 1,
    variance: str = "acf",
    small_sample: bool = True,
    alternative: str = "two-sided",
) -> DieboldMarianoTestResult:
    """:func:`diebold_mariano_test` from the mean loss differential and its autocovariances.

    ``autocovariances`` holds ``gamma_0 .. gamma_{horizon-1}`` of ``challenger - champion`` in
    time order, each a sum of centred lagged products divided by ``n`` (as ``dm.test``).

    Examples
    --------
    >>> r = diebold_mariano_from_autocovariances(8, -0.2625, [0.0866, -0.01], horizon=2)
    >>> r.method, round(r.statistic, 3)
    ('HLN', -2.331)
    """
    horizon = check_int("horizon", horizon, minimum=1)
    variance = check_choice("variance", variance, VARIANCES)
    alternative = check_alternative(alternative)
    n = check_int("n", n, minimum=2)
    mean_difference = check_real("mean_difference", mean_difference)
    small_sample = check_bool("small_sample", small_sample)
    gammas = as_float_array("autocovariances", autocovariances)
    if len(gammas) < horizon:
        raise ValueError(
            f"`autocovariances` must hold lags 0 to {horizon - 1}; got {len(gammas)} value(s)."
        )
    if gammas[0] < 0.0 or np.any(np.abs(gammas) > gammas[0] * (1.0 + 1e-9)):
        raise ValueError("`autocovariances` must start with the variance (lag 0, at least 0) and no "
                         f"lag may exceed it in size; got {gammas[:horizon].tolist()}.")
    effect = mean_difference
    horizon_used = horizon
    long_run = _long_run_variance(gammas.tolist(), horizon, variance, n)
    if long_run <= 0.0 and horizon > 1:
        warn_degenerate(
            f"The long-run variance at horizon {horizon} is not positive; using horizon 1 "
            "(as forecast's dm.test)."
        )
        horizon_used = 1
        long_run = _long_run_variance(gammas.tolist(), 1, variance, n)
    if long_run <= 0.0:
        warn_degenerate("The loss differential has zero variance; statistic and pvalue are NaN.")
        statistic = math.nan
    else:
        statistic = effect / math.sqrt(long_run)
        if small_sample:
            h = horizon_used
            statistic *= math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    df = float(n - 1) if small_sample else math.nan
    return DieboldMarianoTestResult(
        statistic=statistic,
        pvalue=pvalue_from_statistic(statistic, alternative, df if small_sample else None),
        effect=effect, df=df, n=n, horizon=horizon, horizon_used=horizon_used,
        variance=variance, method="HLN" if small_sample else "DM", alternative=alternative,
    )
