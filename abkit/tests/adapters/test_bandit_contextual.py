"""BanditRouter with contextual policies: contexts checked, exact propensities, OPE of its log, state."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import integrate, stats

from abkit.adapters import BanditRouter
from abkit.bandits import EpsilonGreedy, LinTS, LinUCB, LogisticTS, offpolicy
from abkit.errors import StateError

FEATURES = ("bias", "age", "mobile")
# True mean reward of arm a in context x: x @ COEFS[a] (linear), clipped to [0, 1] as a Bernoulli rate.
COEFS = np.array([[0.5, 0.0, 0.0], [0.3, 0.2, 0.1], [0.4, -0.2, 0.15]])


def _contexts(n, seed):
    rng = np.random.default_rng(seed)
    return np.column_stack([np.ones(n), rng.uniform(-1, 1, n), (rng.random(n) < 0.5).astype(float)])


def _rates(x):
    return np.clip(x @ COEFS.T, 0.0, 1.0)


def _warm(policy, seed=3, n=60):
    x = _contexts(n, seed)
    arms = np.arange(n) % 3
    rng = np.random.default_rng(seed)
    policy.update_batch(arms, (rng.random(n) < _rates(x)[np.arange(n), arms]).astype(float), x)
    return policy


POLICIES = {
    "LinUCB": lambda: LinUCB(3, n_features=3, alpha=0.4, rng=0),
    "LinTS": lambda: LinTS(3, n_features=3, v=0.05, rng=0),
    "LogisticTS": lambda: LogisticTS(3, n_features=3, rng=0),
}


@pytest.mark.parametrize("name", list(POLICIES))
def test_propensities_sum_to_one_and_are_the_policys_own_choice_probabilities(name):
    policy = _warm(POLICIES[name]())
    router = BanditRouter("ctx", policy, features=FEATURES, rng=1)
    x = _contexts(3, 11)
    shares = np.array([router.allocation(dict(zip(FEATURES, row, strict=True))) for row in x])
    assert np.allclose(shares.sum(axis=1), 1.0, rtol=0, atol=1e-12) and (shares >= 0).all()
    if name == "LinUCB":  # deterministic index: exactly what the off-policy module computes
        assert np.array_equal(shares, offpolicy.policy_probabilities(policy, x).probabilities)
        return
    # Thompson: the policy's own select() on each context, 200,000 times (its actual kernel path).
    # Each frequency's binomial sd is at most 0.5 / sqrt(200,000) = 0.0011: 5 sd = 0.0056.
    draws = 200_000
    for row, share in zip(x, shares, strict=True):
        chosen = policy.select_many(np.tile(row, (draws, 1)))
        frequency = np.bincount(chosen, minlength=3) / draws
        assert np.abs(frequency - share).max() < 5 * np.sqrt(share * (1 - share) / draws).max() + 1e-4


def test_thompson_propensities_match_an_independent_quadrature():
    # P(arm k has the largest of independent normals N(m_j, s_j^2)) by scipy's adaptive quad.
    policy = _warm(LinTS(3, n_features=3, v=0.05, rng=0))
    router = BanditRouter("ctx", policy, rng=1)
    x = np.array([1.0, 0.3, 1.0])
    means = np.array([x @ policy.posterior(a)[0] for a in range(3)])
    sds = np.array([np.sqrt(x @ policy.posterior(a)[1] @ x) for a in range(3)])

    def best(k):
        others = [j for j in range(3) if j != k]
        return integrate.quad(lambda s: stats.norm.pdf(s, means[k], sds[k])
                              * np.prod([stats.norm.cdf(s, means[j], sds[j]) for j in others]),
                              -np.inf, np.inf, epsabs=1e-13, epsrel=1e-12)[0]

    expected = np.array([best(k) for k in range(3)])
    assert np.allclose(router.allocation(x), expected, rtol=0, atol=1e-9)  # both ~1e-10 accurate


@pytest.mark.parametrize("name", list(POLICIES))
def test_ips_of_the_logging_policy_on_its_own_log_is_its_on_policy_value(name):
    # All routes are made before any reward (delayed feedback), so the policy is fixed while
    # logging: IPS of that policy on the log must give back the rewards the log received, and
    # the exact expected value of the policy on these contexts within its interval.
    policy = _warm(POLICIES[name]())
    frozen = type(policy).from_json(policy.to_json())
    router = BanditRouter("ctx", policy, rng=4)
    n = 600
    x = _contexts(n, 21)
    rng = np.random.default_rng(5)
    routes = [router.route(f"r{i}", x[i]) for i in range(n)]
    for i, route in enumerate(routes):
        router.record(route.unit_id, float(rng.random() < _rates(x[i])[route.variant_index]))
    log = router.decision_log()
    assert np.array_equal(log["contexts"], x)
    if name == "LinUCB":
        target = offpolicy.policy_probabilities(frozen, x).probabilities
        result = offpolicy.ips(log["rewards"], log["actions"], log["propensities"], target)
        assert result.value == pytest.approx(log["rewards"].mean(), rel=0, abs=1e-12)  # every weight is 1
    else:
        # The target's probabilities by Monte Carlo (20,000 draws: sd <= 0.0035 per entry) against
        # the exact logged ones: weights within a few percent of 1.
        target = offpolicy.policy_probabilities(frozen, x, n_samples=20_000, rng=6).probabilities
        result = offpolicy.ips(log["rewards"], log["actions"], log["propensities"], target)
        assert result.value == pytest.approx(log["rewards"].mean(), rel=0.03)
    on_policy = float((np.array([router_p for router_p in _exact(frozen, x)]) * _rates(x)).sum(axis=1).mean())
    assert abs(result.value - on_policy) < 4 * result.se


def _exact(policy, x):
    router = BanditRouter("exact", type(policy).from_json(policy.to_json()), rng=0)
    return [router.allocation(row) for row in x]


def test_ips_from_a_learning_routers_log_recovers_another_policys_value():
    # The logging router learns from every reward (its propensities change as it goes); with
    # exact propensities IPS of a fixed target policy is unbiased for the target's value.
    router = BanditRouter("ctx", LinTS(3, n_features=3, v=4.0, rng=0), rng=7)
    n = 1000
    x = _contexts(n, 31)
    rng = np.random.default_rng(8)
    for i in range(n):
        route = router.route(f"r{i}", x[i])
        router.record(route.unit_id, float(rng.random() < _rates(x[i])[route.variant_index]))
    log = router.decision_log()
    target_policy = LinUCB(3, n_features=3, alpha=0.0, rng=0)
    target_policy.update_batch(np.repeat(np.arange(3), 200), np.tile(np.linspace(0, 1, 200), 3),
                               np.tile(_contexts(200, 41), (3, 1)))
    # the target: that greedy policy half the time, a uniform arm otherwise (epsilon-greedy, 0.5)
    target = 0.5 * offpolicy.policy_probabilities(target_policy, x).probabilities + 0.5 / 3
    truth = float((target * _rates(x)).sum(axis=1).mean())
    result = offpolicy.ips(log["rewards"], log["actions"], log["propensities"], target)
    assert abs(result.value - truth) < 4 * result.se
    # the check has power: IPS with the propensities of a uniform logger instead is off by > 3 se
    # (seeded run: value 0.451, se 0.018, truth 0.438; with 1/3: 0.517)
    assert result.se < 0.025
    wrong = offpolicy.ips(log["rewards"], log["actions"], np.full(n, 1 / 3), target)
    assert abs(wrong.value - truth) > 3 * result.se


def test_record_updates_the_policy_with_the_routed_context():
    router = BanditRouter("ctx", LinUCB(3, n_features=3, rng=0), features=FEATURES, rng=2)
    twin = LinUCB(3, n_features=3, rng=0)
    x = np.array([1.0, 0.25, 0.0])
    route = router.route("u1", x)
    x[1] = 99.0  # the caller's array changes afterwards: the router kept its own copy
    router.record("u1", 0.75)
    twin.update(route.variant_index, 0.75, [1.0, 0.25, 0.0])
    assert router.policy.to_json() == twin.to_json()
    frame = router.to_frame()
    assert list(frame.columns) == ["unit_id", "variant_index", "propensity", "reward", "routed_at", "variant",
                                   *FEATURES]
    assert frame.loc[0, "age"] == 0.25


BAD = [
    (None, ValueError, "`context` is required"),
    ([1.0, 2.0], ValueError, "`context` must have 3 features; got shape \\(2,\\)"),
    ([1.0, float("nan"), 0.0], ValueError, "`context\\[1\\]` must be finite; got nan"),
    (np.array([1.0, np.inf, 0.0]), ValueError, "`context\\[1\\]` must be finite; got inf"),
    ([[1.0, 2.0, 3.0]], ValueError, "`context` must have 3 features"),
    ("abc", TypeError, "`context` must be a vector of 3 numbers"),
    ([1.0, "x", 0.0], TypeError, "`context\\[1\\]` must be a real number"),
    ({"bias": 1.0, "age": 0.0}, ValueError, "`context` must give every feature; missing \\['mobile'\\]"),
    ({"bias": 1.0, "age": 0.0, "mobile": 1.0, "city": 2.0}, ValueError,
     "`context` must name only the router's features; unknown \\['city'\\]"),
    ({"bias": 1.0, "age": 0.0, "city": 2.0}, ValueError, "unknown \\['city'\\], missing \\['mobile'\\]"),
    ({"bias": 1.0, "age": float("nan"), "mobile": 1.0}, ValueError, "`context\\['age'\\]` must be finite"),
]


@pytest.mark.parametrize(("context", "error", "match"), BAD)
def test_a_bad_context_is_refused_and_changes_nothing(context, error, match):
    router = BanditRouter("ctx", _warm(LinTS(3, n_features=3, rng=0)), features=FEATURES, rng=3)
    twin = BanditRouter("ctx", _warm(LinTS(3, n_features=3, rng=0)), features=FEATURES, rng=3)
    router.route("held", [1.0, 0.0, 1.0])
    twin.route("held", [1.0, 0.0, 1.0])
    before = router.to_json()
    with pytest.raises(error, match=match):
        router.route("u", context)
    with pytest.raises(error, match=match):
        router.allocation(context)
    assert router.to_json() == before and router.pending == 1
    assert router.route("next", [1.0, 0.5, 0.0]) == twin.route("next", [1.0, 0.5, 0.0])  # same draws


def test_a_mapping_needs_feature_names_and_features_are_checked():
    router = BanditRouter("ctx", LinUCB(2, n_features=3, rng=0), rng=0)
    with pytest.raises(TypeError, match="no feature names"):
        router.route("u", {"bias": 1.0, "age": 0.0, "mobile": 1.0})
    with pytest.raises(ValueError, match="`features` must name the policy's 3 features; got 2"):
        BanditRouter("ctx", LinUCB(2, n_features=3), features=["a", "b"])
    with pytest.raises(ValueError, match="`features` must not reuse"):
        BanditRouter("ctx", LinUCB(2, n_features=3), features=["a", "b", "reward"])
    with pytest.raises(ValueError, match="`features` names a contextual policy's features"):
        BanditRouter("ctx", EpsilonGreedy(2, epsilon=0.1), features=["a"])


def test_a_zero_context_ties_every_arm_and_tiny_contexts_do_not_underflow():
    router = BanditRouter("ctx", _warm(LogisticTS(3, n_features=3, rng=0)), rng=0)
    assert router.allocation([0.0, 0.0, 0.0]) == pytest.approx([1 / 3] * 3, abs=1e-15)
    # scaling a context by a positive number does not change a Thompson choice
    assert router.allocation([1e-300, 0.0, 1e-300]) == pytest.approx(router.allocation([1.0, 0.0, 1.0]),
                                                                      abs=1e-12)


@pytest.mark.parametrize("name", list(POLICIES))
def test_contextual_state_round_trips_and_merges(name):
    router = BanditRouter("ctx", POLICIES[name](), features=FEATURES, rng=0)
    other = BanditRouter.from_json(router.to_json())
    x = _contexts(40, 51)
    for i in range(20):
        for r, prefix in ((router, "a"), (other, "b")):
            route = r.route(f"{prefix}{i}", x[i])
            r.record(route.unit_id, float(i % 2))
    router.route("open", x[30])
    restored = BanditRouter.from_json(router.to_json())
    assert restored.to_json() == router.to_json() and restored.features == FEATURES
    assert restored.pending == 1
    restored.record("open", 1.0)  # the saved context travels with the pending decision
    merged = router.merge(other)
    assert merged.policy.n_updates == 40 and len(merged.decision_log()["contexts"]) == 40
    document = json.loads(router.to_json())
    document["state"]["pending"]["context"] = [[1.0, 2.0]]
    with pytest.raises(StateError, match="context"):
        BanditRouter.from_json(json.dumps(document))
