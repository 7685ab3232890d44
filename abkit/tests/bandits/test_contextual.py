"""Contextual policies: closed forms, merging, Laplace mode, stability, bad input, state, threads, regret."""

from __future__ import annotations

import json
import threading
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize

from abkit.bandits import (
    ContextualPolicy,
    LinTS,
    LinUCB,
    LogisticTS,
    ThompsonGaussian,
    simulate_contextual,
)
from abkit.bandits import _linear_kernels as lk
from abkit.errors import StateError

LINEAR = [LinUCB, LinTS]
ALL = [LinUCB, LinTS, LogisticTS]


def _stream(n: int, d: int, n_arms: int, seed: int, binary: bool = False) -> tuple[Any, Any, Any]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)) * np.linspace(0.5, 3.0, d)
    arms = rng.integers(0, n_arms, n)
    coefs = rng.standard_normal((n_arms, d))
    score = (x * coefs[arms]).sum(axis=1)
    if binary:
        y = (rng.random(n) < 1.0 / (1.0 + np.exp(-score))).astype(float)
    else:
        y = score + rng.standard_normal(n)
    return arms, y, x


def _ridge(x: Any, y: Any, l2: float) -> tuple[Any, Any]:
    precision = l2 * np.eye(x.shape[1]) + x.T @ x
    return np.linalg.solve(precision, x.T @ y), np.linalg.inv(precision)


# --- closed forms -------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", LINEAR)
def test_posterior_equals_ridge_regression(cls: type[ContextualPolicy]) -> None:
    # 4,000 rewards on 3 arms, one at a time and in batches: every arm passes a refresh (1,000).
    arms, y, x = _stream(4000, 4, 3, seed=1)
    options = {"alpha": 0.7} if cls is LinUCB else {"v": 2.5}
    policy = cls(3, 4, l2=0.5, rng=0, **options)
    for j in range(2000):
        policy.update(int(arms[j]), float(y[j]), x[j])
    policy.update_batch(arms[2000:], y[2000:], x[2000:])
    scale = 2.5 if cls is LinTS else 1.0
    for arm in range(3):
        rows = arms == arm
        mean, covariance = _ridge(x[rows], y[rows], 0.5)
        got_mean, got_cov = policy.posterior(arm)
        # closed form to 1e-9 relative: rank-one updates drift by rounding only
        np.testing.assert_allclose(got_mean, mean, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(got_cov, scale * covariance, rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(policy.state.gram[arm], x[rows].T @ x[rows], rtol=1e-12)
        assert policy.state.counts[arm] == rows.sum()
    assert policy.n_updates == 4000


@pytest.mark.parametrize("cls", LINEAR)
def test_million_updates_stay_exact(cls: type[ContextualPolicy]) -> None:
    # Features of very different scales; after 1,000,000 rank-one updates (with refreshes) the
    # kept inverse and estimate equal a fresh solve from the sums.
    rng = np.random.default_rng(3)
    n, d = 1_000_000, 5
    x = rng.standard_normal((n, d)) * np.array([1e-2, 0.1, 1.0, 10.0, 100.0])
    arms = rng.integers(0, 2, n)
    y = x @ np.array([3.0, -1.0, 0.5, 0.01, 0.002]) + rng.standard_normal(n)
    policy = cls(2, d, rng=0)
    policy.update_batch(arms, y, x)
    state = policy.state
    for arm in range(2):
        rows = arms == arm
        precision = np.eye(d) + x[rows].T @ x[rows]
        np.testing.assert_allclose(state.gram[arm], precision - np.eye(d), rtol=1e-10)
        np.testing.assert_allclose(
            state.coef[arm], np.linalg.solve(precision, x[rows].T @ y[rows]), rtol=1e-8, atol=1e-12
        )
        # the inverse's entries span 1e-4 to 1e-12 here: compare relative to the largest
        inverse = np.linalg.inv(precision)
        assert np.abs(state.inverse[arm] - inverse).max() <= 1e-9 * np.abs(inverse).max()
        assert np.array_equal(state.inverse[arm], state.inverse[arm].T)


def test_logistic_mode_equals_newton_solve() -> None:
    arms, y, x = _stream(3000, 4, 2, seed=5, binary=True)
    policy = LogisticTS(2, 4, l2=2.0, rng=0)
    policy.update_batch(arms, y, x)
    for arm in range(2):
        xa, ya = x[arms == arm], y[arms == arm]

        def gradient(w: Any, xa: Any = xa, ya: Any = ya) -> Any:
            # of l2 / 2 |w|^2 + sum log(1 + exp(x'w)) - y x'w, with l2 = 2
            return 2.0 * w + xa.T @ (1.0 / (1.0 + np.exp(-xa @ w)) - ya)

        def hessian(w: Any, xa: Any = xa) -> Any:
            p = 1.0 / (1.0 + np.exp(-xa @ w))
            return 2.0 * np.eye(4) + (xa.T * (p * (1 - p))) @ xa

        # the mode is the root of the gradient: MINPACK's hybrid Newton method with the Hessian
        solved = optimize.root(gradient, np.zeros(4), jac=hessian, tol=1e-14)
        # MINPACK may stop short of tol=1e-14 and say so; the gradient itself is the criterion
        assert np.abs(gradient(solved.x)).max() < 1e-9
        mean, covariance = policy.posterior(arm)
        # the Hessian's smallest eigenvalue is at least l2 = 2, so a gradient under 1e-9 puts
        # scipy's root within 5e-10 of the mode
        np.testing.assert_allclose(mean, solved.x, rtol=1e-9, atol=1e-11)
        np.testing.assert_allclose(covariance, np.linalg.inv(hessian(solved.x)), rtol=1e-9, atol=1e-14)


def test_logistic_online_update_is_a_one_point_laplace_step() -> None:
    arms, y, x = _stream(300, 3, 2, seed=6, binary=True)
    online, batched = LogisticTS(2, 3, rng=0), LogisticTS(2, 3, rng=0)
    for j in range(300):
        online.update(int(arms[j]), float(y[j]), x[j])
        batched.update_batch(arms[j : j + 1], y[j : j + 1], x[j : j + 1])
    np.testing.assert_allclose(online.state.coef, batched.state.coef, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(online.state.gram, batched.state.gram, rtol=1e-10, atol=1e-13)


def test_logistic_online_stays_consistent_over_many_updates() -> None:
    arms, y, x = _stream(60_000, 3, 2, seed=8, binary=True)
    policy = LogisticTS(2, 3, rng=0)
    for j in range(60_000):
        policy.update(int(arms[j]), float(y[j]), x[j])
    state = policy.state
    for arm in range(2):
        precision = np.eye(3) + state.gram[arm]
        np.testing.assert_allclose(state.inverse[arm], np.linalg.inv(precision), rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(state.coef[arm], np.linalg.solve(precision, state.moment[arm]), rtol=1e-9)


# --- merging ------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", LINEAR)
def test_merge_equals_one_policy_fed_everything(cls: type[ContextualPolicy]) -> None:
    arms, y, x = _stream(3000, 3, 2, seed=2)
    whole, first, second = cls(2, 3, rng=0), cls(2, 3, rng=1), cls(2, 3, rng=2)
    whole.update_batch(arms, y, x)
    first.update_batch(arms[:1700], y[:1700], x[:1700])
    second.update_batch(arms[1700:], y[1700:], x[1700:])
    merged = first.merge(second)
    assert merged.n_updates == 3000
    for got, expected in zip(merged.state, whole.state, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize("cls", ALL)
def test_merge_with_a_shared_base_counts_it_once(cls: type[ContextualPolicy]) -> None:
    arms, y, x = _stream(3000, 3, 2, seed=4, binary=cls is LogisticTS)
    base = cls(2, 3, rng=0)
    base.update_batch(arms[:1000], y[:1000], x[:1000])
    text = base.to_json()
    a, b = cls.from_json(text, rng=1), cls.from_json(text, rng=2)
    a.update_batch(arms[1000:2000], y[1000:2000], x[1000:2000])
    b.update_batch(arms[2000:], y[2000:], x[2000:])
    merged = a.merge(b, base=base)
    assert merged.n_updates == 3000
    # the sums add exactly: the merged sums are base + A + B
    expected_gram = a.state.gram + b.state.gram - base.state.gram
    np.testing.assert_allclose(merged.state.gram, expected_gram, rtol=1e-12, atol=1e-12)
    if cls is not LogisticTS:
        whole = cls(2, 3, rng=0)
        whole.update_batch(arms, y, x)
        for got, expected in zip(merged.state, whole.state, strict=True):
            np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-13)
    with pytest.raises(ValueError, match="earlier state"):
        base.merge(base, base=a)


def test_merge_refuses_other_setups() -> None:
    with pytest.raises(TypeError, match="must be a LinUCB"):
        LinUCB(2, 3).merge(LinTS(2, 3))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="same arms, features and options"):
        LinUCB(2, 3, alpha=1.0).merge(LinUCB(2, 3, alpha=2.0))
    with pytest.raises(ValueError, match="same arms, features and options"):
        LinTS(2, 3).merge(LinTS(2, 4))


# --- choosing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", ALL)
def test_select_many_equals_repeated_select(cls: type[ContextualPolicy]) -> None:
    arms, y, x = _stream(500, 4, 3, seed=7, binary=True)
    one, many = cls(3, 4, rng=11), cls(3, 4, rng=11)
    one.update_batch(arms, y, x)
    many.update_batch(arms, y, x)
    contexts = np.random.default_rng(1).standard_normal((3000, 4))  # several block refills
    assert [one.select(c) for c in contexts] == many.select_many(contexts).tolist()


def test_linucb_chooses_the_upper_confidence_bound_and_splits_ties() -> None:
    policy = LinUCB(3, 2, alpha=2.0, rng=0)
    counts = np.bincount([policy.select([1.0, 1.0]) for _ in range(3000)], minlength=3)
    assert (counts > 900).all()  # an empty state ties all arms: uniform choice
    arms, y, x = _stream(200, 2, 3, seed=9)
    policy.update_batch(arms, y, x)
    state = policy.state
    for context in np.random.default_rng(2).standard_normal((50, 2)):
        width = np.sqrt(np.einsum("i,aij,j->a", context, state.inverse, context))
        assert policy.select(context) == int(np.argmax(state.coef @ context + 2.0 * width))


def test_contextual_thompson_beats_context_free_thompson() -> None:
    # Two arms whose best depends on the sign of the first feature: a context-free policy loses
    # about 0.4 per step whatever it does, LinTS learns the boundary.
    coefs = np.array([[1.0, 0.0], [-1.0, 0.0]])
    horizon = 3000
    contextual = simulate_contextual(LinTS(2, 2), coefs, horizon=horizon, n_runs=3, rng=1)
    rng = np.random.default_rng(1)
    plain = ThompsonGaussian(2, prior=(0.0, 1.0, 1.0, 1.0), rng=2)
    regret = 0.0
    for x in rng.standard_normal((horizon, 2)):
        means = coefs @ x
        arm = plain.select()
        plain.update(arm, float(means[arm] + rng.standard_normal()))
        regret += means.max() - means[arm]
    assert contextual[:, -1].max() < 0.15 * regret


def test_simulation_makes_the_bare_loops_decisions() -> None:
    coefs = np.random.default_rng(4).standard_normal((4, 3))
    ours = simulate_contextual(LinTS(4, 3, v=0.5, l2=2.0), coefs, horizon=3000, n_runs=1, rng=7, sd=0.5)
    bare = lk.lints_bare(coefs, 0.5, 0.5, 2.0, 3000, np.random.default_rng(7))
    np.testing.assert_allclose(ours[0], bare, rtol=1e-9)


# --- bad input ----------------------------------------------------------------------------------


_bad_numbers = st.sampled_from([np.nan, np.inf, -np.inf])


@settings(max_examples=40, deadline=None)
@given(
    cls=st.sampled_from(ALL),
    position=st.integers(0, 2),
    bad=_bad_numbers,
    where=st.sampled_from(["select", "update", "update_batch", "select_many", "reward", "batch_reward"]),
)
def test_non_finite_input_raises_and_changes_nothing(
    cls: type[ContextualPolicy], position: int, bad: float, where: str
) -> None:
    policy = cls(2, 3, rng=0)
    policy.update_batch([0, 1], [1.0, 0.0], [[1.0, 0.0, 0.5], [0.0, 1.0, 0.5]])
    before = policy.to_json()
    context = [0.1, 0.2, 0.3]
    context[position] = bad
    name = "reward" if where == "reward" else ("rewards" if where == "batch_reward" else "context")
    with pytest.raises(ValueError, match=f"`{name}"):
        if where == "select":
            policy.select(np.array(context))
        elif where == "update":
            policy.update(0, 1.0, context)
        elif where == "update_batch":
            policy.update_batch([0, 1], [1.0, 0.0], [[0.1, 0.2, 0.3], context])
        elif where == "select_many":
            policy.select_many([[0.1, 0.2, 0.3], context])
        elif where == "reward":
            policy.update(0, bad, [0.1, 0.2, 0.3])
        else:
            policy.update_batch([0, 1], [1.0, bad], [[0.1, 0.2, 0.3], [0.1, 0.2, 0.3]])
    assert policy.to_json() == before


@settings(max_examples=40, deadline=None)
@given(cls=st.sampled_from(ALL), length=st.integers(0, 6).filter(lambda n: n != 3), arm=st.integers(-3, 5))
def test_wrong_shapes_and_arms_raise(cls: type[ContextualPolicy], length: int, arm: int) -> None:
    policy = cls(2, 3, rng=0)
    before = policy.to_json()
    with pytest.raises(ValueError, match="`context` must have 3 features"):
        policy.select(np.ones(length))
    with pytest.raises(ValueError, match="`contexts` must have shape"):
        policy.update_batch([0], [1.0], np.ones((1, length)))
    if not 0 <= arm < 2:
        with pytest.raises(ValueError, match=r"`arm` must be in \[0, 1\]"):
            policy.update(arm, 1.0, [0.0, 0.0, 1.0])
        with pytest.raises(ValueError, match=r"`arm` must be in \[0, 1\]"):
            policy.update_batch([0, arm], [1.0, 1.0], np.ones((2, 3)))
    assert policy.to_json() == before


def test_other_bad_input() -> None:
    with pytest.raises(ValueError, match="`reward` must be in \\[0, 1\\]"):
        LogisticTS(2, 2).update(0, 1.5, [1.0, 0.0])
    with pytest.raises(TypeError, match="`arm` must be an integer"):
        LinUCB(2, 2).update(True, 1.0, [1.0, 0.0])
    with pytest.raises(TypeError, match="`reward` must be a real number"):
        LinUCB(2, 2).update(0, "1", [1.0, 0.0])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="`context` must be a vector"):
        LinUCB(2, 2).select(["a", "b"])
    with pytest.raises(ValueError, match="`l2` must be greater than 0"):
        LinTS(2, 2, l2=0.0)
    with pytest.raises(ValueError, match="`v` must be greater than 0"):
        LinTS(2, 2, v=-1.0)
    with pytest.raises(ValueError, match="`alpha` must be at least 0"):
        LinUCB(2, 2, alpha=-1.0)
    with pytest.raises(ValueError, match="`n_features` must be at least 1"):
        LinUCB(2, 0)
    with pytest.raises(ValueError, match="same length"):
        LinUCB(2, 2).update_batch([0, 1], [1.0], [[1.0, 0.0]])
    with pytest.raises(ValueError, match="`coefs` must have shape"):
        simulate_contextual(LinUCB(2, 2), np.ones((3, 2)), horizon=10, n_runs=1)
    with pytest.raises(ValueError, match="environment='logistic'"):
        simulate_contextual(LogisticTS(2, 2), np.ones((2, 2)), horizon=10, n_runs=1)


# --- state --------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", ALL)
def test_json_round_trip(cls: type[ContextualPolicy]) -> None:
    arms, y, x = _stream(800, 3, 2, seed=10, binary=True)
    policy = cls(2, 3, l2=0.3, rng=0)
    policy.update_batch(arms, y, x)
    text = policy.to_json()
    document = json.loads(text)
    assert document["kind"] == cls.__name__ and document["version"] == 1
    restored = cls.from_json(text)
    assert restored.n_updates == 800 and restored._config() == policy._config()
    for got, expected in zip(restored.state, policy.state, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-14)
    assert restored.to_json() == text


def test_corrupt_states_raise_state_error() -> None:
    policy = LinTS(2, 2, rng=0)
    policy.update_batch([0, 1, 1], [1.0, 2.0, 0.5], [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    document = json.loads(policy.to_json())
    with pytest.raises(StateError, match="not a 'LinUCB' state"):
        LinUCB.from_json(policy.to_json())
    cases = [
        ("gram", [[[1.0, 2.0], [0.0, 1.0]], [[0.0, 0.0], [0.0, 0.0]]], "symmetric"),
        ("gram", [[[-5.0, 0.0], [0.0, 1.0]], [[0.0, 0.0], [0.0, 0.0]]], "positive semi-definite"),
        ("moment", [[1.0, 2.0]], r"`moment` must have shape \(2, 2\)"),
        ("counts", [-1.0, 2.0], "`counts` must be at least 0"),
        ("n_updates", 1.5, "`n_updates` must be a non-negative integer"),
    ]
    for key, value, message in cases:
        broken = json.loads(json.dumps(document))
        broken["state"][key] = value
        with pytest.raises(StateError, match=message):
            LinTS.from_json(json.dumps(broken))
    broken = json.loads(json.dumps(document))
    broken["config"]["v"] = -1.0
    with pytest.raises(StateError, match="`v` must be greater than 0"):
        LinTS.from_json(json.dumps(broken))
    with pytest.raises(StateError, match="not valid JSON"):
        LinTS.from_json(json.dumps(document).replace("1.0", "NaN", 1))


# --- threads ------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [LinTS, LogisticTS])
def test_concurrent_updates_lose_nothing(cls: type[ContextualPolicy]) -> None:
    arms, y, x = _stream(8000, 3, 2, seed=12, binary=True)
    policy = cls(2, 3, rng=0)

    def work(part: int) -> None:
        for j in range(part, 8000, 4):
            policy.select(x[j])
            policy.update(int(arms[j]), float(y[j]), x[j])

    threads = [threading.Thread(target=work, args=(part,)) for part in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert policy.n_updates == 8000
    np.testing.assert_array_equal(policy.state.counts, np.bincount(arms, minlength=2))
    if cls is LinTS:  # the sums do not depend on the order
        for arm in range(2):
            rows = arms == arm
            np.testing.assert_allclose(policy.state.gram[arm], x[rows].T @ x[rows], rtol=1e-12)
