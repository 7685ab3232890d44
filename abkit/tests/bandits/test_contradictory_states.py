"""Policy states that no sequence of updates can produce are refused with StateError."""

from __future__ import annotations

import json
import re

import pytest

from abkit.bandits import UCB1, EpsilonGreedy, ThompsonBernoulli, ThompsonGaussian
from abkit.errors import StateError


def _edited(policy: object, **fields: object) -> str:
    payload = json.loads(policy.to_json())  # type: ignore[attr-defined]
    for name, value in fields.items():  # the per-arm arrays live in the envelope's "state"
        payload["state"][name] = value
    return json.dumps(payload)


@pytest.mark.parametrize("cls", [ThompsonBernoulli, UCB1])
def test_a_mean_without_data_is_refused(cls: type) -> None:
    policy = cls(2)
    with pytest.raises(StateError, match=re.escape("`means` must be 0 for an arm with count 0; got 0.9 for arm 0.")):
        cls.from_json(_edited(policy, means=[0.9, 0.0]))


def test_a_spread_without_data_is_refused() -> None:
    policy = ThompsonGaussian(2)
    with pytest.raises(StateError, match=re.escape("`m2` must be 0 for an arm with count 0; got 2.5 for arm 1.")):
        ThompsonGaussian.from_json(_edited(policy, m2=[0.0, 2.5]))


def test_every_state_a_policy_writes_still_loads() -> None:
    policy = EpsilonGreedy(3, epsilon=0.1, rng=0)
    policy.warm_start([4, 0, 2], [0.5, 0.0, 0.25], [0.1, 0.0, 0.2])  # n_updates stays 0: legitimate
    policy.update_batch([0, 1, 1], [1.0, 0.0, 0.5])
    assert EpsilonGreedy.from_json(policy.to_json()).to_json() == policy.to_json()
    discounted = ThompsonGaussian(2, discount=0.5, rng=0)
    discounted.update(0, 3.0)
    for _ in range(1200):  # arm 0's count underflows to 0 under its old mean
        discounted.update(1, 1.0)
    assert ThompsonGaussian.from_json(discounted.to_json()).to_json() == discounted.to_json()
