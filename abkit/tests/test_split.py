"""abkit.assignment.Split: one validated split for assign, flags and routers, and the documented
bottom/top convention (flags take the bottom of the hash range, canaries the top).

The references are independent of Split: GrowthBook's hash and range lookup written out here
from gb_hash and choose_variation (checked against the SDK cases in test_assignment.py),
Optimizely's bucket from optimizely_bucket, and FixedSplitRouter's own range lookup."""

from __future__ import annotations

import pytest

from abkit.adapters import FixedSplitRouter
from abkit.assignment import Split, bucket_ranges, choose_variation, gb_hash, in_namespace, optimizely_bucket
from abkit.flags import FeatureFlag

UNITS = [f"user-{i}" for i in range(3_000)]


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize(("weights", "coverage"), [([0.5, 0.5], 1.0), ([0.2, 0.3, 0.5], 0.6),
                                                   ([0.0, 1.0], 1.0), ([0.9, 0.1], 0.25)])
def test_split_index_is_growthbooks_hash_and_range_lookup(weights, coverage, version):
    split = Split("exp-7", weights, coverage=coverage, hash_version=version)
    ranges = bucket_ranges(len(weights), coverage, weights)
    for unit in UNITS:
        n = gb_hash("exp-7", unit, version)
        assert split.position(unit) == n
        assert split.index(unit) == choose_variation(n, ranges)


def test_split_with_seed_namespace_and_ranges():
    split = Split("exp", [0.5, 0.5], seed="other-seed", namespace=("ns", 0.2, 0.7),
                  ranges=[(0.0, 0.3), (0.6, 0.8)])
    for unit in UNITS:
        expected = -1
        n = gb_hash("other-seed", unit, 2)
        assert n is not None
        if in_namespace(unit, ("ns", 0.2, 0.7)):
            expected = choose_variation(n, [(0.0, 0.3), (0.6, 0.8)])
        assert split.index(unit) == expected


def test_split_optimizely_buckets():
    split = Split("1886780721", [0.3, 0.7], coverage=0.5, hashing="optimizely")
    for unit in UNITS:
        bucket = optimizely_bucket(unit, "1886780721")
        expected = 0 if bucket < 1500 else 1 if bucket < 5000 else -1
        assert split.index(unit) == expected
        assert split.position(unit) == bucket / 10_000


def test_split_agrees_with_fixed_split_router():
    router = FixedSplitRouter("exp-3", ("a", "b", "c"), [0.2, 0.3, 0.5], coverage=0.8,
                              namespace=("ns", 0.0, 0.9))
    split = Split("exp-3", [0.2, 0.3, 0.5], coverage=0.8, namespace=("ns", 0.0, 0.9))
    assert [split.index(u) for u in UNITS] == [router.index(u) for u in UNITS]


def test_flags_take_the_bottom_canaries_the_top():
    # The module's convention, on one seed: a flag at r is on for positions in [0, r), a canary at
    # s holds [1 - s, 1); at 10% each they reach disjoint units, and growing either only adds.
    flag = FeatureFlag("shared-seed", rollout=0.1)
    canary = Split("shared-seed", [0.9, 0.1])  # CanaryRouter's split: weights [1 - s, s], variant 1
    on = {u for u in UNITS if flag.is_on(u)}
    in_canary = {u for u in UNITS if canary.index(u) == 1}
    assert on == {u for u in UNITS if flag.position(u) < 0.1}
    assert in_canary == {u for u in UNITS if canary.position(u) >= 0.9}
    assert on and in_canary and not on & in_canary
    assert on <= {u for u in UNITS if flag.with_rollout(0.3).is_on(u)}
    assert in_canary <= {u for u in UNITS if Split("shared-seed", [0.7, 0.3]).index(u) == 1}


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"ranges": [(0.0, 0.5)]}, ValueError, "`ranges` must have one entry per variant"),
    ({"ranges": [(0.0, 0.5), (0.5, 1.5)]}, ValueError, "0 <= start <= end <= 1"),
    ({"ranges": [(0.0, 0.5), "ab"]}, TypeError, "`ranges` must be a sequence of"),
    ({"ranges": 0.5}, TypeError, "`ranges` must be a sequence of"),
    ({"n_variants": 1}, ValueError, "`n_variants`"),
    ({"n_variants": 3}, ValueError, "one entry per variant"),
    ({"hash_version": 3}, ValueError, "`hash_version`"),
    ({"hashing": "optimizely", "seed": "s"}, ValueError, "GrowthBook options"),
])
def test_split_refuses_bad_configuration(kwargs, error, match):
    with pytest.raises(error, match=match):
        Split("exp", [0.5, 0.5], **kwargs)


@pytest.mark.parametrize("unit", ["", None, 3, float("nan")])
def test_split_names_a_bad_unit_id(unit):
    split = Split("exp", [0.5, 0.5])
    with pytest.raises((TypeError, ValueError), match="`unit_id`"):
        split.index(unit)
    with pytest.raises((TypeError, ValueError), match="`unit_id`"):
        split.position(unit)
