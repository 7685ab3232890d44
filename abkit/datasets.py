"""Seeded synthetic data for the demo, the notebooks and the tests: an A/B experiment
(:func:`make_experiment`) and a shadow log (:func:`make_shadow_log`).

Examples
--------
>>> df = make_experiment(1000, rng=1)
>>> sorted(df.columns)  # doctest: +NORMALIZE_WHITESPACE
['clicks', 'converted', 'country', 'platform', 'revenue', 'revenue_pre', 'sessions', 'user_id',
 'variant']
>>> sorted(df["variant"].unique())
['control', 'treatment']
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from abkit._validation import (
    RngLike,
    check_id,
    check_int,
    check_nonnegative,
    check_open_unit,
    check_positive,
    check_real,
    check_rng,
    check_share,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["make_experiment", "make_shadow_log"]


def make_experiment(
    n_users: int = 20_000,
    *,
    conversion_rate: float = 0.10,
    conversion_lift: float = 0.08,
    revenue_lift: float = 0.03,
    ctr_lift: float = 0.05,
    treatment_share: float = 0.5,
    rng: RngLike = 0,
) -> pd.DataFrame:
    """A user-level A/B experiment: one row per user, randomised by user.

    Columns: ``user_id``; ``variant`` (``"control"`` or ``"treatment"``); ``sessions`` and
    ``clicks`` (for the ratio metric clicks per session); ``converted`` (0/1);
    ``revenue`` and ``revenue_pre`` (the same user's revenue before the experiment, correlated
    with ``revenue``: the CUPED covariate); ``country`` (``"US"``, ``"DE"``, ``"IN"``) and
    ``platform`` (``"ios"``, ``"android"``, ``"web"``), segment columns independent of the
    rest (drawn last, so the other columns do not depend on them).

    Parameters
    ----------
    n_users
        Number of users (rows).
    conversion_rate
        Control conversion rate.
    conversion_lift, revenue_lift, ctr_lift
        Relative effects of the treatment on conversion, revenue per user and clicks per session.
    treatment_share
        Probability that a user is assigned to treatment.
    rng
        Seed or ``numpy.random.Generator``.

    Returns
    -------
    pandas.DataFrame
    """
    import pandas as pd

    n_users = check_int("n_users", n_users, minimum=2)
    conversion_rate = check_open_unit("conversion_rate", conversion_rate)
    lifts = [check_real(name, value) for name, value in
             (("conversion_lift", conversion_lift), ("revenue_lift", revenue_lift),
              ("ctr_lift", ctr_lift))]
    treatment_share = check_open_unit("treatment_share", treatment_share)
    generator = check_rng(rng)

    treated = generator.random(n_users) < treatment_share
    activity = generator.gamma(shape=2.0, scale=1.0, size=n_users)  # user's propensity to engage
    sessions = 1 + generator.poisson(2.0 * activity)
    ctr = np.clip(0.08 * (1.0 + lifts[2] * treated), 0.0, 1.0)
    clicks = generator.binomial(sessions, ctr)
    p_convert = np.clip(conversion_rate * (1.0 + lifts[0] * treated), 0.0, 1.0)
    converted = (generator.random(n_users) < p_convert).astype(np.int64)
    revenue_pre = generator.lognormal(mean=np.log(20.0 * activity), sigma=0.5)
    noise = generator.lognormal(mean=0.0, sigma=0.4, size=n_users)
    revenue = revenue_pre * noise * (1.0 + lifts[1] * treated)
    country = np.array(["US", "DE", "IN"])[
        np.searchsorted([0.5, 0.75], generator.random(n_users), side="right")]
    platform = np.array(["ios", "android", "web"])[
        np.searchsorted([0.4, 0.8], generator.random(n_users), side="right")]
    return pd.DataFrame(
        {
            "user_id": np.arange(n_users, dtype=np.int64),
            "variant": np.where(treated, "treatment", "control"),
            "sessions": sessions.astype(np.int64),
            "clicks": clicks.astype(np.int64),
            "converted": converted,
            "revenue": revenue,
            "revenue_pre": revenue_pre,
            "country": country,
            "platform": platform,
        }
    )


def make_shadow_log(
    n_requests: int = 20_000,
    *,
    models: dict[str, float] | None = None,
    latency_ms: dict[str, float] | None = None,
    positive_rate: float = 0.3,
    difficulty: float = 1.0,
    missing_rate: float = 0.0,
    pending_rate: float = 0.0,
    rng: RngLike = 0,
) -> pd.DataFrame:
    """A seeded synthetic shadow log (long layout, pandas) for notebooks, tests and benchmarks.

    Scores are ``sigmoid(separation * (2 y - 1) + shared + own)`` with request-level noise
    ``shared`` common to all models (what makes the comparison paired) and model noise ``own``;
    latencies are log-normal with a request-level component shared by the models.

    Parameters
    ----------
    n_requests
        Requests, each answered by every model (except a ``missing_rate`` share per challenger).
    models
        ``{name: separation}``; the first is the champion. Default ``{"champion": 1.0,
        "challenger": 1.1}``.
    latency_ms
        ``{name: median latency}``; default 40 ms for every model.
    positive_rate
        Share of positive labels.
    difficulty
        Standard deviation of the request-level noise shared by all models' logits (each model
        adds its own unit-variance noise); larger values make the models' errors more
        correlated, and pairing more valuable.
    missing_rate, pending_rate
        Share of requests a challenger did not answer, and of labels not yet arrived.
    rng
        Seed or ``numpy.random.Generator``.

    Returns
    -------
    pandas.DataFrame
        Columns ``request_id, model, score, label, latency, timestamp``.

    Examples
    --------
    >>> df = make_shadow_log(100, rng=1)
    >>> sorted(df["model"].unique()), len(df)
    (['challenger', 'champion'], 200)
    """
    import pandas as pd

    n = check_int("n_requests", n_requests, minimum=1, maximum=10**8)
    generator = check_rng(rng)
    models = {"champion": 1.0, "challenger": 1.1} if models is None else models
    if not isinstance(models, dict) or not models:
        raise TypeError(f"`models` must be a dict of model name to separation; got {models!r}.")
    latency_ms = dict.fromkeys(models, 40.0) if latency_ms is None else latency_ms
    for name, separation in models.items():
        check_id("models", name)
        check_real("models", separation)
    if not isinstance(latency_ms, dict) or set(latency_ms) != set(models):
        raise TypeError(f"`latency_ms` must be a dict with one entry per model; got {latency_ms!r}.")
    for value in latency_ms.values():
        check_positive("latency_ms", value)
    positive_rate = check_share("positive_rate", positive_rate)
    difficulty = check_nonnegative("difficulty", difficulty)
    missing_rate = check_share("missing_rate", missing_rate)
    pending_rate = check_share("pending_rate", pending_rate)
    y = (generator.random(n) < positive_rate).astype(float)
    shared = generator.normal(0.0, difficulty, n)
    shared_latency = generator.normal(0.0, 0.3, n)
    timestamp = pd.Timestamp("2026-01-01") + pd.to_timedelta(np.sort(generator.uniform(0, 86_400, n)), "s")
    label = np.where(generator.random(n) < pending_rate, np.nan, y)
    frames = []
    for position, (name, separation) in enumerate(models.items()):
        logit = separation * (2.0 * y - 1.0) + shared + generator.normal(0.0, 1.0, n)
        with np.errstate(over="ignore"):  # a huge `difficulty` saturates the sigmoid at 0 or 1
            score = 1.0 / (1.0 + np.exp(-logit))
        latency = latency_ms[name] * np.exp(shared_latency + generator.normal(0.0, 0.2, n))
        answered = np.ones(n, dtype=bool) if position == 0 else generator.random(n) >= missing_rate
        frames.append(pd.DataFrame({
            "request_id": np.arange(n)[answered], "model": name,
            "score": score[answered], "label": label[answered],
            "latency": latency[answered], "timestamp": timestamp[answered],
        }))
    return pd.concat(frames, ignore_index=True)
