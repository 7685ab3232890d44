"""A request's context for a contextual bandit router: checked, and the exact chance of each arm.

:func:`context_vector` turns what a caller passes (a mapping of feature names to numbers, or a
vector) into the float vector a contextual policy (:mod:`abkit.bandits.contextual`) takes, or
raises a ``ValueError``/``TypeError`` naming ``context`` before anything changes.

:func:`choice_probabilities` gives the probability with which the policy, in its state now,
chooses each arm for that context; the router draws its decision from them, so the propensity
it logs is the exact probability of the decision it made:

* LinUCB chooses the best index ``x' theta + alpha sqrt(x' A^-1 x)``, ties broken uniformly:
  ``1 / m`` on each of the ``m`` tied arms (the same computation as
  :func:`abkit.bandits.offpolicy.policy_probabilities`).
* LinTS and LogisticTS draw each arm's linear score ``x' theta_k`` from its normal posterior,
  independently across arms, and serve the largest: the scores are independent normals
  ``N(m_k, s_k^2)``, so each arm's chance is ``P(arm k has the largest of independent normals)``,
  a one-dimensional integral computed by quadrature to about 1e-10
  (:func:`abkit.bandits._posterior.prob_best`), not by Monte Carlo. Arms whose chance is below
  about 2e-13 get 0. The context is first divided by its largest absolute entry (the choice is
  invariant to scaling ``x`` by a positive number), so tiny contexts cannot underflow the
  variances; the zero context ties every arm (``1 / n_arms`` each), as the policy does.

Examples
--------
>>> from abkit.bandits import LinUCB
>>> policy = LinUCB(2, n_features=2, alpha=0.0, rng=0)
>>> policy.update_batch([0, 1], [1.0, 0.0], [[1.0, 0.0], [1.0, 0.0]])
>>> x = context_vector({"bias": 1.0, "age": 0.0}, 2, ("bias", "age"))
>>> choice_probabilities(policy, x).tolist()
[1.0, 0.0]
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from abkit.adapters._base import _check_names
from abkit.bandits import _linear_kernels as lk
from abkit.bandits import _posterior
from abkit.bandits.contextual import ContextualPolicy

__all__ = ["check_features", "choice_probabilities", "context_vector"]

FloatArray = npt.NDArray[np.float64]


def check_features(features: Any, n_features: int) -> tuple[str, ...] | None:
    """``features`` (one distinct name per feature of the policy) as a tuple, or ``None``."""
    if features is None:
        return None
    names = _check_names("features", features, 1)
    if len(names) != n_features:
        raise ValueError(f"`features` must name the policy's {n_features} features; got {len(names)}.")
    return names


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool | np.bool_):
        return float(value)
    if not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number; got {value!r}.")
    try:
        number = float(value)
    except OverflowError:
        raise ValueError(f"`{name}` must be finite; got a number beyond the float range.") from None
    if not math.isfinite(number):
        raise ValueError(f"`{name}` must be finite; got {number}.")
    return number


def context_vector(context: Any, n_features: int, features: tuple[str, ...] | None) -> FloatArray:
    """The context as a new C-contiguous float64 vector of ``n_features`` finite numbers.

    ``context`` is a mapping with exactly the names ``features`` (when the router has them), or
    a sequence or array of ``n_features`` numbers. Anything else raises, naming ``context``.

    Examples
    --------
    >>> context_vector([1, 2.5], 2, None).tolist()
    [1.0, 2.5]
    >>> context_vector({"a": 1.0}, 2, ("a", "b"))
    Traceback (most recent call last):
    ...
    ValueError: `context` must give every feature; missing ['b'].
    """
    if context is None:
        raise ValueError(f"`context` is required by a contextual policy: a vector of {n_features} numbers"
                         + (f" or a mapping of {list(features)} to numbers." if features else "."))
    if isinstance(context, Mapping):
        if features is None:
            raise TypeError("`context` is a mapping, but this router has no feature names: pass a vector of "
                            f"{n_features} numbers, or build the router with `features=`.")
        unknown = [key for key in context if key not in features]
        missing = [name for name in features if name not in context]
        if unknown or missing:
            parts = ([f"unknown {unknown}"] if unknown else []) + ([f"missing {missing}"] if missing else [])
            verb = "must give every feature and no other" if unknown and missing else (
                "must name only the router's features" if unknown else "must give every feature")
            raise ValueError(f"`context` {verb}; {', '.join(parts)}.")
        return np.array([_number(f"context[{name!r}]", context[name]) for name in features], dtype=np.float64)
    if isinstance(context, str | bytes) or not isinstance(context, Sequence | np.ndarray):
        raise TypeError(f"`context` must be a vector of {n_features} numbers or a mapping of feature names "
                        f"to numbers; got {type(context).__name__}.")
    if isinstance(context, np.ndarray) and not (
        np.issubdtype(context.dtype, np.number) or context.dtype == np.bool_
    ):
        raise TypeError(f"`context` must hold real numbers; got dtype {context.dtype}.")
    if np.ndim(context) != 1 or len(context) != n_features:
        raise ValueError(f"`context` must have {n_features} features; got shape {np.shape(context)}.")
    if isinstance(context, np.ndarray):
        if np.iscomplexobj(context):
            raise TypeError(f"`context` must hold real numbers; got dtype {context.dtype}.")
        vector = np.array(context, dtype=np.float64)
        if not np.isfinite(vector).all():
            bad = int(np.argmax(~np.isfinite(vector)))
            raise ValueError(f"`context[{bad}]` must be finite; got {vector[bad]}.")
        return vector
    return np.array([_number(f"context[{i}]", v) for i, v in enumerate(context)], dtype=np.float64)


def choice_probabilities(policy: ContextualPolicy, x: FloatArray) -> FloatArray:
    """The probability that ``policy`` (its state now) serves each arm for context ``x``.

    ``x`` is a checked vector (:func:`context_vector`). Exact for LinUCB; by quadrature, to
    about 1e-10, for LinTS and LogisticTS (see the module notes). The result sums to 1.
    """
    n = policy.n_arms
    mean, scale = np.empty(n), np.empty(n)
    if policy._kind == lk.LINUCB:  # the index, computed as the policy does; ties shared equally
        with policy._lock:
            lk.score_moments(lk.LINUCB, policy._table, policy._params, x, mean, scale)
        top_arms = mean == mean.max()
        exact: FloatArray = top_arms / np.count_nonzero(top_arms)
        return exact
    top = float(np.abs(x).max())
    if top == 0.0:  # every score is exactly 0: the policy breaks the tie uniformly
        return np.full(n, 1.0 / n)
    scaled = x / top
    with policy._lock:
        lk.score_moments(policy._kind, policy._table, policy._params, scaled, mean, scale)
    if not (np.isfinite(mean).all() and np.isfinite(scale).all() and (scale > 0).all()):
        raise ValueError(f"The posterior scores for this `context` are degenerate (means {mean.tolist()}, "
                         f"scales {scale.tolist()}); no propensity can be given.")
    p = np.maximum(_posterior.prob_best(_posterior.normal_marginals(mean, scale)), 0.0)
    result: FloatArray = p / p.sum()
    return result
