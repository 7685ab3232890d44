"""The compiled paths (compile_condition, FeatureSet, a prebuilt ExperimentSpec's cache) equal the
interpreter exactly. GrowthBook's conformance cases run through them in
test_growthbook_sdk_cases.py; here: a property test against the interpreter on random
conditions and attributes, mutation after compiling, depth and regex bounds, bad input.
"""

from __future__ import annotations

import copy
import math
import pickle
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abkit.flags import (
    MAX_CONDITION_DEPTH,
    ExperimentSpec,
    FeatureSet,
    compile_condition,
    evaluate_condition,
    evaluate_feature,
    run_experiment,
)
from abkit.flags.compiled import freeze, uses_saved_groups


def outcome(evaluate, *args):
    """The result, or the class of the error raised (the interpreter raises ValueError when too deep)."""
    try:
        return evaluate(*args)
    except ValueError as error:
        assert "nest at most" in str(error)
        return ValueError


# --- random conditions over every operator, and attributes that hit them

POOL = [None, True, False, 0, 1, -1, 2, 0.5, -0.0, math.nan, 1e300, "", "a", "b", "A", "NZ", "1.2.0",
        "1.10.0-rc.1", "v2.0", "8", " 1 ", "\u00e9", [], ["a", 1], [1, 2], {}, {"a": 1}]
_SCALARS = st.sampled_from(POOL[:21])
_JSON = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                      st.dictionaries(st.sampled_from(["a", "b", "0"]), inner,
                                                                      max_size=2)),
                     max_leaves=5)
_PATTERNS = st.sampled_from(["^a", "b$", "(a|b)+", "(", "^$", "N[A-Z]", "(a+)+$", "\\d"])
_KEYS = st.sampled_from(["a", "b", "c", "a.b", "a.0", "a.length", "c.a.b"])


def _operators(values):
    return st.one_of(
        st.tuples(st.sampled_from(["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"]), _SCALARS),
        st.tuples(st.sampled_from(["$veq", "$vne", "$vgt", "$vgte", "$vlt", "$vlte"]), _SCALARS),
        st.tuples(st.sampled_from(["$in", "$nin", "$ini", "$nini", "$all", "$alli"]),
                  st.one_of(st.lists(_SCALARS, max_size=3), _SCALARS)),
        st.tuples(st.sampled_from(["$regex", "$regexi", "$notRegex", "$notRegexi"]),
                  st.one_of(_PATTERNS, _SCALARS)),
        st.tuples(st.just("$exists"), st.one_of(st.booleans(), _SCALARS)),
        st.tuples(st.just("$type"), st.sampled_from(["string", "number", "boolean", "array", "object",
                                                     "null", "int"])),
        st.tuples(st.sampled_from(["$inGroup", "$notInGroup"]), st.sampled_from(["g", "h", "missing", 3])),
        st.tuples(st.sampled_from(["$not", "$size", "$elemMatch"]), values),
        st.tuples(st.sampled_from(["$bogus", "$and", "$savedGroup"]), _SCALARS),
    )


_VALUE_CONDITIONS = st.recursive(
    st.one_of(_JSON, st.lists(_operators(_SCALARS), min_size=0, max_size=3).map(dict)),
    lambda inner: st.lists(_operators(inner), min_size=1, max_size=3).map(dict),
    max_leaves=6,
)


def _combinators(inner):
    return st.one_of(
        st.builds(lambda op, items: {op: items}, st.sampled_from(["$and", "$or", "$nor"]),
                  st.one_of(st.lists(inner, max_size=3), _SCALARS)),
        st.builds(lambda c: {"$not": c}, st.one_of(inner, _SCALARS)),
        st.builds(lambda a, b: {**a, **b}, inner, inner),
    )


_CONDITIONS = st.recursive(st.dictionaries(_KEYS, _VALUE_CONDITIONS, max_size=3), _combinators, max_leaves=8)
_ATTRIBUTES = st.dictionaries(st.sampled_from(["a", "b", "c"]), st.one_of(_SCALARS, _JSON), max_size=3)
_GROUPS = st.one_of(st.none(), st.dictionaries(st.sampled_from(["g", "h"]),
                                               st.one_of(st.lists(_SCALARS, max_size=3), _SCALARS)))


@settings(max_examples=400, deadline=None)
@given(_CONDITIONS, st.lists(_ATTRIBUTES, min_size=1, max_size=4), _GROUPS)
def test_compiled_equals_interpreted(condition, units, groups):
    compiled = compile_condition(condition, groups)
    for attributes in units:
        assert outcome(compiled, attributes) == outcome(evaluate_condition, condition, attributes, groups)


@settings(max_examples=100, deadline=None)
@given(_CONDITIONS, st.integers(40, 80), _ATTRIBUTES)
def test_compiled_equals_interpreted_near_the_depth_limit(condition, levels, attributes):
    # Wrapped in $not/$and levels around the limit: same result or same ValueError.
    for i in range(levels):
        condition = {"$not": condition} if i % 2 else {"$and": [condition, {}]}
    assert outcome(compile_condition(condition), attributes) == outcome(evaluate_condition, condition, attributes)


OPERATORS = ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$veq", "$vne", "$vgt", "$vgte", "$vlt", "$vlte",
             "$in", "$nin", "$ini", "$nini", "$all", "$alli", "$regex", "$regexi", "$notRegex",
             "$notRegexi", "$exists", "$type", "$not", "$size", "$elemMatch", "$inGroup", "$notInGroup",
             "$bogus"]
OPERANDS = [*POOL, ["a", 1, None], ["A"], [1.0], "^a", "(", "1.2.0-rc", "string", "number", "array", "g",
            {"$gt": 0}, {"a": 1}]


@pytest.mark.parametrize("op", OPERATORS)
def test_every_operator_on_every_operand_and_value(op):
    # Exhaustive on one level: each operator, each operand, each attribute value (and missing).
    groups = {"g": ["a", 1, ["a", 1]]}
    for operand in OPERANDS:
        for condition in ({"x": {op: operand}}, {"x.0": {op: operand}}, {"x": operand}):
            compiled = compile_condition(condition, groups)
            for value in [*POOL, "missing"]:
                attributes = {} if value == "missing" else {"x": value}
                assert compiled(attributes) is evaluate_condition(condition, attributes, groups), (condition, value)


@pytest.mark.parametrize("combinator", ["$and", "$or", "$nor"])
def test_combinators_on_every_mix_of_true_false_and_unknown(combinator):
    # Sub-conditions that are true, false, or unknown (an unknown operator), in every order, up to 3.
    subs = [{"a": 1}, {"a": 2}, {"a": {"$bogus": 1}}]
    mixes = [[]] + [[x] for x in subs] + [[x, y] for x in subs for y in subs] + [
        [x, y, z] for x in subs for y in subs for z in subs]
    for mix in mixes:
        for condition in ({combinator: mix}, {"$not": {combinator: mix}}, {combinator: mix, "a": 1}):
            assert compile_condition(condition)({"a": 1}) is evaluate_condition(condition, {"a": 1}), condition


def test_compiled_is_a_bool_for_unknown_operators_and_malformed_entries():
    for condition in ({"a": {"$bogus": 1}}, {"$not": {"a": {"$bogus": 1}}}, {"$or": 3}, {"a": {"$in": 3}},
                      {"$and": ["x"]}, {1: 2}, {"a": {"$regex": "("}}, {"$savedGroup": "g"}):
        for attributes in ({}, {"a": 1}, {"a": [1, "x"]}, None):
            result = compile_condition(condition)(attributes)
            assert result is evaluate_condition(condition, attributes)


# --- the compiled function owns its data


def test_mutating_the_condition_or_groups_after_compiling_changes_nothing():
    condition = {"country": {"$in": ["NZ"]}, "id": {"$inGroup": "beta"}}
    groups = {"beta": ["u1"]}
    matches = compile_condition(condition, groups)
    condition["country"]["$in"].append("AU")
    condition["extra"] = {"$exists": True}
    groups["beta"].append("u2")
    groups["alpha"] = ["u1"]
    assert matches({"country": "NZ", "id": "u1"}) is True
    assert matches({"country": "AU", "id": "u1"}) is False
    assert matches({"country": "NZ", "id": "u2"}) is False


def test_freeze_keeps_types_and_handles_depth_and_cycles():
    data = {"a": [1, ("x", [2])], "b": {"c": None}}
    copied = freeze(data)
    assert copied == data and type(copied["a"][1]) is tuple and copied["a"] is not data["a"]
    deep = node = {}
    for _ in range(10_000):
        node["a"] = {}
        node = node["a"]
    copied, levels = freeze(deep), 0  # no RecursionError; walked here without recursion either
    while copied:
        assert copied is not deep
        copied, deep, levels = copied["a"], deep["a"], levels + 1
    assert levels == 10_000
    cyclic: dict = {}
    cyclic["$not"] = cyclic
    frozen = freeze(cyclic)
    assert frozen["$not"] is frozen and frozen is not cyclic
    with pytest.raises(ValueError, match="nest at most 64"):
        compile_condition(cyclic)({})


def test_feature_set_owns_its_payload():
    features = {"f": {"defaultValue": "off", "rules": [{"condition": {"plan": "pro"}, "force": "on"}]}}
    flags = FeatureSet(features)
    features["f"]["rules"][0]["condition"]["plan"] = "free"
    features["f"]["defaultValue"] = "changed"
    assert flags.evaluate("f", {"plan": "pro"}).value == "on"
    assert flags.evaluate("f", {"plan": "free"}).value == "off"
    assert evaluate_feature("f", features, {"plan": "free"}).value == "on"  # the interpreter reads it live


def test_experiment_spec_owns_its_condition_and_weights():
    condition = {"country": "NZ"}
    weights = [0.0, 1.0]
    spec = ExperimentSpec(key="t", variations=["a", "b"], condition=condition, weights=weights)
    assert run_experiment(spec, {"id": "u1", "country": "NZ"}).value == "b"
    condition["country"] = "AU"
    weights[:] = [1.0, 0.0]
    assert spec.condition == {"country": "NZ"} and spec.weights == [0.0, 1.0]
    assert run_experiment(spec, {"id": "u1", "country": "NZ"}).value == "b"
    assert not run_experiment(spec, {"id": "u1", "country": "AU"}).in_experiment
    # copies and pickles carry no compiled closures; results unchanged
    for clone in (copy.deepcopy(spec), pickle.loads(pickle.dumps(spec)), copy.copy(spec)):
        assert clone == spec
        assert run_experiment(clone, {"id": "u1", "country": "NZ"}).value == "b"


def test_spec_condition_with_saved_groups_follows_the_groups_given_per_call():
    spec = ExperimentSpec(key="t", variations=["a", "b"], weights=[0.0, 1.0],
                          condition={"id": {"$inGroup": "beta"}})
    groups = {"beta": ["u1"]}
    assert run_experiment(spec, {"id": "u1"}, saved_groups=groups).in_experiment
    groups["beta"] = ["u2"]  # mutated in place between calls: the spec does not cache it
    assert not run_experiment(spec, {"id": "u1"}, saved_groups=groups).in_experiment
    assert not run_experiment(spec, {"id": "u1"}).in_experiment  # no groups: empty


# --- bounds


def test_depth_rule_as_the_interpreter():
    deep: dict = {"a": 1}
    for _ in range(500):
        deep = {"$not": deep}
    with pytest.raises(ValueError, match="nest at most 64"):
        compile_condition(deep)({"a": 1})
    # decided before the evaluation reaches the limit: a result, as the interpreter
    decided = {"a": 1, "$and": [deep]}
    assert compile_condition(decided)({"a": 2}) is evaluate_condition(decided, {"a": 2}) is False
    either = {"$or": [{"a": 1}, deep]}
    assert compile_condition(either)({"a": 1}) is evaluate_condition(either, {"a": 1}) is True
    shallow = {"a": 1}
    for _ in range(MAX_CONDITION_DEPTH):
        shallow = {"$and": [shallow]}  # exactly at the limit: evaluates
    assert compile_condition(shallow)({"a": 1}) is evaluate_condition(shallow, {"a": 1}) is True


@pytest.mark.parametrize("levels", [63, 64, 65, 66])
@pytest.mark.parametrize("literal", ["x", 1, ["x"], {"b": 1}])
def test_operator_nesting_at_the_depth_limit(levels, literal):
    # $not/$size on one attribute nest operand levels: a literal at level 65 is too deep.
    for wrapper in ("$not", "$size"):
        value = literal
        for _ in range(levels):
            value = {wrapper: value}
        condition = {"a": value}
        for attributes in ({"a": "x"}, {"a": ["x"]}, {}):
            assert outcome(compile_condition(condition), attributes) == outcome(
                evaluate_condition, condition, attributes), (wrapper, attributes)


def test_shared_sub_conditions_compile_once():
    # A DAG 60 levels deep is 2**60 nodes as a tree: compiling must not walk the tree.
    node: dict = {"a": 1}
    for _ in range(60):
        node = {"$or": [node, node]}
    start = time.process_time()
    matches = compile_condition(node)
    assert matches({"a": 1}) is True  # short-circuits down the first branch
    assert time.process_time() - start < 2.0


def test_regex_bound_holds_compiled():
    matches = compile_condition({"email": {"$regex": "(a+)+$"}})
    start = time.process_time()
    assert matches({"email": "a" * 5_000 + "!"}) is evaluate_condition(
        {"email": {"$regex": "(a+)+$"}}, {"email": "a" * 5_000 + "!"})
    assert time.process_time() - start < 0.5


def test_uses_saved_groups():
    assert uses_saved_groups({"$and": [{"a": {"$not": {"$notInGroup": "g"}}}]})
    assert not uses_saved_groups({"a": {"$in": ["$inGroup"]}})


# --- bad input


def test_bad_input_names_the_argument():
    with pytest.raises(TypeError, match="`condition` must be a mapping"):
        compile_condition(["a"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="`saved_groups` must be a mapping"):
        compile_condition({}, ["g"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="`features` must be a mapping"):
        FeatureSet(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="`contextual_bandits` must be a mapping"):
        FeatureSet({}, contextual_bandits=[])  # type: ignore[arg-type]
    flags = FeatureSet({"f": {"defaultValue": 1}, "bad": {"rules": 3}})
    with pytest.raises(TypeError, match="`key` must be"):
        flags.evaluate(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="`attributes` must be a mapping"):
        flags.evaluate("f", [1])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="`features` must map keys"):  # as evaluate_feature, when reached
        flags.evaluate("bad")
    assert flags.evaluate("missing").source == "unknownFeature"
    assert "f" in flags and len(flags) == 2 and list(flags) == ["f", "bad"] and "2 features" in repr(flags)
