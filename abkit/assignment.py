"""Deterministic assignment of units to variants: GrowthBook-compatible and Optimizely-compatible.

Assignment is a pure function of the unit id and the experiment's configuration, so every
router instance agrees without talking to the others.

**GrowthBook mode** (the default) reproduces GrowthBook's SDKs exactly (checked against their
published test cases):

- :func:`fnv1a32` is FNV-1a 32-bit over UTF-16 code units, as the JavaScript SDK and current
  Python SDK walk strings (older Python SDKs walked code points; the two differ only for
  characters outside the Basic Multilingual Plane). For ASCII text it equals byte-wise FNV-1a.
- :func:`gb_hash` maps ``(seed, value)`` to ``[0, 1)``: version 1 is
  ``(fnv1a32(value + seed) % 1000) / 1000``; version 2 is
  ``(fnv1a32(str(fnv1a32(seed + value))) % 10000) / 10000``.
- :func:`bucket_ranges` lays variant ``i`` on ``[c_i, c_i + coverage * w_i)`` where ``c_i`` is
  the cumulative weight before it; :func:`choose_variation` finds the range holding the hash.
  Both mirror the SDK's leniency (coverage clipped to [0, 1], invalid weights replaced by equal
  weights); :func:`assign` is the strict entry point that refuses such input.
- :func:`in_namespace` puts a unit in a namespace ``(name, start, end)`` when
  ``gb_hash("__" + name, unit, 1)`` lies in ``[start, end)``; experiments given disjoint slices of
  one namespace are mutually exclusive.
- :func:`assign` and the routers default to hash version 2. GrowthBook's SDK falls back to version
  1 when an experiment does not name one; pass ``hash_version=1`` to match such experiments, but
  note that version 1 hashes ``value + seed``, which correlates the assignments of experiments
  whose keys differ only in their last characters.

ASCII text is hashed by the C implementation in the ``fnv-hash-fast`` package; other text by a
Python loop over its UTF-16 code units.

**One split, validated once.** :class:`Split` holds an experiment's configuration checked once
(weights, coverage, namespace, hash version, seed) and its precomputed ranges; ``index(unit_id)``
is then one hash and a range lookup. :func:`assign` and :class:`abkit.flags.FeatureFlag` go
through it.

**Positions: flags take the bottom of the range, canaries the top.** A unit's position
(:meth:`Split.position`) is its hash in ``[0, 1)``, fixed by the unit and the seed. A two-arm
rollout whose share only grows keeps its "on" units at one end of that range, so raising the
share only adds units:

- a feature flag at rollout ``r`` is on for positions in ``[0, r)``, the bottom: the split with
  weights ``[r, 1 - r]``, variant 0 (:class:`abkit.flags.FeatureFlag`);
- a canary at share ``s`` holds ``[1 - s, 1)``, the top: weights ``[1 - s, s]``, variant 1,
  which is the split a GrowthBook experiment (or :class:`abkit.adapters.FixedSplitRouter`) with
  those weights gives its treatment (:class:`abkit.adapters.CanaryRouter`).

So a flag and a canary hashed with the same seed cover opposite ends: at 10% each they reach
disjoint units. Their default seeds differ (the flag's key, the rollout's experiment name), which
makes them independent.

**Optimizely mode** (``hashing="optimizely"``) reproduces Optimizely's bucketer: MurmurHash3
x86 32-bit (the ``mmh3`` package) of ``unit_id + experiment`` with seed 1, scaled to 10,000
buckets; variants take consecutive ranges ending at ``round(10000 * coverage * cumulative
weight)`` (:func:`optimizely_bucket`).

Examples
--------
>>> fnv1a32("a")
3826002220
>>> gb_hash("", "a", 1)
0.22
>>> bucket_ranges(2, 0.5)
[(0.0, 0.25), (0.5, 0.75)]
>>> assign("user-1", "checkout-button", [0.5, 0.5])
1
>>> optimizely_bucket("ppid1", "1886780721")
5254
>>> split = Split("checkout-button", [0.5, 0.5])
>>> split.index("user-1"), split.position("user-1")
(1, 0.5603)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import mmh3
from fnv_hash_fast import fnv1a_32 as _fnv1a32_bytes

from abkit._validation import (
    _show,
    check_choice,
    check_id,
    check_int,
    check_number,
    check_real,
    check_share,
    check_string,
    check_utf8,
)

__all__ = [
    "HASHINGS",
    "HASH_VERSIONS",
    "OPTIMIZELY_BUCKETS",
    "Split",
    "assign",
    "bucket_ranges",
    "choose_variation",
    "equal_weights",
    "fnv1a32",
    "gb_hash",
    "in_namespace",
    "optimizely_bucket",
    "optimizely_ranges",
]

HASH_VERSIONS = (1, 2)
HASHINGS = ("growthbook", "optimizely")
OPTIMIZELY_BUCKETS = 10_000
MAX_VARIANTS = 100_000  # a bound on `n` so a typo cannot allocate a list of 2**62 weights
_WEIGHT_TOLERANCE = 1e-6

Range = tuple[float, float]
Namespace = tuple[str, float, float]


_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193


def _fnv(text: str) -> int:
    # ASCII text: its bytes are its UTF-16 code units, hashed by the C implementation of
    # fnv-hash-fast. Other text: FNV-1a over the UTF-16 code units, in Python.
    if text.isascii():
        return _fnv1a32_bytes(text.encode())
    data = text.encode("utf-16-le", "surrogatepass")
    h = _FNV_OFFSET
    for i in range(0, len(data), 2):
        h = ((h ^ (data[i] | data[i + 1] << 8)) * _FNV_PRIME) & 0xFFFFFFFF
    return h


def _gb_hash(seed: str, value: str, version: int) -> float:
    # GrowthBook's hash for a known version, without argument checks (the routers' hot path).
    if version == 2:
        return (_fnv(str(_fnv(seed + value))) % 10000) / 10000
    return (_fnv(value + seed) % 1000) / 1000


def fnv1a32(text: str) -> int:
    """FNV-1a 32-bit hash of ``text`` over its UTF-16 code units (as GrowthBook's SDKs).

    Examples
    --------
    >>> fnv1a32(""), fnv1a32("foobar")
    (2166136261, 3214735720)
    """
    return _fnv(check_string("text", text))


def known_hash_version(version: Any) -> bool:
    """Whether ``version`` is one of :data:`HASH_VERSIONS` (a number; an array or a bool is not)."""
    return isinstance(version, numbers.Real) and not isinstance(version, bool) and version in HASH_VERSIONS


def gb_hash(seed: str, value: str, version: int) -> float | None:
    """GrowthBook's ``hash(seed, value, version)``: a number in ``[0, 1)``, ``None`` for an unknown version.

    Examples
    --------
    >>> gb_hash("seed", "b", 2)
    0.2696
    >>> gb_hash("abc", "def", 99) is None
    True
    """
    seed = check_string("seed", seed)
    value = check_string("value", value)
    if not known_hash_version(version):
        return None
    return _gb_hash(seed, value, version)


def _variant_count(n: Any) -> int:
    # GrowthBook treats n < 1 as no variants; a non-integer or an absurd count is refused.
    return check_int("n", n, minimum=-MAX_VARIANTS, maximum=MAX_VARIANTS)


def equal_weights(n: int) -> list[float]:
    """``n`` equal weights summing to 1 (GrowthBook's ``getEqualWeights``; empty for ``n < 1``).

    ``n`` is a whole number of at most :data:`MAX_VARIANTS`.

    Examples
    --------
    >>> equal_weights(4)
    [0.25, 0.25, 0.25, 0.25]
    """
    n = _variant_count(n)
    return [1.0 / n] * n if n >= 1 else []


def _numbers(name: str, values: Any, *, finite: bool) -> list[float]:
    # A sequence (list, tuple, array, Series) of real numbers as floats; a wrong kind of input is
    # a TypeError naming `name`. With finite=False, non-finite entries (and integers beyond the
    # float range, as infinities) are kept for the caller's lenient rule.
    kind = f"`{name}` must be a sequence of numbers; got {_show(values)}."
    if isinstance(values, str | bytes | Mapping) or not isinstance(values, Iterable):
        raise TypeError(kind)
    try:
        items = list(values)
    except TypeError:  # a 0-d array
        raise TypeError(kind) from None
    if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in items):
        raise TypeError(kind)
    return [check_real(name, v) if finite else check_number(name, v) for v in items]


def _lenient_weights(n: int, weights: Any) -> list[float]:
    # GrowthBook replaces any weight vector of the wrong length, with a negative or non-finite
    # entry, or whose sum is outside [0.99, 1.01] by equal weights.
    values = None if weights is None else _numbers("weights", weights, finite=False)
    if values is None or len(values) != n:
        return equal_weights(n)
    if not all(math.isfinite(w) and w >= 0 for w in values) or not 0.99 <= sum(values) <= 1.01:
        return equal_weights(n)
    return values


def bucket_ranges(n: int, coverage: float = 1.0, weights: Sequence[float] | None = None) -> list[Range]:
    """Hash ranges of ``n`` variants, as GrowthBook's ``getBucketRanges`` (lenient on bad values).

    Variant ``i`` gets ``[c_i, c_i + coverage * w_i)`` with ``c_i`` the sum of the weights before
    it, so lowering coverage removes units from every variant without moving the others. As the
    SDK, coverage is clipped to [0, 1] and invalid weights (wrong length, negative or non-finite
    entries, a sum outside [0.99, 1.01]) are replaced by equal weights; a NaN coverage and input
    of the wrong kind (a string, a non-sequence of weights) are refused.

    Examples
    --------
    >>> bucket_ranges(3, 0.5, [0.5, 0.25, 0.25])
    [(0.0, 0.25), (0.5, 0.625), (0.75, 0.875)]
    """
    n = _variant_count(n)
    coverage = check_number("coverage", coverage)
    if math.isnan(coverage):
        raise ValueError("`coverage` must be a number in [0, 1] (clipped if outside); got nan.")
    coverage = min(max(coverage, 0.0), 1.0)
    ranges: list[Range] = []
    cumulative = 0.0
    for w in _lenient_weights(n, weights):
        start = cumulative
        cumulative += w
        ranges.append((start, start + coverage * w))
    return ranges


def choose_variation(n: float, ranges: Sequence[Sequence[float]]) -> int:
    """Index of the first range ``[start, end)`` holding ``n``, or -1 (GrowthBook's ``chooseVariation``).

    ``n`` is a real number (a NaN lies in no range); ``ranges`` a sequence of ``(start, end)``
    pairs of numbers.

    Examples
    --------
    >>> choose_variation(0.5, [(0.0, 0.5), (0.5, 1.0)])
    1
    >>> choose_variation(0.4, [(0.0, 0.25), (0.5, 0.75)])
    -1
    """
    if type(n) is not float and (isinstance(n, bool) or not isinstance(n, numbers.Real)):
        raise TypeError(f"`n` must be a real number; got {_show(n)}.")
    if isinstance(ranges, str | bytes | Mapping):
        raise TypeError(f"`ranges` must be a sequence of (start, end) pairs; got {_show(ranges)}.")
    try:
        for i, (start, end) in enumerate(ranges):
            if not (isinstance(start, numbers.Real) and isinstance(end, numbers.Real)):
                raise TypeError
            if start <= n < end:
                return i
    except (TypeError, ValueError):  # not iterable, not pairs, or not numbers
        raise TypeError(f"`ranges` must be a sequence of (start, end) pairs of numbers; "
                        f"got {_show(ranges)}.") from None
    return -1


def _namespace_parts(namespace: Any) -> tuple[str, float, float]:
    # (name, start, end) with a string name and real bounds, or a TypeError naming `namespace`.
    kind = f"`namespace` must be a (name, start, end) sequence; got {_show(namespace)}."
    if isinstance(namespace, str | bytes | Mapping) or not isinstance(namespace, Iterable):
        raise TypeError(kind)
    try:
        name, start, end = namespace
    except (TypeError, ValueError):
        raise TypeError(kind) from None
    if not isinstance(name, str):
        raise TypeError(f"`namespace` must have a string name first; got {_show(name)}.")
    return (check_utf8("namespace", name), check_number("namespace", start),
            check_number("namespace", end))


def in_namespace(user_id: str, namespace: Sequence[Any]) -> bool:
    """Whether ``user_id`` falls in the namespace slice ``(name, start, end)``.

    Lenient as the SDK: bounds outside [0, 1] or in the wrong order just select fewer units.

    Examples
    --------
    >>> in_namespace("1", ("namespace2", 0.4, 1.0))
    True
    """
    check_string("user_id", user_id)
    name, start, end = _namespace_parts(namespace)
    n = gb_hash("__" + name, user_id, 1)
    return n is not None and start <= n < end


def check_weights(weights: Sequence[float] | None, n: int | None = None) -> tuple[float, ...]:
    """Strict weights: at least two finite non-negative numbers summing to 1 (within 1e-6).

    ``None`` means equal weights over ``n`` variants.

    Examples
    --------
    >>> check_weights([0.7, 0.4])
    Traceback (most recent call last):
    ...
    ValueError: `weights` must sum to 1; got 1.1 (from [0.7, 0.4]).
    """
    if weights is None:
        if n is None:
            raise TypeError("`weights` must be a sequence of numbers; got None.")
        return tuple(equal_weights(n))
    if isinstance(weights, str | bytes | Mapping) or not isinstance(weights, Sequence):
        raise TypeError(f"`weights` must be a sequence of numbers; got {weights!r}.")
    values = tuple(check_real("weights", w) for w in weights)
    if n is not None and len(values) != n:
        raise ValueError(f"`weights` must have one entry per variant ({n}); got {len(values)}.")
    if len(values) < 2:
        raise ValueError(f"`weights` must have at least 2 entries; got {len(values)}.")
    if any(w < 0 for w in values):
        raise ValueError(f"`weights` must be non-negative; got {list(values)}.")
    total = math.fsum(values)
    if abs(total - 1.0) > _WEIGHT_TOLERANCE:
        raise ValueError(f"`weights` must sum to 1; got {total:.6g} (from {list(values)}).")
    return values


def check_namespace(namespace: Any) -> Namespace | None:
    """``None`` or ``(name, start, end)`` with ``0 <= start <= end <= 1``."""
    if namespace is None:
        return None
    if isinstance(namespace, str) or not isinstance(namespace, Sequence) or len(namespace) != 3:
        raise TypeError(f"`namespace` must be a (name, start, end) tuple; got {namespace!r}.")
    name = check_string("namespace name", namespace[0])
    start, end = check_real("namespace start", namespace[1]), check_real("namespace end", namespace[2])
    if not 0.0 <= start <= end <= 1.0:
        raise ValueError(f"`namespace` must satisfy 0 <= start <= end <= 1; got {namespace!r}.")
    return (name, start, end)


def check_ranges(ranges: Any, n: int) -> tuple[Range, ...]:
    """``n`` explicit bucket ranges ``(start, end)`` with ``0 <= start <= end <= 1``.

    >>> check_ranges([(0.0, 0.4), (0.5, 0.9)], 2)
    ((0.0, 0.4), (0.5, 0.9))
    """
    if isinstance(ranges, str | bytes | Mapping) or not isinstance(ranges, Sequence):
        raise TypeError(f"`ranges` must be a sequence of (start, end) pairs; got {ranges!r}.")
    if len(ranges) != n:
        raise ValueError(f"`ranges` must have one entry per variant ({n}); got {len(ranges)}.")
    checked = []
    for pair in ranges:
        if isinstance(pair, str | bytes | Mapping) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise TypeError(f"`ranges` must be a sequence of (start, end) pairs; got {pair!r} in it.")
        start, end = check_real("ranges", pair[0]), check_real("ranges", pair[1])
        if not 0.0 <= start <= end <= 1.0:
            raise ValueError(f"`ranges` must satisfy 0 <= start <= end <= 1; got {tuple(pair)!r}.")
        checked.append((start, end))
    return tuple(checked)


def optimizely_bucket(unit_id: str, experiment: str) -> int:
    """Optimizely's bucket of a unit in ``[0, 10000)``: MurmurHash3 (seed 1) of ``unit_id + experiment``.

    Examples
    --------
    >>> optimizely_bucket("ppid2", "1886780722")
    2434
    """
    key = check_utf8("unit_id", unit_id) + check_utf8("experiment", experiment)
    return mmh3.hash(key, 1, signed=False) * OPTIMIZELY_BUCKETS >> 32


def optimizely_ranges(weights: Sequence[float], coverage: float = 1.0) -> list[int]:
    """End of each variant's bucket range (Optimizely's ``endOfRange``), consecutive from 0.

    ``weights`` are finite non-negative numbers; ``coverage`` is in [0, 1].

    Examples
    --------
    >>> optimizely_ranges([0.5, 0.5], 0.5)
    [2500, 5000]
    """
    values = _numbers("weights", weights, finite=True)
    if any(w < 0 for w in values):
        raise ValueError(f"`weights` must be non-negative; got {values}.")
    coverage = check_share("coverage", coverage)
    ends, cumulative = [], 0.0
    for w in values:
        cumulative += w
        ends.append(round(OPTIMIZELY_BUCKETS * min(coverage * cumulative, 1.0)))
    return ends


class Split:
    """A split of units between variants, validated once; :meth:`index` is the hot path.

    The arguments are :func:`assign`'s (without the per-unit ``filters``); they are checked here,
    once, and the variants' hash ranges computed, so :meth:`index` only hashes the unit and finds
    its range. See the module notes for the bottom/top convention of two-arm rollouts.

    Parameters
    ----------
    experiment
        The experiment key; the default seed (GrowthBook) or the experiment id (Optimizely).
    weights
        Design shares of the variants, summing to 1; ``None`` with ``n_variants`` for equal shares.
    n_variants
        Number of variants when ``weights`` is ``None`` (default 2; at least 2).
    coverage
        Share of units included, in [0, 1].
    namespace
        ``(name, start, end)``: only units whose namespace hash is in ``[start, end)`` take part.
    seed
        Hash seed instead of the experiment key (GrowthBook only).
    hash_version
        GrowthBook hash version, 2 (default) or 1.
    hashing
        ``"growthbook"`` or ``"optimizely"``.
    ranges
        Explicit GrowthBook bucket ranges, overriding ``weights`` and ``coverage``.

    Examples
    --------
    >>> flag_like = Split("dark-mode", [0.2, 0.8])          # on: variant 0, the bottom 20%
    >>> canary_like = Split("checkout-v2", [0.9, 0.1])      # canary: variant 1, the top 10%
    >>> [flag_like.index(f"u{i}") for i in range(8)]
    [0, 1, 1, 1, 0, 1, 1, 1]
    >>> [u for u in (f"u{i}" for i in range(20)) if canary_like.index(u) == 1]
    ['u16']
    >>> canary_like.position("u16")   # at least 1 - 0.1
    0.9145
    >>> Split("exp", n_variants=3).ranges
    ((0.0, 0.3333333333333333), (0.3333333333333333, 0.6666666666666666), (0.6666666666666666, 1.0))
    """

    __slots__ = ("_ends", "_seed", "coverage", "experiment", "hash_version", "hashing",
                 "namespace", "ranges", "seed", "weights")

    def __init__(
        self,
        experiment: str,
        weights: Sequence[float] | None = None,
        *,
        n_variants: int | None = None,
        coverage: float = 1.0,
        namespace: Sequence[Any] | None = None,
        seed: str | None = None,
        hash_version: int = 2,
        hashing: str = "growthbook",
        ranges: Sequence[Sequence[float]] | None = None,
    ) -> None:
        self.experiment = check_utf8("experiment", experiment)
        self.hashing = check_choice("hashing", hashing, HASHINGS)
        count = None if n_variants is None else check_int("n_variants", n_variants, minimum=2)
        self.weights = check_weights(weights, 2 if weights is None and count is None else count)
        self.coverage = check_share("coverage", coverage)
        if self.hashing == "optimizely" and (namespace is not None or seed is not None
                                             or ranges is not None):
            raise ValueError("`namespace`, `seed`, `ranges` and `filters` are GrowthBook options; "
                             "got one with hashing='optimizely'.")
        if not known_hash_version(hash_version):
            raise ValueError(f"`hash_version` must be 1 or 2; got {hash_version!r}.")
        self.hash_version = int(hash_version)
        self.namespace = check_namespace(namespace)
        self.seed = None if seed is None else check_string("seed", seed)
        self._seed = self.experiment if self.seed is None else self.seed
        self.ranges: tuple[Range, ...] = (
            tuple(bucket_ranges(len(self.weights), self.coverage, self.weights)) if ranges is None
            else check_ranges(ranges, len(self.weights)))
        self._ends = optimizely_ranges(self.weights, self.coverage) if self.hashing == "optimizely" else []

    def position(self, unit_id: str) -> float:
        """The unit's position in ``[0, 1)``: GrowthBook's hash of ``unit_id`` with the split's
        seed and version, or the Optimizely bucket over 10,000."""
        if type(unit_id) is not str or not unit_id:  # the full check only off the common path
            check_id("unit_id", unit_id)
        if self.hashing == "optimizely":
            return optimizely_bucket(unit_id, self.experiment) / OPTIMIZELY_BUCKETS
        return _gb_hash(self._seed, unit_id, self.hash_version)

    def index(self, unit_id: str) -> int:
        """The unit's variant index, or -1 outside the namespace or the coverage (the hot path:
        one hash and a range lookup)."""
        if type(unit_id) is not str or not unit_id:  # the full check only off the common path
            check_id("unit_id", unit_id)
        return self._index(unit_id)

    def _index(self, unit_id: str) -> int:
        """:meth:`index` without the check of ``unit_id`` (for callers that checked it)."""
        if self.hashing == "optimizely":
            bucket = mmh3.hash(unit_id + self.experiment, 1, signed=False) * OPTIMIZELY_BUCKETS >> 32
            for i, last in enumerate(self._ends):
                if bucket < last:
                    return i
            return -1
        if self.namespace is not None and not in_namespace(unit_id, self.namespace):
            return -1
        position = _gb_hash(self._seed, unit_id, self.hash_version)
        for i, (start, end) in enumerate(self.ranges):
            if start <= position < end:
                return i
        return -1

    def __repr__(self) -> str:
        return (f"Split({self.experiment!r}, {list(self.weights)!r}, coverage={self.coverage!r}, "
                f"seed={self.seed!r}, hash_version={self.hash_version}, hashing={self.hashing!r})")


def _length(value: Any) -> int:
    return len(value) if isinstance(value, Sequence) else 0


def check_filters(filters: Any) -> list[dict[str, Any]]:
    """Strict GrowthBook filters: mappings with a string ``seed``, valid ``ranges``, and optional
    ``hash_version`` (1 or 2, default 2) and ``attribute`` (a string or ``None``)."""
    kind = f"`filters` must be a sequence of mappings with `seed` and `ranges`; got {_show(filters)}."
    if isinstance(filters, str | bytes | Mapping) or not isinstance(filters, Iterable):
        raise TypeError(kind)
    try:
        items = list(filters)
    except TypeError:
        raise TypeError(kind) from None
    checked = []
    for f in items:
        if not isinstance(f, Mapping) or "seed" not in f or "ranges" not in f:
            raise TypeError(kind)
        version = f.get("hash_version", 2)
        if not known_hash_version(version):
            raise ValueError(f"`filters` hash_version must be 1 or 2; got {_show(version)}.")
        attribute = f.get("attribute")
        if attribute is not None and not isinstance(attribute, str):
            raise TypeError(f"`filters` attribute must be a string or None; got {_show(attribute)}.")
        ranges = check_ranges(f["ranges"], _length(f["ranges"]))
        checked.append({"seed": check_utf8("filters", f["seed"]), "ranges": ranges,
                        "hash_version": version, "attribute": attribute})
    return checked


def _filtered_out(unit_id: str, filters: Sequence[Mapping[str, Any]], attributes: Mapping[str, Any]) -> bool:
    # GrowthBook's filters: the unit must hash (per filter seed, version 2 by default) into one of
    # the filter's ranges; ``attribute`` names another attribute to hash instead of the unit id.
    for f in filters:
        value = attributes.get(f["attribute"], "") if f.get("attribute") else unit_id
        n = gb_hash(f["seed"], str(value), f.get("hash_version", 2)) if value else None
        if n is None or choose_variation(n, f["ranges"]) < 0:
            return True
    return False


def assign(
    unit_id: str,
    experiment: str,
    weights: Sequence[float] | None = None,
    *,
    n_variants: int | None = None,
    coverage: float = 1.0,
    namespace: Sequence[Any] | None = None,
    seed: str | None = None,
    hash_version: int = 2,
    hashing: str = "growthbook",
    ranges: Sequence[Sequence[float]] | None = None,
    filters: Sequence[Mapping[str, Any]] | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> int:
    """The variant index of ``unit_id`` in ``experiment``, or -1 when the unit is not in it.

    GrowthBook's ``run`` (hashing side): units outside ``coverage``, outside ``namespace``, or
    removed by ``filters`` get -1 (serve the control, and do not count them). The experiment key is
    the hash seed unless ``seed`` is given, so experiments are independent of each other.

    Parameters
    ----------
    unit_id
        The id hashed (user id, session id, company id...); a non-empty string.
    experiment
        The experiment key; the default seed (GrowthBook) or the experiment id (Optimizely).
    weights
        Design shares of the variants, summing to 1; ``None`` with ``n_variants`` for equal shares.
    n_variants
        Number of variants when ``weights`` is ``None`` (default 2).
    coverage
        Share of units included, in [0, 1].
    namespace
        ``(name, start, end)``: only units whose namespace hash is in ``[start, end)`` take part.
    seed
        Hash seed instead of the experiment key (GrowthBook only).
    hash_version
        GrowthBook hash version: 2 (GrowthBook's choice for new experiments) or 1 (the SDK's
        default when an experiment does not say; it correlates experiments whose keys differ
        only at the end, so prefer 2).
    hashing
        ``"growthbook"`` or ``"optimizely"`` (MurmurHash3 buckets; ``namespace``, ``seed``,
        ``ranges`` and ``filters`` are GrowthBook features and must be left unset).
    ranges
        Explicit GrowthBook bucket ranges, overriding ``weights`` and ``coverage``.
    filters
        GrowthBook filters: mappings with ``seed``, ``ranges`` and optional ``hash_version``
        (default 2) and ``attribute`` (looked up in ``attributes``).
    attributes
        Other attributes of the unit, for filters that name one.

    Examples
    --------
    >>> assign("3", "my-test", [0.5, 0.5])
    1
    >>> assign("5", "my-test", [0.5, 0.5], hash_version=1)  # GrowthBook SDK case "default weights - 5"
    1
    >>> assign("1", "my-test", [0.5, 0.5], coverage=0.4, hash_version=1)  # "coverage - 1"
    -1
    >>> assign("ppid1", "1886780721", [0.5, 0.5], hashing="optimizely")
    1
    """
    unit_id = check_id("unit_id", unit_id)  # UTF-8 encodable: checked before any hashing
    if weights is None and n_variants is not None:
        check_utf8("experiment", experiment)
        check_choice("hashing", hashing, HASHINGS)
        if check_int("n_variants", n_variants, minimum=1) < 2:
            return -1  # a single variation is not an experiment (GrowthBook)
    split = Split(experiment, weights, n_variants=n_variants, coverage=coverage, namespace=namespace,
                  seed=seed, hash_version=hash_version, hashing=hashing, ranges=ranges)
    filters = None if filters is None else check_filters(filters)
    if attributes is not None and not isinstance(attributes, Mapping):
        raise TypeError(f"`attributes` must be a mapping; got {_show(attributes)}.")
    if hashing == "optimizely" and filters is not None:
        raise ValueError("`namespace`, `seed`, `ranges` and `filters` are GrowthBook options; "
                         "got one with hashing='optimizely'.")
    if filters and _filtered_out(unit_id, filters, attributes or {}):
        return -1
    return split.index(unit_id)
