"""Regenerate obp_reference.json: Open Bandit Pipeline's estimates on seeded logged data.

Run outside abkit's environment, in a venv with ``obp==0.5.7``. Its pins fail to build on
Python 3.11, so: ``pip install --no-deps --ignore-requires-python obp==0.5.7`` plus ``numpy<2``,
scipy, ``scikit-learn<1.6``, ``pandas<2.2``, matplotlib, seaborn, tqdm and pyyaml. obp imports
torch at module level for its neural-network policies, which the estimators used here never
call; instead of the multi-gigabyte wheel, an import-only stand-in was put on ``PYTHONPATH`` as
``torch/__init__.py``: a module whose ``__getattr__`` (and a ``sys.meta_path`` finder for
``torch.*`` submodules) returns an inert class for any name (raising ``AttributeError`` for
dunder names so that dataclasses subclassing ``torch.utils.data.Dataset`` still build). Then::

    cd abkit/tests/bandits/data && PYTHONPATH=/path/to/stub python make_obp_reference.py > obp_reference.json

Only NumPy is imported at module level so that pytest's doctest collection can import this file.
"""

from __future__ import annotations

import json

import numpy as np

SEED = 20240611
N_ROUNDS, N_ARMS = 300, 4


def logged_data() -> dict[str, list]:
    """Seeded logged bandit data: a stochastic logging policy, a target policy, a reward model."""
    rng = np.random.default_rng(SEED)
    logging = rng.dirichlet(np.ones(N_ARMS), size=N_ROUNDS) * 0.8 + 0.2 / N_ARMS
    actions = np.array([rng.choice(N_ARMS, p=row) for row in logging])
    means = rng.uniform(0.05, 0.4, size=(N_ROUNDS, N_ARMS))
    rewards = (rng.random(N_ROUNDS) < means[np.arange(N_ROUNDS), actions]).astype(float)
    target = rng.dirichlet(np.full(N_ARMS, 0.5), size=N_ROUNDS)
    target /= target.sum(axis=1, keepdims=True)
    q_hat = np.clip(means + rng.normal(0, 0.05, size=means.shape), 0, 1)
    target_actions = rng.integers(0, N_ARMS, size=N_ROUNDS)
    return {
        "rewards": rewards.tolist(),
        "actions": actions.tolist(),
        "propensities": logging[np.arange(N_ROUNDS), actions].tolist(),
        "target": target.tolist(),
        "q_hat": q_hat.tolist(),
        "target_actions": target_actions.tolist(),
    }


def main() -> None:
    import obp
    from obp.ope import (
        DirectMethod,
        DoublyRobust,
        InverseProbabilityWeighting,
        ReplayMethod,
        SelfNormalizedInverseProbabilityWeighting,
    )

    data = logged_data()
    reward = np.array(data["rewards"])
    action = np.array(data["actions"])
    pscore = np.array(data["propensities"])
    action_dist = np.array(data["target"])[:, :, None]
    q_hat = np.array(data["q_hat"])[:, :, None]
    one_hot = np.zeros_like(action_dist)
    one_hot[np.arange(N_ROUNDS), np.array(data["target_actions"]), 0] = 1.0
    common = {"reward": reward, "action": action, "pscore": pscore, "action_dist": action_dist}
    calls = {
        "ips": (InverseProbabilityWeighting(), common),
        "ips_clip_2": (InverseProbabilityWeighting(lambda_=2.0), common),
        "snips": (SelfNormalizedInverseProbabilityWeighting(), common),
        "direct_method": (
            DirectMethod(),
            {"action_dist": action_dist, "estimated_rewards_by_reg_model": q_hat},
        ),
        "doubly_robust": (DoublyRobust(), {**common, "estimated_rewards_by_reg_model": q_hat}),
        "replay": (ReplayMethod(), {"reward": reward, "action": action, "action_dist": one_hot}),
    }
    expected = {}
    for name, (estimator, kwargs) in calls.items():
        interval = estimator.estimate_interval(
            **kwargs, alpha=0.05, n_bootstrap_samples=10000, random_state=12345
        )
        expected[name] = {
            "value": float(estimator.estimate_policy_value(**kwargs)),
            "bootstrap_ci": [float(interval["95.0% CI (lower)"]), float(interval["95.0% CI (upper)"])],
        }
    print(
        json.dumps(
            {
                "source": (
                    f"obp {obp.__version__} (numpy {np.__version__}): obp.ope estimators' "
                    "estimate_policy_value(...) and estimate_interval(..., alpha=0.05, "
                    "n_bootstrap_samples=10000, random_state=12345); action_dist and "
                    "estimated_rewards_by_reg_model with one position; replay's action_dist "
                    "is target_actions one-hot; ips_clip_2 is lambda_=2.0"
                ),
                "seed": SEED,
                "inputs": data,
                "expected": expected,
            }
        )
    )


if __name__ == "__main__":
    main()
