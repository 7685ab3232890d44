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
    from scipy import special

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
    lam, spread = np.sqrt(share), np.sqrt(1.0 - share)
    with np.errstate(divide="ignore"):
        c = special.ndtri(1.0 - p / 2.0) if two_sided else special.ndtri(1.0 - p)
    result = p.copy()
    if p.size < 2:
        return result
    w, weight = _dunnett_grid(c[(p > 0.0) & (p < 1.0)], lam, spread)
    centre = lam[None, :] * w[:, None]
    safe = np.where(spread > 0.0, spread, 1.0)
    density = weight * np.exp(-0.5 * w * w) / math.sqrt(2.0 * math.pi)
    for i in np.flatnonzero((p > 0.0) & (p < 1.0)):
        # P(comparison j reaches c_i | W = w), then 1 - prod_j (1 - q_j) kept precise.
        q = np.where(spread > 0.0, special.ndtr((centre - c[i]) / safe), centre >= c[i])
        if two_sided:
            q = q + np.where(spread > 0.0, special.ndtr((-centre - c[i]) / safe), -centre >= c[i])
        with np.errstate(divide="ignore"):
            total = np.sum(np.log1p(-np.minimum(q, 1.0)), axis=1)
        value = float(np.sum(-np.expm1(total) * density))
        result[i] = min(max(value, p[i]), 1.0)
    return result


def _dunnett_grid(c: npt.NDArray[np.float64], lam: npt.NDArray[np.float64],
                  spread: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Gauss-Legendre nodes and weights over [-40, 40] for the shared control term ``W``, with
    pieces broken where a comparison's conditional probability turns (``w = +-(c + k s) / lam``)
    so each piece is smooth (a step, when ``s = 0``, falls on a break)."""
    breaks = {-40.0, 40.0, *np.arange(-12.0, 12.5, 1.0)}
    for ci in c:
        for lj, sj in zip(lam, spread, strict=True):
            if lj > 0.0:
                for k in (-6.0, -3.0, -1.5, -0.5, 0.0, 0.5, 1.5, 3.0, 6.0):
                    edge = (ci + k * sj) / lj
                    breaks.update((edge, -edge))
    points = np.array(sorted(b for b in breaks if -40.0 <= b <= 40.0))
    nodes, weights = np.polynomial.legendre.leggauss(24)
    half, middle = np.diff(points) / 2.0, (points[1:] + points[:-1]) / 2.0
    return ((middle[:, None] + half[:, None] * nodes).ravel(), (half[:, None] * weights).ravel())
