"""Multi-armed bandits: allocators a request router calls per request, simulation, off-policy evaluation.

* :mod:`abkit.bandits.policies`: :class:`EpsilonGreedy`, :class:`UCB1`, :class:`KLUCB`,
  :class:`ThompsonBernoulli`, :class:`ThompsonGaussian` with one interface (``select``,
  ``update``, ``prob_best``, ``to_json``, ``merge``, ...).
* :mod:`abkit.bandits.contextual`: :class:`LinUCB`, :class:`LinTS` and :class:`LogisticTS`
  choose per request from its feature vector (``select(context)``, ``update(arm, reward,
  context)``, ...), and :func:`simulate_contextual` measures their regret.
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
from abkit.bandits.contextual import ContextualPolicy, ContextualState, LinTS, LinUCB, LogisticTS
from abkit.bandits.policies import (
    KLUCB,
    UCB1,
    BanditState,
    BasePolicy,
    EpsilonGreedy,
    ThompsonBernoulli,
    ThompsonGaussian,
)
from abkit.bandits.simulate import lai_robbins_bound, simulate, simulate_contextual, warmup

__all__ = [
    "KLUCB",
    "UCB1",
    "BanditState",
    "BasePolicy",
    "ContextualPolicy",
    "ContextualState",
    "EpsilonGreedy",
    "LinTS",
    "LinUCB",
    "LogisticTS",
    "ThompsonBernoulli",
    "ThompsonGaussian",
    "lai_robbins_bound",
    "offpolicy",
    "simulate",
    "simulate_contextual",
    "warmup",
]
