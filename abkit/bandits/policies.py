"""Bandit policies a request router calls on every request: choose an arm, record its reward.

Five policies share one interface (:class:`BasePolicy`): :class:`EpsilonGreedy` (fixed or
decaying exploration), :class:`UCB1` (Auer et al., 2002), :class:`KLUCB` (Bernoulli KL-UCB,
Garivier and Cappé, 2011), :class:`ThompsonBernoulli` (Beta posteriors) and
:class:`ThompsonGaussian` (Normal-Inverse-Gamma posteriors: unknown mean and variance).

State and service use
---------------------
* The state is sufficient statistics per arm (effective count, mean, sum of squared deviations,
  active flag) plus the prior, kept apart: a prior is never counted as data.
* ``select()`` + ``update()`` cost about 2 microseconds from Python: validation is plain
  ``int``/``float`` checks, one lock, one numba call on a packed array (see
  :mod:`abkit.bandits._kernels`).
* Every public method takes the policy's lock, so concurrent updates lose nothing.
* ``update`` and ``update_batch`` validate everything before touching the state: bad input
  raises and leaves the state unchanged.
* ``discount < 1`` forgets old data geometrically (each reward received multiplies every arm's
  count and squared deviations by ``discount``): discounted Thompson sampling (Raj and Kalyani,
  2017) and discounted UCB (Garivier and Moulines, 2011) for non-stationary rewards.
* ``to_json()`` / ``from_json()`` keep the statistics, prior and options (not the random
  stream); a corrupt or mismatched state raises :class:`abkit.errors.StateError`.

Merging router instances
------------------------
``a.merge(b)`` adds the *data* of two policies with the same options and prior; the prior is
kept once. That is exact when both started from an empty state. When both started from a common
warm state ``base`` (e.g. both loaded the same JSON), pass ``base=`` so the data they share is
counted once: the result is ``a + b - base``, equal to one policy fed ``base``'s data and both
streams. With ``discount < 1`` the order of the two streams is unknown; the merge then decays the
shared base by both streams' lengths and keeps each stream's own discounting (exact when either
stream is empty).

Examples
--------
>>> policy = ThompsonBernoulli(3, rng=7)
>>> arm = policy.select()
>>> policy.update(arm, 1.0)
>>> policy.state.counts.sum()
np.float64(1.0)
>>> restored = ThompsonBernoulli.from_json(policy.to_json())
>>> bool((restored.state.counts == policy.state.counts).all())
True
"""

from __future__ import annotations

import math
import numbers
import threading
from typing import Any, ClassVar, NamedTuple

import numpy as np
import numpy.typing as npt

from abkit._inference import warn_degenerate
from abkit._state import dump_state, envelope_from_document, parse_json
from abkit._validation import check_int, check_real, check_rng, to_array
from abkit.bandits import _kernels as k
from abkit.bandits import _posterior
from abkit.errors import StateError

__all__ = [
    "KLUCB",
    "UCB1",
    "BanditState",
    "BasePolicy",
    "EpsilonGreedy",
    "ThompsonBernoulli",
    "ThompsonGaussian",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
STATE_VERSION = 2
"""Version 2: the envelope of :mod:`abkit._state` (``kind`` the policy class, ``config`` its arms,
options and prior, ``state`` its data). Version 1, ``{"format": "abkit.bandits.policy",
"version": 1, "policy": ..., ...}`` with every field at the top, is still read."""
LEGACY_FORMAT = "abkit.bandits.policy"
_MAX = float(np.finfo(np.float64).max)
MAX_ARMS = 1_000_000  # a policy table is 8 rows x arms float64: 64 MB at this bound


class BanditState(NamedTuple):
    """Sufficient statistics per arm (copies; the kernels use them packed in one array).

    ``counts`` are effective numbers of rewards (discounted), ``means`` mean rewards, ``m2`` sums
    of squared deviations from the mean, ``active`` whether an arm may still be chosen.
    """

    counts: FloatArray
    means: FloatArray
    m2: FloatArray
    active: npt.NDArray[np.bool_]


def _check_discount(discount: Any) -> float:
    value = check_real("discount", discount)
    if not 0.0 < value <= 1.0:
        raise ValueError(f"`discount` must be in (0, 1]; got {value}.")
    return value


class BasePolicy:
    """The interface every policy shares; use a subclass."""

    _kind: ClassVar[int]
    _family: ClassVar[int]
    _bounded: ClassVar[bool]  # rewards must lie in [0, 1]

    def __init__(self, n_arms: int, *, discount: float = 1.0, rng: Any = None) -> None:
        if not hasattr(self, "_bounded"):
            raise TypeError(f"{type(self).__name__} is abstract; use ThompsonBernoulli, "
                            "ThompsonGaussian, EpsilonGreedy, UCB1 or KLUCB.")
        n = check_int("n_arms", n_arms, minimum=1, maximum=MAX_ARMS)
        self._params = np.zeros(k.N_PARAMS)
        self._params[k.P_DISCOUNT] = _check_discount(discount)
        self._table = np.zeros((k.N_ROWS, n))
        self._table[k.ACTIVE] = 1.0
        self._table[k.P0 :] = np.asarray(self._default_prior(), dtype=np.float64)[:, None]
        self._rng = check_rng(rng)
        self._buf = k.new_buffer(n)
        self._lock = threading.Lock()
        self._low, self._high = (0.0, 1.0) if self._bounded else (-_MAX, _MAX)

    # --- options, priors ------------------------------------------------------------------------

    @classmethod
    def _default_prior(cls) -> tuple[float, ...]:
        return (1.0, 1.0, 0.0, 0.0)

    def _options(self) -> dict[str, Any]:
        return {"discount": float(self._params[k.P_DISCOUNT])}

    def _prior_rows(self, prior: Any, n_arms: int) -> FloatArray:
        """Prior rows ``(4, n_arms)`` from ``prior`` (one tuple for all arms, or one row per arm)."""
        raise TypeError(f"{type(self).__name__} takes no prior; got {prior!r}.")

    @classmethod
    def _check_prior(cls, rows: FloatArray) -> None:
        default = np.asarray(cls._default_prior(), dtype=np.float64)[:, None]
        if not (rows == default).all():
            raise ValueError(f"`prior` of {cls.__name__} must be {default.ravel().tolist()} on every arm.")

    @property
    def n_arms(self) -> int:
        """Number of arms, retired ones included (indices never change)."""
        return int(self._table.shape[1])

    @property
    def state(self) -> BanditState:
        """A copy of the statistics per arm."""
        with self._lock:
            t = self._table
            return BanditState(t[k.COUNTS].copy(), t[k.MEANS].copy(), t[k.M2].copy(), t[k.ACTIVE] != 0.0)

    @property
    def n_updates(self) -> int:
        """Number of rewards received (not discounted)."""
        return int(self._params[k.P_UPDATES])

    # --- the hot path ---------------------------------------------------------------------------

    def select(self) -> int:
        """The arm to serve for one request."""
        with self._lock:
            arm: int = k.choose(self._kind, self._table, self._params, self._buf)
            if arm == k.EXHAUSTED:
                self._rng.random(out=self._buf[k.HEADER :])
                self._buf[0], self._buf[1] = k.HEADER, math.nan
                arm = k.choose(self._kind, self._table, self._params, self._buf)
        return arm

    def select_many(self, n: int) -> npt.NDArray[np.int64]:
        """``n`` arms for a batch of requests served before any feedback (same as ``n`` selects)."""
        size = check_int("n", n)
        with self._lock:
            arms: npt.NDArray[np.int64] = k.choose_many(
                self._kind, self._table, self._params, self._buf, self._rng, size
            )
        return arms

    def update(self, arm: int, reward: float) -> None:
        """Record ``reward`` for ``arm`` (feedback may arrive late and out of order)."""
        if type(arm) is not int or not 0 <= arm < self._table.shape[1]:
            arm = self._check_arm(arm)
        if type(reward) is not float or not self._low <= reward <= self._high:
            reward = self._check_reward(reward)
        with self._lock:
            if not k.update_one(self._table, self._params, arm, reward):
                raise ValueError(_overflow_message(arm, reward))

    def update_batch(self, arms: Any, rewards: Any) -> None:
        """Record many rewards in order (delayed or batched feedback); all checked first."""
        arm_array = to_array("arms", arms)
        reward_array = to_array("rewards", rewards)
        if arm_array.ndim != 1 or not (np.issubdtype(arm_array.dtype, np.integer) or arm_array.size == 0):
            raise TypeError(f"`arms` must be a 1-D array of integers; got dtype {arm_array.dtype}.")
        if (
            reward_array.ndim != 1
            or not np.issubdtype(reward_array.dtype, np.number)
            or (np.issubdtype(reward_array.dtype, np.complexfloating))
        ):
            raise TypeError(f"`rewards` must be a 1-D array of real numbers; got dtype {reward_array.dtype}.")
        if arm_array.size != reward_array.size:
            raise ValueError(
                "`arms` and `rewards` must have the same length; "
                f"got {arm_array.size} and {reward_array.size}."
            )
        arm_array = np.ascontiguousarray(arm_array, dtype=np.int64)
        reward_array = np.ascontiguousarray(reward_array, dtype=np.float64)
        with self._lock:
            bad = (arm_array < 0) | (arm_array >= self.n_arms)
            if bad.any():
                self._check_arm(int(arm_array[bad.argmax()]))
            bad_reward = ~((reward_array >= self._low) & (reward_array <= self._high))
            if bad_reward.any():
                self._check_reward(float(reward_array[bad_reward.argmax()]), "rewards")
            table, params = self._table.copy(), self._params.copy()
            refused = k.update_many(table, params, arm_array, reward_array)
            if refused >= 0:
                raise ValueError(_overflow_message(int(arm_array[refused]), float(reward_array[refused])))
            self._table, self._params = table, params

    def _check_arm(self, arm: Any) -> int:
        if isinstance(arm, bool) or not isinstance(arm, numbers.Integral):
            raise TypeError(f"`arm` must be an integer; got {arm!r}.")
        if not 0 <= int(arm) < self.n_arms:
            raise ValueError(f"`arm` must be in [0, {self.n_arms - 1}]; got {int(arm)}.")
        return int(arm)

    def _check_reward(self, reward: Any, name: str = "reward") -> float:
        value = (
            check_real(name, reward) if not isinstance(reward, float) or math.isfinite(reward) else reward
        )
        if math.isnan(value):
            raise ValueError(f"`{name}` must not be NaN; got nan.")
        if math.isinf(value):
            raise ValueError(f"`{name}` must be finite; got {value}.")
        if not self._low <= value <= self._high:
            raise ValueError(f"`{name}` must be in [0, 1] for {type(self).__name__}; got {value}.")
        return float(value)

    # --- what the state says --------------------------------------------------------------------

    def _posteriors(self, table: FloatArray) -> tuple[_posterior.Marginals, BoolArray, BoolArray]:
        """Posteriors of the active arms' means, the active mask and the proper mask."""
        active = table[k.ACTIVE] != 0.0
        n, mean, m2 = table[k.COUNTS], table[k.MEANS], table[k.M2]
        if self._family == k.FAMILY_BETA:
            successes = n * mean
            a, b = table[k.P0] + successes, table[k.P1] + n - successes
            return _posterior.beta_marginals(a[active], b[active]), active, np.ones_like(active)
        mu0, kappa0, alpha0, beta0 = table[k.P0], table[k.P1], table[k.P2], table[k.P3]
        kappa = kappa0 + n
        alpha = alpha0 + 0.5 * n
        with np.errstate(divide="ignore", invalid="ignore"):
            mu = (kappa0 * mu0 + n * mean) / kappa
            beta = beta0 + 0.5 * m2 + 0.5 * kappa0 * n * (mean - mu0) ** 2 / kappa
            scale = np.sqrt(beta / (alpha * kappa))
        proper = (kappa > 0) & (alpha > 0) & (beta > 0)
        keep = active & proper
        return _posterior.t_marginals(2.0 * alpha[keep], mu[keep], scale[keep]), active, proper

    def _degenerate(self, what: str) -> None:
        warn_degenerate(
            f"{what}: some active arm has too few (or identical) rewards for a proper posterior; "
            "the result is NaN."
        )

    def prob_best(self) -> FloatArray:
        """Posterior probability that each arm has the highest mean (0 for retired arms).

        Thompson policies use their posterior; UCB1 and KL-UCB a Beta(1, 1) prior on rewards in
        [0, 1]; epsilon-greedy the reference prior ``1 / sigma^2`` (a Student t posterior, which
        needs two distinct rewards per arm). Computed by quadrature, not sampling.
        """
        with self._lock:
            table = self._table.copy()
        marginals, active, proper = self._posteriors(table)
        result = np.zeros(table.shape[1])
        if not proper[active].all():
            self._degenerate("prob_best")
            return np.full(table.shape[1], np.nan)
        result[active] = _posterior.prob_best(marginals)
        return result

    def expected_loss(self) -> FloatArray:
        """Posterior expected loss ``E[max_j mu_j - mu_i]`` of choosing each arm for good (NaN if retired).

        A stopping rule: stop when the smallest expected loss (the "value remaining") is under,
        say, 1% of the best arm's mean.
        """
        with self._lock:
            table = self._table.copy()
        marginals, active, proper = self._posteriors(table)
        result = np.full(table.shape[1], np.nan)
        if not proper[active].all() or not np.isfinite(marginals[2]).all():
            self._degenerate("expected_loss")
            return result
        result[active] = _posterior.expected_loss(marginals)
        return result

    def allocation(self) -> FloatArray:
        """Share of traffic each arm gets from ``select()`` in the current state.

        Thompson sampling serves each arm with its probability of being best (arms still to be
        tried first, shared equally); UCB policies the top index; epsilon-greedy mixes the greedy
        arm with uniform exploration.
        """
        with self._lock:
            table, params = self._table.copy(), self._params.copy()
        active = table[k.ACTIVE] != 0.0
        if self._kind == k.THOMPSON_GAUSSIAN:
            kappa = table[k.P1] + table[k.COUNTS]
            alpha = table[k.P2] + 0.5 * table[k.COUNTS]
            forced = active & ((kappa <= 0) | (alpha <= 0))
            if forced.any():
                return np.asarray(forced / forced.sum(), dtype=np.float64)
        if self._kind in (k.THOMPSON_BERNOULLI, k.THOMPSON_GAUSSIAN):
            return self.prob_best()
        scores = k.indices(self._kind, table, k.new_buffer(table.shape[1]))
        top = active & (scores == scores[active].max())
        shares = top / top.sum()
        if self._kind == k.EPSILON_GREEDY:
            eps = float(k.current_epsilon(params, table))
            shares = (1.0 - eps) * shares + eps * active / active.sum()
        return np.asarray(shares, dtype=np.float64)

    # --- arms, warm start -----------------------------------------------------------------------

    def add_arm(self, *, prior: Any = None) -> int:
        """Add an arm and return its index; ``prior`` defaults to the last arm's prior."""
        rows = None if prior is None else self._prior_rows(prior, 1)
        with self._lock:
            column = np.zeros((k.N_ROWS, 1))
            column[k.ACTIVE] = 1.0
            column[k.P0 :] = self._table[k.P0 :, -1:] if rows is None else rows
            self._table = np.ascontiguousarray(np.hstack([self._table, column]))
            self._buf = k.new_buffer(self.n_arms)
            return self.n_arms - 1

    def retire_arm(self, arm: int) -> None:
        """Never choose ``arm`` again (late rewards for it are still recorded)."""
        index = self._check_arm(arm)
        with self._lock:
            if (self._table[k.ACTIVE] != 0.0).sum() == 1 and self._table[k.ACTIVE, index] != 0.0:
                raise ValueError(f"`arm` {index} is the last active arm; add another before retiring it.")
            self._table[k.ACTIVE, index] = 0.0

    def warm_start(self, counts: Any, means: Any, variances: Any = None) -> None:
        """Add per-arm aggregates (e.g. yesterday's A/B results) to the state as data.

        ``variances`` are sample variances (``n - 1`` denominator); omitted, they are 0
        (Bernoulli policies need none).
        """
        data = np.zeros((3, self.n_arms))
        for row, name, values in ((0, "counts", counts), (1, "means", means), (2, "variances", variances)):
            if values is None:
                continue
            array = to_array(name, values, np.float64)
            if array.shape != (self.n_arms,):
                raise ValueError(f"`{name}` must have shape ({self.n_arms},); got {array.shape}.")
            if not np.isfinite(array).all():
                raise ValueError(f"`{name}` must be finite; got {array}.")
            data[row] = array
        if (data[0] < 0).any() or (data[2] < 0).any():
            raise ValueError("`counts` and `variances` must be at least 0.")
        if self._bounded and ((data[1] < 0) | (data[1] > 1)).any():
            raise ValueError(f"`means` must be in [0, 1] for {type(self).__name__}; got {data[1]}.")
        with np.errstate(over="ignore"):
            data[2] *= np.maximum(data[0] - 1.0, 0.0)
        with self._lock:
            table = self._table.copy()
            with np.errstate(over="ignore"):
                _combine(table, data, sign=1.0)
            _check_finite_table(table, "`warm_start`")
            self._table = table

    # --- serialisation and merging --------------------------------------------------------------

    def to_json(self) -> str:
        """The state envelope (:mod:`abkit._state`): statistics, prior, options; not the random stream."""
        with self._lock:
            t = self._table
            config = {"n_arms": self.n_arms, "options": self._options(), "prior": t[k.P0 :].T.tolist()}
            state = {
                "n_updates": self.n_updates,
                "counts": t[k.COUNTS].tolist(),
                "means": t[k.MEANS].tolist(),
                "m2": t[k.M2].tolist(),
                "active": [bool(a) for a in t[k.ACTIVE]],
            }
        return dump_state(type(self).__name__, STATE_VERSION, config, state)

    @classmethod
    def from_json(cls, text: str, *, rng: Any = None) -> BasePolicy:
        """A policy from ``to_json()`` output; ``StateError`` if corrupt or of another policy.

        Called on :class:`BasePolicy` it returns whichever policy the text holds.
        """
        payload = _parse_payload(text)
        target = POLICIES[payload["policy"]]
        if cls is not BasePolicy and target is not cls:
            raise StateError(f"The state is of a {target.__name__}, not a {cls.__name__}.")
        try:
            policy = target(int(payload["n_arms"]), **payload["options"], rng=rng)
            table = _table_from_payload(payload, target._bounded)
            target._check_prior(table[k.P0 :])
        except (TypeError, ValueError) as exc:
            raise StateError(f"The {target.__name__} state is invalid: {exc}") from exc
        policy._table = table
        policy._params[k.P_UPDATES] = float(payload["n_updates"])
        return policy

    def _same_setup(self, other: BasePolicy, name: str) -> None:
        if type(other) is not type(self):
            raise TypeError(f"`{name}` must be a {type(self).__name__}; got {type(other).__name__}.")
        if other.n_arms != self.n_arms:
            raise ValueError(f"`{name}` must have {self.n_arms} arms; got {other.n_arms}.")
        if other._options() != self._options() or not np.array_equal(
            other._table[k.P0 :], self._table[k.P0 :]
        ):
            raise ValueError(f"`{name}` must have the same options and prior; it does not.")

    def merge(self, other: BasePolicy, *, base: BasePolicy | None = None) -> BasePolicy:
        """Both policies' data together (a new policy); ``base`` is data both started from.

        The prior is counted once. An arm retired in either is retired in the result.
        """
        self._same_setup(other, "other")
        if base is not None:
            self._same_setup(base, "base")
        with self._lock:
            table, params = self._table.copy(), self._params.copy()
        with other._lock:
            other_table, other_updates = other._table.copy(), other._params[k.P_UPDATES]
        merged = np.ascontiguousarray(table)
        if base is not None:
            with base._lock:
                base_table, base_updates = base._table.copy(), base._params[k.P_UPDATES]
            own = params[k.P_UPDATES] - base_updates
            theirs = other_updates - base_updates
            if own < 0 or theirs < 0:
                raise ValueError("`base` must be an earlier state of both policies; it has more updates.")
            discount = params[k.P_DISCOUNT]
            # self = d^own base + A; remove base once (decayed as self saw it) ...
            _combine(merged, _scaled(base_table, discount**own), sign=-1.0)
            # ... and other = d^theirs base + B, so adding it back keeps base once, decayed by theirs;
            # decay that copy further by own so the base has aged through both streams.
            shared = _scaled(base_table, discount**theirs - discount ** (own + theirs))
            _combine(other_table, shared, sign=-1.0)
        with np.errstate(over="ignore"):
            _combine(merged, other_table[:3], sign=1.0)
        _check_finite_table(merged, "`merge`")
        merged[k.ACTIVE] = np.minimum(merged[k.ACTIVE], other_table[k.ACTIVE])
        params[k.P_UPDATES] += other_updates - (0.0 if base is None else base._params[k.P_UPDATES])
        result = self._empty_like()
        result._table = merged
        result._params = params
        return result

    def _empty_like(self) -> BasePolicy:
        result = object.__new__(type(self))
        BasePolicy.__init__(
            result, self.n_arms, discount=float(self._params[k.P_DISCOUNT]), rng=self._rng.spawn(1)[0]
        )
        return result

    def __repr__(self) -> str:
        options = ", ".join(f"{name}={value!r}" for name, value in self._options().items())
        return f"{type(self).__name__}(n_arms={self.n_arms}, {options}, n_updates={self.n_updates})"


def _overflow_message(arm: int, reward: float) -> str:
    return (
        f"`reward` {reward!r} for arm {arm} would make the arm's mean or sum of squared deviations "
        "overflow (beyond 1.8e308); nothing was recorded. Rescale the rewards."
    )


def _check_finite_table(table: FloatArray, what: str) -> None:
    if not np.isfinite(table[: k.M2 + 1]).all():
        raise ValueError(
            f"{what} would make some arm's mean or sum of squared deviations overflow "
            "(beyond 1.8e308); nothing was changed. Rescale the rewards."
        )


def _scaled(table: FloatArray, factor: float) -> FloatArray:
    # Counts and squared deviations scaled (a discounted copy); means unchanged.
    data = table[:3].copy()
    data[0] *= factor
    data[2] *= factor
    return data


def _combine(table: FloatArray, data: FloatArray, *, sign: float) -> None:
    """Add (``sign=1``) or remove (``sign=-1``) data ``(counts, means, m2)`` to ``table`` in place.

    Chan, Golub and LeVeque's parallel update and its inverse; removing more than is there
    raises ``ValueError``.
    """
    n_a, mean_a, m2_a = table[k.COUNTS], table[k.MEANS], table[k.M2]
    n_b, mean_b, m2_b = data[0], data[1], data[2]
    n = n_a + sign * n_b
    tolerance = 1e-9 * np.maximum(n_a, 1.0)
    if (n < -tolerance).any():
        raise ValueError("`base` must be an earlier state of both policies; it has more data on some arm.")
    n = np.where(np.abs(n) <= tolerance, 0.0, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, (n_a * mean_a + sign * n_b * mean_b) / n, 0.0)
        if sign > 0:
            cross = np.where(n > 0, n_a * n_b / n * (mean_b - mean_a) ** 2, 0.0)
            m2 = m2_a + m2_b + cross
        else:
            cross = np.where((n > 0) & (n_a > 0), n * n_b / n_a * (mean - mean_b) ** 2, 0.0)
            m2 = np.where(n > 0, np.maximum(m2_a - m2_b - cross, 0.0), 0.0)
    table[k.COUNTS], table[k.MEANS], table[k.M2] = n, mean, m2


def _prior_columns(prior: Any, n_arms: int, width: int) -> FloatArray:
    """A prior given once for all arms (``width`` numbers) or once per arm, as ``(width, n_arms)``."""
    try:
        array = np.asarray(prior, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise TypeError(
            f"`prior` must be {width} numbers or one row of {width} per arm; got {prior!r}."
        ) from exc
    if array.shape == (width,):
        array = np.repeat(array[None, :], n_arms, axis=0)
    if array.shape != (n_arms, width):
        raise ValueError(
            f"`prior` must be {width} numbers or an array of shape ({n_arms}, {width}); "
            f"got shape {array.shape}."
        )
    if not np.isfinite(array).all():
        raise ValueError(f"`prior` must be finite; got {array.tolist()}.")
    return np.ascontiguousarray(array.T)


def _parse_payload(text: Any) -> dict[str, Any]:
    """The decoded state as one flat mapping, with its envelope checked; ``StateError`` otherwise."""
    document = parse_json(text)
    if isinstance(document, dict) and "format" in document:  # version 1: every field at the top
        if document.get("format") != LEGACY_FORMAT:
            raise StateError(f'Not an abkit bandit policy state (no "format": "{LEGACY_FORMAT}").')
        if document.get("version") != 1:
            raise StateError(f"Unsupported state version {document.get('version')!r}; this abkit reads 1 "
                             f"and {STATE_VERSION}.")
        payload = {key: value for key, value in document.items() if key not in ("format", "version")}
    else:
        kind = document.get("kind") if isinstance(document, dict) else None
        if not isinstance(kind, str) or kind not in POLICIES:
            raise StateError(f"The text is not an abkit bandit policy state (kind {kind!r}; expected one "
                             f"of {', '.join(POLICIES)}).")
        envelope = envelope_from_document(document, kind, versions=(STATE_VERSION,))
        payload = {"policy": kind, **envelope.config, **envelope.state}
    missing = sorted(_KEYS - payload.keys())
    if missing:
        raise StateError(f"The policy state lacks {', '.join(missing)}.")
    if payload["policy"] not in POLICIES:
        raise StateError(f"Unknown policy {payload['policy']!r}; expected one of {', '.join(POLICIES)}.")
    n_arms, n_updates = payload["n_arms"], payload["n_updates"]
    if type(n_arms) is not int or n_arms < 1:
        raise StateError(f"`n_arms` must be a positive integer; got {n_arms!r}.")
    if type(n_updates) is not int or n_updates < 0:
        raise StateError(f"`n_updates` must be a non-negative integer; got {n_updates!r}.")
    if not isinstance(payload["options"], dict):
        raise StateError(f"`options` must be an object; got {payload['options']!r}.")
    return payload


_KEYS = {"policy", "n_arms", "options", "n_updates", "counts", "means", "m2", "active", "prior"}


def _table_from_payload(payload: dict[str, Any], bounded: bool) -> FloatArray:
    """The packed table of a decoded state, every field checked (``ValueError`` naming it)."""
    n_arms = payload["n_arms"]
    table = np.zeros((k.N_ROWS, n_arms))
    for row, name in ((k.COUNTS, "counts"), (k.MEANS, "means"), (k.M2, "m2")):
        values = payload[name]
        if (
            not isinstance(values, list)
            or len(values) != n_arms
            or not all(type(v) in (int, float) for v in values)
        ):
            raise ValueError(f"`{name}` must be a list of {n_arms} numbers; got {values!r}.")
        table[row] = values
        if not np.isfinite(table[row]).all():
            raise ValueError(f"`{name}` must be finite; got {values}.")
    for name, row in (("counts", k.COUNTS), ("m2", k.M2)):
        if (table[row] < 0).any():
            arm = int(np.argmax(table[row] < 0))
            raise ValueError(f"`{name}` must be at least 0; got {table[row, arm]} for arm {arm}.")
    if bounded and ((table[k.MEANS] < 0) | (table[k.MEANS] > 1)).any():
        raise ValueError(f"`means` must be in [0, 1]; got {payload['means']}.")
    for name, row in (("means", k.MEANS), ("m2", k.M2)):
        # An arm without data has nothing to average: the policies keep 0 there (with discounting,
        # a count can underflow to 0 under an old mean, so only undiscounted states are checked).
        if payload["options"].get("discount", 1.0) != 1.0:
            break
        empty = (table[k.COUNTS] == 0) & (table[row] != 0)
        if empty.any():
            arm = int(np.argmax(empty))
            raise ValueError(
                f"`{name}` must be 0 for an arm with count 0; got {table[row, arm]} for arm {arm}."
            )
    active = payload["active"]
    if not isinstance(active, list) or len(active) != n_arms or not all(type(a) is bool for a in active):
        raise ValueError(f"`active` must be a list of {n_arms} booleans; got {active!r}.")
    if not any(active):
        raise ValueError("`active` must mark at least one arm; got none.")
    table[k.ACTIVE] = active
    prior = payload["prior"]
    if not isinstance(prior, list) or len(prior) != n_arms:
        raise ValueError(f"`prior` must be a list of {n_arms} rows; got {prior!r}.")
    table[k.P0 :] = _prior_columns(prior, n_arms, 4)
    return table


class EpsilonGreedy(BasePolicy):
    """Epsilon-greedy: explore a random active arm with probability ``epsilon_t``, else the best mean.

    ``epsilon_t = epsilon / (1 + decay * n)`` with ``n`` the (effective) number of rewards: fixed
    when ``decay = 0``, decaying like ``1/n`` otherwise (Auer et al., 2002). Untried arms are
    tried first; ties are broken at random. Rewards may be any finite numbers.

    Examples
    --------
    >>> policy = EpsilonGreedy(2, epsilon=0.1, rng=1)
    >>> policy.update_batch([0, 1], [0.2, 0.9])
    >>> policy.allocation().round(2).tolist()
    [0.05, 0.95]
    """

    _kind = k.EPSILON_GREEDY
    _family = k.FAMILY_NIG
    _bounded = False

    def __init__(
        self, n_arms: int, *, epsilon: float, decay: float = 0.0, discount: float = 1.0, rng: Any = None
    ) -> None:
        eps = check_real("epsilon", epsilon)
        if not 0.0 <= eps <= 1.0:
            raise ValueError(f"`epsilon` must be in [0, 1]; got {eps}.")
        dec = check_real("decay", decay)
        if dec < 0.0:
            raise ValueError(f"`decay` must be at least 0; got {dec}.")
        super().__init__(n_arms, discount=discount, rng=rng)
        self._params[k.P_EPSILON] = eps
        self._params[k.P_DECAY] = dec

    @classmethod
    def _default_prior(cls) -> tuple[float, ...]:
        return (0.0, 0.0, -0.5, 0.0)  # reference prior 1/sigma^2, for prob_best only

    def _options(self) -> dict[str, Any]:
        return {
            "epsilon": float(self._params[k.P_EPSILON]),
            "decay": float(self._params[k.P_DECAY]),
            **super()._options(),
        }


class UCB1(BasePolicy):
    """UCB1 (Auer, Cesa-Bianchi and Fischer, 2002): the best ``mean + sqrt(2 log t / n)``.

    Rewards must lie in [0, 1]. Untried arms first; ties at random.

    Examples
    --------
    >>> policy = UCB1(3, rng=0)
    >>> sorted(int(policy.select_many(1)[0]) for _ in range(1)) != []
    True
    """

    _kind = k.UCB1
    _family = k.FAMILY_BETA
    _bounded = True


class KLUCB(BasePolicy):
    """Bernoulli KL-UCB (Garivier and Cappé, 2011): the largest ``q`` with ``n kl(mean, q) <= log t``.

    Asymptotically optimal for Bernoulli rewards (it attains the Lai-Robbins bound). Rewards
    must lie in [0, 1].

    Examples
    --------
    >>> policy = KLUCB(2, rng=0)
    >>> policy.update_batch([0, 0, 1, 1], [1.0, 1.0, 0.0, 0.0])
    >>> policy.select()
    0
    """

    _kind = k.KLUCB
    _family = k.FAMILY_BETA
    _bounded = True


class ThompsonBernoulli(BasePolicy):
    """Thompson sampling with Beta posteriors for rewards in [0, 1] (fractional rewards count partly).

    ``prior=(a, b)`` for every arm, or an ``(n_arms, 2)`` array of per-arm priors (a warm start
    from belief rather than data).

    Examples
    --------
    >>> policy = ThompsonBernoulli(2, prior=(1, 1), rng=3)
    >>> policy.update_batch([0] * 50 + [1] * 50, [0.0] * 45 + [1.0] * 5 + [0.0] * 30 + [1.0] * 20)
    >>> policy.prob_best().round(3).tolist()
    [0.0, 1.0]
    """

    _kind = k.THOMPSON_BERNOULLI
    _family = k.FAMILY_BETA
    _bounded = True

    def __init__(self, n_arms: int, *, prior: Any = (1, 1), discount: float = 1.0, rng: Any = None) -> None:
        super().__init__(n_arms, discount=discount, rng=rng)
        self._table[k.P0 :] = self._prior_rows(prior, self.n_arms)

    def _prior_rows(self, prior: Any, n_arms: int) -> FloatArray:
        rows = np.zeros((4, n_arms))
        rows[:2] = _prior_columns(prior, n_arms, 2)
        self._check_prior(rows)
        return rows

    @classmethod
    def _check_prior(cls, rows: FloatArray) -> None:
        if not ((rows[:2] > 0).all() and (rows[2:] == 0).all()):
            raise ValueError(f"`prior` must have positive Beta parameters (a, b); got {rows[:2].T.tolist()}.")


class ThompsonGaussian(BasePolicy):
    """Thompson sampling for Gaussian rewards with unknown mean and variance (Normal-Inverse-Gamma).

    ``prior=(mu0, kappa0, alpha0, beta0)`` (``kappa0, alpha0, beta0 > 0``) for every arm or per arm.
    The default ``None`` is the reference prior ``1 / sigma^2``: each arm is tried twice, then its
    mean's posterior is Student t with ``n - 1`` degrees of freedom around the sample mean (scale
    free, so rewards in any units work). An arm whose rewards so far are all equal then has a
    point-mass posterior and may never be tried again: with such rewards (0/1 conversions, say)
    use :class:`ThompsonBernoulli` or a proper prior.

    Examples
    --------
    >>> policy = ThompsonGaussian(2, rng=5)
    >>> policy.update_batch([0, 0, 0, 1, 1, 1], [9.0, 10.0, 11.0, 19.0, 20.0, 21.0])
    >>> policy.select()
    1
    """

    _kind = k.THOMPSON_GAUSSIAN
    _family = k.FAMILY_NIG
    _bounded = False

    def __init__(self, n_arms: int, *, prior: Any = None, discount: float = 1.0, rng: Any = None) -> None:
        super().__init__(n_arms, discount=discount, rng=rng)
        if prior is not None:
            self._table[k.P0 :] = self._prior_rows(prior, self.n_arms)

    @classmethod
    def _default_prior(cls) -> tuple[float, ...]:
        return (0.0, 0.0, -0.5, 0.0)

    def _prior_rows(self, prior: Any, n_arms: int) -> FloatArray:
        rows = _prior_columns(prior, n_arms, 4)
        if not (rows[1:] > 0).all():
            raise ValueError(f"`prior` must have kappa0, alpha0 and beta0 > 0; got {rows.T.tolist()}.")
        return rows

    @classmethod
    def _check_prior(cls, rows: FloatArray) -> None:
        reference = (rows == np.asarray(cls._default_prior())[:, None]).all(axis=0)
        if not (reference | (rows[1:] > 0).all(axis=0)).all():
            raise ValueError(
                "`prior` must be the reference prior or have kappa0, alpha0, beta0 > 0; "
                f"got {rows.T.tolist()}."
            )


# The policy classes by name, for from_json.
POLICIES: dict[str, type[BasePolicy]] = {
    cls.__name__: cls for cls in (EpsilonGreedy, UCB1, KLUCB, ThompsonBernoulli, ThompsonGaussian)
}
