"""``abkit.warmup()``: compile (or load from numba's cache) every numba kernel once.

abkit's kernels are compiled on first use and cached on disk (``cache=True``). On a cold cache
the first bandit ``select()``, the first exact t-test power calculation or the first bootstrap
waits for the compiler; a service calls :func:`warmup` at start-up, before it takes traffic, so
no request pays for it. With a warm cache it only loads the compiled code.

Each kernel is reached through the public function that uses it, on tiny input, so the
signatures compiled are the ones real calls use.
"""

from __future__ import annotations

import numpy as np

__all__ = ["warmup"]


def warmup() -> None:
    """Compile (or load from numba's on-disk cache) every numba kernel of abkit.

    Call it once at service start-up, before taking traffic: on a cold cache it takes tens of
    seconds of compilation (see the README), with a warm cache well under a second. Results of
    later calls do not depend on it.

    Examples
    --------
    >>> import abkit
    >>> abkit.warmup()
    """
    from abkit.bandits import warmup as warmup_bandits
    from abkit.nonparametric import bootstrap_test, mann_whitney_test
    from abkit.power import power_means

    warmup_bandits()
    # power/_kernels: the exact noncentral t (power, sample size, MDE)
    power_means(sd=1.0, mde=0.5, power=0.8, method="t")
    power_means(sd=1.0, mde=0.5, n_control=20, method="t")
    power_means(sd=1.0, n_control=20, power=0.8, method="t")
    # _kernels: bootstrap replicates and jackknife (mean, quantile, ratio), pairwise differences
    x = np.array([1.0, 2.0, 3.5, 4.0, 6.0])
    y = np.array([2.0, 2.5, 4.5, 5.0, 7.0])
    for statistic in ("mean", ("quantile", 0.5)):
        bootstrap_test(x, y, statistic=statistic, n_resamples=3, rng=0, progress=False)
    bootstrap_test((x, y), (y, x), statistic="ratio", n_resamples=3, rng=0, progress=False)
    mann_whitney_test(x, y)
    mann_whitney_test(x, y, ci_method="uniroot")
    # sequential/_kernels: the banded transition step of the boundary integration
    from abkit.sequential import peeking_type1_error

    peeking_type1_error(3, progress=False)
