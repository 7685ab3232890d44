"""Feature flags: monotone rollouts, the kill switch, and the condition language."""

from __future__ import annotations

import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

try:  # GrowthBook's own SDK (the bench extra) for cross-checks; it warns on import
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import growthbook.core as gb_core
except ImportError:  # pragma: no cover - the cross-checks are skipped without it
    gb_core = None

from abkit.assignment import gb_hash
from abkit.flags import FeatureFlag, check_condition, eval_condition

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
              "score": None}
CONDITION_CASES = [
    ({"country": "NZ"}, True),
    ({"country": "AU"}, False),
    ({"plan.tier": "pro"}, True),
    ({"plan.seats": {"$gt": 4, "$lte": 5}}, True),
    ({"plan.seats": {"$gt": 5}}, False),
    ({"age": {"$in": [20, 30]}}, True),
    ({"age": {"$nin": [20, 30]}}, False),
    ({"age": {"$ne": 31}}, True),
    ({"age": {"$gte": "30"}}, False),  # number against string: false, never an error
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
    assert eval_condition(ATTRIBUTES, check_condition(condition)) is expected


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


@pytest.mark.skipif(gb_core is None, reason="needs growthbook (bench extra)")
@given(st.dictionaries(st.sampled_from("abc"), _VALUES), _CONDITIONS)
def test_conditions_agree_with_growthbook_sdk(attributes, condition):
    expected = gb_core.evalCondition(attributes, condition)
    assert eval_condition(attributes, check_condition(condition)) is expected


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"rollout": -0.1}, ValueError, r"`rollout` must be in \[0, 1\]; got -0\.1"),
    ({"rollout": 1.2}, ValueError, r"`rollout` must be in \[0, 1\]; got 1\.2"),
    ({"rollout": "half"}, TypeError, r"`rollout` must be a real number"),
    ({"condition": {"age": {"$between": [1, 2]}}}, ValueError, r"unknown operator '\$between'"),
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
