"""BanditRouter: exact propensities, delayed feedback, off-policy evaluation of its log, state, threads."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import abkit.adapters.bandit as adapters_bandit
from abkit.adapters import BanditRouter, Route, Router
from abkit.bandits import (
    KLUCB,
    UCB1,
    BasePolicy,
    EpsilonGreedy,
    ThompsonBernoulli,
    ThompsonGaussian,
    offpolicy,
)
from abkit.errors import DegenerateDataWarning, StateError

MEANS = np.array([0.3, 0.5, 0.6])


def _warm(policy, seed=0, n=30):
    rng = np.random.default_rng(seed)
    arms = np.arange(n) % policy.n_arms
    policy.update_batch(arms, (rng.random(n) < MEANS[arms % 3]).astype(float))
    return policy


def _serve(router, n, seed, prefix="r", means=MEANS):
    """Route and record ``n`` requests with Bernoulli rewards of ``means``."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        route = router.route(f"{prefix}{i}")
        router.record(route.unit_id, float(rng.random() < means[route.variant_index]))


POLICIES = [
    lambda: EpsilonGreedy(3, epsilon=0.2),
    lambda: UCB1(3),
    lambda: KLUCB(3),
    lambda: ThompsonBernoulli(3),
    lambda: ThompsonGaussian(3, prior=(0.5, 1.0, 1.0, 0.1)),
]


def test_bandit_router_follows_the_protocol_and_names_variants():
    router = BanditRouter("exp", ThompsonBernoulli(3), rng=0)
    assert isinstance(router, Router)
    route = router.route("u")
    assert isinstance(route, Route) and route.experiment == "exp" and route.in_experiment
    assert route.variant == f"arm-{route.variant_index}" and route.shadows == ()


# --- Propensities: the exact probability the router used


@pytest.mark.parametrize("make", POLICIES)
def test_propensity_is_the_policy_allocation_of_the_chosen_arm(make):
    policy = _warm(make())
    expected = policy.allocation()
    router = BanditRouter("exp", policy, rng=3)
    used = router.allocation()
    # The router normalises the quadrature's shares (they sum to 1 within ~1e-10): rounding only.
    assert np.allclose(used, expected, rtol=1e-9, atol=1e-12)
    for i in range(50):
        route = router.route(f"u{i}")
        assert route.propensity == used[route.variant_index] > 0  # exact: the draw used it


def test_route_shares_match_the_thompson_allocation_within_a_binomial_band():
    policy = _warm(ThompsonBernoulli(3), n=12)
    shares = policy.allocation()
    router = BanditRouter("exp", policy, rng=11)
    n = 6_000
    counts = np.bincount([router.route(f"u{i}").variant_index for i in range(n)], minlength=3)
    low, high = stats.binom.ppf([[0.0005], [0.9995]], n, shares)  # 99.9% band per arm
    assert ((low <= counts) & (counts <= high)).all(), (counts, shares * n)


@pytest.mark.parametrize("make", POLICIES[:3])
def test_closed_form_policies_are_followed_after_every_reward(make):
    router = BanditRouter("exp", make(), rng=5)
    _serve(router, 40, seed=1)
    assert router.allocation() == router.policy.allocation().tolist()
    propensities = router.decision_log()["propensities"]
    assert propensities.size == 40 and (propensities > 0).all()


def test_thompson_allocation_is_refreshed_after_refresh_times_n_new_rewards():
    policy = _warm(ThompsonBernoulli(3), n=10)
    first = policy.allocation()
    router = BanditRouter("exp", policy, refresh=0.5, rng=2)
    _serve(router, 5, seed=3)  # routes 1-5 see 0-4 new rewards: fewer than 0.5 * 10
    log = router.decision_log()
    assert np.allclose(log["propensities"], first[log["actions"]], rtol=1e-9, atol=0)  # normalised
    assert np.allclose(router.allocation(), router.policy.allocation(), rtol=1e-9)  # 5 new: refreshed
    assert not np.allclose(router.allocation(), first, rtol=1e-3)


def test_an_undefined_allocation_falls_back_to_uniform_exploration_with_a_warning():
    policy = ThompsonGaussian(2)  # reference prior: arm 0's equal rewards give a point-mass posterior
    policy.update_batch([0, 0, 1, 1], [1.0, 1.0, 2.0, 3.0])
    router = BanditRouter("exp", policy, rng=0)
    with pytest.warns(DegenerateDataWarning, match="prob_best"):
        assert router.route("u").propensity == 0.5


def test_refresh_counts_warm_start_data_as_data():
    policy = ThompsonBernoulli(3)
    policy.warm_start(counts=[100, 100, 100], means=[0.3, 0.5, 0.6])  # 300 rewards, n_updates 0
    router = BanditRouter("exp", policy, refresh=0.1, rng=4)
    first = router.allocation()
    _serve(router, 30, seed=5)  # the 30th route sees 29 new rewards: fewer than 0.1 * 300
    assert set(router.decision_log()["propensities"]) <= set(first)
    assert not np.allclose(router.allocation(), first, rtol=1e-6)  # 30 new: refreshed


# --- Delayed feedback and the pending map


def test_record_updates_the_arm_that_served_even_out_of_order():
    router = BanditRouter("exp", EpsilonGreedy(3, epsilon=0.5), rng=4)
    routes = [router.route(f"u{i}") for i in range(6)]
    for route in reversed(routes):
        router.record(route.unit_id, route.variant_index / 10)
    counts = np.bincount([r.variant_index for r in routes], minlength=3)
    state = router.policy.state
    assert state.counts.tolist() == counts.tolist()
    assert np.allclose(state.means[counts > 0], np.flatnonzero(counts) / 10, rtol=0, atol=1e-15)
    assert router.pending == 0 and router.expired == 0


def test_unknown_repeated_or_bad_records_raise_and_change_nothing():
    router = BanditRouter("exp", ThompsonBernoulli(2), rng=0)
    router.route("u1")
    before = router.to_json()
    with pytest.raises(ValueError, match=r"`unit_id` has no pending decision .*got 'nobody'"):
        router.record("nobody", 1.0)
    with pytest.raises(ValueError, match=r"`reward` must be in \[0, 1\]"):
        router.record("u1", 1.5)
    with pytest.raises(ValueError, match="`unit_id` must be a non-empty string"):
        router.record("", 1.0)
    assert router.to_json() == before
    router.record("u1", True)
    with pytest.raises(ValueError, match="no pending decision"):
        router.record("u1", 1.0)
    assert router.policy.n_updates == 1


def test_pending_map_is_bounded_evicting_the_oldest():
    router = BanditRouter("exp", UCB1(2), max_pending=3, rng=0)
    for i in range(5):
        router.route(f"u{i}")
    assert (router.pending, router.expired) == (3, 2)
    with pytest.raises(ValueError, match="no pending decision"):
        router.record("u1", 1.0)
    router.record("u2", 1.0)
    router.route("u3")  # routed again without stickiness: a new decision replaces the old
    assert (router.pending, router.expired) == (2, 3)


def test_ttl_expires_and_sticky_repeats_pending_decisions(monkeypatch):
    clock = [1_000.0]
    monkeypatch.setattr(adapters_bandit.time, "time", lambda: clock[0])
    router = BanditRouter("exp", ThompsonBernoulli(4), ttl=10, sticky=5, rng=0)
    first = router.route("u")
    clock[0] += 4.9
    assert all(router.route("u") is first for _ in range(20))  # sticky for 5 s
    routes = set()
    for _ in range(20):
        clock[0] += 5.1  # older than `sticky`: a fresh decision replaces the pending one
        routes.add(router.route("u").variant_index)
    assert len(routes) > 1 and router.expired == 20
    router.route("v")
    clock[0] += 10.5
    with pytest.raises(ValueError, match="no pending decision"):
        router.record("v", 1.0)  # older than ttl: refused, purged on the next route
    router.route("w")
    assert router.pending == 1 and router.expired == 22


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"variants": ["a", "b"]}, "must name the policy's 3 arms"),
    ({"max_pending": 0}, "`max_pending` must be"),
    ({"ttl": -1.0}, "`ttl` must be"),
    ({"refresh": -0.1}, "`refresh` must be"),
])
def test_bad_configuration_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BanditRouter("exp", UCB1(3), **kwargs)
    with pytest.raises(TypeError, match=r"`policy` must be an abkit\.bandits policy"):
        BanditRouter("exp", "UCB1")


# --- Off-policy evaluation of the router's own log


def test_ips_and_snips_on_a_uniform_log_cover_another_policys_value():
    router = BanditRouter("exp", EpsilonGreedy(3, epsilon=1.0), rng=21)  # uniform exploration
    _serve(router, 20_000, seed=22)
    log = router.decision_log()
    assert np.allclose(log["propensities"], 1 / 3, rtol=0, atol=1e-15)
    n = log["rewards"].size
    for target_row in ([0.0, 0.0, 1.0], [0.2, 0.3, 0.5]):
        target = np.tile(target_row, (n, 1))
        truth = float(MEANS @ np.asarray(target_row))
        for estimator in (offpolicy.ips, offpolicy.snips):
            result = estimator(**log, target=target)
            assert result.ci.contains(truth), (estimator.__name__, truth, result)
            assert result.se < 0.01  # informative: 20,000 rounds


def test_ips_on_a_thompson_log_with_varying_propensities_covers_the_uniform_value():
    router = BanditRouter("exp", ThompsonBernoulli(3), refresh=0.2, rng=31)
    _serve(router, 4_000, seed=32)
    log = router.decision_log()
    assert log["propensities"].min() < 0.2 and np.unique(log["propensities"]).size > 10
    result = offpolicy.ips(**log, target=np.full((log["rewards"].size, 3), 1 / 3))
    assert result.ci.contains(MEANS.mean()), result
    frame = router.to_frame()
    assert frame["variant"].tolist() == [f"arm-{i}" for i in log["actions"]]
    exported = router.decision_log(clear=True)
    assert all(np.array_equal(exported[k], log[k]) for k in log)
    assert router.decision_log()["rewards"].size == 0 and router.policy.n_updates == 4_000


# --- State, merging, threads


def _router_with_data():
    router = BanditRouter("exp", _warm(ThompsonBernoulli(3)), ["a", "b", "c"], ttl=60.0, refresh=0.5,
                          rng=7)
    _serve(router, 30, seed=8)
    for i in range(4):
        router.route(f"pending-{i}")
    return router


def test_json_round_trip_keeps_policy_pending_and_log(tmp_path):
    router = _router_with_data()
    restored = BanditRouter.from_json(router.to_json())
    assert restored.to_json() == router.to_json()
    router.save(tmp_path / "bandit.json")
    loaded = BanditRouter.load(tmp_path / "bandit.json")
    loaded.record("pending-2", 1.0)  # a decision routed before the restart gets its reward after
    assert loaded.policy.n_updates == router.policy.n_updates + 1 and loaded.pending == 3


def _corruptions():
    def set_(path, value):
        def apply(doc):
            target = doc
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
        return apply
    return [
        set_(("state", "policy", "counts"), [1.0, -2.0, 0.0]),
        set_(("state", "policy", "options"), {"discount": 0.5}),
        set_(("state", "pending", "variant_index"), [0, 1, 7, 0]),
        set_(("state", "pending", "propensity"), [0.5, 0.0, 0.5, 0.5]),
        set_(("state", "pending", "unit_id"), ["x", "x", "y", "z"]),
        set_(("state", "log", "reward"), [0.0]),
        set_(("state", "expired"), -1),
        set_(("config", "policy", "n_arms"), "3"),
        set_(("config", "policy", "policy"), "Nope"),
        set_(("config", "max_pending"), 2),
    ]


@pytest.mark.parametrize("corrupt", _corruptions())
def test_corrupt_state_raises_state_error_and_changes_nothing(corrupt):
    router = _router_with_data()
    before = router.to_json()
    document = json.loads(before)
    corrupt(document)
    with pytest.raises(StateError):
        router.load_json(json.dumps(document))
    assert router.to_json() == before


def test_merge_counts_the_common_base_once():
    warm = _warm(ThompsonBernoulli(3)).to_json()
    first = BanditRouter("exp", BasePolicy.from_json(warm), refresh=0.5, rng=1)
    second = BanditRouter("exp", BasePolicy.from_json(warm), refresh=0.5, rng=2)
    _serve(first, 200, seed=3, prefix="a")
    _serve(second, 150, seed=4, prefix="b")
    first.route("left-pending")
    merged = first.merge(second)
    expected = BasePolicy.from_json(warm)
    for router in (first, second):
        expected.update_batch(router.decision_log()["actions"], router.decision_log()["rewards"])
    state, want = merged.policy.state, expected.state
    assert merged.policy.n_updates == expected.n_updates == 30 + 350
    assert np.allclose(state.counts, want.counts, rtol=1e-12, atol=0)  # add/remove rounding only
    assert np.allclose(state.means, want.means, rtol=1e-12, atol=0)
    assert merged.decision_log()["rewards"].size == 350 and merged.pending == 1
    merged.record("left-pending", 0.0)
    # A third instance loaded from the same JSON as the first two merges again with the same base.
    third = BanditRouter("exp", BasePolicy.from_json(warm), refresh=0.5, rng=9)
    assert merged.merge(third).policy.n_updates == merged.policy.n_updates


def test_merge_refuses_routers_from_different_states():
    first = BanditRouter("exp", _warm(ThompsonBernoulli(3), seed=1))
    second = BanditRouter("exp", _warm(ThompsonBernoulli(3), seed=2))
    with pytest.raises(StateError, match="started from another policy state"):
        first.merge(second)
    with pytest.raises(StateError, match="another configuration"):
        first.merge(BanditRouter("exp", ThompsonBernoulli(3), ttl=5.0))


def test_eight_threads_routing_and_recording_lose_nothing():
    router = BanditRouter("exp", EpsilonGreedy(4, epsilon=0.1), rng=0)
    per_thread = 400

    def work(t):
        rng = np.random.default_rng(t)
        for i in range(per_thread):
            route = router.route(f"t{t}-{i}")
            router.record(route.unit_id, float(rng.random()))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = 8 * per_thread
    assert router.policy.n_updates == total == router.decision_log()["rewards"].size
    assert router.policy.state.counts.sum() == total and router.pending == 0 and router.expired == 0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["route", "record"]), st.integers(0, 5),
                          st.floats(0, 1)), max_size=40))
def test_every_decision_is_recorded_pending_or_expired(operations):
    router = BanditRouter("exp", EpsilonGreedy(2, epsilon=0.3), max_pending=4, rng=0)
    routed = 0
    for operation, unit, reward in operations:
        if operation == "route":
            router.route(f"u{unit}")
            routed += 1
        else:
            was_pending = router.pending
            try:
                router.record(f"u{unit}", reward)
            except ValueError:
                assert router.pending == was_pending  # refused: nothing changed
            else:
                assert router.pending == was_pending - 1
    assert routed == router.policy.n_updates + router.pending + router.expired
    assert router.decision_log()["rewards"].size == router.policy.n_updates
    assert BanditRouter.from_json(router.to_json()).to_json() == router.to_json()
