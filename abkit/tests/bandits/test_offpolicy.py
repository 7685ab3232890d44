"""Off-policy estimators: Open Bandit Pipeline's values, unbiasedness, coverage, properties, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats

from abkit.bandits import offpolicy
from abkit.errors import DegenerateDataWarning

REFERENCE = json.loads((Path(__file__).parent / "data" / "obp_reference.json").read_text())
INPUTS = REFERENCE["inputs"]


def _call(name: str, **options: Any) -> offpolicy.OffPolicyResult:
    logged = (INPUTS["rewards"], INPUTS["actions"], INPUTS["propensities"], INPUTS["target"])
    if name in ("ips", "ips_clip_2"):
        return offpolicy.ips(*logged, **options)
    if name == "snips":
        return offpolicy.snips(*logged)
    if name == "direct_method":
        return offpolicy.direct_method(INPUTS["target"], INPUTS["q_hat"])
    if name == "doubly_robust":
        return offpolicy.doubly_robust(*logged, INPUTS["q_hat"])
    return offpolicy.replay(INPUTS["rewards"], INPUTS["actions"], INPUTS["target_actions"])


CASES = [
    pytest.param("ips", {}, id="ips"),
    pytest.param("ips_clip_2", {"clip": 2.0}, id="ips_clip_2"),
    pytest.param("snips", {}, id="snips"),
    pytest.param("direct_method", {}, id="direct_method"),
    pytest.param("doubly_robust", {}, id="doubly_robust"),
    pytest.param("replay", {}, id="replay"),
]


@pytest.mark.parametrize(("name", "options"), CASES)
def test_values_agree_with_open_bandit_pipeline(name: str, options: dict[str, Any]) -> None:
    # obp 0.5.7's estimate_policy_value on the same logged data (source in the JSON file)
    expected = REFERENCE["expected"][name]
    result = _call(name, **options)
    assert result.value == pytest.approx(expected["value"], rel=1e-9)
    # OBP's interval is a percentile bootstrap of the same per-round terms, ours a normal
    # approximation: they agree to within 10% of the interval's width, not more.
    low, high = expected["bootstrap_ci"]
    width = high - low
    assert result.ci.low == pytest.approx(low, abs=0.1 * width)
    assert result.ci.high == pytest.approx(high, abs=0.1 * width)


def _logged_world(rng: np.random.Generator, n: int, n_arms: int = 3) -> dict[str, np.ndarray]:
    # Contexts of two kinds; reward means depend on context and arm; a stochastic logging policy.
    context = rng.integers(0, 2, size=n)
    means = np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.4]])[context]
    logging = np.array([[0.5, 0.2, 0.3], [0.2, 0.3, 0.5]])[context]
    actions = (rng.random(n)[:, None] > logging.cumsum(axis=1)).sum(axis=1)
    rewards = (rng.random(n) < means[np.arange(n), actions]).astype(float)
    target = np.array([[0.1, 0.8, 0.1], [0.7, 0.1, 0.2]])[context]
    return {
        "rewards": rewards,
        "actions": actions,
        "propensities": logging[np.arange(n), actions],
        "target": target,
        "means": means,
    }


# The target's value: each context has probability 1/2; sum_a target(a | x) mean(x, a).
TRUE_VALUE = 0.5 * (0.1 * 0.2 + 0.8 * 0.5 + 0.1 * 0.3) + 0.5 * (0.7 * 0.6 + 0.1 * 0.1 + 0.2 * 0.4)


def test_estimators_are_unbiased_and_intervals_cover_in_simulation() -> None:
    rng = np.random.default_rng(2024)
    reps, n = 1500, 400
    values: dict[str, list[float]] = {"ips": [], "dr": [], "dm": []}
    covered = 0
    for _ in range(reps):
        w = _logged_world(rng, n)
        biased_model = np.clip(w["means"] + 0.15, 0, 1)  # a wrong reward model: DR stays unbiased
        r = offpolicy.ips(w["rewards"], w["actions"], w["propensities"], w["target"])
        values["ips"].append(r.value)
        covered += r.ci.contains(TRUE_VALUE)
        values["dr"].append(
            offpolicy.doubly_robust(
                w["rewards"], w["actions"], w["propensities"], w["target"], biased_model
            ).value
        )
        values["dm"].append(offpolicy.direct_method(w["target"], w["means"]).value)  # the true model
    for name, estimates in values.items():
        array = np.asarray(estimates)
        # 4 Monte Carlo standard errors of the mean over 1,500 replications
        assert abs(array.mean() - TRUE_VALUE) < 4 * array.std(ddof=1) / np.sqrt(reps), name
    low, high = stats.binom.ppf([0.0005, 0.9995], reps, 0.95)  # 99.9% band around 95% coverage
    assert low <= covered <= high


def test_replay_is_unbiased_under_uniform_logging() -> None:
    rng = np.random.default_rng(7)
    arm_means = np.array([0.3, 0.6, 0.45])
    reps, n = 1000, 300
    estimates = []
    for _ in range(reps):
        actions = rng.integers(0, 3, size=n)
        rewards = (rng.random(n) < arm_means[actions]).astype(float)
        estimates.append(offpolicy.replay(rewards, actions, np.full(n, 1)).value)  # "always arm 1"
    array = np.asarray(estimates)
    assert abs(array.mean() - 0.6) < 4 * array.std(ddof=1) / np.sqrt(reps)


@st.composite
def _logs(draw: st.DrawFn) -> dict[str, np.ndarray]:
    n = draw(st.integers(2, 30))
    n_arms = draw(st.integers(2, 4))
    rewards = draw(hnp.arrays(np.float64, n, elements=st.floats(0, 1)))
    actions = draw(hnp.arrays(np.int64, n, elements=st.integers(0, n_arms - 1)))
    propensities = draw(hnp.arrays(np.float64, n, elements=st.floats(0.05, 1)))
    raw = draw(hnp.arrays(np.float64, (n, n_arms), elements=st.floats(0.01, 1)))
    return {
        "rewards": rewards,
        "actions": actions,
        "propensities": propensities,
        "target": raw / raw.sum(axis=1, keepdims=True),
    }


@given(_logs())
def test_properties(log: dict[str, np.ndarray]) -> None:
    rewards, actions, propensities, target = (
        log["rewards"],
        log["actions"],
        log["propensities"],
        log["target"],
    )
    n = rewards.size
    ips = offpolicy.ips(rewards, actions, propensities, target)
    # doubly robust with a zero reward model is IPS
    zero = offpolicy.doubly_robust(rewards, actions, propensities, target, np.zeros_like(target))
    assert zero.value == pytest.approx(ips.value, rel=1e-12, abs=1e-15)
    # SNIPS does not change when every propensity is scaled by the same factor
    a = offpolicy.snips(rewards, actions, propensities, target)
    b = offpolicy.snips(rewards, actions, propensities * 0.5, target)
    assert a.value == pytest.approx(b.value, rel=1e-12, abs=1e-15)
    # the direct method with a constant model returns the constant
    assert offpolicy.direct_method(target, np.full_like(target, 0.3)).value == pytest.approx(0.3)
    # replaying the logged actions returns the mean reward; clipping never raises IPS
    assert offpolicy.replay(rewards, actions, actions).value == pytest.approx(rewards.mean())
    assert offpolicy.ips(rewards, actions, propensities, target, clip=1.0).value <= ips.value + 1e-12
    # IPS with a target that reproduces the logging propensities is the mean reward
    same = np.full_like(target, 0.0)
    same[np.arange(n), actions] = propensities
    rest = (1 - propensities) / (target.shape[1] - 1)
    same += np.where(same == 0, rest[:, None], 0.0)
    assert offpolicy.ips(rewards, actions, propensities, same).value == pytest.approx(rewards.mean())


def test_replay_without_matches_is_degenerate() -> None:
    with pytest.warns(DegenerateDataWarning, match="too few rounds"):
        result = offpolicy.replay([1.0, 0.0], [0, 0], [1, 1])
    assert np.isnan(result.value) and np.isnan(result.ci.low)


def test_result_fields_and_table() -> None:
    result = _call("ips")
    assert result.n == 300 and result.method == "ips" and result.confidence_level == 0.95
    assert 0 < result.effective_sample_size <= 300
    assert result.to_dict()["ci"]["low"] == result.ci.low
    assert "effective_sample_size" in repr(result)
    assert (
        offpolicy.ips(
            INPUTS["rewards"],
            INPUTS["actions"],
            INPUTS["propensities"],
            INPUTS["target"],
            confidence_level=0.99,
        ).ci.width
        > result.ci.width
    )


def test_bad_input() -> None:
    rewards, actions, propensities = [1.0, 0.0], [0, 1], [0.5, 0.5]
    target = [[0.5, 0.5], [0.5, 0.5]]
    with pytest.raises(ValueError, match=r"`propensities` must be in \(0, 1\]; got 0.0"):
        offpolicy.ips(rewards, actions, [0.5, 0.0], target)
    with pytest.raises(ValueError, match=r"`target` rows must sum to 1; row 1 sums to 0\.9"):
        offpolicy.ips(rewards, actions, propensities, [[0.5, 0.5], [0.5, 0.4]])
    with pytest.raises(ValueError, match=r"`actions` must be in \[0, 1\]; got 2"):
        offpolicy.snips(rewards, [0, 2], propensities, target)
    with pytest.raises(TypeError, match="`actions` must be a 1-D array of integers"):
        offpolicy.ips(rewards, [0.0, 1.0], propensities, target)
    with pytest.raises(ValueError, match="`rewards` must not contain NaN"):
        offpolicy.ips([1.0, float("nan")], actions, propensities, target)
    with pytest.raises(ValueError, match=r"`target` must have one row per round \(2\); got 3"):
        offpolicy.ips(rewards, actions, propensities, [[0.5, 0.5]] * 3)
    with pytest.raises(ValueError, match=r"`q_hat` must have the shape of `target` \(2, 2\); got \(2, 3\)"):
        offpolicy.doubly_robust(rewards, actions, propensities, target, [[0.1, 0.2, 0.3]] * 2)
    with pytest.raises(ValueError, match="`clip` must be greater than 0"):
        offpolicy.ips(rewards, actions, propensities, target, clip=0.0)
    with pytest.raises(ValueError, match=r"`confidence_level` must be in \(0, 1\)"):
        offpolicy.direct_method(target, target, confidence_level=1.0)
    with pytest.raises(ValueError, match="`target` must be a 2-D array"):
        offpolicy.direct_method([0.5, 0.5], target)


# --- contextual targets -------------------------------------------------------------------------


def _contextual_log(seed: int, n: int = 400) -> dict[str, Any]:
    """A log from a uniformly random logging policy on a linear environment, and a trained target."""
    from abkit.bandits import LinTS, LinUCB, LogisticTS

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3))
    coefs = np.array([[0.5, 0.0, 0.2], [0.0, 0.5, -0.2], [-0.3, -0.3, 0.0]])
    actions = rng.integers(0, 3, n)
    means = 1.0 / (1.0 + np.exp(-(x @ coefs.T)))
    rewards = (rng.random(n) < means[np.arange(n), actions]).astype(float)
    policies = {}
    for policy in (LinUCB(3, 3, rng=0), LinTS(3, 3, v=0.5, rng=0), LogisticTS(3, 3, rng=0)):
        policy.update_batch(actions[:200], rewards[:200], x[:200])
        policies[type(policy).__name__] = policy
    return {"x": x, "actions": actions, "rewards": rewards, "propensities": np.full(n, 1 / 3), **policies}


def test_linucb_and_greedy_probabilities_are_exact() -> None:
    log = _contextual_log(1)
    policy, x = log["LinUCB"], log["x"]
    state = policy.state
    width = np.sqrt(np.einsum("ni,aij,nj->na", x, state.inverse, x))
    for greedy, scores in ((False, x @ state.coef.T + width), (True, x @ state.coef.T)):
        result = offpolicy.policy_probabilities(policy, x, greedy=greedy)
        best = scores == scores.max(axis=1, keepdims=True)
        assert result.method == "exact" and not result.standard_errors.any()
        np.testing.assert_array_equal(result.probabilities, best / best.sum(axis=1, keepdims=True))
    # greedy works for Thompson policies too, and ties are shared: an untrained policy ties all
    thompson = offpolicy.policy_probabilities(log["LinTS"], x, greedy=True).probabilities
    np.testing.assert_array_equal(thompson.argmax(axis=1), (x @ log["LinTS"].state.coef.T).argmax(axis=1))
    from abkit.bandits import LinUCB

    np.testing.assert_array_equal(offpolicy.policy_probabilities(LinUCB(3, 3), x[:5]).probabilities, 1 / 3)


@pytest.mark.parametrize("name", ["LinTS", "LogisticTS"])
def test_thompson_probabilities_match_quadrature_within_their_error(name: str) -> None:
    # Each arm's score is Normal(mean, sd) given the context, so P(arm a is best) =
    # int phi_a(s) prod_{b != a} Phi_b(s) ds, by adaptive quadrature.
    from scipy import integrate

    log = _contextual_log(2)
    policy, x = log[name], log["x"][:6]
    result = offpolicy.policy_probabilities(policy, x, n_samples=20_000, rng=3)
    state = policy.state
    scale = 1.0 if name == "LogisticTS" else 0.5  # the LinTS posterior covariance is v inverse
    assert result.method == "monte carlo" and result.n_samples == 20_000
    for i, context in enumerate(x):
        mean = state.coef @ context
        sd = np.sqrt(scale * np.einsum("i,aij,j->a", context, state.inverse, context))
        for arm in range(3):
            others = [b for b in range(3) if b != arm]

            def density(
                s: float, arm: int = arm, others: list[int] = others, mean: Any = mean, sd: Any = sd
            ) -> float:
                value = stats.norm.pdf(s, mean[arm], sd[arm])
                return float(value * np.prod(stats.norm.cdf(s, mean[others], sd[others])))

            exact = integrate.quad(density, -np.inf, np.inf, epsabs=1e-12)[0]
            error = max(result.standard_errors[i, arm], 1e-4)
            # 18 entries: 4.5 standard errors keeps a false alarm below 1e-4
            assert abs(result.probabilities[i, arm] - exact) <= 4.5 * error
    assert result.standard_errors.max() <= 0.5 / np.sqrt(20_000)


def test_select_frequencies_match_the_probabilities() -> None:
    log = _contextual_log(3)
    policy = log["LinTS"]
    context = log["x"][7]
    exact = offpolicy.policy_probabilities(policy, context[None, :], n_samples=200_000, rng=1).probabilities[
        0
    ]
    counts = np.bincount(policy.select_many(np.tile(context, (20_000, 1))), minlength=3)
    sd = np.sqrt(exact * (1 - exact) / 20_000) + np.sqrt(exact * (1 - exact) / 200_000)
    assert (np.abs(counts / 20_000 - exact) <= 4.5 * sd + 1e-12).all()


def test_contextual_estimates_equal_obp_formulas() -> None:
    # OBP's definitions (Saito et al., 2021, section 3; obp.ope.estimators), written out here:
    # IPW mean(w r), SNIPW sum(w r) / sum(w), DM mean(sum_a pi q_hat), DR
    # mean(sum_a pi q_hat + w (r - q_hat[a])), with w = pi(a_i | x_i) / pscore_i.
    log = _contextual_log(4)
    x, actions, rewards, pscore = log["x"], log["actions"], log["rewards"], log["propensities"]
    for name in ("LinUCB", "LinTS"):
        results = offpolicy.evaluate_contextual(log[name], x, actions, rewards, pscore, n_samples=2000, rng=5)
        pi = offpolicy.policy_probabilities(log[name], x, n_samples=2000, rng=5).probabilities
        q_hat = offpolicy.ridge_reward_model(x, actions, rewards, 3)
        rows = np.arange(x.shape[0])
        w = pi[rows, actions] / pscore
        expected = {
            "ips": np.mean(w * rewards),
            "snips": np.sum(w * rewards) / np.sum(w),
            "direct_method": np.mean((pi * q_hat).sum(axis=1)),
            "doubly_robust": np.mean((pi * q_hat).sum(axis=1) + w * (rewards - q_hat[rows, actions])),
        }
        for estimator, value in expected.items():
            assert results[estimator].value == pytest.approx(value, rel=1e-9)


def test_ridge_reward_model_is_ridge_regression_per_arm() -> None:
    log = _contextual_log(5)
    x, actions, rewards = log["x"], log["actions"], log["rewards"]
    q_hat = offpolicy.ridge_reward_model(x, actions, rewards, 4, l2=0.5)
    for arm in range(3):
        rows = actions == arm
        beta = np.linalg.lstsq(
            np.vstack([x[rows], np.sqrt(0.5) * np.eye(3)]),
            np.concatenate([rewards[rows], np.zeros(3)]),
            rcond=None,
        )[0]
        np.testing.assert_allclose(q_hat[:, arm], x @ beta, rtol=1e-9, atol=1e-12)
    assert not q_hat[:, 3].any()  # an arm never taken predicts 0
    with pytest.raises(ValueError, match="`actions` must be in"):
        offpolicy.ridge_reward_model(x, actions, rewards, 2)
    with pytest.raises(ValueError, match="one row per round"):
        offpolicy.ridge_reward_model(x[:3], actions, rewards, 3)


def test_contextual_off_policy_input_errors() -> None:
    log = _contextual_log(6)
    with pytest.raises(TypeError, match="contextual policy"):
        offpolicy.policy_probabilities("LinUCB", log["x"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"`contexts` must have shape \(n, 3\)"):
        offpolicy.policy_probabilities(log["LinUCB"], log["x"][:, :2])
    with pytest.raises(ValueError, match="`contexts` must be finite"):
        offpolicy.policy_probabilities(log["LinUCB"], np.full((2, 3), np.nan))
    with pytest.raises(ValueError, match="`n_samples` must be at least 1"):
        offpolicy.policy_probabilities(log["LinTS"], log["x"], n_samples=0)
