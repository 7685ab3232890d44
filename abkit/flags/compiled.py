"""Conditions compiled once into closures: :func:`compile_condition`.

:func:`~abkit.flags.evaluate_condition` reads the condition's JSON on every call. A condition
that is evaluated for many units (a targeting rule, an experiment's condition) can be compiled
once instead: :func:`compile_condition` walks it a single time and returns a function of the
attributes, built from closures specialised per operator (``$eq``, ``$ne``, ``$in``, ``$nin``,
``$gt``/``$gte``/``$lt``/``$lte``, the version comparisons, the ``$regex`` family, ``$exists``,
``$type``, ``$not``, ``$size``, implicit equality, dotted paths and ``$and``/``$or``/``$nor``/
``$not``). Everything else (``$elemMatch``, ``$all``, ``$ini``, saved groups, literals compared
by deep equality, unknown operators, malformed entries) runs the interpreter on that part only.

The result is exactly :func:`~abkit.flags.evaluate_condition`'s: same JavaScript semantics, same
lenient failures, same depth rule (``ValueError`` when evaluation reaches
``MAX_CONDITION_DEPTH`` levels, never ``RecursionError``; the conformance suite and a property
test check it). The condition and the saved groups are copied when compiled, so changing the
caller's dictionaries afterwards does not change the compiled function.

Examples
--------
>>> matches = compile_condition({"country": {"$in": ["NZ", "AU"]}, "age": {"$gte": 18}})
>>> matches({"country": "NZ", "age": 30}), matches({"country": "FR", "age": 30})
(True, False)
>>> compile_condition({"id": {"$inGroup": "beta"}}, {"beta": ["u1"]})({"id": "u1"})
True
"""

from __future__ import annotations

import copy
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from abkit.flags._regex import compile_pattern
from abkit.flags.conditions import (
    _NUMBERS,
    _TOP_LEVEL,
    MAX_CONDITION_DEPTH,
    _compare,
    _condition,
    _deep_equal,
    _is_in,
    _is_mapping,
    _is_operator_object,
    _lookup,
    _operator,
    _strict_equal,
    _too_deep,
    _TooDeepError,
    _type,
    version_key,
)

__all__ = ["compile_condition", "freeze", "uses_saved_groups"]  # and compile_frozen, for FeatureSet

Test = Callable[[Any], Any]  # attributes (or an attribute's value) -> True, False or None (unknown)

_ORDER = {"$gt": operator.gt, "$gte": operator.ge, "$lt": operator.lt, "$lte": operator.le}
_SIGNS = {"$gt": (1,), "$gte": (0, 1), "$lt": (-1,), "$lte": (-1, 0)}
_VERSION_ORDER = {"$vgt": operator.gt, "$vgte": operator.ge, "$vlt": operator.lt, "$vlte": operator.le,
                  "$veq": operator.eq, "$vne": operator.ne}
_HASHABLE_SCALARS = frozenset({str, int, float, bool, type(None)})
_CAUGHT = (TypeError, ValueError, AttributeError, IndexError, KeyError)


def compile_condition(condition: Mapping[str, Any],
                      saved_groups: Mapping[str, Sequence[Any]] | None = None) -> Callable[..., bool]:
    """``condition`` compiled once: a function ``(attributes) -> bool`` (module docstring).

    ``compile_condition(c, g)(a) == evaluate_condition(c, a, g)`` for every condition,
    attributes and saved groups.

    Parameters
    ----------
    condition
        A condition (:mod:`abkit.flags.conditions`); copied, so later changes to it do not
        reach the compiled function.
    saved_groups
        Saved groups for ``$inGroup``/``$notInGroup``: id -> list of member values (copied).

    Returns
    -------
    callable
        ``matches(attributes=None) -> bool``; raises ``ValueError`` when the evaluation reaches
        ``MAX_CONDITION_DEPTH`` levels, as :func:`~abkit.flags.evaluate_condition`.

    Examples
    --------
    >>> matches = compile_condition({"$or": [{"plan": "pro"}, {"app.version": {"$vgte": "2.0.0"}}]})
    >>> matches({"plan": "free", "app": {"version": "2.1.0"}}), matches({"plan": "free"})
    (True, False)
    """
    if not _is_mapping(condition):
        raise TypeError(f"`condition` must be a mapping; got {condition!r}.")
    if saved_groups is not None and not isinstance(saved_groups, Mapping):
        raise TypeError(f"`saved_groups` must be a mapping of group id to members; got {saved_groups!r}.")
    return compile_frozen(freeze(condition), freeze(saved_groups) if saved_groups else {})


def compile_frozen(condition: Mapping[str, Any], groups: Mapping[str, Any]) -> Callable[..., bool]:
    """:func:`compile_condition` of data the caller owns and will not change (not copied)."""
    test = _Compiler(groups).condition(condition, 0)

    def matches(attributes: Mapping[str, Any] | None = None) -> bool:
        try:
            return test(attributes or {}) is True
        except _TooDeepError:
            raise _too_deep() from None
        except _CAUGHT:
            return False  # a malformed condition fails as a whole, as evaluate_condition

    return matches


def freeze(value: Any) -> Any:
    """A deep copy of JSON-like data (dicts, lists, tuples kept as such; other mappings as dicts).

    Iterative, so nesting of any depth (or a cycle) copies without ``RecursionError``; leaves
    other than str, numbers, bool and None are deep-copied.

    Examples
    --------
    >>> original = {"a": [1, {"b": (2, 3)}]}
    >>> copied = freeze(original)
    >>> copied == original, copied["a"] is original["a"], type(copied["a"][1]["b"])
    (True, False, <class 'tuple'>)
    """
    memo: dict[int, Any] = {}
    tuples: set[int] = set()  # ids of the lists standing for tuples until their items are copied

    def shell(v: Any) -> tuple[Any, bool]:
        # (an empty copy to fill, True) for a container met first; (the copy, False) otherwise
        kind = type(v)
        if kind in _HASHABLE_SCALARS:
            return v, False
        found = memo.get(id(v))
        if found is not None:
            return found, False
        if kind is dict or (not isinstance(v, list | tuple) and isinstance(v, Mapping)):
            new: Any = {}
        elif isinstance(v, list | tuple):
            new = []
            if isinstance(v, tuple):
                tuples.add(id(new))
        else:
            new = copy.deepcopy(v)
            memo[id(v)] = new
            return new, False
        memo[id(v)] = new
        return new, True

    root, fill = shell(value)
    pending = [(value, root)] if fill else []
    order = []
    while pending:
        source, target = pending.pop()
        order.append(target)
        items = source.items() if isinstance(target, dict) else enumerate(source)
        for k, v in items:
            child, child_fill = shell(v)
            if isinstance(target, dict):
                target[k] = child
            else:
                target.append(child)
            if child_fill:
                pending.append((v, child))
    if not tuples:
        return root
    converted: dict[int, tuple[Any, ...]] = {}

    def swap(x: Any) -> Any:
        return converted.get(id(x), x)

    for node in reversed(order):  # children before parents
        if isinstance(node, dict):
            for k in node:
                node[k] = swap(node[k])
        else:
            node[:] = [swap(x) for x in node]
            if id(node) in tuples:
                converted[id(node)] = tuple(node)
    return swap(root)


def uses_saved_groups(condition: Any) -> bool:
    """Whether ``condition`` mentions ``$inGroup`` or ``$notInGroup`` anywhere (iterative scan).

    Examples
    --------
    >>> uses_saved_groups({"$or": [{"id": {"$inGroup": "g"}}]}), uses_saved_groups({"id": 1})
    (True, False)
    """
    stack, seen = [condition], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, Mapping):
            if "$inGroup" in node or "$notInGroup" in node:
                return True
            stack.extend(node.values())
        elif isinstance(node, list | tuple):
            stack.extend(node)
    return False


# --- the compiler: one closure per node, the interpreter's structure mirrored exactly


def _all(tests: Sequence[Test]) -> Test:
    # AND of three-valued results: one failure decides; otherwise unknown beats true.
    if not tests:
        return _always_true
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        first, second = tests

        def both(x: Any) -> Any:
            r = first(x)
            if r is False:
                return False
            s = second(x)
            if s is False:
                return False
            return None if r is None or s is None else True

        return both
    chain = tuple(tests)

    def every(x: Any) -> Any:
        outcome: Any = True
        for test in chain:
            r = test(x)
            if r is False:
                return False
            if r is None:
                outcome = None
        return outcome

    return every


def _any(tests: Sequence[Test]) -> Test:
    chain = tuple(tests)

    def some(x: Any) -> Any:
        outcome: Any = False
        for test in chain:
            r = test(x)
            if r is True:
                return True
            if r is None:
                outcome = None
        return outcome

    return some


def _negated(test: Test) -> Test:
    def negation(x: Any) -> Any:
        r = test(x)
        return None if r is None else not r

    return negation


def _always_true(x: Any) -> bool:
    return True


def _constant(value: Any) -> Test:
    return lambda x: value


def _too_deep_test(x: Any) -> Any:
    raise _TooDeepError


class _Compiler:
    def __init__(self, groups: Mapping[str, Any]) -> None:
        self.groups = groups
        self.memo: dict[tuple[int, int], Test] = {}  # shared sub-conditions compile once per depth

    def condition(self, condition: Any, depth: int) -> Test:
        key = (id(condition), depth)
        test = self.memo.get(key)
        if test is None:
            test = self._condition(condition, depth)
            self.memo[key] = test
        return test

    def _condition(self, condition: Any, depth: int) -> Test:
        groups = self.groups
        if depth > MAX_CONDITION_DEPTH:
            return _too_deep_test
        if type(condition) is not dict:  # not a mapping: fails (or raises) as in the interpreter
            return lambda attributes: _condition(attributes, condition, groups, depth)
        entries = []
        for key, value in condition.items():
            try:
                entries.append(self._entry(key, value, depth))
            except Exception:
                entries.append(self._interpreted_entry(key, value, depth))
        return _all(entries)

    def _interpreted_entry(self, key: Any, value: Any, depth: int) -> Test:
        groups, single = self.groups, {key: value}
        return lambda attributes: _condition(attributes, single, groups, depth)

    def _entry(self, key: Any, value: Any, depth: int) -> Test:
        inner = depth + 1
        if key not in _TOP_LEVEL:
            if type(key) is not str:
                return self._interpreted_entry(key, value, depth)
            return _field(key, self.value(value, depth))
        if key == "$not":
            return _negated(self.condition(value, inner))
        if key == "$savedGroup":
            return _constant(None)
        if type(value) is not list:
            return self._interpreted_entry(key, value, depth)
        subs = [self.condition(c, inner) for c in value]
        if key == "$and":
            return _all(subs)
        if key == "$or":
            return _always_true if not subs else _any(subs)
        return _constant(False) if not subs else _negated(_any(subs))  # $nor

    def value(self, expected: Any, depth: int) -> Test:
        # The condition on one attribute's value (the interpreter's _value).
        if type(expected) is not dict and not _is_operator_object(expected):
            return _equality(expected, depth)
        if not all(type(k) is str and k.startswith("$") for k in expected):
            return _equality(expected, depth)
        if depth > MAX_CONDITION_DEPTH:
            return _too_deep_test
        return _all([self.operator(op, operand, depth + 1) for op, operand in expected.items()])

    def operator(self, op: str, operand: Any, depth: int) -> Test:
        groups = self.groups
        if op in ("$in", "$nin"):
            return _membership(operand, op == "$in")
        if op == "$eq":
            return lambda actual: _strict_equal(actual, operand)
        if op == "$ne":
            return lambda actual: not _strict_equal(actual, operand)
        if op in _ORDER:
            return _ordering(op, operand)
        if op in _VERSION_ORDER:
            return _version(op, operand)
        if op in ("$regex", "$regexi", "$notRegex", "$notRegexi"):
            return _regex(op, operand)
        if op == "$exists":
            return (lambda actual: actual is not None) if operand else (lambda actual: actual is None)
        if op == "$type":
            return lambda actual: _type(actual) == operand
        if op == "$not":
            return _negated(self.value(operand, depth))
        if op == "$size":
            sub = self.value(operand, depth)
            return lambda actual: isinstance(actual, list) and sub(len(actual))
        # $ini, $nini, $all, $alli, $elemMatch, $inGroup, $notInGroup, unknown operators
        return lambda actual: _operator(op, actual, operand, groups, depth)


def _field(path: str, test: Test) -> Test:
    if "." in path:
        return lambda attributes: test(_lookup(attributes, path))

    def field(attributes: Any) -> Any:
        if type(attributes) is dict:
            return test(attributes.get(path))
        return test(_lookup(attributes, path))

    return field


def _equality(expected: Any, depth: int) -> Test:
    # Implicit equality: JSON deep equality (a string equals only strings).
    if type(expected) is str and depth <= MAX_CONDITION_DEPTH:  # deeper: _deep_equal raises
        return lambda actual: (type(actual) is str or _type(actual) == "string") and expected == actual
    return lambda actual: _deep_equal(expected, actual, depth)


def _membership(operand: Any, inside: bool) -> Test:
    # $in / $nin: a list attribute is in when any of its items is (GrowthBook's isIn).
    if not isinstance(operand, list):
        return _constant(False)
    if all(type(v) in _HASHABLE_SCALARS for v in operand):
        strings = frozenset(v for v in operand if type(v) is str)  # a string equals only strings

        def member(actual: Any) -> bool:
            if type(actual) is str:
                return (actual in strings) is inside
            found = not _is_mapping(actual) and _is_in(actual, operand)
            return found is inside

        return member

    def member_slow(actual: Any) -> bool:
        if type(actual) is str:
            return (actual in operand) is inside
        found = not _is_mapping(actual) and _is_in(actual, operand)
        return found is inside

    return member_slow


def _ordering(op: str, operand: Any) -> Test:
    signs, order = _SIGNS[op], _ORDER[op]
    if type(operand) in _NUMBERS and operand == operand:  # a number, not NaN

        def ordered(actual: Any) -> bool:
            if type(actual) in _NUMBERS and actual == actual:
                return order(actual, operand)
            return _compare(actual, operand) in signs

        return ordered
    return lambda actual: _compare(actual, operand) in signs


def _version(op: str, operand: Any) -> Test:
    order, otherwise = _VERSION_ORDER[op], op == "$vne"
    if isinstance(operand, str):
        expected = version_key(operand)
        return lambda actual: order(version_key(actual), expected) if isinstance(actual, str) else otherwise
    if isinstance(operand, int | float) and not isinstance(operand, bool):
        expected = version_key(operand)

        def numeric(actual: Any) -> bool:
            if isinstance(actual, int | float) and not isinstance(actual, bool):
                return order(version_key(actual), expected)
            return otherwise

        return numeric
    return _constant(otherwise)  # never orderable: false, true for $vne


def _regex(op: str, pattern: Any) -> Test:
    negated = op.startswith("$not")
    search = compile_pattern(pattern, op.endswith("i")) if isinstance(pattern, str) else None
    if search is None:
        return _constant(negated)  # an invalid or refused pattern: no match
    if negated:
        return lambda actual: not search(actual) if isinstance(actual, str) else True
    return lambda actual: search(actual) if isinstance(actual, str) else False


