"""Which arm is best, and what choosing each arm for good would cost, by one-dimensional quadrature.

For independent posteriors with distribution functions ``F_i`` and quantile functions ``Q_i``,
substituting ``x = Q_i(u)`` keeps every integrand on ``[0, 1]`` (heavy Student t tails included):

* ``P(arm i is best) = integral_0^1 prod_{j != i} F_j(Q_i(u)) du``;
* ``E[max_j mu_j] = sum_i integral_0^1 Q_i(u) prod_{j != i} F_j(Q_i(u)) du``, and the expected
  loss of arm ``i`` is ``E[max_j mu_j] - E[mu_i]``.

Posteriors are Beta (``scipy.stats.beta``) or, for Normal-Inverse-Gamma, the marginal of the
mean: Student t with ``2 alpha`` degrees of freedom, location ``mu`` and scale
``sqrt(beta / (alpha kappa))``. One adaptive vector quadrature (``scipy.integrate.quad_vec``)
serves all arms; it is deterministic and accurate to about 1e-10 (expected losses of Student t
posteriors with 2 or 3 degrees of freedom to about 1e-7 of their scale, the tails beyond the
1e-15 quantiles being dropped), where Monte Carlo would need ~10^20 draws for the same.

Examples
--------
>>> import numpy as np
>>> round(float(prob_best(beta_marginals(np.array([101.0, 121.0]), np.array([901.0, 881.0])))[1]), 9)
0.923183439
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from scipy import integrate, special

__all__ = ["Marginals", "beta_marginals", "expected_loss", "prob_best", "t_marginals"]

FloatArray = npt.NDArray[np.float64]
# (quantile function, distribution function, mean) of every arm, vectorised over arms.
Marginals = tuple[Callable[[float], FloatArray], Callable[[FloatArray], FloatArray], FloatArray]


def beta_marginals(a: FloatArray, b: FloatArray) -> Marginals:
    """Beta(a, b) posteriors."""
    return (
        lambda u: special.betaincinv(a, b, u),
        lambda x: special.betainc(a[:, None], b[:, None], np.clip(x, 0.0, 1.0)[None, :]),
        a / (a + b),
    )


def t_marginals(df: FloatArray, loc: FloatArray, scale: FloatArray) -> Marginals:
    """Student t posteriors (the mean's marginal under a Normal-Inverse-Gamma posterior)."""
    mean = np.where(df > 1, loc, np.nan)
    return (
        lambda u: loc + scale * special.stdtrit(df, u),
        lambda x: special.stdtr(df[:, None], (x[None, :] - loc[:, None]) / scale[:, None]),
        mean,
    )


def _integrals(marginals: Marginals) -> tuple[FloatArray, float]:
    # One adaptive vector quadrature over u in (0, 1) for every arm i at once:
    # P_i = int prod_{j != i} F_j(Q_i(u)) du and M_i = int Q_i(u) prod_{j != i} F_j(Q_i(u)) du.
    quantile, cdf, _ = marginals

    def integrand(u: float) -> FloatArray:
        # Clipping u keeps heavy t tails finite; it drops at most the mass beyond 1e-15.
        x = quantile(min(max(u, 1e-15), 1.0 - 1e-15))
        below = cdf(x)  # below[j, i] = F_j(x_i)
        np.fill_diagonal(below, 1.0)
        others = below.prod(axis=0)
        return np.concatenate([others, x * others])

    values = integrate.quad_vec(integrand, 0.0, 1.0, epsabs=1e-12, epsrel=1e-10, limit=2_000)[0]
    n = values.size // 2
    return values[:n], float(values[n:].sum())


def prob_best(marginals: Marginals) -> FloatArray:
    """``P(arm i has the largest mean)``; independent continuous posteriors.

    Examples
    --------
    >>> import numpy as np
    >>> prob_best(beta_marginals(np.array([1.0, 1.0]), np.array([1.0, 1.0]))).round(12).tolist()
    [0.5, 0.5]
    """
    return _integrals(marginals)[0]


def expected_loss(marginals: Marginals) -> FloatArray:
    """``E[max_j mu_j - mu_i]`` for each arm ``i`` (NaN where a posterior has no mean)."""
    expected_max = _integrals(marginals)[1]
    return np.maximum(expected_max - marginals[2], 0.0)
