"""Multiple-testing adjustment of p-values.

Family-wise error control: Bonferroni, Holm (step-down), Hochberg (step-up). False discovery
rate: Benjamini-Hochberg (``"bh"``) and Benjamini-Yekutieli (``"by"``, any dependence).
Results equal statsmodels' ``multipletests`` (``fdr_bh``/``fdr_by`` for the FDR methods).

Examples
--------
>>> from abkit import adjust_pvalues
>>> adjust_pvalues([0.01, 0.04, 0.03, 0.005], method="holm").round(4).tolist()
[0.03, 0.06, 0.06, 0.02]
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import numpy.typing as npt

from abkit._validation import as_float_array, check_choice

__all__ = ["ADJUST_METHODS", "adjust_pvalues"]

ADJUST_METHODS = ("bonferroni", "holm", "hochberg", "bh", "by")


def adjust_pvalues(pvalues: Any, *, method: str = "holm") -> npt.NDArray[np.float64]:
    """Adjusted p-values, in the input's order; reject where ``adjusted <= alpha``.

    Parameters
    ----------
    pvalues
        1-D array of p-values in [0, 1].
    method
        ``"bonferroni"``, ``"holm"``, ``"hochberg"``, ``"bh"`` or ``"by"``.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values, capped at 1.

    Examples
    --------
    >>> adjust_pvalues([0.01, 0.02, 0.03], method="bh").round(6).tolist()
    [0.03, 0.03, 0.03]
    """
    p = as_float_array("pvalues", pvalues)
    if np.any((p < 0.0) | (p > 1.0)):
        bad = p[(p < 0.0) | (p > 1.0)][0]
        raise ValueError(f"`pvalues` must be in [0, 1]; got {bad}.")
    method = check_choice("method", method, ADJUST_METHODS)
    m = p.size
    if method == "bonferroni":
        return np.minimum(p * m, 1.0)
    order = np.argsort(p, kind="stable")
    sorted_p = p[order]
    rank = np.arange(1, m + 1)
    if method == "holm":
        adjusted = np.maximum.accumulate((m - rank + 1) * sorted_p)
    elif method == "hochberg":
        adjusted = np.minimum.accumulate(((m - rank + 1) * sorted_p)[::-1])[::-1]
    else:
        factor = 1.0 if method == "bh" else float(np.sum(1.0 / rank))
        adjusted = np.minimum.accumulate((sorted_p * m * factor / rank)[::-1])[::-1]
    result = np.empty(m)
    result[order] = np.minimum(adjusted, 1.0)
    return result


def dunnett_pvalues(pvalues: Any, control_share: Any, *,
                    alternative: str = "two-sided") -> npt.NDArray[np.float64]:
    """Dunnett's many-to-one adjustment of treatments-against-one-control p-values.

    The comparisons share the control's estimate, so their statistics are correlated: with
    ``lambda_i**2 = control_share[i]``, the control's share of comparison ``i``'s variance
    (``var_control / n_control`` over the variance of the effect), the statistics are jointly
    normal with correlation ``lambda_i lambda_j`` (Dunnett, 1955). Each raw p-value is mapped to
    its normal quantile ``c_i`` (``isf(p / 2)`` two-sided, ``isf(p)`` one-sided, so each row
    keeps its own test's marginal calibration) and the adjusted p-value is
    ``P(max_j |Z_j| >= c_i)`` (``P(max_j Z_j >= c_i)`` one-sided), from the one-dimensional
    integral over the shared control term (``Z_j = lambda_j W + sqrt(1 - lambda_j**2) E_j``),
    computed as the complement so small p-values keep their precision. This is the large-sample
    form of Dunnett's test with each arm's own variance (Hothorn, Bretz and Westfall 2008);
    scipy.stats.dunnett is the small-sample form for means with a common variance (pooled,
    multivariate t with ``N - k`` degrees of freedom), and the two agree as the samples grow.

    Parameters
    ----------
    pvalues
        Raw p-values of the comparisons, in [0, 1].
    control_share
        Each comparison's ``lambda_i**2`` in [0, 1] (0: independent comparisons, Sidak's
        adjustment; 1/2: equal arms and variances, correlation 1/2).
    alternative
        ``"two-sided"`` or one-sided (``"less"``/``"greater"``: every p-value in the same
        direction).

    Returns
    -------
    numpy.ndarray
        Adjusted p-values; one comparison gives its own p-value back.

    Examples
    --------
    >>> dunnett_pvalues([0.02, 0.3], [0.5, 0.5]).round(4).tolist()
    [0.0374, 0.4784]
    >>> dunnett_pvalues([0.02, 0.3], [0.0, 0.0]).round(6).tolist()  # Sidak: 1 - (1 - p)**2
    [0.0396, 0.51]
    """
    from scipy import integrate, special

    p = as_float_array("pvalues", pvalues)
    if np.any((p < 0.0) | (p > 1.0)):
        raise ValueError(f"`pvalues` must be in [0, 1]; got {p[(p < 0.0) | (p > 1.0)][0]}.")
    share = as_float_array("control_share", control_share)
    if share.shape != p.shape:
        raise ValueError(f"`control_share` must have one value per p-value ({p.size}); got "
                         f"{share.size}.")
    if np.any((share < 0.0) | (share > 1.0)):
        raise ValueError("`control_share` must be in [0, 1]; got "
                         f"{share[(share < 0.0) | (share > 1.0)][0]}.")
    alternative = check_choice("alternative", alternative, ("two-sided", "less", "greater"))
    two_sided = alternative == "two-sided"
    lam = np.sqrt(share)
    spread = np.sqrt(1.0 - share)
    result = np.empty(p.size)
    for i, pi in enumerate(p):
        if p.size == 1 or pi == 0.0 or pi == 1.0:
            result[i] = pi
            continue
        c = float(special.ndtri(1.0 - pi / 2.0) if two_sided else special.ndtri(1.0 - pi))
        if two_sided:
            c = abs(c)

        def exceed(w: float, c: float = c) -> float:
            # P(some comparison reaches c | W = w) = 1 - prod_j (1 - q_j), precisely.
            centre = lam * w
            with np.errstate(divide="ignore"):
                if two_sided:
                    q = np.where(spread > 0.0,
                                 special.ndtr((centre - c) / np.where(spread > 0, spread, 1.0))
                                 + special.ndtr((-centre - c) / np.where(spread > 0, spread, 1.0)),
                                 (np.abs(centre) >= c).astype(float))
                else:
                    q = np.where(spread > 0.0,
                                 special.ndtr((centre - c) / np.where(spread > 0, spread, 1.0)),
                                 (centre >= c).astype(float))
                total = float(np.sum(np.log1p(-np.minimum(q, 1.0))))
            return -math.expm1(total) * math.exp(-0.5 * w * w) / math.sqrt(2.0 * math.pi)

        edges = sorted({0.0, *(float(s) for lv in lam if lv > 0 for s in (c / lv, -c / lv))})
        edges = [e for e in edges if abs(e) < 40.0]
        points = [-40.0, *edges, 40.0]
        value = sum(integrate.quad(exceed, a, b, epsabs=0.0, epsrel=1e-10, limit=200)[0]
                    for a, b in itertools.pairwise(points))
        result[i] = min(max(value, pi), 1.0)
    return result
