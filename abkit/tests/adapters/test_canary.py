"""The canary router (:class:`abkit.adapters.CanaryRouter`): follows the ramp, hashes like
:mod:`abkit.assignment`, buckets uniformly and independently per seed."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from abkit import ProportionStats
from abkit.adapters import CanaryRouter, FixedSplitRouter, Router, unit_bucket
from abkit.assignment import assign
from abkit.rollout import CanaryJudge, CanaryRollout

GOOD = ({"e": ProportionStats(100, 10_000)}, {"e": ProportionStats(98, 10_000)})   # pass
BAD = ({"e": ProportionStats(100, 10_000)}, {"e": ProportionStats(200, 10_000)})   # rollback


def _judge(looks: int = 6) -> CanaryJudge:
    return CanaryJudge([CanaryJudge.error_rate("e", margin=0.01)], planned_looks=looks)


def test_router_follows_the_ramp() -> None:
    judge = CanaryJudge([CanaryJudge.error_rate("e", margin=0.03)], planned_looks=6)
    rollout = CanaryRollout(judge, steps=(5, 50, 100))
    router = CanaryRouter(rollout, experiment="checkout", salt="v2")
    assert isinstance(router, Router)
    users = [f"user-{i}" for i in range(8000)]
    first = [router.route(u) for u in users]
    n_canary = sum(r.variant == "canary" for r in first)
    # Hash split: the canary count within the 99.9% binomial band of 5%.
    assert stats.binom.ppf(0.0005, 8000, 0.05) <= n_canary <= stats.binom.ppf(0.9995, 8000, 0.05)
    assert all(r.propensity == (0.05 if r.variant == "canary" else 0.95) for r in first)
    assert [router.route(u).variant for u in users[:50]] == [r.variant for r in first[:50]]
    for u in users:
        router.record(u, {"e": 0.0})  # a healthy service: no errors on either arm
    assert router.counts()["canary"]["e"] == n_canary
    verdict = router.evaluate()
    assert verdict.look == 1 and verdict.decision == "pass"
    assert rollout.traffic_share == 0.5
    again = [router.route(u) for u in users]
    # A growing share keeps every canary unit on the canary.
    assert all(b.variant == "canary" for a, b in zip(first, again, strict=True) if a.variant == "canary")
    assert sum(r.variant == "canary" for r in again) > n_canary
    with pytest.raises(TypeError, match="`outcome` must be a mapping"):
        router.record("user-1", 1.0)


STEPS = (1, 5, 25, 50, 100)


def _router_at(step_index: int, salt: str = "") -> CanaryRouter:
    rollout = CanaryRollout(_judge(), steps=STEPS)
    rollout.step_index = step_index  # jump along the ramp (what passing looks would do)
    return CanaryRouter(rollout, experiment="checkout-v2", salt=salt)


@given(st.text(min_size=1, max_size=30), st.integers(0, len(STEPS) - 1), st.integers(0, len(STEPS) - 1))
def test_router_is_monotone_in_the_canary_share(unit: str, i: int, j: int) -> None:
    """A unit on the canary at a share stays on it at every larger share (5% -> 25% -> ...)."""
    low, high = sorted((i, j))
    if _router_at(low).route(unit).variant == "canary":
        assert _router_at(high).route(unit).variant == "canary"


def test_router_is_abkit_assignment() -> None:
    """The split is abkit.assignment's (GrowthBook hash version 2, the experiment as seed): the
    same as FixedSplitRouter's with weights [1 - share, share], and the bucket is gb_hash's."""
    users = [f"u{i}" for i in range(2000)]
    for index, step in enumerate(STEPS[:-1]):
        share = step / 100
        router, fixed = _router_at(index), FixedSplitRouter("checkout-v2", weights=[1 - share, share])
        assert [router.route(u).variant_index for u in users] == \
            [assign(u, "checkout-v2", [1 - share, share]) for u in users] == \
            [fixed.route(u).variant_index for u in users]
        assert all((router.bucket(u) >= 1 - share) == (router.route(u).variant == "canary") for u in users)
    assert unit_bucket("user-1", "exp") == 0.3004  # gb_hash("exp", "user-1", 2), as FNV-1a gives it
    salted = _router_at(2, salt="other")
    assert salted.bucket("u1") == unit_bucket("u1", "other") != _router_at(2).bucket("u1")


def test_router_buckets_are_uniform_and_salts_independent() -> None:
    users = [f"user-{i}" for i in range(20_000)]
    buckets = np.array([unit_bucket(u, "checkout-v2") for u in users])
    counts = np.histogram(buckets, bins=20, range=(0.0, 1.0))[0]
    assert stats.chisquare(counts).pvalue > 0.001
    canaries: list[set[str]] = []
    for index, step in enumerate(STEPS[:-1]):
        router, p = _router_at(index), step / 100
        canaries.append({u for u in users if router.route(u).variant == "canary"})
        assert stats.binom.ppf(0.0005, 20_000, p) <= len(canaries[-1]) <= stats.binom.ppf(0.9995, 20_000, p)
    # Nested: every canary unit at 1% is one at 5%, at 25% and at 50%.
    assert all(a < b for a, b in itertools.pairwise(canaries))
    # Two rollouts with different salts at 50%: their canaries overlap as independent halves would.
    first, second = _router_at(3), _router_at(3, salt="payments-v7")
    both = sum(first.route(u).variant == second.route(u).variant == "canary" for u in users)
    assert stats.binom.ppf(0.0005, 20_000, 0.25) <= both <= stats.binom.ppf(0.9995, 20_000, 0.25)


def test_router_after_rollback_and_promotion() -> None:
    rollout = CanaryRollout(_judge(), steps=(5, 100))
    router = CanaryRouter(rollout)
    rollout.observe(*GOOD)
    assert rollout.status == "promoted"
    assert {router.route(f"u{i}").variant for i in range(500)} == {"canary"}
    rollout = CanaryRollout(_judge(), steps=(5, 100))
    router = CanaryRouter(rollout)
    rollout.observe(*BAD)
    assert {router.route(f"u{i}").variant for i in range(500)} == {"baseline"}
    with pytest.raises(ValueError, match="`unit_id` must be a non-empty string"):
        router.route("")
