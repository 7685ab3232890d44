"""Multi-armed bandits: allocators a request router calls per request, simulation, off-policy evaluation.

* :mod:`abkit.bandits.policies`: :class:`EpsilonGreedy`, :class:`UCB1`, :class:`KLUCB`,
  :class:`ThompsonBernoulli`, :class:`ThompsonGaussian` with one interface (``select``,
  ``update``, ``prob_best``, ``to_json``, ``merge``, ...).
* :func:`simulate`: cumulative regret of a policy on Bernoulli or Gaussian arms, in numba, and
  :func:`lai_robbins_bound`.
* :mod:`abkit.bandits.offpolicy`: replay, IPS, SNIPS, direct method and doubly robust estimates
  of a new policy's value from logged decisions.
* :func:`warmup` compiles every kernel (for service start-up).

Examples
--------
>>> from abkit import bandits
>>> policy = bandits.ThompsonBernoulli(4, rng=0)
>>> arm = policy.select()
>>> policy.update(arm, 1.0)
"""

from __future__ import annotations

from abkit.bandits import offpolicy
from abkit.bandits.policies import (
    KLUCB,
    UCB1,
    BanditState,
    BasePolicy,
    EpsilonGreedy,
    ThompsonBernoulli,
    ThompsonGaussian,
)
from abkit.bandits.simulate import lai_robbins_bound, simulate, warmup

__all__ = [
    "KLUCB",
    "UCB1",
    "BanditState",
    "BasePolicy",
    "EpsilonGreedy",
    "ThompsonBernoulli",
    "ThompsonGaussian",
    "lai_robbins_bound",
    "offpolicy",
    "simulate",
    "warmup",
]
