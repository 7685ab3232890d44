"""abkit.assignment against GrowthBook's and Optimizely's published cases, plus properties."""

from __future__ import annotations

import math
import warnings

import numpy as np
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

from abkit.assignment import (
    assign,
    bucket_ranges,
    choose_variation,
    equal_weights,
    fnv1a32,
    gb_hash,
    in_namespace,
    optimizely_bucket,
    optimizely_ranges,
)
from abkit.tests.conftest import reference_cases

UNITS = [f"user-{i}" for i in range(20_000)]


# --- GrowthBook's SDK cases (abkit/tests/reference/hashing.json; exact unless the file says otherwise)


@pytest.mark.parametrize("case", reference_cases("hashing", area="fnv1a32_mod1000")
                         + reference_cases("hashing", area="fnv1a32"))
def test_fnv1a32_reference(case):
    value = fnv1a32(case["inputs"]["value"])
    assert value == case["expected"]["fnv1a32"]
    if "fnv1a32_mod_1000" in case["expected"]:
        assert value % 1000 == case["expected"]["fnv1a32_mod_1000"]


@pytest.mark.parametrize("case", reference_cases("hashing", area="growthbook_hash"))
def test_gb_hash_reference(case):
    inputs = case["inputs"]
    result = gb_hash(inputs["seed"], inputs["value"], inputs["version"])
    if case["expected"]["n"] is None:
        assert result is None
    else:
        assert result == pytest.approx(case["expected"]["n"], abs=case["tolerance"]["abs"])


@pytest.mark.parametrize("case", reference_cases("hashing", area="growthbook_bucket_ranges"))
def test_bucket_ranges_reference(case):
    inputs = case["inputs"]
    ranges = bucket_ranges(inputs["num_variations"], inputs["coverage"], inputs["weights"])
    expected = case["expected"]["ranges"]
    assert len(ranges) == len(expected)
    for got, want in zip(ranges, expected, strict=True):
        assert got == pytest.approx(tuple(want), abs=case["tolerance"]["abs"])


@pytest.mark.parametrize("case", reference_cases("hashing", area="growthbook_choose_variation"))
def test_choose_variation_reference(case):
    assert choose_variation(case["inputs"]["n"], case["inputs"]["ranges"]) == case["expected"]["variation"]


@pytest.mark.parametrize("case", reference_cases("hashing", area="growthbook_in_namespace"))
def test_in_namespace_reference(case):
    namespace = tuple(case["inputs"]["namespace"])
    assert in_namespace(case["inputs"]["hash_value"], namespace) is case["expected"]["in_namespace"]


@pytest.mark.parametrize("case", reference_cases("hashing", area="growthbook_equal_weights"))
def test_equal_weights_reference(case):
    # The SDK file rounds to 8 decimals, hence the 1e-8 tolerance it gives.
    assert equal_weights(case["inputs"]["num_variations"]) == pytest.approx(
        case["expected"]["weights"], abs=case["tolerance"]["abs"])


def _run(case):
    """GrowthBook's ``run`` through :func:`assign`: the SDK's value and in-experiment flag."""
    experiment = case["inputs"]["experiment"]
    attributes = case["inputs"]["context"]["attributes"]
    variations = experiment["variations"]
    weights = experiment.get("weights")
    filters = [{"seed": f["seed"], "ranges": f["ranges"], "attribute": f.get("attribute"),
                "hash_version": f.get("hashVersion", 2)} for f in experiment.get("filters", [])]
    index = assign(
        attributes[experiment.get("hashAttribute", "id")],
        experiment["key"],
        weights,
        n_variants=len(variations) if weights is None else None,
        coverage=experiment.get("coverage", 1.0),
        namespace=experiment.get("namespace"),
        seed=experiment.get("seed"),
        hash_version=experiment.get("hashVersion", 1),
        ranges=experiment.get("ranges"),
        filters=filters or None,
        attributes=attributes,
    )
    return (variations[index] if index >= 0 else variations[0]), index >= 0


@pytest.mark.parametrize("case", reference_cases("hashing", area="growthbook_experiment_assignment"))
def test_assign_reference(case):
    value, in_experiment = _run(case)
    assert value == case["expected"]["value"]
    assert in_experiment is case["expected"]["in_experiment"]


# --- Optimizely's published bucket values: optimizely/swift-sdk
# OptimizelySDK/OptimizelyTests/OptimizelyTests-Common/BucketTests_Base.swift (testHashIsCompliant),
# "reproduced exactly in all clients"; the same values are in the Python SDK's test_bucketing.py.
OPTIMIZELY_CASES = [
    ("ppid1", "1886780721", 5254),
    ("ppid2", "1886780721", 4299),
    ("ppid2", "1886780722", 2434),
    ("ppid3", "1886780721", 5439),
    ("a very very very very very very very very very very very very very very very long ppd string",
     "1886780721", 6128),
]


@pytest.mark.parametrize(("unit", "experiment", "bucket"), OPTIMIZELY_CASES)
def test_optimizely_bucket_values(unit, experiment, bucket):
    assert optimizely_bucket(unit, experiment) == bucket
    # Variants take consecutive bucket ranges: a 50/50 split puts buckets below 5000 in variant 0.
    assert assign(unit, experiment, [0.5, 0.5], hashing="optimizely") == int(bucket >= 5000)
    # With 40% traffic allocated, only buckets below 4000 are in (20% each).
    expected = 0 if bucket < 2000 else 1 if bucket < 4000 else -1
    assert assign(unit, experiment, [0.5, 0.5], coverage=0.4, hashing="optimizely") == expected


# --- Cross-check with GrowthBook's own Python SDK on arbitrary text (UTF-16 code units)


@pytest.mark.skipif(gb_core is None, reason="needs growthbook (bench extra)")
@given(st.text(max_size=30), st.text(max_size=10), st.sampled_from([1, 2]))
def test_gb_hash_matches_growthbook_sdk(value, seed, version):
    assert gb_hash(seed, value, version) == gb_core.gbhash(seed, value, version)
    assert fnv1a32(value) == gb_core.fnv1a32(value)


def test_fnv1a32_walks_utf16_code_units():
    # U+1F600 is the surrogate pair D83D DE00 in UTF-16; FNV-1a over those two units by hand.
    h = 0x811C9DC5
    for unit in (0xD83D, 0xDE00):
        h = ((h ^ unit) * 0x01000193) % 2**32
    assert fnv1a32("\U0001F600") == h


# --- Uniformity and independence


@pytest.mark.parametrize(("hashing", "version"), [("growthbook", 1), ("growthbook", 2), ("optimizely", 1)])
def test_assignment_is_uniform_chi_square(hashing, version):
    weights = [0.5, 0.3, 0.2]
    index = np.array([assign(u, "exp-uniform", weights, hashing=hashing, hash_version=version)
                      for u in UNITS])
    counts = np.bincount(index, minlength=3)
    result = stats.chisquare(counts, np.array(weights) * len(UNITS))
    assert result.pvalue > 0.001, counts


@pytest.mark.parametrize("version", [1, 2])
def test_hash_values_are_uniform_on_unit_interval(version):
    values = np.array([gb_hash("exp-uniform", u, version) for u in UNITS])
    counts = np.histogram(values, bins=20, range=(0.0, 1.0))[0]
    assert stats.chisquare(counts).pvalue > 0.001, counts


def _crosstab(hashing, version, key_a, key_b):
    a = [assign(u, key_a, [0.5, 0.5], hashing=hashing, hash_version=version) for u in UNITS]
    b = [assign(u, key_b, [0.5, 0.5], hashing=hashing, hash_version=version) for u in UNITS]
    table = np.zeros((2, 2))
    np.add.at(table, (np.array(a), np.array(b)), 1)
    return table


@pytest.mark.parametrize(("hashing", "version"), [("growthbook", 2), ("optimizely", 1)])
@pytest.mark.parametrize(("key_a", "key_b"), [("exp-a", "exp-b"), ("checkout", "ranking-model")])
def test_experiments_with_different_seeds_are_independent(hashing, version, key_a, key_b):
    table = _crosstab(hashing, version, key_a, key_b)
    assert stats.chi2_contingency(table).pvalue > 0.001, table


def test_hash_version_1_correlates_experiments_with_similar_keys():
    # Version 1 hashes value + seed: keys differing in their last character share the FNV state
    # up to it, so assignments are correlated. This is the bias GrowthBook's version 2 fixed, and
    # why abkit defaults to version 2.
    table = _crosstab("growthbook", 1, "exp-a", "exp-b")
    assert stats.chi2_contingency(table).pvalue < 1e-6, table


def test_disjoint_namespaces_are_mutually_exclusive():
    first = [assign(u, "exp-a", [0.5, 0.5], namespace=("checkout", 0.0, 0.5)) for u in UNITS]
    second = [assign(u, "exp-b", [0.5, 0.5], namespace=("checkout", 0.5, 1.0)) for u in UNITS]
    both = sum(a >= 0 and b >= 0 for a, b in zip(first, second, strict=True))
    either = sum(a >= 0 or b >= 0 for a, b in zip(first, second, strict=True))
    assert both == 0 and either == len(UNITS)
    low, high = stats.binom.ppf([0.0005, 0.9995], len(UNITS), 0.5)
    assert low <= sum(a >= 0 for a in first) <= high


def test_coverage_share_in_binomial_band():
    inside = sum(assign(u, "exp-coverage", [0.5, 0.5], coverage=0.3) >= 0 for u in UNITS)
    low, high = stats.binom.ppf([0.0005, 0.9995], len(UNITS), 0.3)
    assert low <= inside <= high


# --- Properties


@given(st.text(min_size=1, max_size=20), st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_raising_coverage_keeps_included_units_in_their_variant(unit, c1, c2):
    low, high = sorted((c1, c2))
    before = assign(unit, "exp-grow", [0.3, 0.7], coverage=low, hash_version=2)
    after = assign(unit, "exp-grow", [0.3, 0.7], coverage=high, hash_version=2)
    assert before == -1 or before == after


@given(st.text(min_size=1, max_size=20), st.integers(2, 6), st.sampled_from(["growthbook", "optimizely"]))
def test_assign_is_deterministic_and_in_range(unit, k, hashing):
    index = assign(unit, "exp-k", n_variants=k, hashing=hashing)
    assert 0 <= index < k
    assert index == assign(unit, "exp-k", [1 / k] * k, hashing=hashing)


@given(st.text(min_size=1, max_size=20))
def test_all_weight_on_one_variant(unit):
    assert assign(unit, "exp", [0.0, 1.0], hash_version=2) == 1
    assert assign(unit, "exp", [1.0, 0.0], hashing="optimizely") == 0


# --- Bad input


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"weights": [0.7, 0.4]}, ValueError, r"`weights` must sum to 1; got 1\.1"),
    ({"weights": [1.2, -0.2]}, ValueError, r"`weights` must be non-negative"),
    ({"weights": [1.0]}, ValueError, r"`weights` must have at least 2 entries; got 1"),
    ({"weights": [0.5, 0.5], "n_variants": 3}, ValueError, r"one entry per variant \(3\); got 2"),
    ({"weights": "ab"}, TypeError, r"`weights` must be a sequence of numbers"),
    ({"coverage": -0.1}, ValueError, r"`coverage` must be in \[0, 1\]; got -0\.1"),
    ({"coverage": 1.5}, ValueError, r"`coverage` must be in \[0, 1\]; got 1\.5"),
    ({"hash_version": 3}, ValueError, r"`hash_version` must be 1 or 2; got 3"),
    ({"hashing": "md5"}, ValueError, r"`hashing` must be one of 'growthbook', 'optimizely'; got 'md5'"),
    ({"hashing": "optimizely", "seed": "s"}, ValueError, r"GrowthBook options"),
    ({"namespace": ("ns", 0.6, 0.4)}, ValueError, r"`namespace` must satisfy 0 <= start <= end <= 1"),
    ({"namespace": "ns"}, TypeError, r"`namespace` must be a \(name, start, end\) tuple"),
])
def test_assign_rejects_bad_options(kwargs, error, match):
    kwargs = {"weights": [0.5, 0.5], **kwargs}
    with pytest.raises(error, match=match):
        assign("user-1", "exp", **kwargs)


def test_assign_rejects_bad_unit_ids():
    with pytest.raises(ValueError, match=r"`unit_id` must be a non-empty string; got ''"):
        assign("", "exp", [0.5, 0.5])
    with pytest.raises(TypeError, match=r"`unit_id` must be a string; got int 7"):
        assign(7, "exp", [0.5, 0.5])  # type: ignore[arg-type]


def test_lenient_sdk_functions_clip_like_growthbook():
    # bucket_ranges mirrors the SDK (clip coverage, equal weights for invalid ones); assign refuses.
    assert bucket_ranges(2, -1.0) == [(0.0, 0.0), (0.5, 0.5)]
    assert bucket_ranges(2, 1.0, [math.nan, 1.0]) == [(0.0, 0.5), (0.5, 1.0)]


def test_lenient_sdk_functions_refuse_wrong_kinds_by_name():
    # Lenient on values as the SDK (clip, equal weights), strict on the kind of input.
    assert bucket_ranges(2, math.inf) == [(0.0, 0.5), (0.5, 1.0)]
    assert bucket_ranges(2, 10**400, [0.5, 10**400]) == [(0.0, 0.5), (0.5, 1.0)]
    assert equal_weights(-5) == []
    assert choose_variation(math.nan, [(0.0, 1.0)]) == -1
    assert in_namespace("1", ("namespace2", 0.4, 10**400)) is True
    cases = [
        (lambda: equal_weights(2.5), ValueError, r"^`n` must be a whole number; got 2\.5\.$"),
        (lambda: equal_weights(2**63), ValueError, r"^`n` must be at most 100000; got 9223372036854775808\.$"),
        (lambda: bucket_ranges(2, math.nan), ValueError, r"^`coverage` must be a number in \[0, 1\]"),
        (lambda: bucket_ranges(2, "x"), TypeError, r"^`coverage` must be a real number; got 'x'\.$"),
        (lambda: bucket_ranges(2, 1.0, 0.5), TypeError, r"^`weights` must be a sequence of numbers; got 0\.5\.$"),
        (lambda: choose_variation("x", [(0, 1)]), TypeError, r"^`n` must be a real number; got 'x'\.$"),
        (lambda: choose_variation(0.5, [(1,), (0, 1)]), TypeError, r"^`ranges` must be a sequence of \(start, end\)"),
        (lambda: in_namespace("1", 0.5), TypeError, r"^`namespace` must be a \(name, start, end\) sequence"),
        (lambda: optimizely_ranges([0.5, -0.5]), ValueError, r"^`weights` must be non-negative"),
        (lambda: optimizely_ranges([0.5, 0.5], math.nan), ValueError, r"^`coverage` must be finite; got nan\.$"),
        (lambda: assign("u", "e", [0.5, 0.5], n_variants=math.nan), ValueError, r"^`n_variants` must be a whole"),
        (lambda: assign("u", "e", ranges=[(0.5, 0.2), (0.5, 1.0)]), ValueError, r"^`ranges` must satisfy 0 <= start"),
        (lambda: assign("u", "e", filters=[{"seed": "s"}]), TypeError, r"^`filters` must be a sequence of mappings"),
    ]
    for call, kind, message in cases:
        with pytest.raises(kind, match=message):
            call()
