"""Feature flags: percentage rollouts, a kill switch, and targeting by attributes.

A :class:`FeatureFlag` is on for a unit when the unit passes the flag's targeting ``condition``
and its rollout hash ``gb_hash(seed, unit_id, 2)`` is below ``rollout``. The hash depends only on
the unit and the flag's seed, so raising the rollout only ever adds units (a unit in at 5% is in
at 20%), lowering it only removes units, and ``rollout=0`` (:meth:`FeatureFlag.kill`) turns the
flag off for everyone.

Conditions (a documented subset of GrowthBook's, which follows MongoDB queries)
------------------------------------------------------------------------------
A condition is a mapping; every entry must hold (an implicit AND):

- ``{"country": "NZ"}``: the attribute equals the value (dotted names reach nested mappings:
  ``{"account.plan": "pro"}``).
- ``{"age": {"$gte": 18, "$lt": 65}}``: operators on one attribute, all of which must hold:
  ``$eq``, ``$ne``, ``$in``, ``$nin`` (a list), ``$gt``, ``$gte``, ``$lt``, ``$lte`` (numbers
  against numbers, strings against strings; anything else is false), ``$exists`` (bool),
  ``$regex`` (Python ``re.search`` on a string attribute).
- ``{"$and": [...]}``, ``{"$or": [...]}``, ``{"$nor": [...]}``, ``{"$not": {...}}`` combine
  conditions; ``$nor`` is the negation of ``$or``, and an empty ``$or`` is true (so an empty
  ``$nor`` is false), as in GrowthBook.

A missing attribute is ``None``: it equals nothing but ``None``, is ``$ne`` every value, and is in
no list. Unknown operators raise ``ValueError`` when the flag is built, not per request.

Examples
--------
>>> flag = FeatureFlag("new-ranker", rollout=0.2, condition={"country": {"$in": ["NZ", "AU"]}})
>>> flag.is_on("user-2", {"country": "NZ"}), flag.is_on("user-2", {"country": "US"})
(True, False)
>>> flag.kill().is_on("user-2", {"country": "NZ"})
False
"""

from __future__ import annotations

import dataclasses
import numbers
import re
from collections.abc import Mapping
from typing import Any

from abkit._validation import check_id, check_share
from abkit.assignment import gb_hash

__all__ = ["FeatureFlag", "check_condition", "eval_condition"]

_FIELD_OPERATORS = frozenset(
    {"$eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte", "$exists", "$regex"}
)
_LIST_COMBINATORS = frozenset({"$and", "$or", "$nor"})


def check_condition(condition: Any) -> dict[str, Any]:
    """``condition`` checked against the documented language (raises on unknown operators).

    Examples
    --------
    >>> check_condition({"age": {"$between": [1, 2]}})
    Traceback (most recent call last):
    ...
    ValueError: `condition` has an unknown operator '$between'; known: $eq, $exists, $gt, $gte, \
$in, $lt, $lte, $ne, $nin, $regex.
    """
    if not isinstance(condition, Mapping):
        raise TypeError(f"`condition` must be a mapping; got {condition!r}.")
    for key, value in condition.items():
        if key in _LIST_COMBINATORS:
            if not isinstance(value, list):
                raise TypeError(f"`condition` {key} must be a list of conditions; got {value!r}.")
            for item in value:
                check_condition(item)
        elif key == "$not":
            check_condition(value)
        elif key.startswith("$"):
            raise ValueError(f"`condition` has an unknown top-level operator {key!r}.")
        elif _is_operator_object(value):
            for op, expected in value.items():
                _check_operator(op, expected)
    return dict(condition)


def _check_operator(op: str, expected: Any) -> None:
    if op not in _FIELD_OPERATORS:
        known = ", ".join(sorted(_FIELD_OPERATORS))
        raise ValueError(f"`condition` has an unknown operator {op!r}; known: {known}.")
    if op in ("$in", "$nin") and not isinstance(expected, list):
        raise TypeError(f"`condition` {op} must be given a list; got {expected!r}.")
    if op == "$regex":
        try:
            re.compile(expected)
        except (re.error, TypeError) as exc:
            raise ValueError(f"`condition` $regex must be a valid pattern; got {expected!r}.") from exc


def _is_operator_object(value: Any) -> bool:
    return isinstance(value, Mapping) and bool(value) and all(str(k).startswith("$") for k in value)


def _lookup(attributes: Mapping[str, Any], path: str) -> Any:
    value: Any = attributes
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _comparable(a: Any, b: Any) -> bool:
    both_numbers = all(isinstance(x, numbers.Real) and not isinstance(x, bool) for x in (a, b))
    return both_numbers or (isinstance(a, str) and isinstance(b, str))


def _eval_operator(op: str, actual: Any, expected: Any) -> bool:
    if op == "$eq":
        return bool(actual == expected)
    if op == "$ne":
        return bool(actual != expected)
    if op == "$in":
        return actual in expected
    if op == "$nin":
        return actual not in expected
    if op == "$exists":
        return (actual is not None) == bool(expected)
    if op == "$regex":
        return isinstance(actual, str) and re.search(expected, actual) is not None
    if not _comparable(actual, expected):
        return False
    if op == "$gt":
        return bool(actual > expected)
    if op == "$gte":
        return bool(actual >= expected)
    if op == "$lt":
        return bool(actual < expected)
    return bool(actual <= expected)  # $lte, the last operator check_condition admits


def eval_condition(attributes: Mapping[str, Any], condition: Mapping[str, Any]) -> bool:
    """Whether ``attributes`` satisfy ``condition`` (see the module docstring for the language).

    Examples
    --------
    >>> eval_condition({"age": 30, "plan": "pro"}, {"$or": [{"age": {"$gt": 40}}, {"plan": "pro"}]})
    True
    """
    for key, value in condition.items():
        if key == "$and":
            ok = all(eval_condition(attributes, c) for c in value)
        elif key == "$or":
            ok = not value or any(eval_condition(attributes, c) for c in value)
        elif key == "$nor":
            ok = bool(value) and not any(eval_condition(attributes, c) for c in value)
        elif key == "$not":
            ok = not eval_condition(attributes, value)
        elif _is_operator_object(value):
            actual = _lookup(attributes, key)
            ok = all(_eval_operator(op, actual, expected) for op, expected in value.items())
        else:
            ok = bool(_lookup(attributes, key) == value)
        if not ok:
            return False
    return True


@dataclasses.dataclass(frozen=True, slots=True)
class FeatureFlag:
    """A flag rolled out to a share of the units that pass its targeting condition.

    Parameters
    ----------
    key
        The flag's name; also its hash seed unless ``seed`` is given.
    rollout
        Share of targeted units for which the flag is on, in [0, 1].
    condition
        Targeting condition on the unit's attributes (module docstring); ``None`` targets all.
    seed
        Hash seed; keep it when renaming a flag so units keep their rollout position.

    Examples
    --------
    >>> flag = FeatureFlag("dark-mode", rollout=0.05)
    >>> ids = [f"u{i}" for i in range(10_000)]
    >>> at_5 = {u for u in ids if flag.is_on(u)}
    >>> at_20 = {u for u in ids if flag.with_rollout(0.2).is_on(u)}
    >>> at_5 <= at_20, len(at_5), len(at_20)
    (True, 491, 1955)
    """

    key: str
    rollout: float = 0.0
    condition: Mapping[str, Any] | None = None
    seed: str | None = None

    def __post_init__(self) -> None:
        check_id("key", self.key)
        object.__setattr__(self, "rollout", check_share("rollout", self.rollout))
        if self.condition is not None:
            object.__setattr__(self, "condition", check_condition(self.condition))
        if self.seed is not None:
            check_id("seed", self.seed)

    def position(self, unit_id: str) -> float:
        """The unit's rollout position in ``[0, 1)``: the flag is on when it is below ``rollout``."""
        n = gb_hash(self.key if self.seed is None else self.seed, check_id("unit_id", unit_id), 2)
        assert n is not None  # version 2 is known
        return n

    def is_on(self, unit_id: str, attributes: Mapping[str, Any] | None = None) -> bool:
        """Whether the flag is on for this unit (targeted, and inside the rollout)."""
        if self.condition is not None and not eval_condition(attributes or {}, self.condition):
            return False
        return self.position(unit_id) < self.rollout

    def with_rollout(self, rollout: float) -> FeatureFlag:
        """The same flag at another rollout share (units keep their positions)."""
        return dataclasses.replace(self, rollout=rollout)

    def kill(self) -> FeatureFlag:
        """The kill switch: the same flag at 0%, off for every unit."""
        return self.with_rollout(0.0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form; ``FeatureFlag(**d)`` restores it."""
        return {"key": self.key, "rollout": self.rollout,
                "condition": None if self.condition is None else dict(self.condition), "seed": self.seed}

