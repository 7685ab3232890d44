"""Conformance suite run for every policy, plus each policy's own behaviour and bad input."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from abkit.bandits import (
    KLUCB,
    UCB1,
    BasePolicy,
    EpsilonGreedy,
    ThompsonBernoulli,
    ThompsonGaussian,
)
from abkit.errors import DegenerateDataWarning, StateError
from abkit.tests.conftest import reference_cases

MAKERS: dict[str, Callable[..., BasePolicy]] = {
    "EpsilonGreedy": lambda n=4, rng=0: EpsilonGreedy(n, epsilon=0.2, rng=rng),
    "EpsilonGreedyDecay": lambda n=4, rng=0: EpsilonGreedy(n, epsilon=1.0, decay=0.05, rng=rng),
    "UCB1": lambda n=4, rng=0: UCB1(n, rng=rng),
    "KLUCB": lambda n=4, rng=0: KLUCB(n, rng=rng),
    "ThompsonBernoulli": lambda n=4, rng=0: ThompsonBernoulli(n, prior=(1, 1), rng=rng),
    "ThompsonGaussian": lambda n=4, rng=0: ThompsonGaussian(n, rng=rng),
    "ThompsonGaussianPrior": lambda n=4, rng=0: ThompsonGaussian(n, prior=(0.5, 1.0, 2.0, 0.5), rng=rng),
    "ThompsonBernoulliDiscount": lambda n=4, rng=0: ThompsonBernoulli(n, discount=0.99, rng=rng),
}
ALL = pytest.mark.parametrize("make", list(MAKERS.values()), ids=list(MAKERS))


def _stream(seed: int, size: int, n_arms: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    arms = rng.integers(0, n_arms, size=size)
    rewards = (rng.random(size) < 0.1 + 0.05 * arms).astype(float)
    return arms, rewards


def _discount(policy: BasePolicy) -> float:
    return float(json.loads(policy.to_json())["config"]["options"]["discount"])


def _same_state(a: BasePolicy, b: BasePolicy, rtol: float = 1e-12) -> None:
    for field_a, field_b in zip(a.state, b.state, strict=True):
        np.testing.assert_allclose(field_a, field_b, rtol=rtol, atol=1e-12)
    assert a.n_updates == b.n_updates


# --- conformance: every policy -----------------------------------------------------------------


@ALL
def test_select_returns_valid_active_arms(make: Callable[..., BasePolicy]) -> None:
    policy = make()
    policy.update_batch(*_stream(1, 200))
    policy.retire_arm(2)
    chosen = [policy.select() for _ in range(300)] + policy.select_many(300).tolist()
    assert all(type(a) is int for a in chosen[:300])
    assert set(chosen) <= {0, 1, 3}


@ALL
def test_same_rng_gives_same_choices_and_select_many_matches_select(make: Callable[..., BasePolicy]) -> None:
    arms, rewards = _stream(2, 100)
    a, b, c = make(rng=42), make(rng=42), make(rng=np.random.default_rng(42))
    for policy in (a, b, c):
        policy.update_batch(arms, rewards)
    singles = [a.select() for _ in range(5000)]  # crosses several refills of the uniform block
    assert singles == b.select_many(5000).tolist() == [c.select() for _ in range(5000)]


@ALL
def test_json_round_trip(make: Callable[..., BasePolicy]) -> None:
    policy = make()
    policy.update_batch(*_stream(3, 150))
    policy.add_arm()
    policy.retire_arm(0)
    text = policy.to_json()
    restored = type(policy).from_json(text)
    assert restored.to_json() == text
    assert BasePolicy.from_json(text).to_json() == text
    _same_state(policy, restored, rtol=0.0)
    assert restored.allocation().tolist() == policy.allocation().tolist()


@ALL
def test_merge_equals_one_policy_fed_both_streams(make: Callable[..., BasePolicy]) -> None:
    first, second = _stream(4, 120), _stream(5, 80)
    one = make()
    one.update_batch(*first)
    one.update_batch(*second)
    a, b = make(), make()
    a.update_batch(*first)
    b.update_batch(*second)
    merged = a.merge(b)
    if _discount(one) == 1.0:  # exact without discounting
        _same_state(merged, one, rtol=1e-10)
    assert merged.n_updates == one.n_updates
    # the prior is counted once: merging with an empty policy changes nothing
    _same_state(a.merge(make()), a)


@ALL
def test_merge_from_a_common_base_counts_the_base_once(make: Callable[..., BasePolicy]) -> None:
    warm, first, second = _stream(6, 100), _stream(7, 60), _stream(8, 90)
    base = make()
    base.update_batch(*warm)
    a = type(base).from_json(base.to_json())
    b = type(base).from_json(base.to_json())
    a.update_batch(*first)
    b.update_batch(*second)
    one = type(base).from_json(base.to_json())
    one.update_batch(*first)
    one.update_batch(*second)
    merged = a.merge(b, base=base)
    if _discount(base) == 1.0:
        _same_state(merged, one, rtol=1e-9)
    else:  # discounting: the base decays through both streams, each stream keeps its own decay
        assert merged.state.counts.sum() < a.state.counts.sum() + b.state.counts.sum()
    # exact, discounted or not, when one side saw nothing since the base
    _same_state(a.merge(type(base).from_json(base.to_json()), base=base), a, rtol=1e-9)
    with pytest.raises(ValueError, match="earlier state"):
        base.merge(a, base=b)


@ALL
def test_no_lost_updates_under_eight_threads(make: Callable[..., BasePolicy]) -> None:
    policy = make()
    per_thread = 400

    def work(seed: int) -> None:
        arms, rewards = _stream(seed, per_thread)
        for arm, reward in zip(arms.tolist(), rewards.tolist(), strict=True):
            policy.select()
            policy.update(arm, reward)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert policy.n_updates == 8 * per_thread
    if _discount(policy) == 1.0:
        all_arms = np.concatenate([_stream(s, per_thread)[0] for s in range(8)])
        all_rewards = np.concatenate([_stream(s, per_thread)[1] for s in range(8)])
        np.testing.assert_array_equal(policy.state.counts, np.bincount(all_arms, minlength=4))
        sums = np.bincount(all_arms, weights=all_rewards, minlength=4)
        np.testing.assert_allclose(policy.state.means * policy.state.counts, sums, rtol=1e-9)


@ALL
def test_bad_input_raises_and_leaves_state_unchanged(make: Callable[..., BasePolicy]) -> None:
    policy = make()
    policy.update_batch(*_stream(9, 50))
    before = policy.to_json()
    with pytest.raises(ValueError, match=r"`arm` must be in \[0, 3\]; got 4\."):
        policy.update(4, 1.0)
    with pytest.raises(ValueError, match=r"`arm` must be in \[0, 3\]; got -1\."):
        policy.update(-1, 1.0)
    with pytest.raises(TypeError, match=r"`arm` must be an integer; got 1\.5"):
        policy.update(1.5, 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`reward` must not be NaN"):
        policy.update(0, float("nan"))
    with pytest.raises(ValueError, match="`reward` must be finite; got inf"):
        policy.update(0, float("inf"))
    with pytest.raises(TypeError, match="`reward` must be a real number"):
        policy.update(0, "1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"`arm` must be in \[0, 3\]; got 7\."):
        policy.update_batch([0, 1, 7], [1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="`rewards` must not be NaN"):
        policy.update_batch([0, 1, 2], [1.0, float("nan"), 1.0])
    with pytest.raises(ValueError, match="same length; got 2 and 3"):
        policy.update_batch([0, 1], [1.0, 0.0, 1.0])
    with pytest.raises(TypeError, match="`arms` must be a 1-D array of integers"):
        policy.update_batch([0.5, 1.0], [1.0, 0.0])
    assert policy.to_json() == before
    policy.update(np.int64(1), np.float64(1.0))  # NumPy scalars are fine
    policy.update(2, 0)  # so are ints as rewards
    assert policy.n_updates == 52


@pytest.mark.parametrize("make", [MAKERS["UCB1"], MAKERS["KLUCB"], MAKERS["ThompsonBernoulli"]])
def test_bernoulli_policies_refuse_rewards_outside_unit_interval(make: Callable[..., BasePolicy]) -> None:
    policy = make()
    before = policy.to_json()
    name = type(policy).__name__
    with pytest.raises(ValueError, match=rf"`reward` must be in \[0, 1\] for {name}; got 1.5\."):
        policy.update(0, 1.5)
    with pytest.raises(ValueError, match=rf"`rewards` must be in \[0, 1\] for {name}; got -0.1\."):
        policy.update_batch([0, 1], [1.0, -0.1])
    assert policy.to_json() == before


@ALL
def test_corrupt_or_mismatched_state_is_refused(make: Callable[..., BasePolicy]) -> None:
    policy = make()
    policy.update_batch(*_stream(10, 40))
    payload = json.loads(policy.to_json())
    cls = type(policy)

    def broken(**changes: Any) -> str:
        document = json.loads(json.dumps(payload))
        for key, value in changes.items():
            section = document if key in document else document["config" if key in document["config"] else "state"]
            section[key] = value
        return json.dumps(document)

    with pytest.raises(StateError, match="not valid JSON"):
        cls.from_json(policy.to_json()[:-5])
    with pytest.raises(StateError, match="not an abkit bandit policy state"):
        cls.from_json(json.dumps({"counts": [1]}))
    with pytest.raises(StateError, match="state version 99 is not one this abkit reads"):
        cls.from_json(broken(version=99))
    with pytest.raises(StateError, match=r"`counts` must be at least 0; got -1.0 for arm 2"):
        cls.from_json(broken(counts=[1.0, 2.0, -1.0, 3.0]))
    with pytest.raises(StateError, match="`m2` must be a list of 4 numbers"):
        cls.from_json(broken(m2=[0.0, 0.0]))
    with pytest.raises(StateError, match="The state holds NaN"):
        cls.from_json(broken(means=[0.1, float("nan"), 0.1, 0.1]))
    with pytest.raises(StateError, match="`active` must mark at least one arm"):
        cls.from_json(broken(active=[False] * 4))
    with pytest.raises(StateError, match="lacks counts"):
        cls.from_json(json.dumps({**payload, "state": {k: v for k, v in payload["state"].items()
                                                       if k != "counts"}}))
    with pytest.raises(StateError, match="`n_updates` must be a non-negative integer"):
        cls.from_json(broken(n_updates=-3))
    with pytest.raises(StateError, match="invalid"):
        cls.from_json(broken(options={"bogus": 1}))
    other = UCB1 if cls is not UCB1 else KLUCB
    with pytest.raises(StateError, match=f"The state is of a {cls.__name__}, not a {other.__name__}"):
        other.from_json(policy.to_json())


@ALL
def test_add_and_retire_arms(make: Callable[..., BasePolicy]) -> None:
    policy = make(n=2)
    assert policy.add_arm() == 2
    policy.retire_arm(0)
    policy.retire_arm(1)
    assert set(policy.select_many(50).tolist()) == {2}
    policy.update(0, 1.0)  # late feedback for a retired arm is recorded
    assert policy.state.counts[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="`arm` 2 is the last active arm"):
        policy.retire_arm(2)
    np.testing.assert_allclose(policy.allocation(), [0.0, 0.0, 1.0])


# --- policy-specific behaviour -----------------------------------------------------------------


@pytest.mark.parametrize("case", reference_cases("ab_fixed", function_kind="beta_bernoulli_prob_b_beats_a"))
def test_prob_best_matches_exact_beta_reference(case: dict[str, Any]) -> None:
    inputs = case["inputs"]
    policy = ThompsonBernoulli(2, prior=(1, 1))
    # Beta(alpha, beta) posteriors from a Beta(1, 1) prior: alpha - 1 successes, beta - 1 failures.
    n_a = inputs["alpha_A"] + inputs["beta_A"] - 2
    n_b = inputs["alpha_B"] + inputs["beta_B"] - 2
    policy.warm_start([n_a, n_b], [(inputs["alpha_A"] - 1) / n_a, (inputs["alpha_B"] - 1) / n_b])
    expected = case["expected"]["prob_B_greater_A"]
    # tolerance from the reference file (abs 1e-9): quadrature is accurate to ~1e-12 here
    assert policy.prob_best()[1] == pytest.approx(expected, abs=case["tolerance"]["abs"])
    np.testing.assert_allclose(policy.allocation(), [1 - expected, expected], atol=1e-9)


def test_expected_loss_matches_direct_integral() -> None:
    policy = ThompsonBernoulli(2, prior=(2, 3))
    policy.update_batch([0] * 40 + [1] * 40, [1.0] * 6 + [0.0] * 34 + [1.0] * 9 + [0.0] * 31)
    a, b = stats.beta(2 + 6, 3 + 34), stats.beta(2 + 9, 3 + 31)
    # E[max(X, Y)] = int_0^1 (1 - F_X(t) F_Y(t)) dt for variables in [0, 1] (scipy's quad).
    expected_max = integrate.quad(lambda t: 1.0 - a.cdf(t) * b.cdf(t), 0, 1, epsabs=1e-13, epsrel=1e-12)[0]
    loss = policy.expected_loss()
    np.testing.assert_allclose(loss, [expected_max - a.mean(), expected_max - b.mean()], rtol=1e-8)


def test_gaussian_prob_best_matches_student_t_monte_carlo() -> None:
    policy = ThompsonGaussian(3)
    rng = np.random.default_rng(11)
    data = [rng.normal(m, 2.0, size=12) for m in (1.0, 1.5, 1.2)]
    for arm, values in enumerate(data):
        policy.update_batch(np.full(values.size, arm), values)
    draws = np.column_stack(
        [v.mean() + v.std(ddof=1) / np.sqrt(v.size) * rng.standard_t(v.size - 1, 400_000) for v in data]
    )
    mc = np.bincount(draws.argmax(axis=1), minlength=3) / draws.shape[0]
    # Monte Carlo standard error <= 0.0008 at 400,000 draws; 5 SE
    np.testing.assert_allclose(policy.prob_best(), mc, atol=0.004)


def test_gaussian_policy_needs_two_distinct_rewards_per_arm_for_prob_best() -> None:
    policy = ThompsonGaussian(2, rng=0)
    policy.update_batch([0, 0, 1], [1.0, 2.0, 3.0])
    assert policy.allocation().tolist() == [0.0, 1.0]  # arm 1 must be tried again first
    with pytest.warns(DegenerateDataWarning, match="proper posterior"):
        assert np.isnan(policy.prob_best()).all()


def test_kl_ucb_and_ucb1_allocation_follow_their_index() -> None:
    ucb = UCB1(3, rng=0)
    ucb.update_batch([0, 1, 2] * 10, [1.0, 0.0, 0.0] * 10)
    assert ucb.allocation().tolist() == [1.0, 0.0, 0.0]
    assert ucb.select() == 0
    eps = EpsilonGreedy(3, epsilon=0.3, rng=0)
    eps.update_batch([0, 1, 2], [5.0, 1.0, 2.0])
    np.testing.assert_allclose(eps.allocation(), [0.8, 0.1, 0.1])
    decay = EpsilonGreedy(3, epsilon=0.3, decay=1.0, rng=0)
    decay.update_batch([0, 1, 2], [5.0, 1.0, 2.0])
    eps = 0.3 / (1 + 1.0 * 3)  # epsilon / (1 + decay * n)
    np.testing.assert_allclose(decay.allocation(), [1 - eps + eps / 3, eps / 3, eps / 3])


def test_epsilon_greedy_explores_at_its_rate() -> None:
    policy = EpsilonGreedy(4, epsilon=0.2, rng=5)
    policy.update_batch([0, 1, 2, 3], [1.0, 0.0, 0.0, 0.0])
    n = 20_000
    explored = int((policy.select_many(n) != 0).sum())
    expected = n * 0.2 * 3 / 4
    low, high = stats.binom.ppf([0.0005, 0.9995], n, 0.2 * 3 / 4)  # 99.9% band
    assert low <= explored <= high, (explored, expected)


def test_thompson_selection_frequencies_match_prob_best() -> None:
    policy = ThompsonBernoulli(3, rng=8)
    policy.warm_start([30, 30, 30], [0.3, 0.4, 0.35])
    n = 20_000
    counts = np.bincount(policy.select_many(n), minlength=3)
    p = policy.prob_best()
    low, high = stats.binom.ppf(0.0005, n, p), stats.binom.ppf(0.9995, n, p)  # 99.9% band per arm
    assert ((low <= counts) & (counts <= high)).all(), (counts, p * n)


def test_discounting_forgets_geometrically() -> None:
    policy = ThompsonBernoulli(2, discount=0.5)
    policy.update_batch([0, 0, 1], [1.0, 1.0, 0.0])
    # counts: arm 0 gets 1 -> (1 * .5 + 1) = 1.5 -> .75 after the third reward; arm 1 gets 1.
    np.testing.assert_allclose(policy.state.counts, [0.75, 1.0])
    np.testing.assert_allclose(policy.state.means, [1.0, 0.0])


def test_warm_start_equals_feeding_the_rewards() -> None:
    rng = np.random.default_rng(12)
    values = rng.normal(3.0, 1.5, size=(2, 25))
    fed = ThompsonGaussian(2)
    fed.update_batch(np.repeat([0, 1], 25), values.ravel())
    warm = ThompsonGaussian(2)
    warm.warm_start([25, 25], values.mean(axis=1), values.var(axis=1, ddof=1))
    for a, b in zip(warm.state[:3], fed.state[:3], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    with pytest.raises(ValueError, match=r"`means` must be in \[0, 1\] for ThompsonBernoulli"):
        ThompsonBernoulli(2).warm_start([1, 1], [0.5, 2.0])
    with pytest.raises(ValueError, match=r"`counts` must have shape \(2,\); got \(3,\)"):
        ThompsonBernoulli(2).warm_start([1, 1, 1], [0.5, 0.5, 0.5])


def test_constructor_checks() -> None:
    with pytest.raises(ValueError, match="`n_arms` must be at least 1; got 0"):
        UCB1(0)
    with pytest.raises(ValueError, match=r"`epsilon` must be in \[0, 1\]; got 1.5"):
        EpsilonGreedy(2, epsilon=1.5)
    with pytest.raises(ValueError, match=r"`discount` must be in \(0, 1\]; got 0.0"):
        KLUCB(2, discount=0.0)
    with pytest.raises(ValueError, match="positive Beta parameters"):
        ThompsonBernoulli(2, prior=(0, 1))
    with pytest.raises(ValueError, match=r"shape \(3, 2\); got shape \(2, 2\)"):
        ThompsonBernoulli(3, prior=[[1, 1], [2, 2]])
    with pytest.raises(ValueError, match="kappa0, alpha0 and beta0 > 0"):
        ThompsonGaussian(2, prior=(0.0, 1.0, 0.0, 1.0))
    with pytest.raises(TypeError, match="must be an int seed"):
        UCB1(2, rng="seed")
    with pytest.raises(TypeError, match="must be a ThompsonBernoulli; got UCB1"):
        ThompsonBernoulli(2).merge(UCB1(2))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="same options and prior"):
        ThompsonBernoulli(2, prior=(1, 1)).merge(ThompsonBernoulli(2, prior=(2, 1)))


def test_per_arm_prior_and_repr() -> None:
    policy = ThompsonBernoulli(2, prior=[[1, 1], [30, 70]], rng=0)
    assert policy.prob_best()[0] == pytest.approx(
        integrate.quad(lambda x: stats.beta(1, 1).pdf(x) * stats.beta(30, 70).cdf(x), 0, 1)[0], abs=1e-8
    )
    assert repr(policy) == "ThompsonBernoulli(n_arms=2, discount=1.0, n_updates=0)"
    assert policy.add_arm(prior=(5, 5)) == 2
    assert json.loads(policy.to_json())["config"]["prior"][2][:2] == [5.0, 5.0]


@given(
    arms=st.lists(st.integers(0, 2), min_size=1, max_size=40),
    split=st.integers(0, 40),
    data=st.data(),
)
def test_merge_of_any_split_equals_the_whole(arms: list[int], split: int, data: st.DataObject) -> None:
    rewards = data.draw(st.lists(st.floats(0, 1), min_size=len(arms), max_size=len(arms)))
    whole = ThompsonBernoulli(3)
    whole.update_batch(arms, rewards)
    a, b = ThompsonBernoulli(3), ThompsonBernoulli(3)
    a.update_batch(arms[:split], rewards[:split])
    b.update_batch(arms[split:], rewards[split:])
    merged = a.merge(b)
    np.testing.assert_allclose(merged.state.counts, whole.state.counts)
    np.testing.assert_allclose(merged.state.means, whole.state.means, atol=1e-12)
    np.testing.assert_allclose(merged.state.m2, whole.state.m2, atol=1e-10)


@settings(max_examples=25)  # each example runs two quadratures
@given(permutation=st.permutations([0, 1, 2]), seed=st.integers(0, 1000))
def test_relabelling_arms_permutes_prob_best_and_expected_loss(permutation: list[int], seed: int) -> None:
    arms, rewards = _stream(seed, 60, n_arms=3)
    original, relabelled = ThompsonBernoulli(3), ThompsonBernoulli(3)
    original.update_batch(arms, rewards)
    relabelled.update_batch(np.asarray(permutation)[arms], rewards)
    order = np.argsort(permutation)  # new label j holds old arm order[j]
    np.testing.assert_allclose(relabelled.prob_best(), original.prob_best()[order], atol=1e-9)
    np.testing.assert_allclose(relabelled.expected_loss(), original.expected_loss()[order], atol=1e-9)


def test_many_arms_need_more_uniforms_than_a_default_block() -> None:
    # ~5 uniforms per arm and decision: 3,000 arms need ~15,000, more than the base block of 4,096
    a, b = ThompsonBernoulli(3000, rng=9), ThompsonBernoulli(3000, rng=9)
    assert [a.select() for _ in range(30)] == b.select_many(30).tolist()
    assert a.add_arm() == 3000 and 0 <= a.select() <= 3000


# --- nothing to_json writes fails from_json (issue 14: faults) --------------------------------------

UNBOUNDED = {name: MAKERS[name] for name in ("EpsilonGreedy", "ThompsonGaussian", "ThompsonGaussianPrior")}
EXTREME = st.floats(min_value=-1.7e308, max_value=1.7e308, allow_nan=False, allow_infinity=False) | st.sampled_from(
    [0.0, 1.9e154, -1.9e154, 1e308, -1e308, 5e-324]
)


def test_a_reward_whose_square_overflows_is_refused_and_changes_nothing() -> None:
    policy = EpsilonGreedy(3, epsilon=0.1, rng=0)
    policy.update(0, 0.0)
    policy.update(0, 0.0)
    before = policy.to_json()
    with pytest.raises(ValueError, match=r"`reward` 1\.9e\+154 for arm 0 would make the arm's mean or sum of "
                                         r"squared deviations overflow"):
        policy.update(0, 1.9e154)
    assert policy.to_json() == before
    with pytest.raises(ValueError, match=r"`reward` 1\.9e\+154 for arm 0"):
        policy.update_batch([1, 2, 0], [5.0, 6.0, 1.9e154])
    assert policy.to_json() == before  # the whole batch is refused, not its first two rewards
    policy.update(0, 1e150)  # large but representable: recorded
    assert EpsilonGreedy.from_json(policy.to_json()).to_json() == policy.to_json()


@pytest.mark.parametrize("make", list(UNBOUNDED.values()), ids=list(UNBOUNDED))
@settings(max_examples=60, deadline=None)
@given(rewards=st.lists(st.tuples(st.integers(0, 2), EXTREME), min_size=1, max_size=8),
       batch=st.booleans())
def test_round_trip_over_extreme_finite_rewards(make: Callable[..., BasePolicy], rewards: list[tuple[int, float]],
                                                batch: bool) -> None:
    policy = make(3)
    for arm, reward in rewards:
        before = policy.to_json()
        try:
            if batch:
                policy.update_batch([arm], [reward])
            else:
                policy.update(arm, reward)
        except ValueError as exc:
            assert "overflow" in str(exc)
            assert policy.to_json() == before
        text = policy.to_json()
        assert type(policy).from_json(text).to_json() == text


@pytest.mark.parametrize("make", list(MAKERS.values()), ids=list(MAKERS))
@settings(max_examples=40, deadline=None)
@given(rewards=st.lists(st.tuples(st.integers(0, 3), st.floats(0.0, 1.0)), min_size=1, max_size=30))
def test_round_trip_over_any_rewards_in_range(make: Callable[..., BasePolicy],
                                              rewards: list[tuple[int, float]]) -> None:
    policy = make()
    arms, values = zip(*rewards, strict=True)
    policy.update_batch(list(arms), list(values))
    text = policy.to_json()
    assert type(policy).from_json(text).to_json() == text


def test_warm_start_and_merge_that_would_overflow_are_refused() -> None:
    policy = EpsilonGreedy(2, epsilon=0.1, rng=0)
    policy.update(0, 1e300)
    before = policy.to_json()
    with pytest.raises(ValueError, match="`warm_start` would make some arm's mean or sum of squared"):
        policy.warm_start([10, 0], [-1e300, 0.0], [1e300, 0.0])
    assert policy.to_json() == before
    other = EpsilonGreedy(2, epsilon=0.1, rng=1)
    other.update(0, -1e300)
    with pytest.raises(ValueError, match="`merge` would make some arm's mean or sum of squared"):
        policy.merge(other)
    assert policy.to_json() == before


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"a": Infinity}', b"\xff", 7])
def test_deep_or_malformed_policy_json_is_a_state_error(text: Any) -> None:
    with pytest.raises(StateError):
        BasePolicy.from_json(text)
