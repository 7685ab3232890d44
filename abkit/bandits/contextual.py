"""Contextual bandit policies: choose an arm for a request's feature vector, learn per arm.

Three policies share one interface (:class:`ContextualPolicy`), each with a model per arm
(disjoint models) over ``n_features`` numbers describing the request:

* :class:`LinUCB` (Li et al., 2010): the best ``x' theta_k + alpha sqrt(x' A_k^-1 x)``, with
  ``A_k = l2 I + X_k' X_k`` and ``theta_k = A_k^-1 X_k' y_k`` the ridge estimate;
* :class:`LinTS` (Agrawal and Goyal, 2013): Bayesian linear regression per arm with prior
  ``theta_k ~ N(0, (v / l2) I)`` and noise variance ``v``, so the posterior is
  ``N(theta_k, v A_k^-1)``; each request draws from it;
* :class:`LogisticTS` (Chapelle and Li, 2011): logistic regression per arm for rewards in
  [0, 1] (conversions), prior ``N(0, I / l2)``, posterior approximated by Laplace's method and
  updated online; each request draws from it.

State and service use
---------------------
* The state is per arm the sums ``X'X`` and ``X'y`` (for LogisticTS the Laplace terms, see
  :mod:`abkit.bandits._linear_kernels`), from which the inverse and the estimate are kept by
  rank-one updates and recomputed exactly every 1,000 rewards of an arm: safe for millions of
  updates. The prior (``l2``, ``v``) is configuration, never counted as data.
* ``select(context)`` + ``update(arm, reward, context)`` cost a few microseconds from Python
  with 10 features and 10 arms; contexts may be lists or NumPy arrays (a C-contiguous float64
  array of the right length is used as is).
* Every public method takes the policy's lock; bad input raises and leaves the state unchanged.
* ``to_json()`` / ``from_json()`` use the state envelope of :mod:`abkit._state`.
* ``a.merge(b, base=...)`` adds both policies' sums (``a + b - base``): for LinUCB and LinTS the
  result equals one policy fed all the data, to rounding.

LogisticTS's ``update`` is one Laplace step on one reward (the current posterior as prior; the
exact mode of a one-dimensional problem), and ``update_batch`` one Laplace step on the whole
batch (Newton's method to the exact mode), so a batch from the prior gives exactly the
Laplace approximation of ridge logistic regression on it. Sequential updates (assumed density
filtering) give a different, cheaper approximation than one batch of the same rewards; a merge
adds the two streams' Laplace terms.

Examples
--------
>>> policy = LinUCB(3, n_features=2, alpha=1.0, rng=0)
>>> arm = policy.select([1.0, 0.5])
>>> policy.update(arm, 1.0, [1.0, 0.5])
>>> policy.n_updates
1
>>> LinUCB.from_json(policy.to_json()).n_updates
1
"""

from __future__ import annotations

import math
import numbers
import threading
from typing import Any, ClassVar, NamedTuple

import numpy as np
import numpy.typing as npt

from abkit._state import dump_state, load_state
from abkit._validation import check_int, check_nonnegative, check_positive, check_real, check_rng
from abkit.bandits import _kernels as k
from abkit.bandits import _linear_kernels as lk
from abkit.errors import StateError

__all__ = ["ContextualPolicy", "ContextualState", "LinTS", "LinUCB", "LogisticTS"]

FloatArray = npt.NDArray[np.float64]
STATE_VERSION = 1


class ContextualState(NamedTuple):
    """Per-arm statistics (copies): ``counts`` ``(arms,)``, ``gram`` ``(arms, d, d)``, ``moment``,
    ``coef`` ``(arms, d)`` and ``inverse`` ``(arms, d, d)``.

    ``gram`` and ``moment`` are ``X'X`` and ``X'y`` (LogisticTS: its Laplace terms), ``inverse``
    is ``(l2 I + gram)^-1`` and ``coef`` the posterior mean ``inverse @ moment``.
    """

    counts: FloatArray
    gram: FloatArray
    moment: FloatArray
    coef: FloatArray
    inverse: FloatArray


class ContextualPolicy:
    """The interface every contextual policy shares; use a subclass."""

    _kind: ClassVar[int]
    _explore_name: ClassVar[str | None]  # the option stored as ``explore``, if any
    _bounded: ClassVar[bool]  # rewards must lie in [0, 1]

    def __init__(self, n_arms: int, n_features: int, *, explore: float, l2: float, rng: Any) -> None:
        n = check_int("n_arms", n_arms, minimum=1)
        d = check_int("n_features", n_features, minimum=1)
        self._params = np.zeros(lk.N_PARAMS)
        self._params[lk.P_EXPLORE] = explore
        self._params[lk.P_L2] = check_positive("l2", l2)
        self._params[lk.P_FEATURES] = d
        self._table = np.zeros((n, lk.width(d)))
        self._work = np.empty(lk.work_size(d))
        lk.refresh_all(self._table, self._params, self._work)
        self._rng = check_rng(rng)
        self._buf = k.new_buffer(n)
        self._lock = threading.Lock()
        self._d = d

    # --- description ----------------------------------------------------------------------------

    @property
    def n_arms(self) -> int:
        """Number of arms."""
        return int(self._table.shape[0])

    @property
    def n_features(self) -> int:
        """Length of a context vector."""
        return self._d

    @property
    def n_updates(self) -> int:
        """Number of rewards received."""
        return int(self._params[lk.P_UPDATES])

    def _options(self) -> dict[str, float]:
        options = {"l2": float(self._params[lk.P_L2])}
        if self._explore_name is not None:
            options[self._explore_name] = float(self._params[lk.P_EXPLORE])
        return options

    def _config(self) -> dict[str, Any]:
        return {"n_arms": self.n_arms, "n_features": self._d, **self._options()}

    @property
    def state(self) -> ContextualState:
        """A copy of the per-arm statistics."""
        with self._lock:
            table = self._table.copy()
        d, n = self._d, self.n_arms
        g = lk.HEAD
        b = g + d * d
        inv = b + d
        theta = inv + d * d
        return ContextualState(
            table[:, lk.COUNT].copy(),
            _symmetric(table[:, g:b].reshape(n, d, d)),
            table[:, b:inv].copy(),
            table[:, theta:].copy(),
            _symmetric(table[:, inv:theta].reshape(n, d, d)),
        )

    def posterior(self, arm: int) -> tuple[FloatArray, FloatArray]:
        """Posterior mean and covariance of ``arm``'s coefficients.

        LinTS: ``N(coef, v inverse)``; LogisticTS: the Laplace approximation
        ``N(mode, inverse)``; LinUCB: the ridge estimate and ``inverse`` (its confidence
        ellipsoid's shape, scaled by ``alpha`` in the index).
        """
        arm = self._check_arm(arm)
        state = self.state
        scale = float(self._params[lk.P_EXPLORE]) if self._kind == lk.LINTS else 1.0
        return state.coef[arm], scale * state.inverse[arm]

    # --- input checks ---------------------------------------------------------------------------

    def _context(self, context: Any, name: str = "context") -> FloatArray:
        if (
            type(context) is np.ndarray
            and context.dtype == np.float64
            and context.shape == (self._d,)
            and context.flags.c_contiguous
        ):
            return context
        try:
            array = np.asarray(context, dtype=np.float64)
        except OverflowError:  # an int beyond the float range, e.g. 10**400
            raise ValueError(f"`{name}` must be finite; it holds a number beyond the float range.") from None
        except (TypeError, ValueError) as exc:
            raise TypeError(f"`{name}` must be a vector of {self._d} real numbers; got {context!r}.") from exc
        if array.shape != (self._d,):
            raise ValueError(f"`{name}` must have {self._d} features; got shape {array.shape}.")
        if isinstance(context, np.ndarray) and not np.issubdtype(context.dtype, np.number):
            raise TypeError(f"`{name}` must hold real numbers; got dtype {context.dtype}.")
        return np.ascontiguousarray(array)

    def _contexts(self, contexts: Any, n: int | None = None) -> FloatArray:
        try:
            array = np.asarray(contexts, dtype=np.float64)
        except OverflowError:
            raise ValueError("`contexts` must be finite; it holds a number beyond the float range.") from None
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"`contexts` must be a matrix of real numbers; got {type(contexts).__name__}."
            ) from exc
        if isinstance(contexts, np.ndarray) and not np.issubdtype(contexts.dtype, np.number):
            raise TypeError(f"`contexts` must hold real numbers; got dtype {contexts.dtype}.")
        if array.ndim != 2 or array.shape[1] != self._d:
            raise ValueError(f"`contexts` must have shape (n, {self._d}); got {array.shape}.")
        if n is not None and array.shape[0] != n:
            raise ValueError(f"`contexts` must have one row per reward ({n}); got {array.shape[0]}.")
        if not np.isfinite(array).all():
            row = int(np.argmax(~np.isfinite(array).all(axis=1)))
            raise ValueError(f"`contexts` must be finite; row {row} is {array[row].tolist()}.")
        return np.ascontiguousarray(array)

    def _check_arm(self, arm: Any) -> int:
        if isinstance(arm, bool) or not isinstance(arm, numbers.Integral):
            raise TypeError(f"`arm` must be an integer; got {arm!r}.")
        if not 0 <= int(arm) < self.n_arms:
            raise ValueError(f"`arm` must be in [0, {self.n_arms - 1}]; got {int(arm)}.")
        return int(arm)

    def _check_reward(self, reward: Any, name: str = "reward") -> float:
        value = check_real(name, reward) if not isinstance(reward, float) else reward
        if math.isnan(value):
            raise ValueError(f"`{name}` must not be NaN; got nan.")
        if math.isinf(value):
            raise ValueError(f"`{name}` must be finite; got {value}.")
        if self._bounded and not 0.0 <= value <= 1.0:
            raise ValueError(f"`{name}` must be in [0, 1] for {type(self).__name__}; got {value}.")
        return float(value)

    # --- the hot path ---------------------------------------------------------------------------

    def select(self, context: Any) -> int:
        """The arm to serve for one request with feature vector ``context``."""
        x = self._context(context)
        with self._lock:
            arm: int = lk.choose(self._kind, self._table, self._params, x, self._buf)
            if arm == k.EXHAUSTED:
                self._rng.random(out=self._buf[k.HEADER :])
                self._buf[0], self._buf[1] = k.HEADER, math.nan
                arm = lk.choose(self._kind, self._table, self._params, x, self._buf)
        if arm == lk.BAD_CONTEXT:
            raise ValueError(f"`context` must be finite; got {x.tolist()}.")
        return arm

    def select_many(self, contexts: Any) -> npt.NDArray[np.int64]:
        """One arm per row of ``contexts`` before any feedback (the same as that many ``select``)."""
        x = self._contexts(contexts)
        with self._lock:
            arms: npt.NDArray[np.int64] = lk.choose_many(
                self._kind, self._table, self._params, x, self._buf, self._rng
            )
        return arms

    def update(self, arm: int, reward: float, context: Any) -> None:
        """Record ``reward`` for ``arm`` served in ``context`` (feedback may arrive late)."""
        if type(arm) is not int or not 0 <= arm < self._table.shape[0]:
            arm = self._check_arm(arm)
        if (
            type(reward) is not float
            or not math.isfinite(reward)
            or (self._bounded and not 0.0 <= reward <= 1.0)
        ):
            reward = self._check_reward(reward)
        x = self._context(context)
        with self._lock:
            status = lk.update_one(self._kind, self._table, self._params, arm, x, reward, self._work)
        if status == lk.BAD_CONTEXT:
            raise ValueError(f"`context` must be finite; got {x.tolist()}.")

    def update_batch(self, arms: Any, rewards: Any, contexts: Any) -> None:
        """Record many rewards (``arms[j]``, ``rewards[j]``, ``contexts[j]``); all checked first."""
        arm_array = _vector("arms", arms)
        reward_array = _vector("rewards", rewards)
        if arm_array.ndim != 1 or not (np.issubdtype(arm_array.dtype, np.integer) or arm_array.size == 0):
            raise TypeError(f"`arms` must be a 1-D array of integers; got dtype {arm_array.dtype}.")
        if reward_array.ndim != 1 or not (
            np.issubdtype(reward_array.dtype, np.integer) or np.issubdtype(reward_array.dtype, np.floating)
        ):
            raise TypeError(f"`rewards` must be a 1-D array of real numbers; got dtype {reward_array.dtype}.")
        if arm_array.size != reward_array.size:
            raise ValueError(
                "`arms` and `rewards` must have the same length; "
                f"got {arm_array.size} and {reward_array.size}."
            )
        x = self._contexts(contexts, arm_array.size)
        arm_array = np.ascontiguousarray(arm_array, dtype=np.int64)
        reward_array = np.ascontiguousarray(reward_array, dtype=np.float64)
        bad = (arm_array < 0) | (arm_array >= self.n_arms)
        if bad.any():
            self._check_arm(int(arm_array[bad.argmax()]))
        low, high = (0.0, 1.0) if self._bounded else (-np.inf, np.inf)
        bad_reward = ~((reward_array >= low) & (reward_array <= high)) | ~np.isfinite(reward_array)
        if bad_reward.any():
            self._check_reward(float(reward_array[bad_reward.argmax()]), "rewards")
        with self._lock:
            if self._kind == lk.LOGISTIC_TS:
                lk.laplace_many(self._table, self._params, arm_array, x, reward_array, self._work)
            else:
                lk.update_many(self._table, self._params, arm_array, x, reward_array, self._work)

    # --- what the state says --------------------------------------------------------------------

    def expected_rewards(self, contexts: Any) -> FloatArray:
        """Posterior mean reward of every arm for every row of ``contexts``, shape ``(n, n_arms)``.

        ``x' coef`` (LinUCB, LinTS) or ``sigmoid(x' mode)`` (LogisticTS): the greedy choice's
        scores, and a reward model for the direct method.
        """
        x = self._contexts(contexts)
        coef = self.state.coef
        scores: FloatArray = x @ coef.T
        if self._kind == lk.LOGISTIC_TS:
            scores = np.asarray(1.0 / (1.0 + np.exp(-scores)))
        return scores

    # --- serialisation and merging --------------------------------------------------------------

    def to_json(self) -> str:
        """The state as JSON in the abkit envelope: configuration, ``n_updates`` and per-arm sums.

        The inverse and estimate are recomputed from the sums on loading (not the random stream).
        """
        state = self.state
        return dump_state(
            type(self).__name__,
            STATE_VERSION,
            self._config(),
            {
                "n_updates": self.n_updates,
                "counts": state.counts.tolist(),
                "gram": state.gram.tolist(),
                "moment": state.moment.tolist(),
            },
        )

    @classmethod
    def from_json(cls, text: str, *, rng: Any = None) -> ContextualPolicy:
        """A policy from ``to_json()`` output; ``StateError`` if corrupt or of another policy."""
        envelope = load_state(text, cls.__name__, versions=(STATE_VERSION,))
        config, state = envelope.config, envelope.state
        names = {"l2"} | ({cls._explore_name} if cls._explore_name is not None else set())
        expected = {"n_arms", "n_features"} | names
        if set(config) != expected:
            raise StateError(
                f"{cls.__name__} state: `config` must have keys {sorted(expected)}; got {sorted(config)}."
            )
        if set(state) != {"n_updates", "counts", "gram", "moment"}:
            raise StateError(
                f"{cls.__name__} state: `state` must have keys counts, gram, moment, n_updates; "
                f"got {sorted(state)}."
            )
        try:
            if any(type(config[key]) not in (int, float) for key in expected):
                raise TypeError("`config` values must be numbers.")
            options = {name: config[name] for name in names}
            policy = cls(config["n_arms"], n_features=config["n_features"], **options, rng=rng)
            n, d = policy.n_arms, policy.n_features
            n_updates = state["n_updates"]
            if type(n_updates) is not int or n_updates < 0:
                raise ValueError(f"`n_updates` must be a non-negative integer; got {n_updates!r}.")
            counts = _numbers("counts", state["counts"], (n,))
            gram = _numbers("gram", state["gram"], (n, d, d))
            moment = _numbers("moment", state["moment"], (n, d))
            if (counts < 0).any():
                raise ValueError(f"`counts` must be at least 0; got {counts.tolist()}.")
            if not np.array_equal(gram, gram.transpose(0, 2, 1)):
                raise ValueError("`gram` must hold symmetric matrices.")
            l2 = policy._params[lk.P_L2]
            if (np.linalg.eigvalsh(gram).min(axis=1) < -1e-9 * (l2 + np.abs(gram).max(axis=(1, 2)))).any():
                raise ValueError("`gram` must hold positive semi-definite matrices.")
        except (TypeError, ValueError) as exc:
            raise StateError(f"The {cls.__name__} state is invalid: {exc}") from exc
        policy._load(counts, gram, moment, float(n_updates))
        return policy

    def _load(self, counts: FloatArray, gram: FloatArray, moment: FloatArray, n_updates: float) -> None:
        n, d = self.n_arms, self._d
        table = np.zeros_like(self._table)
        table[:, lk.COUNT] = counts
        table[:, lk.HEAD : lk.HEAD + d * d] = gram.reshape(n, d * d)
        table[:, lk.HEAD + d * d : lk.HEAD + d * d + d] = moment
        params = self._params.copy()
        params[lk.P_UPDATES] = n_updates
        lk.refresh_all(table, params, self._work)
        with self._lock:
            self._table, self._params = table, params

    def _same_setup(self, other: ContextualPolicy, name: str) -> None:
        if type(other) is not type(self):
            raise TypeError(f"`{name}` must be a {type(self).__name__}; got {type(other).__name__}.")
        if other._config() != self._config():
            raise ValueError(f"`{name}` must have the same arms, features and options; it does not.")

    def merge(self, other: ContextualPolicy, *, base: ContextualPolicy | None = None) -> ContextualPolicy:
        """Both policies' data together, as a new policy: ``self + other - base``.

        ``base`` is a state both started from (e.g. both loaded the same JSON), counted once;
        without it both must have started empty. The prior is counted once.
        """
        self._same_setup(other, "other")
        parts = [self.state, other.state]
        n_updates = self.n_updates + other.n_updates
        if base is not None:
            self._same_setup(base, "base")
            shared = base.state
            if (
                base.n_updates > min(self.n_updates, other.n_updates)
                or (shared.counts > np.minimum(parts[0].counts, parts[1].counts)).any()
            ):
                raise ValueError("`base` must be an earlier state of both policies; it has more updates.")
            n_updates -= base.n_updates
        counts = parts[0].counts + parts[1].counts
        gram = parts[0].gram + parts[1].gram
        moment = parts[0].moment + parts[1].moment
        if base is not None:
            counts -= shared.counts
            gram -= shared.gram
            moment -= shared.moment
        result = object.__new__(type(self))
        ContextualPolicy.__init__(
            result,
            self.n_arms,
            self._d,
            explore=float(self._params[lk.P_EXPLORE]),
            l2=float(self._params[lk.P_L2]),
            rng=self._rng.spawn(1)[0],
        )
        result._load(counts, gram, moment, float(n_updates))
        return result

    def __repr__(self) -> str:
        options = ", ".join(f"{key}={value!r}" for key, value in self._config().items() if key != "n_arms")
        return f"{type(self).__name__}(n_arms={self.n_arms}, {options}, n_updates={self.n_updates})"


def _symmetric(lower: FloatArray) -> FloatArray:
    """Matrices from their lower triangles (the kernels keep only those up to date)."""
    result: FloatArray = np.tril(lower) + np.tril(lower, -1).transpose(0, 2, 1)
    return result


def _vector(name: str, values: Any) -> npt.NDArray[Any]:
    """``values`` as an array, or a ``TypeError`` naming ``name`` (a ragged list, say)."""
    try:
        return np.asarray(values)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a 1-D array of numbers; got {type(values).__name__}.") from None


def _numbers(name: str, values: Any, shape: tuple[int, ...]) -> FloatArray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be an array of numbers of shape {shape}.") from None
    if array.shape != shape:
        raise ValueError(f"`{name}` must have shape {shape}; got {array.shape}.")
    if not np.isfinite(array).all():
        raise ValueError(f"`{name}` must be finite.")
    return array


class LinUCB(ContextualPolicy):
    """Disjoint LinUCB (Li, Chu, Langford and Schapire, 2010): the best upper confidence bound.

    Each arm's index is ``x' theta + alpha sqrt(x' A^-1 x)``, ``A = l2 I + X'X`` and ``theta``
    the ridge estimate ``A^-1 X'y`` (the same as MABWiser's ``LinUCB(alpha, l2_lambda)``).
    Ties are broken at random.

    Examples
    --------
    >>> policy = LinUCB(2, n_features=2, alpha=0.5, rng=0)
    >>> policy.update_batch([0, 1, 0, 1], [1.0, 0.0, 1.0, 0.0], [[1, 0], [1, 0], [1, 0], [1, 0]])
    >>> policy.select([1.0, 0.0])
    0
    """

    _kind = lk.LINUCB
    _explore_name = "alpha"
    _bounded = False

    def __init__(
        self, n_arms: int, n_features: int, *, alpha: float = 1.0, l2: float = 1.0, rng: Any = None
    ) -> None:
        super().__init__(n_arms, n_features, explore=check_nonnegative("alpha", alpha), l2=l2, rng=rng)


class LinTS(ContextualPolicy):
    """Linear Thompson sampling: Bayesian linear regression per arm, a posterior draw per request.

    Model: ``y = x' theta + e``, ``e ~ N(0, v)``, prior ``theta ~ N(0, (v / l2) I)``; the
    posterior is ``N(A^-1 X'y, v A^-1)`` with ``A = l2 I + X'X``. MABWiser's
    ``LinTS(alpha, l2_lambda)`` is the same policy with ``v = alpha**2``.

    Examples
    --------
    >>> policy = LinTS(2, n_features=1, v=0.01, rng=0)
    >>> policy.update_batch([0] * 20 + [1] * 20, [1.0] * 20 + [0.0] * 20, [[1.0]] * 40)
    >>> policy.select([1.0])
    0
    """

    _kind = lk.LINTS
    _explore_name = "v"
    _bounded = False

    def __init__(
        self, n_arms: int, n_features: int, *, v: float = 1.0, l2: float = 1.0, rng: Any = None
    ) -> None:
        super().__init__(n_arms, n_features, explore=check_positive("v", v), l2=l2, rng=rng)


class LogisticTS(ContextualPolicy):
    """Thompson sampling with Bayesian logistic regression per arm (Laplace approximation).

    Rewards in [0, 1] (fractions count as Bernoulli log-likelihood weights); prior
    ``N(0, I / l2)``. Each request draws the linear score ``x' w`` from the approximate
    posterior ``N(mode, H^-1)`` (``H`` the precision) and serves the best draw.

    Examples
    --------
    >>> policy = LogisticTS(2, n_features=1, rng=0)
    >>> policy.update_batch([0] * 50 + [1] * 50, [1.0] * 45 + [0.0] * 5 + [0.0] * 50, [[1.0]] * 100)
    >>> policy.expected_rewards([[1.0]]).round(2).tolist()
    [[0.86, 0.06]]
    """

    _kind = lk.LOGISTIC_TS
    _explore_name = None
    _bounded = True

    def __init__(self, n_arms: int, n_features: int, *, l2: float = 1.0, rng: Any = None) -> None:
        super().__init__(n_arms, n_features, explore=1.0, l2=l2, rng=rng)
