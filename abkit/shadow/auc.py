"""ROC AUC of correlated scores: DeLong's test and interval by the fast midrank algorithm.

For ``m`` positives and ``n`` negatives, Sun and Xu (2014) obtain DeLong's placement values
from three midrank vectors (all requests, positives only, negatives only); a single
sort per model gives all three, because the positives' (negatives') subsequence of a sorted
array is itself sorted. The cost is O(N log N), against O(m n) for the textbook form.

The AUC counts ties as one half and takes higher scores as more positive (pROC's
``direction = "<"``; pROC chooses the direction from the data unless told). Variances use the
``m - 1`` and ``n - 1`` divisors as pROC's ``var``/``cov``; intervals of a single AUC are
clipped to [0, 1] as pROC's ``ci.auc``.

Examples
--------
>>> y = [0, 0, 1, 1, 0, 1, 1, 0]
>>> r = auc_ci(y, [0.1, 0.4, 0.35, 0.8, 0.2, 0.7, 0.9, 0.3])
>>> r.auc
0.9375
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import numpy.typing as npt

from abkit._inference import (
    NAN_INTERVAL,
    clip_interval,
    describe_hypothesis,
    interval,
    pvalue_from_statistic,
    warn_degenerate,
)
from abkit._ranks import placements as shared_placements
from abkit._results import ConfidenceInterval, Result
from abkit._validation import (
    as_float_array,
    check_alternative,
    check_confidence_level,
    check_covariance_matrix,
    check_int,
    check_real,
    check_same_length,
    check_share,
)

__all__ = ["AUCInterval", "DeLongTestResult", "auc_ci", "delong_from_moments", "delong_test"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class DeLongTestResult(Result):
    """Result of :func:`delong_test`: ``effect = challenger_auc - champion_auc``.

    ``ci`` is the normal interval for ``effect`` clipped to [-1, 1], the range of a difference
    of two AUCs (pROC's ``roc.test`` does not clip it; the clip binds only where the normal
    interval leaves the range, and a one-sided interval's open end is -1 or 1, as R's
    ``prop.test`` for a difference of rates); ``covariance`` is the DeLong covariance of the
    two AUCs.
    """

    statistic: float
    pvalue: float
    effect: float
    ci: ConfidenceInterval
    champion_auc: float
    challenger_auc: float
    se: float
    champion_variance: float
    challenger_variance: float
    covariance: float
    n_positive: int
    n_negative: int
    margin: float
    hypothesis: str
    alternative: str
    confidence_level: float


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class AUCInterval(Result):
    """Result of :func:`auc_ci`: the AUC, its DeLong variance and a normal interval in [0, 1]."""

    auc: float
    ci: ConfidenceInterval
    variance: float
    n_positive: int
    n_negative: int
    confidence_level: float


def check_binary_labels(name: str, y_true: Any) -> npt.NDArray[np.bool_]:
    """Labels as booleans: 0/1 or True/False, with at least one of each."""
    labels = as_float_array(name, y_true)
    is_binary = (labels == 0.0) | (labels == 1.0)
    if not is_binary.all():
        raise ValueError(
            f"`{name}` must be binary (0/1 or True/False) for an AUC; got {labels[~is_binary][0]}."
        )
    positive = labels == 1.0
    n_positive = int(positive.sum())
    if n_positive in (0, labels.size):
        kind = "negative" if n_positive else "positive"
        raise ValueError(f"`{name}` must contain both classes for an AUC; got no {kind} label.")
    return positive


def placements(
    positive: npt.NDArray[np.bool_], score: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """DeLong's structural components (V10 for positives, V01 for negatives) by midranks.

    ``V10_i`` is the share of negatives scored below positive ``i`` (ties 1/2); ``V01_j`` the
    share of positives scored above negative ``j``. Their means are both the AUC. Each in request
    order, so two models' values pair up; computed by :func:`abkit._ranks.placements`.
    """
    return shared_placements(score[positive], score[~positive])


def _check_scores(name: str, score: Any) -> npt.NDArray[np.float64]:
    return as_float_array(name, score)


def delong_test(
    y_true: Any,
    champion_score: Any,
    challenger_score: Any,
    *,
    alternative: str = "two-sided",
    confidence_level: float = 0.95,
    margin: float = 0.0,
) -> DeLongTestResult:
    """DeLong's test for two correlated ROC AUCs on the same requests (pROC's ``roc.test``).

    Parameters
    ----------
    y_true
        Binary labels (0/1 or booleans), one per request.
    champion_score, challenger_score
        Scores of each model for the same requests; higher means more likely positive.
    alternative
        ``"greater"``: the challenger's AUC exceeds the champion's by more than ``margin``.
    confidence_level
        Of the interval for ``challenger_auc - champion_auc``.
    margin
        Null value of the AUC difference (e.g. ``-0.01`` with ``"greater"`` for
        non-inferiority).

    Returns
    -------
    DeLongTestResult
        Identical rankings (zero difference and zero variance, ``margin`` 0) give statistic 0,
        its p-value (1 two-sided) and an interval collapsed at 0, as pROC's ``roc.test``, with a
        ``DegenerateDataWarning``; other zero or undefined variances give NaN.

    Examples
    --------
    >>> y = [0, 0, 1, 1, 0, 1, 1, 0, 1, 0]
    >>> champion = [0.1, 0.4, 0.35, 0.8, 0.5, 0.7, 0.45, 0.3, 0.6, 0.2]
    >>> challenger = [0.2, 0.3, 0.5, 0.9, 0.4, 0.8, 0.7, 0.1, 0.6, 0.3]
    >>> r = delong_test(y, champion, challenger)
    >>> round(r.champion_auc, 4), r.challenger_auc, round(r.effect, 2)
    (0.88, 1.0, 0.12)
    """
    positive = check_binary_labels("y_true", y_true)
    champ = _check_scores("champion_score", champion_score)
    chall = _check_scores("challenger_score", challenger_score)
    check_same_length("y_true", positive, "champion_score", champ)
    check_same_length("y_true", positive, "challenger_score", chall)
    alternative = check_alternative(alternative)
    confidence_level = check_confidence_level(confidence_level)
    margin = check_real("margin", margin)

    v10_a, v01_a = placements(positive, champ)
    v10_b, v01_b = placements(positive, chall)
    m, n = v10_a.size, v01_a.size
    s10 = np.cov(np.vstack((v10_a, v10_b))) if m > 1 else np.full((2, 2), math.nan)
    s01 = np.cov(np.vstack((v01_a, v01_b))) if n > 1 else np.full((2, 2), math.nan)
    return delong_from_moments(
        float(v10_a.mean()), float(v10_b.mean()), s10, s01, m, n, alternative=alternative,
        confidence_level=confidence_level, margin=margin,
    )


def delong_from_moments(
    champion_auc: float,
    challenger_auc: float,
    s10: Any,
    s01: Any,
    n_positive: int,
    n_negative: int,
    *,
    alternative: str = "two-sided",
    confidence_level: float = 0.95,
    margin: float = 0.0,
) -> DeLongTestResult:
    """:func:`delong_test` from its sufficient statistics (as an engine aggregates them).

    ``s10`` and ``s01`` are the 2x2 sample covariance matrices (``ddof=1``; NaN for a class of
    one request) of the (champion, challenger) placement values over the positives and over the
    negatives; the AUCs are the positives' mean placements.

    Examples
    --------
    >>> r = delong_from_moments(0.7, 0.8, [[0.04, 0.02], [0.02, 0.05]], [[0.03, 0.01], [0.01, 0.04]],
    ...                         40, 60)
    >>> round(r.effect, 2), round(r.se, 4)
    (0.1, 0.0456)
    """
    alternative = check_alternative(alternative)
    confidence_level = check_confidence_level(confidence_level)
    margin = check_real("margin", margin)
    m, n = check_int("n_positive", n_positive, minimum=1), check_int("n_negative", n_negative, minimum=1)
    # NaN covariances stand for a class of one request (ddof=1), and only for that.
    s10 = check_covariance_matrix("s10", s10, allow_nan=m == 1)
    s01 = check_covariance_matrix("s01", s01, allow_nan=n == 1)
    cov = s10 / m + s01 / n
    auc_a = check_share("champion_auc", champion_auc)
    auc_b = check_share("challenger_auc", challenger_auc)
    effect = auc_b - auc_a
    variance = float(cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1])
    se = math.sqrt(variance) if variance > 0 else math.nan
    if variance == 0.0 and effect == 0.0 and margin == 0.0:
        # pROC's convention for identical curves: no difference and no variance is z = 0 (p = 1
        # two-sided), with the interval collapsed at 0, so a promotion gate can act on it.
        warn_degenerate(
            "The AUC difference is 0 with zero DeLong variance (identical rankings); statistic 0, "
            "pvalue from z = 0 and a degenerate interval at 0, as pROC."
        )
        se, statistic = 0.0, 0.0
        ci = clip_interval(interval(0.0, 0.0, alternative, confidence_level), -1.0, 1.0)
    elif math.isnan(se):
        warn_degenerate(
            "The AUC difference has zero (or undefined) DeLong variance; statistic, pvalue and ci "
            "are NaN (identical scores, or a single request in a class?)."
        )
        statistic, ci = math.nan, NAN_INTERVAL
    else:
        statistic = (effect - margin) / se
        ci = clip_interval(interval(effect, se, alternative, confidence_level), -1.0, 1.0)
    return DeLongTestResult(
        statistic=statistic, pvalue=pvalue_from_statistic(statistic, alternative), effect=effect,
        ci=ci, champion_auc=auc_a, challenger_auc=auc_b, se=se,
        champion_variance=float(cov[0, 0]), challenger_variance=float(cov[1, 1]),
        covariance=float(cov[0, 1]), n_positive=m, n_negative=n, margin=margin,
        hypothesis=describe_hypothesis(alternative, margin, "challenger_auc - champion_auc"),
        alternative=alternative, confidence_level=confidence_level,
    )


def auc_ci(y_true: Any, score: Any, *, confidence_level: float = 0.95) -> AUCInterval:
    """ROC AUC with DeLong's variance and a normal interval clipped to [0, 1] (pROC ``ci.auc``).

    Parameters
    ----------
    y_true
        Binary labels (0/1 or booleans).
    score
        Scores; higher means more likely positive.
    confidence_level
        Of the two-sided interval.

    Returns
    -------
    AUCInterval

    Examples
    --------
    >>> r = auc_ci([0, 1, 0, 1, 1, 0], [0.2, 0.9, 0.4, 0.3, 0.8, 0.1])
    >>> round(r.auc, 4), r.ci.high
    (0.8889, 1.0)
    """
    positive = check_binary_labels("y_true", y_true)
    values = _check_scores("score", score)
    check_same_length("y_true", positive, "score", values)
    confidence_level = check_confidence_level(confidence_level)
    v10, v01 = placements(positive, values)
    m, n = v10.size, v01.size
    auc = float(v10.mean())
    variance = (float(v10.var(ddof=1)) / m if m > 1 else math.nan) + (
        float(v01.var(ddof=1)) / n if n > 1 else math.nan
    )
    if math.isnan(variance):
        warn_degenerate("A class has a single request; the DeLong variance and interval are NaN.")
        ci = NAN_INTERVAL
    else:
        raw = interval(auc, math.sqrt(variance), "two-sided", confidence_level)
        ci = ConfidenceInterval(max(raw.low, 0.0), min(raw.high, 1.0))
    return AUCInterval(auc=auc, ci=ci, variance=variance, n_positive=m, n_negative=n,
                       confidence_level=confidence_level)
