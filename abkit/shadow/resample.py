"""Paired bootstrap for any metric: resample requests jointly for both models.

Each resample draws request indices with replacement and evaluates the metric on the same
requests for the champion and the challenger, so the replicates of ``metric(challenger) -
metric(champion)`` keep the pairing (the correlation of the two models' errors). Intervals
come from :mod:`abkit._bootstrap` (percentile, or BCa with a leave-one-request-out jackknife),
which match ``scipy.stats.bootstrap``; indices are drawn as scipy draws them, so with the same
seed the replicates equal ``scipy.stats.bootstrap(..., paired=True, vectorized=False)``'s.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> champion = rng.normal(10.0, 2.0, 300)
>>> challenger = champion + rng.normal(0.5, 0.5, 300)
>>> r = paired_bootstrap(np.mean, champion, challenger, n_resamples=500, rng=2)
>>> bool(r.ci.low > 0), round(r.effect, 2)
(True, 0.51)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from abkit._bootstrap import bca_interval, percentile_interval
from abkit._progress import progress_bar, show_progress
from abkit._results import ConfidenceInterval, Result
from abkit._validation import (
    RngLike,
    as_float_array,
    as_paired_float_arrays,
    check_alternative,
    check_choice,
    check_confidence_level,
    check_int,
    check_real,
    check_rng,
    check_same_length,
)

__all__ = ["PairedBootstrapResult", "bootstrap_pvalue", "paired_bootstrap", "paired_replicates"]

BOOTSTRAP_METHODS = ("percentile", "bca")
_INDEX_BUDGET = 4_000_000  # indices drawn per batch: bounds memory for large logs
_PROGRESS_VALUES = 20_000_000  # resampled requests above which a watched call shows a bar


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class PairedBootstrapResult(Result):
    """Result of :func:`paired_bootstrap`.

    ``effect = metric(challenger) - metric(champion)`` on the whole log; ``se`` is the standard
    deviation of the replicates and ``statistic = (effect - margin) / se``; ``pvalue`` is the
    bootstrap p-value ``(1 + #replicates on the null side of margin) / (1 + n_resamples)``
    (doubled for two-sided), consistent with the percentile interval.
    """

    statistic: float
    pvalue: float
    effect: float
    ci: ConfidenceInterval
    champion_value: float
    challenger_value: float
    se: float
    n: int
    n_resamples: int
    margin: float
    alternative: str
    confidence_level: float
    method: str


def bootstrap_pvalue(replicates: npt.NDArray[np.float64], margin: float, alternative: str) -> float:
    """P-value of ``H0: effect <= margin`` (greater), ``>= margin`` (less) or both, from replicates.

    >>> bootstrap_pvalue(np.array([0.1, 0.2, 0.3, -0.1]), 0.0, "greater")
    0.4
    """
    size = replicates.size
    upper = (1.0 + np.count_nonzero(replicates <= margin)) / (1.0 + size)
    lower = (1.0 + np.count_nonzero(replicates >= margin)) / (1.0 + size)
    if alternative == "greater":
        return float(upper)
    if alternative == "less":
        return float(lower)
    return float(min(1.0, 2.0 * min(upper, lower)))


def _difference(metric: Callable[..., float], champion: npt.NDArray[np.float64],
                challenger: npt.NDArray[np.float64], labels: npt.NDArray[np.float64] | None,
                index: Any) -> float:
    if labels is None:
        return float(metric(challenger[index])) - float(metric(champion[index]))
    return float(metric(labels[index], challenger[index])) - float(metric(labels[index], champion[index]))


def paired_replicates(
    metric: Callable[..., float],
    champion: npt.NDArray[np.float64],
    challenger: npt.NDArray[np.float64],
    labels: npt.NDArray[np.float64] | None,
    n_resamples: int,
    generator: np.random.Generator,
    advance: Callable[[float], Any] = lambda n: None,
) -> npt.NDArray[np.float64]:
    """``metric(challenger) - metric(champion)`` on ``n_resamples`` joint resamples of requests.

    Indices are drawn in batches of whole resamples as ``rng.integers(0, n, (batch, n))``, the
    same stream as scipy's ``bootstrap``; inputs are assumed validated. ``advance(k)`` is called
    after each batch of ``k`` resamples (a progress bar's step).
    """
    n = champion.size
    replicates = np.empty(n_resamples)
    batch = max(1, _INDEX_BUDGET // n)
    for start in range(0, n_resamples, batch):
        stop = min(start + batch, n_resamples)
        for row, index in enumerate(generator.integers(0, n, (stop - start, n)), start=start):
            replicates[row] = _difference(metric, champion, challenger, labels, index)
        advance(stop - start)
    return replicates


def paired_bootstrap(
    metric: Callable[..., float],
    champion_values: Any,
    challenger_values: Any,
    *,
    y_true: Any = None,
    n_resamples: int = 2000,
    method: str = "percentile",
    alternative: str = "two-sided",
    confidence_level: float = 0.95,
    margin: float = 0.0,
    rng: RngLike = None,
    progress: bool | None = None,
) -> PairedBootstrapResult:
    """Bootstrap interval and p-value for ``metric(challenger) - metric(champion)``.

    Parameters
    ----------
    metric
        ``metric(values) -> float`` (revenue per request, a latency quantile), or with
        ``y_true`` given ``metric(y_true, values) -> float`` (log loss, F1, AUC, calibration
        error; scikit-learn's ``(y_true, y_pred)`` order).
    champion_values, challenger_values
        Per-request predictions, scores or outcomes of each model, aligned by request.
    y_true
        Optional labels, resampled with the same indices.
    n_resamples
        Number of bootstrap resamples.
    method
        ``"percentile"`` or ``"bca"`` (bias-corrected and accelerated; its jackknife costs ``n``
        extra metric evaluations per model).
    alternative, confidence_level
        As everywhere in abkit; ``"greater"`` means the challenger's metric is larger.
    margin
        Null value of the difference for the p-value.
    rng
        Seed or ``numpy.random.Generator``.
    progress
        Show a tqdm bar over the resamples; ``None`` (default): when ``n_resamples * n`` is above
        2 * 10^7 requests and standard error is a terminal or a notebook. ``TQDM_DISABLE=1``
        hides it. The bar never changes the result.

    Returns
    -------
    PairedBootstrapResult

    Examples
    --------
    >>> y = np.array([0, 1, 1, 0, 1, 0, 1, 1, 0, 0] * 20)
    >>> champion = np.where(y == 1, 0.6, 0.4)
    >>> challenger = np.where(y == 1, 0.7, 0.3)
    >>> def brier(y_true, p):
    ...     return float(np.mean((p - y_true) ** 2))
    >>> r = paired_bootstrap(brier, champion, challenger, y_true=y, n_resamples=200, rng=0)
    >>> round(r.effect, 2), r.pvalue < 0.05
    (-0.07, True)
    """
    if not callable(metric):
        raise TypeError(f"`metric` must be callable; got {type(metric).__name__}.")
    champ, chall = as_paired_float_arrays(
        "champion_values", champion_values, "challenger_values", challenger_values, min_size=2
    )
    labels = None
    if y_true is not None:
        labels = as_float_array("y_true", y_true)
        check_same_length("y_true", labels, "champion_values", champ)
    n_resamples = check_int("n_resamples", n_resamples, minimum=1)
    method = check_choice("method", method, BOOTSTRAP_METHODS)
    alternative = check_alternative(alternative)
    confidence_level = check_confidence_level(confidence_level)
    margin = check_real("margin", margin)
    generator = check_rng(rng)
    show = show_progress(progress, work=n_resamples * champ.size, threshold=_PROGRESS_VALUES)

    champion_value = float(metric(champ) if labels is None else metric(labels, champ))
    challenger_value = float(metric(chall) if labels is None else metric(labels, chall))
    effect = challenger_value - champion_value
    with progress_bar(show, total=n_resamples, desc="paired_bootstrap", unit="resample") as advance:
        replicates = paired_replicates(metric, champ, chall, labels, n_resamples, generator, advance)
    n = champ.size
    if method == "bca":
        keep = np.ones(n, dtype=bool)
        jackknife = np.empty(n)
        for i in range(n):
            keep[i] = False
            jackknife[i] = _difference(metric, champ, chall, labels, keep)
            keep[i] = True
        ci = bca_interval(replicates, effect, jackknife, confidence_level, alternative)
    else:
        ci = percentile_interval(replicates, confidence_level, alternative)
    se = float(replicates.std(ddof=1)) if n_resamples > 1 else math.nan
    statistic = (effect - margin) / se if se > 0 else math.nan
    return PairedBootstrapResult(
        statistic=statistic, pvalue=bootstrap_pvalue(replicates, margin, alternative),
        effect=effect, ci=ci, champion_value=champion_value,
        challenger_value=challenger_value, se=se, n=int(n), n_resamples=n_resamples,
        margin=margin, alternative=alternative, confidence_level=confidence_level, method=method,
    )
