"""Targeting conditions: GrowthBook's condition language (MongoDB-style queries), evaluated exactly.

A condition is a mapping; every entry must hold (an implicit AND). Results agree with GrowthBook's
SDKs on all 248 ``evalCondition`` cases of their conformance suite (spec 0.8.0), which follow
JavaScript's semantics (``1`` never equals ``True``; strings order by UTF-16 code units).

- ``{"country": "NZ"}``: the attribute equals the value (deep equality for lists and mappings;
  dotted names reach nested mappings and list items: ``{"account.plan": "pro"}``,
  ``{"tags.0": "a"}``, ``{"tags.length": 2}``).
- Operators on one attribute, all of which must hold: ``{"age": {"$gte": 18, "$lt": 65}}``.

  * ``$eq``, ``$ne``; ``$gt``, ``$gte``, ``$lt``, ``$lte`` (numbers with numbers, strings with
    strings; anything else is false);
  * ``$in``, ``$nin`` (a list; a list attribute is in when any item is), ``$ini``, ``$nini``
    (case-insensitive); ``$all``, ``$alli`` (a list attribute holds every value, each of which
    may be an operator object); ``$elemMatch`` (some item satisfies a condition, or operators);
    ``$size`` (the list's length satisfies a value or operators);
  * ``$exists`` (bool; ``None`` counts as missing), ``$type`` (``"string"``, ``"number"``,
    ``"boolean"``, ``"array"``, ``"object"``, ``"null"``), ``$not`` (operators that must fail);
  * ``$regex``, ``$regexi``, ``$notRegex``, ``$notRegexi``: searches in a string attribute, on a
    linear-time engine or under a documented bound (``abkit.flags._regex``), so no pattern can
    hang a service;
  * ``$veq``, ``$vne``, ``$vgt``, ``$vgte``, ``$vlt``, ``$vlte``: version comparisons
    (``"1.10.0" > "1.9.2"``, ``"1.0.0" > "1.0.0-beta"``; a leading ``v`` and build metadata
    are ignored);
  * ``$inGroup``, ``$notInGroup``: membership in a saved group, a list of values named by id in
    ``saved_groups`` (an unknown group is empty).

- ``{"$and": [...]}``, ``{"$or": [...]}``, ``{"$nor": [...]}``, ``{"$not": {...}}`` combine
  conditions; an empty ``$or`` is true (so an empty ``$nor`` is false).

An operator abkit does not know (or a malformed operand) makes its entry fail rather than error,
as in GrowthBook, so payloads written for newer SDKs degrade safely; ``$not`` cannot turn such a
failure into a match. :func:`check_condition` is the strict form that refuses them up front.
Conditions may nest at most ``MAX_CONDITION_DEPTH`` (64) levels: :func:`check_condition` refuses
deeper ones, and :func:`evaluate_condition` raises ``ValueError`` when its evaluation reaches
that depth (it stops as soon as the result is decided), never ``RecursionError``.

Examples
--------
>>> evaluate_condition({"age": {"$gte": 18}, "tags": {"$in": ["beta"]}}, {"age": 30, "tags": ["beta", "x"]})
True
>>> evaluate_condition({"version": {"$vgte": "2.10.0"}}, {"version": "2.9.1"})
False
>>> evaluate_condition({"id": {"$inGroup": "testers"}}, {"id": "u7"}, {"testers": ["u1", "u7"]})
True
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from abkit.flags import _regex
from abkit.flags._regex import compile_pattern

__all__ = ["MAX_CONDITION_DEPTH", "OPERATORS", "check_condition", "evaluate_condition",
           "js_string", "version_key"]

MAX_CONDITION_DEPTH = 64

_COMPARISONS = frozenset({"$gt", "$gte", "$lt", "$lte"})
_VERSIONS = frozenset({"$veq", "$vne", "$vgt", "$vgte", "$vlt", "$vlte"})
_REGEXES = frozenset({"$regex", "$regexi", "$notRegex", "$notRegexi"})
_LISTS = frozenset({"$in", "$nin", "$ini", "$nini", "$all", "$alli"})
OPERATORS = frozenset({"$eq", "$ne", "$exists", "$type", "$not", "$elemMatch", "$size", "$inGroup",
                       "$notInGroup"}) | _COMPARISONS | _VERSIONS | _REGEXES | _LISTS
_COMBINATORS = frozenset({"$and", "$or", "$nor"})
_TOP_LEVEL = _COMBINATORS | {"$not", "$savedGroup"}
# Keys of a condition rather than of a value: as operators on a value they never match.
_CONDITION_KEYS = frozenset({"$and", "$or", "$nor", "$savedGroup"})
_TYPES = ("null", "boolean", "number", "string", "array", "object")

Result = bool | None  # None: decided by an operator abkit does not know (a failure under $not too)


class _TooDeepError(Exception):
    """Raised inside evaluation; turned into the public ValueError at the boundary."""


def _too_deep() -> ValueError:
    return ValueError(f"`condition` must nest at most {MAX_CONDITION_DEPTH} levels deep; got a "
                      "deeper one.")


def evaluate_condition(condition: Mapping[str, Any], attributes: Mapping[str, Any] | None = None,
                       saved_groups: Mapping[str, Sequence[Any]] | None = None) -> bool:
    """Whether a unit with ``attributes`` satisfies ``condition`` (GrowthBook's ``evalCondition``).

    Parameters
    ----------
    condition
        A condition (module docstring); lenient like GrowthBook's SDKs: an unknown operator or a
        malformed entry fails, it does not raise.
    attributes
        The unit's attributes; a missing one is ``None``.
    saved_groups
        Saved groups for ``$inGroup``/``$notInGroup``: id -> list of member values.

    Raises
    ------
    ValueError
        If evaluating ``condition`` goes deeper than ``MAX_CONDITION_DEPTH`` levels.

    Examples
    --------
    >>> evaluate_condition({"$or": [{"age": {"$gt": 40}}, {"plan": "pro"}]}, {"age": 30, "plan": "pro"})
    True
    >>> evaluate_condition({"email": {"$regexi": "@EXAMPLE\\\\.com$"}}, {"email": "ann@example.com"})
    True
    """
    if not _is_mapping(condition):
        raise TypeError(f"`condition` must be a mapping; got {condition!r}.")
    try:
        return _condition(attributes or {}, condition, saved_groups or {}, 0) is True
    except _TooDeepError:
        raise _too_deep() from None
    except (TypeError, ValueError, AttributeError, IndexError, KeyError):
        return False  # a malformed condition fails as a whole


def _all(results: Any) -> Result:
    # AND of three-valued results: one failure decides; otherwise unknown beats true.
    outcome: Result = True
    for r in results:
        if r is False:
            return False
        if r is None:
            outcome = None
    return outcome


def _any(results: Any) -> Result:
    outcome: Result = False
    for r in results:
        if r is True:
            return True
        if r is None:
            outcome = None
    return outcome


def _negate(result: Result) -> Result:
    return None if result is None else not result


def _condition(attributes: Any, condition: Mapping[str, Any], groups: Mapping[str, Any],
               depth: int) -> Result:
    # Levels: a sub-condition or an operator's operand is one deeper; a field's value is not.
    if depth > MAX_CONDITION_DEPTH:
        raise _TooDeepError
    inner = depth + 1
    outcome: Result = True
    for key, value in condition.items():
        r: Result
        if key not in _TOP_LEVEL:
            r = _value(value, _lookup(attributes, key), groups, depth)
        elif key == "$or":
            r = True if not value else _any(_condition(attributes, c, groups, inner) for c in value)
        elif key == "$nor":
            r = False if not value else _negate(_any(_condition(attributes, c, groups, inner) for c in value))
        elif key == "$and":
            r = _all(_condition(attributes, c, groups, inner) for c in value)
        elif key == "$not":
            r = _negate(_condition(attributes, value, groups, inner))
        else:  # $savedGroup: typed saved groups (newer than spec 0.8.0) are not supported
            r = None
        if r is False:
            return False
        if r is None:
            outcome = None
    return outcome


def _lookup(attributes: Any, path: str) -> Any:
    # Dotted path; like JavaScript, a list exposes its indices ("0", "1", ...) and "length".
    if "." not in path and type(attributes) is dict:
        return attributes.get(path)
    current = attributes
    for part in path.split("."):
        if _is_mapping(current) and part in current:
            current = current[part]
        elif isinstance(current, list) and part == "length":
            current = len(current)
        elif isinstance(current, list) and _is_index(part, len(current)):
            current = current[int(part)]
        else:
            return None
    return current


def _is_index(key: str, length: int) -> bool:
    return (len(key) <= 10 and key.isascii() and key.isdigit() and (key == "0" or key[0] != "0")
            and int(key) < length)


def _is_mapping(value: Any) -> bool:
    return type(value) is dict or (type(value) not in _JSON_TYPES and isinstance(value, Mapping))


def _is_operator_object(value: Any) -> bool:
    if not _is_mapping(value):
        return False
    return all(type(k) is str and k.startswith("$") for k in value)


_JSON_TYPES = {type(None): "null", bool: "boolean", int: "number", float: "number", str: "string",
               list: "array", tuple: "array", dict: "object"}


def _type(value: Any) -> str:
    kind = _JSON_TYPES.get(type(value))
    if kind is not None:
        return kind
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return "unknown"


def _value(expected: Any, actual: Any, groups: Mapping[str, Any], depth: int) -> Result:
    # A condition on one attribute: operators, or a literal compared by deep equality.
    if type(expected) is not dict and not _is_operator_object(expected):
        return _deep_equal(expected, actual, depth)
    if not all(type(k) is str and k.startswith("$") for k in expected):
        return _deep_equal(expected, actual, depth)
    if depth > MAX_CONDITION_DEPTH:
        raise _TooDeepError
    outcome: Result = True
    for op, operand in expected.items():
        r = _operator(op, actual, operand, groups, depth + 1)
        if r is False:
            return False
        if r is None:
            outcome = None
    return outcome


def _deep_equal(a: Any, b: Any, depth: int) -> bool:
    # JavaScript's JSON.stringify comparison: same JSON types throughout, keys in the same order.
    if depth > MAX_CONDITION_DEPTH:
        raise _TooDeepError
    kind = _type(a)
    if kind != _type(b):
        return False
    if kind == "array":
        return len(a) == len(b) and all(_deep_equal(_json(x), _json(y), depth + 1)
                                        for x, y in zip(a, b, strict=True))
    if kind == "object":
        return _js_keys(a) == _js_keys(b) and all(_deep_equal(_json(a[k]), _json(b[k]), depth + 1) for k in a)
    return bool(a == b)


def _json(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _js_keys(mapping: Mapping[Any, Any]) -> list[Any]:
    # JavaScript's property order: integer-like keys ascending, then the others as inserted.
    indices = [k for k in mapping if isinstance(k, str) and _is_index(k, 2**32 - 1)]
    others = [k for k in mapping if not (isinstance(k, str) and _is_index(k, 2**32 - 1))]
    return sorted(indices, key=int) + others


def _strict_equal(a: Any, b: Any) -> bool:
    # JavaScript's ===: same type, and lists or mappings (separate JSON parses) never equal.
    kind = _type(a)
    return kind == _type(b) and kind not in ("array", "object") and bool(a == b)


def _same_value_zero(a: Any, b: Any) -> bool:
    # Array.prototype.includes: === except that NaN is found.
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return _strict_equal(a, b)


def _fold(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _is_in(actual: Any, values: Sequence[Any], insensitive: bool = False) -> bool:
    # GrowthBook's isIn: a list attribute is in when any of its items is (any overlap).
    if type(actual) is str and not insensitive:
        return actual in values  # a string equals only strings: Python's == is strict here
    items = actual if isinstance(actual, list) else [actual]
    if insensitive:
        return any(_same_value_zero(_fold(x), _fold(v)) for x in items for v in values)
    return any(_same_value_zero(x, v) for x in items for v in values)


def _orderable(a: Any, b: Any) -> bool:
    numbers = all(isinstance(x, int | float) and not isinstance(x, bool) for x in (a, b))
    return numbers or (isinstance(a, str) and isinstance(b, str))


def _compare(a: Any, b: Any) -> int | None:
    # JavaScript's relational comparison: -1, 0 or 1, None when unordered (a NaN). Two strings
    # order by UTF-16 code units; anything else compares as numbers (null is 0, "8" is 8).
    if type(a) in _NUMBERS and type(b) in _NUMBERS and a == a and b == b:  # numbers, no NaN
        return (a > b) - (a < b)
    if isinstance(a, str) and isinstance(b, str):
        if not (a.isascii() and b.isascii()):
            a, b = a.encode("utf-16-be", "surrogatepass"), b.encode("utf-16-be", "surrogatepass")
        return (a > b) - (a < b)
    x, y = _to_number(a), _to_number(b)
    if math.isnan(x) or math.isnan(y):
        return None
    return (x > y) - (x < y)


_NUMBERS = frozenset({int, float})
_JS_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?Infinity")
_JS_RADIX = re.compile(r"0([xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)")


def _to_number(value: Any) -> float:
    # JavaScript's ToNumber for JSON values (a list goes through its string form).
    if value is None or isinstance(value, bool):
        return float(bool(value))
    if isinstance(value, int | float):
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    if isinstance(value, list | tuple):
        return _to_number(",".join("" if x is None else x if isinstance(x, str) else js_string(x)
                                   if _type(x) == "number" else str(x).lower() for x in value))
    if not isinstance(value, str):
        return math.nan
    text = value.strip()
    if not text:
        return 0.0
    if _JS_DECIMAL.fullmatch(text):
        return float(text.replace("Infinity", "inf"))
    if _JS_RADIX.fullmatch(text):
        return float(int(text, 0))
    return math.nan


# The signs of compare(actual, operand) for which each ordering operator holds.
_SIGNS = {"$gt": (1,), "$gte": (0, 1), "$lt": (-1,), "$lte": (-1, 0), "$vgt": (1,), "$vgte": (0, 1),
          "$vlt": (-1,), "$vlte": (-1, 0), "$veq": (0,), "$vne": (-1, 1)}


def _search(op: str, actual: Any, pattern: Any) -> bool:
    negated = op.startswith("$not")
    search = compile_pattern(pattern, op.endswith("i")) if isinstance(pattern, str) else None
    if search is None or not isinstance(actual, str):
        return negated  # an invalid pattern or a non-string attribute: no match
    return search(actual) is not negated


def _operator(op: str, actual: Any, operand: Any, groups: Mapping[str, Any], depth: int) -> Result:
    if op == "$in" and isinstance(operand, list) and type(actual) is str:
        return actual in operand  # the commonest case, fast (a string equals only strings)
    if op == "$eq":
        return _strict_equal(actual, operand)
    if op == "$ne":
        return not _strict_equal(actual, operand)
    if op in _COMPARISONS:
        sign = _compare(actual, operand)
        return sign in _SIGNS[op]
    if op in _VERSIONS:
        if not _orderable(actual, operand):
            return op == "$vne"
        a, b = version_key(actual), version_key(operand)
        return (a > b) - (a < b) in _SIGNS[op]
    if op in _REGEXES:
        return _search(op, actual, operand)
    if op in ("$in", "$nin", "$ini", "$nini"):
        if not isinstance(operand, list):
            return False
        found = not _is_mapping(actual) and _is_in(actual, operand, op.endswith("i"))
        return found if op in ("$in", "$ini") else not found
    if op in ("$all", "$alli"):
        if not isinstance(operand, list) or not isinstance(actual, list):
            return False
        if op == "$alli":
            actual, operand = [_fold(x) for x in actual], [_fold(x) for x in operand]
        return _all(_any(_value(v, x, groups, depth) for x in actual) for v in operand)
    if op == "$elemMatch":
        return _elem_match(operand, actual, groups, depth)
    if op == "$size":
        return isinstance(actual, list) and _value(operand, len(actual), groups, depth)
    if op == "$exists":
        return (actual is not None) if operand else actual is None
    if op == "$type":
        return _type(actual) == operand
    if op == "$not":
        return _negate(_value(operand, actual, groups, depth))
    if op in ("$inGroup", "$notInGroup"):
        if not isinstance(operand, str):
            return False
        members = groups.get(operand, [])
        found = isinstance(members, list) and not _is_mapping(actual) and _is_in(actual, members)
        return found if op == "$inGroup" else isinstance(members, list) and not found
    if op in _CONDITION_KEYS:
        return False
    return None  # an operator abkit does not know


def _elem_match(condition: Any, actual: Any, groups: Mapping[str, Any], depth: int) -> Result:
    if not isinstance(actual, list):
        return False
    on_items = _is_operator_object(condition) and not any(k in _CONDITION_KEYS for k in condition)
    items = [x for x in actual if x is not None]
    if on_items:
        return _any(_value(condition, x, groups, depth) for x in items)
    return _any(_condition(x, condition, groups, depth) for x in items)


def js_string(value: float) -> str:
    """A number written as JavaScript's ``String(number)`` does (``1.0`` -> ``"1"``, ``1e21``).

    Examples
    --------
    >>> js_string(123), js_string(1.0), js_string(0.1), js_string(1e21), js_string(1.5e-7)
    ('123', '1', '0.1', '1e+21', '1.5e-7')
    """
    try:
        x = float(value)
    except OverflowError:
        x = math.inf if value > 0 else -math.inf
    except (TypeError, ValueError):
        raise TypeError(f"`value` must be a number; got {value!r}.") from None
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    if x < 0:
        return "-" + js_string(-x)
    # x = 0.d1...dk * 10**n, from the shortest round-trip digits
    mantissa, _, exponent = repr(x).partition("e")
    whole, _, fraction = mantissa.partition(".")
    padded = (whole + fraction).lstrip("0")
    digits = padded.rstrip("0")
    k, n = len(digits), int(exponent or "0") - len(fraction) + len(padded)
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    head = digits[0] + ("." + digits[1:] if k > 1 else "")
    return f"{head}e{'+' if n > 0 else '-'}{abs(n - 1)}"


_VERSION_STRIP = re.compile(r"^v|\+.*$")
_VERSION_SPLIT = re.compile(r"[-.]")


@functools.lru_cache(maxsize=4096)
def _version_key(version: str) -> str:
    parts = _VERSION_SPLIT.split(_VERSION_STRIP.sub("", version))
    if len(parts) == 3:
        parts.append("~")
    return "-".join(p.rjust(5, " ") if p.isdigit() else p for p in parts)


def version_key(version: Any) -> str:
    """A string that orders versions as GrowthBook's ``paddedVersionString`` does.

    Numeric parts are left-padded to 5 characters; a release (three parts) sorts after its
    pre-releases.

    Examples
    --------
    >>> version_key("1.10.0") > version_key("1.9.2"), version_key("1.0.0") > version_key("1.0.0-rc.1")
    (True, True)
    """
    if type(version) is str and version:
        return _version_key(version)
    if isinstance(version, int | float) and not isinstance(version, bool):
        version = js_string(version)
    if not isinstance(version, str) or not version:
        version = "0"
    return _version_key(version)


def check_condition(condition: Any) -> dict[str, Any]:
    """``condition`` checked strictly: known operators, well-formed operands, bounded depth.

    :class:`~abkit.flags.FeatureFlag` checks its condition once, when it is built, so a typo
    fails at deployment instead of silently never matching.

    Examples
    --------
    >>> check_condition({"age": {"$between": [1, 2]}})
    Traceback (most recent call last):
    ...
    ValueError: `condition` has an unknown operator '$between'; see abkit.flags.conditions.
    """
    if not isinstance(condition, Mapping):
        raise TypeError(f"`condition` must be a mapping; got {condition!r}.")
    _check(condition, 0)
    return dict(condition)


def _check(condition: Mapping[str, Any], depth: int) -> None:
    if depth > MAX_CONDITION_DEPTH:
        raise _too_deep()
    for key, value in condition.items():
        if key in _COMBINATORS:
            if not isinstance(value, list):
                raise TypeError(f"`condition` {key} must be a list of conditions; got {value!r}.")
            for item in value:
                _check_mapping(item, depth + 1)
        elif key == "$not":
            _check_mapping(value, depth + 1)
        elif not isinstance(key, str) or key.startswith("$"):
            raise ValueError(f"`condition` has an unknown top-level operator {key!r}.")
        else:
            _check_value(value, depth)


def _check_mapping(condition: Any, depth: int) -> None:
    if not isinstance(condition, Mapping):
        raise TypeError(f"`condition` must be a mapping; got {condition!r}.")
    _check(condition, depth)


def _check_value(value: Any, depth: int) -> None:
    # The condition on one attribute: operators, or a literal (checked for depth only).
    if depth > MAX_CONDITION_DEPTH:
        raise _too_deep()
    if _is_operator_object(value) and value:
        for op, operand in value.items():
            _check_operator(op, operand, depth + 1)
    elif isinstance(value, list | tuple | Mapping):
        for item in value.values() if isinstance(value, Mapping) else value:
            _check_literal(item, depth + 1)


def _check_literal(value: Any, depth: int) -> None:
    if depth > MAX_CONDITION_DEPTH:
        raise _too_deep()
    if isinstance(value, list | tuple | Mapping):
        for item in value.values() if isinstance(value, Mapping) else value:
            _check_literal(item, depth + 1)


def _check_operator(op: str, operand: Any, depth: int) -> None:
    if op not in OPERATORS:
        raise ValueError(f"`condition` has an unknown operator {op!r}; see abkit.flags.conditions.")
    if op in _LISTS and not isinstance(operand, list):
        raise TypeError(f"`condition` {op} must be given a list; got {operand!r}.")
    if op in _REGEXES and not (isinstance(operand, str) and compile_pattern(operand, op.endswith("i"))):
        bounded = not _regex.HAS_RE2 and isinstance(operand, str)
        reason = _regex.fallback_refusal(operand) if bounded else None
        detail = f" ({reason}; install google-re2 to lift the bound)" if reason else ""
        raise ValueError(f"`condition` {op} must be a valid pattern{detail}; got {operand!r}.")
    if op in ("$exists",) and not isinstance(operand, bool):
        raise TypeError(f"`condition` $exists must be given a bool; got {operand!r}.")
    if op == "$type" and operand not in _TYPES:
        raise ValueError(f"`condition` $type must be one of {', '.join(_TYPES)}; got {operand!r}.")
    if op in ("$inGroup", "$notInGroup") and not isinstance(operand, str):
        raise TypeError(f"`condition` {op} must be given a saved group id; got {operand!r}.")
    if op == "$elemMatch":
        if not isinstance(operand, Mapping):
            raise TypeError(f"`condition` $elemMatch must be given a mapping; got {operand!r}.")
        if _is_operator_object(operand) and not any(k in _CONDITION_KEYS for k in operand):
            _check_value(operand, depth)
        else:
            _check(operand, depth)
    elif op in ("$not", "$size", "$all", "$alli"):
        for item in operand if op in ("$all", "$alli") else [operand]:
            _check_value(item, depth)
