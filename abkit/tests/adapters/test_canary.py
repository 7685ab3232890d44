"""The canary router (:class:`abkit.adapters.CanaryRouter`): follows the ramp, hashes like
:mod:`abkit.assignment`, buckets uniformly and independently per seed."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from abkit import MeanStats, ProportionStats
from abkit.adapters import CanaryRouter, FixedSplitRouter, Router, unit_bucket
from abkit.assignment import assign
from abkit.errors import StateError
from abkit.rollout import CanaryJudge, CanaryRollout

GOOD = ({"e": ProportionStats(100, 10_000)}, {"e": ProportionStats(98, 10_000)})   # pass
BAD = ({"e": ProportionStats(100, 10_000)}, {"e": ProportionStats(200, 10_000)})   # rollback


def _judge(looks: int = 6) -> CanaryJudge:
    return CanaryJudge([CanaryJudge.error_rate("e", margin=0.01)], planned_looks=looks)


def test_router_follows_the_ramp() -> None:
    judge = CanaryJudge([CanaryJudge.error_rate("e", margin=0.03)], planned_looks=6)
    rollout = CanaryRollout(judge, steps=(5, 50, 100))
    router = CanaryRouter(rollout, experiment="checkout", seed="v2")
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


def _router_at(step_index: int, seed: str = "") -> CanaryRouter:
    rollout = CanaryRollout(_judge(), steps=STEPS)
    rollout.step_index = step_index  # jump along the ramp (what passing looks would do)
    return CanaryRouter(rollout, experiment="checkout-v2", seed=seed)


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
    reseeded = _router_at(2, seed="other")
    assert reseeded.bucket("u1") == unit_bucket("u1", "other") != _router_at(2).bucket("u1")


def test_one_router_follows_its_rollout_through_the_steps() -> None:
    """One router whose rollout moves step by step (and back, on a rollback) splits at every step
    as a fresh assign() with that step's weights: its cached Split is rebuilt when the share moves."""
    users = [f"u{i}" for i in range(1000)]
    router = _router_at(0)
    for index in [*range(len(STEPS) - 1), 0]:
        router.rollout.step_index = index
        share = router.rollout.traffic_share
        assert [router.route(u).variant_index for u in users] == \
            [assign(u, "checkout-v2", [1 - share, share]) for u in users]


def test_router_buckets_are_uniform_and_seeds_independent() -> None:
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
    # Two rollouts with different seeds at 50%: their canaries overlap as independent halves would.
    first, second = _router_at(3), _router_at(3, seed="payments-v7")
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


def _mixed_judge() -> CanaryJudge:
    return CanaryJudge([CanaryJudge.error_rate("e", margin=0.05), CanaryJudge.mean("m"),
                        CanaryJudge.latency("lat")], planned_looks=6)


def _fed(seed: int, n: int, *, max_samples: int = 500, rollout: CanaryRollout | None = None,
         prefix: str = "u") -> tuple[CanaryRouter, dict[str, dict[str, list[float]]]]:
    rollout = rollout or CanaryRollout(_mixed_judge(), steps=(50, 100))
    router = CanaryRouter(rollout, experiment="x", max_samples=max_samples, rng=seed)
    rng = np.random.default_rng(seed)
    raw: dict[str, dict[str, list[float]]] = {"baseline": {}, "canary": {}}
    for i in range(n):
        outcome = {"e": float(rng.random() < 0.1), "m": float(rng.normal(3, 2)), "lat": float(rng.gamma(2, 50))}
        unit = f"{prefix}{i}"
        router.record(unit, outcome)
        for k, v in outcome.items():
            raw[router.route(unit).variant].setdefault(k, []).append(v)
    return router, raw


def test_router_keeps_sufficient_statistics_and_a_bounded_sample() -> None:
    router, raw = _fed(1, 3000)
    data = {arm: router._arm_data(arm) for arm in ("baseline", "canary")}
    for arm in data:
        # Against the raw outcomes: Welford's moments match numpy to rounding.
        assert data[arm]["e"] == ProportionStats.from_samples(np.array(raw[arm]["e"]))
        expected = MeanStats.from_samples(np.array(raw[arm]["m"]))
        assert data[arm]["m"].n == expected.n
        assert data[arm]["m"].mean == pytest.approx(expected.mean, rel=1e-12)
        assert data[arm]["m"].var == pytest.approx(expected.var, rel=1e-10)
        assert data[arm]["lat"].size == 500 and set(data[arm]["lat"]) <= set(raw[arm]["lat"])
        assert router.counts()[arm]["lat"] == len(raw[arm]["lat"])
    assert router.evaluate().look == 1


def test_reservoir_and_its_merge_are_uniform_samples() -> None:
    rollout = CanaryRollout(CanaryJudge([CanaryJudge.latency("lat")], planned_looks=2), steps=(100,))
    rollout.step_index = 0  # 100% canary: every unit on one arm
    first = CanaryRouter(rollout, max_samples=1000, rng=1)
    second = CanaryRouter(rollout, max_samples=1000, rng=2)
    for i in range(20_000):
        (first if i < 10_000 else second).record(f"u{i}", {"lat": float(i)})
    values = first._arm_data("canary")["lat"]
    # A uniform sample of 0..9999: Kolmogorov-Smirnov against the uniform law.
    assert stats.kstest(values / 10_000, "uniform").pvalue > 0.001
    merged = first.merge(second)._arm_data("canary")["lat"]
    assert merged.size == 1000 and merged.size == len(set(merged))
    assert stats.kstest(merged / 20_000, "uniform").pvalue > 0.001


def test_merge_and_json_round_trip() -> None:
    rollout = CanaryRollout(_mixed_judge(), steps=(50, 100))
    first, raw1 = _fed(1, 800, rollout=rollout, prefix="a")
    second, raw2 = _fed(2, 600, rollout=rollout, prefix="b")
    merged = first.merge(second)
    for arm in ("baseline", "canary"):
        both = np.array(raw1[arm]["m"] + raw2[arm]["m"])
        stats_ = merged._arm_data(arm)["m"]
        assert stats_.n == both.size and stats_.mean == pytest.approx(both.mean(), rel=1e-12)
        assert stats_.var == pytest.approx(both.var(ddof=1), rel=1e-10)
        assert merged.counts()[arm]["lat"] == len(raw1[arm]["lat"]) + len(raw2[arm]["lat"])
    text = merged.to_json()
    restored = CanaryRouter.from_json(text, rollout)
    assert restored.to_json() == text
    assert json.loads(text)["kind"] == "CanaryRouter"
    broken = json.loads(text)
    broken["state"]["samples"]["canary"]["lat"]["values"].pop()
    with pytest.raises(StateError, match="Corrupt CanaryRouter state"):
        CanaryRouter.from_json(json.dumps(broken), rollout)


def test_bad_outcome_records_nothing() -> None:
    router, _ = _fed(3, 50)
    before = router.to_json()
    with pytest.raises(ValueError, match="names metric 'nope', which the judge does not check"):
        router.record("u1", {"e": 1, "nope": 2.0})
    with pytest.raises(ValueError, match=r"`outcome\['e'\]` must be 0 or 1"):
        router.record("u1", {"m": 1.0, "e": 0.5})
    assert router.to_json() == before
    assert "CanaryRouter(experiment='x'" in repr(router)
