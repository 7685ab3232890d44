"""Feature flags: monotone rollouts, the kill switch, and the condition language."""

from __future__ import annotations

import json
import re
import time
import warnings

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy import stats

try:  # GrowthBook's own SDK (the bench extra) for cross-checks; it warns on import
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import growthbook.core as gb_core
except ImportError:  # pragma: no cover - the cross-checks are skipped without it
    gb_core = None

import abkit
from abkit import flags
from abkit.assignment import assign, gb_hash
from abkit.flags import (
    MAX_CONDITION_DEPTH,
    ExperimentSpec,
    FeatureFlag,
    _regex,
    check_condition,
    evaluate_condition,
    evaluate_feature,
    run_experiment,
)

UNITS = [f"user-{i}" for i in range(20_000)]


@given(st.text(min_size=1, max_size=20), st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_rollout_only_adds_units_as_it_grows(unit, p1, p2):
    low, high = sorted((p1, p2))
    flag = FeatureFlag("new-ranker")
    assert not flag.with_rollout(low).is_on(unit) or flag.with_rollout(high).is_on(unit)


def test_rollout_5_to_20_percent_keeps_every_unit_and_matches_shares():
    flag = FeatureFlag("new-ranker", rollout=0.05)
    at_5 = {u for u in UNITS if flag.is_on(u)}
    at_20 = {u for u in UNITS if flag.with_rollout(0.2).is_on(u)}
    assert at_5 <= at_20
    for share, units in ((0.05, at_5), (0.2, at_20)):
        low, high = stats.binom.ppf([0.0005, 0.9995], len(UNITS), share)
        assert low <= len(units) <= high


def test_kill_switch_turns_everyone_off_and_full_rollout_everyone_on():
    flag = FeatureFlag("new-ranker", rollout=0.6)
    assert not any(flag.kill().is_on(u) for u in UNITS)
    assert all(flag.with_rollout(1.0).is_on(u) for u in UNITS)
    assert flag.kill().rollout == 0.0 and flag.kill().key == "new-ranker"


def test_position_is_growthbook_hash_v2_of_the_seed():
    # Position = GrowthBook's hash version 2 (checked against its SDK cases in test_assignment).
    assert FeatureFlag("f", seed="seed").position("b") == gb_hash("seed", "b", 2) == 0.2696
    assert FeatureFlag("renamed", seed="f").position("u1") == FeatureFlag("f").position("u1")


def test_flags_with_different_keys_roll_out_independently():
    a = FeatureFlag("flag-a", rollout=0.5)
    b = FeatureFlag("flag-b", rollout=0.5)
    both = sum(a.is_on(u) and b.is_on(u) for u in UNITS)
    low, high = stats.binom.ppf([0.0005, 0.9995], len(UNITS), 0.25)
    assert low <= both <= high


def test_targeting_restricts_the_rollout():
    flag = FeatureFlag("nz-only", rollout=1.0, condition={"country": "NZ", "age": {"$gte": 18}})
    assert flag.is_on("u1", {"country": "NZ", "age": 30})
    assert not flag.is_on("u1", {"country": "NZ", "age": 17})
    assert not flag.is_on("u1", {"country": "AU", "age": 30})
    assert not flag.is_on("u1")


ATTRIBUTES = {"country": "NZ", "age": 30, "plan": {"tier": "pro", "seats": 5}, "email": "a@b.co",
              "score": None, "tags": ["a", "b"]}
CONDITION_CASES = [
    ({"country": "NZ"}, True),
    ({"country": "AU"}, False),
    ({"plan.tier": "pro"}, True),
    ({"plan.seats": {"$gt": 4, "$lte": 5}}, True),
    ({"plan.seats": {"$gt": 5}}, False),
    ({"age": {"$in": [20, 30]}}, True),
    ({"age": {"$nin": [20, 30]}}, False),
    ({"age": {"$ne": 31}}, True),
    ({"age": {"$gte": "30"}}, True),  # JavaScript's comparison: a numeric string is a number
    ({"age": {"$gte": "thirty"}}, False),  # ... and any other string is NaN, ordered with nothing
    ({"age": {"$eq": "30"}}, False),  # equality is strict
    ({"tags": {"$in": ["b", "z"]}}, True),  # a list attribute is in when any item is
    ({"tags": {"$nin": ["b", "z"]}}, False),
    ({"country": {"$lt": "OZ"}}, True),  # strings compare lexicographically
    ({"email": {"$regex": r"@b\.co$"}}, True),
    ({"age": {"$regex": "3"}}, False),  # regex only on strings
    ({"missing": {"$exists": False}}, True),
    ({"score": {"$exists": True}}, False),  # None counts as missing
    ({"missing": {"$ne": 1}}, True),
    ({"missing": {"$in": [1, 2]}}, False),
    ({"missing": None}, True),
    ({"$or": [{"country": "AU"}, {"age": {"$lt": 40}}]}, True),
    ({"$or": []}, True),
    ({"$and": [{"country": "NZ"}, {"age": {"$gt": 40}}]}, False),
    ({"$nor": [{"country": "AU"}, {"age": 31}]}, True),
    ({"$not": {"country": "NZ"}}, False),
    ({}, True),
]


@pytest.mark.parametrize(("condition", "expected"), CONDITION_CASES)
def test_condition_language(condition, expected):
    assert evaluate_condition(check_condition(condition), ATTRIBUTES) is expected


_VALUES = st.one_of(st.none(), st.integers(-3, 3))
_OPERATOR = st.one_of(
    st.tuples(st.sampled_from(["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"]), st.integers(-3, 3)),
    st.tuples(st.sampled_from(["$in", "$nin"]), st.lists(st.integers(-3, 3), max_size=3)),
    st.tuples(st.just("$exists"), st.booleans()),
)
_FIELD = st.one_of(
    st.builds(lambda k, v: {k: v}, st.sampled_from("abc"), st.integers(-3, 3)),
    st.builds(lambda k, ops: {k: dict(ops)}, st.sampled_from("abc"),
              st.lists(_OPERATOR, min_size=1, max_size=2)),
)
_CONDITIONS = st.recursive(
    _FIELD,
    lambda inner: st.one_of(
        st.builds(lambda op, items: {op: items}, st.sampled_from(["$and", "$or", "$nor"]),
                  st.lists(inner, max_size=3)),
        st.builds(lambda c: {"$not": c}, inner),
    ),
    max_leaves=6,
)


def _compares_a_missing_value(attributes, condition):
    # GrowthBook's Python SDK departs from its own spec (and the JavaScript SDK) on ordering
    # comparisons with a missing attribute (JavaScript: null is 0); abkit follows the spec, so the
    # cross-check skips those. The spec's cases run in test_growthbook_sdk_cases.py.
    text = repr(condition)
    return any(op in text for op in ("$gt", "$lt")) and any(attributes.get(k) is None for k in "abc")


@pytest.mark.skipif(gb_core is None, reason="needs growthbook (bench extra)")
@given(st.dictionaries(st.sampled_from("abc"), _VALUES), _CONDITIONS)
def test_conditions_agree_with_growthbook_sdk(attributes, condition):
    assume(not _compares_a_missing_value(attributes, condition))
    expected = gb_core.evalCondition(attributes, condition)
    assert evaluate_condition(check_condition(condition), attributes) is expected


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"rollout": -0.1}, ValueError, r"`rollout` must be in \[0, 1\]; got -0\.1"),
    ({"rollout": 1.2}, ValueError, r"`rollout` must be in \[0, 1\]; got 1\.2"),
    ({"rollout": "half"}, TypeError, r"`rollout` must be a real number"),
    ({"condition": {"age": {"$between": [1, 2]}}}, ValueError, r"unknown operator '\$between'"),
    ({"condition": {"age": {"$type": "int"}}}, ValueError, r"\$type must be one of null, boolean"),
    ({"condition": {"age": {"$exists": 1}}}, TypeError, r"\$exists must be given a bool; got 1"),
    ({"condition": {"id": {"$inGroup": 3}}}, TypeError, r"\$inGroup must be given a saved group id"),
    ({"condition": {"tags": {"$elemMatch": 3}}}, TypeError, r"\$elemMatch must be given a mapping"),
    ({"condition": {"tags": {"$all": [{"$bad": 1}]}}}, ValueError, r"unknown operator '\$bad'"),
    ({"condition": {"e": {"$regex": "(?=a)"}}}, ValueError, r"\$regex must be a valid pattern"),
    ({"condition": {"$xor": []}}, ValueError, r"unknown top-level operator '\$xor'"),
    ({"condition": {"age": {"$in": 3}}}, TypeError, r"\$in must be given a list; got 3"),
    ({"condition": {"$or": {"a": 1}}}, TypeError, r"\$or must be a list of conditions"),
    ({"condition": {"e": {"$regex": "("}}}, ValueError, r"\$regex must be a valid pattern"),
    ({"condition": [1]}, TypeError, r"`condition` must be a mapping"),
    ({"seed": ""}, ValueError, r"`seed` must be a non-empty string"),
])
def test_bad_flags_are_refused_when_built(kwargs, error, match):
    with pytest.raises(error, match=match):
        FeatureFlag("flag", **kwargs)


def test_bad_unit_ids_and_keys():
    with pytest.raises(ValueError, match=r"`key` must be a non-empty string; got ''"):
        FeatureFlag("")
    with pytest.raises(ValueError, match=r"`unit_id` must be a non-empty string"):
        FeatureFlag("f", rollout=0.5).is_on("")


def test_to_dict_round_trip():
    flag = FeatureFlag("f", rollout=0.25, condition={"country": {"$in": ["NZ"]}}, seed="s")
    assert FeatureFlag(**flag.to_dict()) == flag


# --- bounds: deep conditions, slow patterns, ids that cannot be hashed


def _nested_not(depth: int) -> dict:
    condition: dict = {"country": "NZ"}
    for _ in range(depth):
        condition = {"$not": condition}
    return condition


def _nested_and(depth: int) -> dict:
    condition: dict = {"country": "NZ"}
    for _ in range(depth):
        condition = {"$and": [condition]}
    return condition


def _nested_elem_match(depth: int) -> dict:
    condition: dict = {"$eq": 1}
    for _ in range(depth):
        condition = {"$elemMatch": condition}
    return {"tags": condition}


@pytest.mark.parametrize("build", [_nested_not, _nested_and, _nested_elem_match])
def test_conditions_nested_past_the_maximum_depth_are_refused_clearly(build):
    ok = build(MAX_CONDITION_DEPTH // 2)
    assert isinstance(evaluate_condition(check_condition(ok), ATTRIBUTES), bool)
    FeatureFlag("f", rollout=1.0, condition=ok).is_on("u1", ATTRIBUTES)
    message = rf"`condition` must nest at most {MAX_CONDITION_DEPTH} levels deep"
    for depth in (MAX_CONDITION_DEPTH + 1, 500, 5000):  # 500 was a RecursionError before
        deep = build(depth)
        with pytest.raises(ValueError, match=message):
            FeatureFlag("f", rollout=1.0, condition=deep)
        nested: list = [1]  # items for $elemMatch to descend into
        for _ in range(depth):
            nested = [nested]
        with pytest.raises(ValueError, match=message):
            evaluate_condition(deep, {**ATTRIBUTES, "tags": nested})


def test_depth_limit_is_the_same_for_checking_and_evaluating():
    assert evaluate_condition(check_condition(_nested_not(MAX_CONDITION_DEPTH)), ATTRIBUTES) is True
    with pytest.raises(ValueError, match="must nest at most"):
        check_condition(_nested_not(MAX_CONDITION_DEPTH + 1))
    with pytest.raises(ValueError, match="must nest at most"):
        evaluate_condition(_nested_not(MAX_CONDITION_DEPTH + 1), ATTRIBUTES)


def test_deeply_nested_literals_are_refused_too():
    literal: list = [1]
    for _ in range(2000):
        literal = [literal]
    with pytest.raises(ValueError, match="must nest at most"):
        evaluate_condition({"x": literal}, {"x": literal})


# The reproducer: Python's re takes 0.77 s on 24 characters, x4 per 2 more.
CATASTROPHIC = "(a+)+$"


@pytest.mark.skipif(not _regex.HAS_RE2, reason="needs google-re2 (the re2 extra)")
def test_regex_runs_in_linear_time_with_re2():
    text = "a" * 100_000 + "!"
    start = time.perf_counter()
    assert evaluate_condition({"s": {"$regex": CATASTROPHIC}}, {"s": text}) is False
    assert evaluate_condition({"s": {"$notRegex": CATASTROPHIC}}, {"s": text}) is True
    assert time.perf_counter() - start < 1.0  # a hang guard, not a speed claim (backtracking: years)
    FeatureFlag("f", condition={"s": {"$regex": CATASTROPHIC}})  # every pattern RE2 accepts is allowed


@pytest.fixture
def fallback_regex(monkeypatch):
    """Python's re under the documented bound, as on an install without google-re2."""
    monkeypatch.setattr(_regex, "_re2", None)
    monkeypatch.setattr(_regex, "HAS_RE2", False)
    _regex.compile_pattern.cache_clear()
    yield
    _regex.compile_pattern.cache_clear()


@pytest.mark.usefixtures("fallback_regex")
@pytest.mark.parametrize(("pattern", "reason"), [
    (CATASTROPHIC, "a quantifier on a group"),
    ("(a|aa)*$", "a quantifier on a group"),
    ("(?:ab){2,}", "a quantifier on a group"),
    (r"(a)\1", "a backreference"),
    ("(?=a)a", "lookaround"),
    ("a*a*a*b", "more than 2 quantifiers"),
    ("a?" * 3, "more than 2 quantifiers"),
    ("x" * 257, "longer than 256 characters"),
])
def test_fallback_refuses_patterns_that_could_backtrack(pattern, reason):
    assert reason in _regex.fallback_refusal(pattern)
    assert evaluate_condition({"s": {"$regex": pattern}}, {"s": "a" * 24 + "!"}) is False
    with pytest.raises(ValueError, match=rf"must be a valid pattern \({re.escape(reason)}"):
        FeatureFlag("f", condition={"s": {"$regex": pattern}})


@pytest.mark.usefixtures("fallback_regex")
def test_fallback_keeps_ordinary_patterns_and_bounds_the_text():
    for pattern, text in ((r"^\d+\.\d+$", "12.5"), (r"@example\.com$", "ann@example.com"),
                          ("^(foo|bar)-[a-z]+$", "bar-baz"), (r"[)+*]{2}", "a)+"), ("(?i)NZ", "nz")):
        assert _regex.fallback_refusal(pattern) is None
        assert evaluate_condition({"s": {"$regex": pattern}}, {"s": text}) is True
    long_text = "a" * (_regex.MAX_FALLBACK_TEXT + 1)
    assert evaluate_condition({"s": {"$regex": "a"}}, {"s": long_text}) is False
    start = time.perf_counter()  # the worst pattern allowed, on the longest text allowed
    assert evaluate_condition({"s": {"$regex": "a*a*b"}}, {"s": "a" * _regex.MAX_FALLBACK_TEXT}) is False
    assert time.perf_counter() - start < 1.0  # a hang guard: about 10 ms


@pytest.mark.parametrize("hashing", ["growthbook", "optimizely"])
@pytest.mark.parametrize("bad", ["\udcff", "user-\ud800", "\udfff-x"])
def test_ids_that_cannot_be_utf8_are_refused_before_hashing(hashing, bad):
    # mmh3 crashed the process on a lone surrogate; every hashing refuses it up front.
    with pytest.raises(ValueError, match=r"`unit_id` must be encodable as UTF-8 \(no lone surrogates\)"):
        assign(bad, "exp", [0.5, 0.5], hashing=hashing)
    with pytest.raises(ValueError, match=r"`experiment` must be encodable as UTF-8"):
        assign("user-1", bad, [0.5, 0.5], hashing=hashing)
    with pytest.raises(ValueError, match=r"`unit_id` must be encodable as UTF-8"):
        FeatureFlag("f", rollout=0.5).is_on(bad)


def test_flag_names_are_exported():
    for name in flags.__all__:
        assert hasattr(flags, name)
    assert {"evaluate_condition", "evaluate_feature", "run_experiment"} <= set(abkit.__all__)


# --- GrowthBook evaluation: bad payloads, round trips (the SDK's own cases: test_growthbook_sdk_cases.py)


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda: evaluate_feature("f", {"f": 3}), TypeError, r"`features` must map keys to"),
    (lambda: evaluate_feature("f", {"f": {"rules": [1]}}), TypeError, r"`features` must map keys to"),
    (lambda: evaluate_feature("f", [1]), TypeError, r"`features` must be a mapping"),
    (lambda: evaluate_feature(3, {}), TypeError, r"`key` must be a string"),
    (lambda: evaluate_feature("f", {}, attributes=[1]), TypeError, r"`attributes` must be a mapping"),
    (lambda: run_experiment({"key": "t"}), ValueError, r"`experiment` must have a key and variations"),
    (lambda: run_experiment([1]), TypeError, r"`experiment` must be a mapping or an ExperimentSpec"),
    (lambda: run_experiment({"key": "t", "variations": "ab"}), TypeError, r"`variations` must be a list"),
    (lambda: run_experiment({"key": "t", "variations": [0, 1]}, url=3), TypeError, r"`url` must be a string"),
    (lambda: evaluate_condition([1], {}), TypeError, r"`condition` must be a mapping"),
])
def test_bad_payloads_are_refused_clearly(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_malformed_entries_inside_a_condition_fail_instead_of_raising():
    # As GrowthBook's SDKs: payloads from a newer server degrade to "not matched".
    assert evaluate_condition({"a": {"$newOperator": 1}}, {"a": 1}) is False
    assert evaluate_condition({"$not": {"a": {"$newOperator": 1}}}, {"a": 1}) is False
    assert evaluate_condition({"$or": 3}, {"a": 1}) is False
    assert evaluate_condition({"a": {"$in": "abc"}}, {"a": "a"}) is False


def test_experiment_spec_round_trip_and_results_are_json():
    data = {"key": "t", "variations": [0, 1], "weights": [0.2, 0.8], "hashVersion": 2, "seed": "s",
            "meta": [{"key": "c"}, {"key": "v", "name": "treatment"}], "namespace": ["ns", 0, 1]}
    spec = ExperimentSpec.from_dict({**data, "unknown": 1})
    assert spec.to_dict() == data and ExperimentSpec.from_dict(spec.to_dict()) == spec
    result = run_experiment(spec, {"id": "user-3"})
    assert json.loads(json.dumps(result.to_dict(), allow_nan=False)) == result.to_dict()
    assert result.key in ("c", "v") and repr(result).splitlines()[0] == "Assignment"


@pytest.mark.parametrize(("value", "on"), [(None, False), (False, False), (0, False), (float("nan"), False),
                                           ("", False), ([], True), ({}, True), ("0", True), (2, True)])
def test_feature_on_is_javascript_truthiness(value, on):
    result = evaluate_feature("f", {"f": {"defaultValue": value}})
    assert (result.on, result.off) == (on, not on)


def test_sticky_buckets_keep_a_unit_in_place_and_write_only_changes():
    features = {"f": {"defaultValue": 0, "rules": [{"key": "exp", "variations": [0, 1, 2], "hashVersion": 2,
                                                     "meta": [{"key": "a"}, {"key": "b"}, {"key": "c"}]}]}}
    docs: dict = {}
    first = evaluate_feature("f", features, {"id": "u1"}, sticky_buckets=docs)
    assert docs == {"id||u1": {"attributeName": "id", "attributeValue": "u1",
                               "assignments": {"exp__0": first.experiment_result.key}}}
    stored = docs["id||u1"]
    again = evaluate_feature("f", features, {"id": "u1"}, sticky_buckets=docs)
    assert again.experiment_result.sticky_bucket_used and again.value == first.value
    assert docs["id||u1"] is stored  # unchanged documents are not rewritten
    # weights change: the unit keeps its variation while bucketVersion stays
    features["f"]["rules"][0]["weights"] = [1.0, 0.0, 0.0] if first.value != 0 else [0.0, 0.0, 1.0]
    assert evaluate_feature("f", features, {"id": "u1"}, sticky_buckets=docs).value == first.value
    assert evaluate_feature("f", features, {"id": "u1"}).value != first.value
