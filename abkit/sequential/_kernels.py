"""Numba kernels of the sequential package: the banded transition step of the recursive
integration (:mod:`abkit.sequential._integration`).

The transition density of ``Z_k`` given ``Z_{k-1}`` is a normal kernel whose width shrinks as
looks get closer (``sd = sqrt(t_k - t_{k-1})``, in the ``S`` scale); with thousands of looks it
covers a few dozen of the grid's hundreds of nodes. Summing only the previous nodes within
``_REACH`` kernel standard deviations of each new node makes a step cost nodes x band instead
of nodes squared; each term left out is below ``exp(-_REACH**2 / 2) = 2e-16`` of the largest.

Examples
--------
>>> import numpy as np
>>> out = transition_density(np.array([1.0]), np.array([0.0]), np.array([0.0]), 1.0, 1.0)
>>> round(float(out[0]), 6)  # the standard normal density at 0
0.398942
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from abkit._numba import kernel

__all__ = ["transition_density"]

_REACH = 8.5
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@kernel
def transition_density(mass: npt.NDArray[np.float64], centre: npt.NDArray[np.float64],
                       nodes: npt.NDArray[np.float64], root_t: float,
                       sd: float) -> npt.NDArray[np.float64]:
    """``sum_i mass_i phi((x root_t - centre_i) / sd) root_t / sd`` at each node ``x``.

    ``centre`` and ``nodes`` are ascending (the grid's order); only the ``centre_i`` within
    ``_REACH * sd`` of ``x root_t`` are summed, found with two moving pointers.
    """
    out = np.zeros(nodes.size)
    reach = _REACH * sd
    inv_sd = 1.0 / sd
    scale = root_t * inv_sd * _INV_SQRT_2PI
    first = 0
    n = centre.size
    for j in range(nodes.size):
        x = nodes[j] * root_t
        while first < n and centre[first] < x - reach:
            first += 1
        total = 0.0
        i = first
        while i < n and centre[i] <= x + reach:
            u = (x - centre[i]) * inv_sd
            total += mass[i] * math.exp(-0.5 * u * u)
            i += 1
        out[j] = total * scale
    return out
