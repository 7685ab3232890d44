"""GrowthBook's SDK conformance suite (cases.json, spec 0.8.0), case by case.

abkit/tests/reference/growthbook_sdk_cases.json is GrowthBook's file, unmodified: each section is
a list in GrowthBook's positional layout (read below). Sections run here: hash, getBucketRange,
chooseVariation, getEqualWeights, inNamespace, evalCondition, run, feature, contextualBandit (laid
out as feature), stickyBucket and getQueryStringOverride. Left out: decrypt and urlRedirect (out
of abkit's scope).

The compiled paths run the same cases: every evalCondition case through ``compile_condition``,
every feature, contextualBandit and stickyBucket case through a ``FeatureSet``, and every run
case through a prebuilt ``ExperimentSpec`` (twice: its compiled condition is cached).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from abkit.assignment import bucket_ranges, choose_variation, equal_weights, gb_hash, in_namespace
from abkit.flags import (
    ExperimentSpec,
    FeatureSet,
    compile_condition,
    evaluate_condition,
    evaluate_feature,
    query_string_override,
    run_experiment,
)

CASES = json.loads((Path(__file__).parent / "reference" / "growthbook_sdk_cases.json").read_text())


def section(name: str, *, id_index: int | None = 0) -> list[Any]:
    cases = CASES[name]
    ids = [str(i) if id_index is None else f"{i}-{case[id_index]}" for i, case in enumerate(cases)]
    return [pytest.param(*case, id=case_id) for case, case_id in zip(cases, ids, strict=True)]


def test_spec_version_and_section_sizes():
    assert CASES["specVersion"] == "0.8.0"
    sizes = {k: len(CASES[k]) for k in ("evalCondition", "run", "feature", "stickyBucket", "contextualBandit")}
    assert sizes == {"evalCondition": 248, "run": 73, "feature": 55, "stickyBucket": 13, "contextualBandit": 35}


# --- hashing and bucketing (exact: the SDKs compute these with the same float operations)


@pytest.mark.parametrize(("seed", "value", "version", "expected"), section("hash", id_index=None))
def test_hash(seed, value, version, expected):
    assert gb_hash(seed, value, version) == expected


@pytest.mark.parametrize(("name", "args", "expected"), section("getBucketRange"))
def test_get_bucket_range(name, args, expected):
    ranges = bucket_ranges(*args)
    # The file rounds to 8 decimals (0.33333333); the SDKs compare with toBeCloseTo the same way.
    assert [list(r) for r in ranges] == [pytest.approx(r, abs=1e-8) for r in expected]


@pytest.mark.parametrize(("name", "n", "ranges", "expected"), section("chooseVariation"))
def test_choose_variation(name, n, ranges, expected):
    assert choose_variation(n, ranges) == expected


@pytest.mark.parametrize(("n", "expected"), section("getEqualWeights", id_index=None))
def test_get_equal_weights(n, expected):
    assert equal_weights(n) == pytest.approx(expected, abs=1e-8)  # the file rounds to 8 decimals


@pytest.mark.parametrize(("name", "unit", "namespace", "expected"), section("inNamespace"))
def test_in_namespace(name, unit, namespace, expected):
    assert in_namespace(unit, namespace) is expected


@pytest.mark.parametrize(("name", "key", "url", "n", "expected"), section("getQueryStringOverride"))
def test_get_query_string_override(name, key, url, n, expected):
    assert query_string_override(key, url, n) == expected


# --- conditions, experiments, features


@pytest.mark.parametrize("case", [pytest.param(c, id=f"{i}-{c[0]}") for i, c in enumerate(CASES["evalCondition"])])
def test_eval_condition(case):
    _, condition, attributes, expected, *saved_groups = case  # saved groups are optional
    assert evaluate_condition(condition, attributes, *saved_groups) is expected


@pytest.mark.parametrize("case", [pytest.param(c, id=f"{i}-{c[0]}") for i, c in enumerate(CASES["evalCondition"])])
def test_eval_condition_compiled(case):
    _, condition, attributes, expected, *saved_groups = case
    assert compile_condition(condition, *saved_groups)(attributes) is expected


def options(context: dict[str, Any]) -> dict[str, Any]:
    """abkit's keyword arguments for a case's GrowthBook context."""
    return {"saved_groups": context.get("savedGroups"), "forced_variations": context.get("forcedVariations"),
            "url": context.get("url"), "qa_mode": context.get("qaMode", False),
            "enabled": context.get("enabled", True)}


@pytest.mark.parametrize(("name", "context", "experiment", "value", "in_experiment", "hash_used"), section("run"))
def test_run(name, context, experiment, value, in_experiment, hash_used):
    result = run_experiment(experiment, context.get("attributes"), features=context.get("features"),
                            **options(context))
    assert (result.value, result.in_experiment, result.hash_used) == (value, in_experiment, hash_used)


@pytest.mark.parametrize(("name", "context", "experiment", "value", "in_experiment", "hash_used"), section("run"))
def test_run_prebuilt_spec(name, context, experiment, value, in_experiment, hash_used):
    spec = ExperimentSpec.from_dict(experiment)
    for _ in range(2):  # the second run uses the spec's cached compiled condition and ranges
        result = run_experiment(spec, context.get("attributes"), features=context.get("features"),
                                **options(context))
        assert (result.value, result.in_experiment, result.hash_used) == (value, in_experiment, hash_used)


def feature_set(context: dict[str, Any]) -> FeatureSet:
    return FeatureSet(context.get("features", {}), saved_groups=context.get("savedGroups"),
                      contextual_bandits=context.get("contextualBandits"))


def evaluate_options(context: dict[str, Any]) -> dict[str, Any]:
    """FeatureSet.evaluate's keyword arguments (the payload's are the set's)."""
    return {k: v for k, v in options(context).items() if k != "saved_groups"}


@pytest.mark.parametrize(("name", "context", "key", "expected"), section("feature") + section("contextualBandit"))
def test_feature(name, context, key, expected):
    result = evaluate_feature(key, context.get("features", {}), context.get("attributes"),
                              contextual_bandits=context.get("contextualBandits"), **options(context))
    assert result.to_dict() == expected
    assert json.loads(json.dumps(result.to_dict(), allow_nan=False)) == expected


@pytest.mark.parametrize(("name", "context", "key", "expected"), section("feature") + section("contextualBandit"))
def test_feature_compiled(name, context, key, expected):
    features = feature_set(context)
    for _ in range(2):
        result = features.evaluate(key, context.get("attributes"), **evaluate_options(context))
        assert result.to_dict() == expected


@pytest.mark.parametrize(("name", "context", "stored", "key", "expected", "expected_docs"), section("stickyBucket"))
def test_sticky_bucket(name, context, stored, key, expected, expected_docs):
    # A sticky-bucket store hands the unit the documents of its own attribute values.
    attributes = context.get("attributes", {})
    docs = {f"{d['attributeName']}||{d['attributeValue']}": d for d in copy.deepcopy(stored)
            if str(attributes.get(d["attributeName"])) == d["attributeValue"]}
    result = evaluate_feature(key, context.get("features", {}), attributes, sticky_buckets=docs,
                              **options(context))
    assignment = result.experiment_result
    assert (None if assignment is None else assignment.to_dict()) == expected
    assert docs == expected_docs


@pytest.mark.parametrize(("name", "context", "stored", "key", "expected", "expected_docs"), section("stickyBucket"))
def test_sticky_bucket_compiled(name, context, stored, key, expected, expected_docs):
    attributes = context.get("attributes", {})
    docs = {f"{d['attributeName']}||{d['attributeValue']}": d for d in copy.deepcopy(stored)
            if str(attributes.get(d["attributeName"])) == d["attributeValue"]}
    result = feature_set(context).evaluate(key, attributes, sticky_buckets=docs, **evaluate_options(context))
    assignment = result.experiment_result
    assert (None if assignment is None else assignment.to_dict()) == expected
    assert docs == expected_docs
