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
