"""A bandit policy shared through a store: a local copy per process, deltas exchanged as increments.

A policy's data are sums, so they travel through a store (:mod:`abkit.adapters.stores`) as
increments. Each router keeps a local copy ``L`` of the policy (it routes and learns from it with
no round trip) and the part ``P`` of ``L`` already in the store. A sync

1. pushes ``L - P`` (the local rewards since the last sync) as one atomic ``add``, under an
   idempotency key, so a push retried after an ambiguous failure counts once;
2. reads the store's totals ``G`` (every process's pushes, its own included);
3. replaces the local copy by ``L' = L.merge(G, base=S)``, ``S`` the snapshot pushed: the
   rewards that arrived during the round trip are kept, the pushed ones counted once. ``P``
   becomes ``G``.

The additive form of a policy, one store group per arm:

* context-free policies (:mod:`abkit.bandits.policies`, no discounting): ``n``, ``sum`` and
  ``sumsq`` of the rewards; the local mean and squared deviations are ``sum / n`` and
  ``sumsq - sum^2 / n`` (the store's numerical note applies: rewards whose mean is far larger
  than their spread lose digits);
* contextual policies (:mod:`abkit.bandits.contextual`): ``n``, the lower triangle of ``X'X``
  (``g{i}_{j}``) and ``X'y`` (``b{i}``), LogisticTS's Laplace terms alike;

and one group ``"\\x00policy"`` with ``n_updates``. Discounted policies (``discount < 1``) are
refused: their data decay with the order of the rewards, which increments cannot express.

Examples
--------
>>> from abkit.bandits import ThompsonBernoulli
>>> policy = ThompsonBernoulli(2)
>>> policy.update_batch([0, 0, 1], [1.0, 0.0, 1.0])
>>> additive(policy)["arm0"]
{'n': 2.0, 'sum': 1.0, 'sumsq': 1.0}
>>> policy_from_totals(policy, additive(policy)).to_json() == policy.to_json()
True
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from abkit._state import dump_state
from abkit.bandits import _kernels as k
from abkit.bandits.contextual import STATE_VERSION as CONTEXTUAL_STATE_VERSION
from abkit.bandits.contextual import ContextualPolicy
from abkit.bandits.policies import STATE_VERSION as POLICY_STATE_VERSION
from abkit.bandits.policies import BasePolicy, _combine

__all__ = ["POLICY_GROUP", "additive", "check_shareable", "difference", "policy_from_totals"]

POLICY_GROUP = "\x00policy"  # the store group of the policy's update count (no arm group has a NUL)
Totals = dict[str, dict[str, float]]


def check_shareable(policy: Any) -> None:
    """``ValueError`` unless ``policy`` can live in a store (no discounting, no data yet)."""
    if isinstance(policy, BasePolicy) and float(policy._params[k.P_DISCOUNT]) != 1.0:
        raise ValueError("`policy` must not discount (discount < 1) when the router has a `store`: decayed "
                         "data depend on the order of the rewards, which increments across processes "
                         "cannot keep.")
    if policy.n_updates != 0 or float(np.asarray(policy.state.counts).sum()) != 0.0:
        raise ValueError("`policy` must have no data when the router has a `store`: the store's totals are "
                         "the policy's data (record a warm start through one router, or add it to the store "
                         "once).")


def additive(policy: BasePolicy | ContextualPolicy) -> Totals:
    """The policy's data as store groups of sums (see the module notes)."""
    groups: Totals = {POLICY_GROUP: {"n_updates": float(policy.n_updates)}}
    if isinstance(policy, ContextualPolicy):
        state = policy.state
        d = policy.n_features
        rows, cols = np.tril_indices(d)
        for arm in range(policy.n_arms):
            fields = {"n": float(state.counts[arm])}
            fields.update({f"g{i}_{j}": float(v) for i, j, v in zip(rows, cols, state.gram[arm][rows, cols],
                                                                      strict=True)})
            fields.update({f"b{i}": float(v) for i, v in enumerate(state.moment[arm])})
            groups[f"arm{arm}"] = fields
        return groups
    s = policy.state
    for arm in range(policy.n_arms):
        n, mean, m2 = float(s.counts[arm]), float(s.means[arm]), float(s.m2[arm])
        groups[f"arm{arm}"] = {"n": n, "sum": n * mean, "sumsq": m2 + n * mean * mean}
    return groups


def difference(later: BasePolicy | ContextualPolicy, earlier: BasePolicy | ContextualPolicy) -> Totals:
    """The data ``later`` holds beyond ``earlier`` (an earlier state of it), as additive groups.

    Context-free policies subtract in (count, mean, squared deviations) form first (Chan et
    al.'s inverse update), so the increments carry no cancellation of their own.
    """
    if isinstance(later, ContextualPolicy):
        now, before = additive(later), additive(earlier)
        return {g: {f: v - before[g][f] for f, v in fields.items()} for g, fields in now.items()}
    with later._lock:
        table = later._table.copy()
    with earlier._lock:
        base = earlier._table.copy()
    _combine(table, base[:3], sign=-1.0)
    groups: Totals = {POLICY_GROUP: {"n_updates": float(later.n_updates - earlier.n_updates)}}
    for arm in range(table.shape[1]):
        n, mean, m2 = (float(v) for v in table[:3, arm])
        groups[f"arm{arm}"] = {"n": n, "sum": n * mean, "sumsq": m2 + n * mean * mean}
    return groups


def is_empty(groups: Totals) -> bool:
    """Whether every increment is 0 (nothing to push)."""
    return all(v == 0.0 for fields in groups.values() for v in fields.values())


def policy_from_totals(
    template: BasePolicy | ContextualPolicy, totals: Totals
) -> BasePolicy | ContextualPolicy:
    """A policy configured like ``template`` whose data are the store's ``totals``."""
    n_arms = template.n_arms
    n_updates = round(totals.get(POLICY_GROUP, {}).get("n_updates", 0.0))
    document = json.loads(template.to_json())
    arms = [totals.get(f"arm{arm}", {}) for arm in range(n_arms)]
    counts = [max(a.get("n", 0.0), 0.0) for a in arms]
    if isinstance(template, ContextualPolicy):
        d = template.n_features
        gram = np.zeros((n_arms, d, d))
        moment = np.zeros((n_arms, d))
        for arm, fields in enumerate(arms):
            for i in range(d):
                moment[arm, i] = fields.get(f"b{i}", 0.0)
                for j in range(i + 1):
                    gram[arm, i, j] = gram[arm, j, i] = fields.get(f"g{i}_{j}", 0.0)
        state = {"n_updates": n_updates, "counts": counts, "gram": gram.tolist(), "moment": moment.tolist()}
        text = dump_state(document["kind"], CONTEXTUAL_STATE_VERSION, document["config"], state)
        return type(template).from_json(text)
    means, m2 = [], []
    for n, fields in zip(counts, arms, strict=True):
        total, squares = fields.get("sum", 0.0), fields.get("sumsq", 0.0)
        mean = total / n if n > 0 else 0.0
        if template._bounded:  # rounding of sum / n must not leave [0, 1]
            mean = min(max(mean, 0.0), 1.0)
        means.append(mean)
        m2.append(max(squares - total * mean, 0.0) if n > 0 else 0.0)
    state = {"n_updates": n_updates, "counts": counts, "means": means, "m2": m2,
             "active": document["state"]["active"]}
    return BasePolicy.from_json(dump_state(document["kind"], POLICY_STATE_VERSION, document["config"], state))
