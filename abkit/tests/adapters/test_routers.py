"""Router adapters: fixed split and shadow mode; JSON state, merging, threads, bad input."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from abkit import MeanStats, ProportionStats, means_test, proportions_test
from abkit.adapters import SHADOW_LOG_COLUMNS, FixedSplitRouter, Route, Router, ShadowRouter
from abkit.assignment import assign
from abkit.errors import StateError

UNITS = [f"user-{i}" for i in range(2_000)]


def _filled(metric="proportion", seed=1, units=UNITS, **kwargs):
    router = FixedSplitRouter("exp-adapters", metric=metric, **kwargs)
    rng = np.random.default_rng(seed)
    values = rng.random(len(units)) < 0.3 if metric == "proportion" else rng.normal(10, 2, len(units))
    for unit, value in zip(units, values, strict=True):
        router.record(unit, bool(value) if metric == "proportion" else float(value))
    return router, values


# --- Routing


def test_routers_follow_the_protocol():
    assert isinstance(FixedSplitRouter("e"), Router)
    assert isinstance(ShadowRouter("a", ["b"]), Router)


@pytest.mark.parametrize("kwargs", [{}, {"hash_version": 1}, {"hashing": "optimizely"},
                                    {"coverage": 0.5, "seed": "s"}, {"namespace": ("ns", 0.2, 0.9)}])
def test_route_is_assign_with_design_propensity(kwargs):
    weights = [0.2, 0.5, 0.3]
    router = FixedSplitRouter("exp-route", ["a", "b", "c"], weights, **kwargs)
    for unit in UNITS[:300]:
        route = router.route(unit)
        index = assign(unit, "exp-route", weights, **kwargs)
        assert route.in_experiment is (index >= 0)
        assert route.variant_index == max(index, 0)
        assert route.variant == router.variants[route.variant_index]
        assert route.propensity == (weights[index] if index >= 0 else 1.0)
        assert route == router.route(unit)  # deterministic
        assert route.experiment == "exp-route" and route.shadows == ()


def test_route_to_dict_is_json_safe():
    route = FixedSplitRouter("e").route("u1")
    assert isinstance(route, Route)
    assert json.loads(json.dumps(route.to_dict()))["unit_id"] == "u1"


# --- Recording: the statistics are exactly those of the outcomes routed to each variant


def test_proportion_summary_equals_stats_of_outcomes_and_feeds_the_test():
    router, values = _filled("proportion")
    variants = np.array([router.route(u).variant for u in UNITS])
    summary = router.summary()
    for name in router.variants:
        assert summary[name] == ProportionStats.from_samples(values[variants == name])
    assert router.test().to_dict() == proportions_test(summary["control"], summary["treatment"]).to_dict()
    assert router.test(alternative="greater").alternative == "greater"


def test_mean_summary_equals_stats_of_outcomes_and_feeds_the_test():
    router, values = _filled("mean")
    variants = np.array([router.route(u).variant for u in UNITS])
    summary = router.summary()
    for name in router.variants:
        expected = MeanStats.from_samples(values[variants == name])
        assert summary[name].n == expected.n
        # Welford's running update against numpy's two-pass mean/var: rounding only.
        assert summary[name].mean == pytest.approx(expected.mean, rel=1e-12)
        assert summary[name].var == pytest.approx(expected.var, rel=1e-9)
    assert router.test().pvalue == pytest.approx(
        means_test(summary["control"], summary["treatment"]).pvalue, rel=1e-9)


def test_record_with_known_variant_skips_the_hash():
    router = FixedSplitRouter("e", ["a", "b"])
    router.record("any-unit", 1, variant="b")
    assert router.summary() == {"a": ProportionStats(0, 0), "b": ProportionStats(1, 1)}


def test_units_outside_coverage_are_excluded():
    router = FixedSplitRouter("e", coverage=0.3)
    outside = [u for u in UNITS if not router.route(u).in_experiment]
    for unit in UNITS:
        router.record(unit, 1)
    assert router.excluded == len(outside)
    assert sum(s.n for s in router.summary().values()) == len(UNITS) - len(outside)


def test_concurrent_records_lose_nothing():
    router = FixedSplitRouter("e", metric="mean")
    n_threads, per_thread = 8, 2_000

    def work(k):
        for i in range(per_thread):
            router.record(f"u{k}-{i}", float(i % 7))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    summary = router.summary()
    assert sum(s.n for s in summary.values()) == n_threads * per_thread
    total = sum(s.n * s.mean for s in summary.values())
    assert total == pytest.approx(n_threads * sum(i % 7 for i in range(per_thread)), rel=1e-12)


# --- State: JSON, files, merging


@pytest.mark.parametrize("metric", ["proportion", "mean"])
def test_json_round_trip(metric):
    router, _ = _filled(metric, weights=[0.4, 0.6], coverage=0.9)
    restored = FixedSplitRouter.from_json(router.to_json())
    assert restored.summary() == router.summary()
    assert restored.excluded == router.excluded
    assert restored.to_json() == router.to_json()


def test_save_and_load_file(tmp_path):
    router, _ = _filled()
    path = tmp_path / "router.json"
    router.save(path)
    assert FixedSplitRouter.load(path).summary() == router.summary()
    assert [p.name for p in tmp_path.iterdir()] == ["router.json"]  # no temporary file left


@pytest.mark.parametrize("metric", ["proportion", "mean"])
def test_merge_of_instances_equals_one_instance(metric):
    whole, values = _filled(metric)
    half = len(UNITS) // 2
    first, _ = _filled(metric, units=UNITS[:half])
    second = FixedSplitRouter("exp-adapters", metric=metric)
    for unit, value in zip(UNITS[half:], values[half:], strict=True):
        second.record(unit, bool(value) if metric == "proportion" else float(value))
    merged = first.merge(second)
    for name in whole.variants:
        a, b = merged.summary()[name], whole.summary()[name]
        assert a.n == b.n
        for field in ("successes", "mean", "var"):
            if hasattr(a, field):
                assert getattr(a, field) == pytest.approx(getattr(b, field), rel=1e-9)
    assert first.summary() != merged.summary()  # the inputs are left as they were


@given(st.lists(st.tuples(st.integers(0, 50), st.booleans()), max_size=40),
       st.lists(st.tuples(st.integers(0, 50), st.booleans()), max_size=40))
def test_merge_is_commutative_and_json_stable(left, right):
    a, b = FixedSplitRouter("e"), FixedSplitRouter("e")
    for router, records in ((a, left), (b, right)):
        for unit, outcome in records:
            router.record(f"u{unit}", outcome)
    assert a.merge(b).summary() == b.merge(a).summary()
    assert FixedSplitRouter.from_json(a.merge(b).to_json()).summary() == a.merge(b).summary()


def test_merging_with_itself_and_crosswise_under_threads_does_not_deadlock():
    a, b = _filled()[0], _filled(seed=2)[0]
    assert a.merge(a).summary()["control"].n == 2 * a.summary()["control"].n
    results = []
    threads = [threading.Thread(target=lambda x=x, y=y: results.append(x.merge(y)))
               for x, y in [(a, b), (b, a)] * 20]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(results) == 40
    assert all(r.summary() == results[0].summary() for r in results)


def test_record_accepts_numpy_booleans_and_integers():
    router = FixedSplitRouter("e", ["a", "b"])
    router.record("u", np.True_, variant="a")
    router.record("u", np.int64(0), variant="a")
    assert router.summary()["a"] == ProportionStats(1, 2)


def test_merge_refuses_other_configurations():
    with pytest.raises(StateError, match="another configuration"):
        FixedSplitRouter("e").merge(FixedSplitRouter("e", weights=[0.3, 0.7]))
    with pytest.raises(TypeError, match="must be a FixedSplitRouter; got ShadowRouter"):
        FixedSplitRouter("e").merge(ShadowRouter("a", ["b"]))  # type: ignore[arg-type]


def _corrupt(document, path, value):
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return json.dumps(document)


@pytest.mark.parametrize(("path", "value", "match"), [
    (("kind",), "ShadowRouter", "not a 'FixedSplitRouter' state"),
    (("version",), 99, "version 99 is not one this abkit reads"),
    (("config", "weights"), [0.9, 0.9], "`weights` must sum to 1"),
    (("config", "metric"), "median", "`metric` must be one of"),
    (("state", "stats", "control", "n"), -3, "`n` must be at least 0"),
    (("state", "stats", "control", "successes"), 10**9, "`successes` must be at most `n`"),
    (("state", "stats", "control"), [1, 2], "per-variant stats must be an object"),
    (("state", "stats"), {"control": {"successes": 0, "n": 0}}, "one entry per variant"),
    (("state", "excluded"), -1, "excluded must be a count"),
    (("state",), None, '"config" and "state" must be JSON objects'),
])
def test_corrupt_state_raises_state_error_and_changes_nothing(path, value, match):
    router, _ = _filled()
    before = router.to_json()
    text = _corrupt(json.loads(before), path, value)
    with pytest.raises(StateError, match=match):
        FixedSplitRouter.from_json(text)
    with pytest.raises(StateError, match=match):
        router.load_json(text)
    assert router.to_json() == before


@pytest.mark.parametrize("text", ["", "{not json", "[1, 2]", b"\xff\xfe"])
def test_unparsable_state_raises_state_error(text, tmp_path):
    with pytest.raises(StateError, match=r"not valid JSON|not UTF-8|must be an object with keys"):
        FixedSplitRouter.from_json(text)
    path = tmp_path / "state.json"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    with pytest.raises(StateError):
        FixedSplitRouter.load(path)


def test_load_json_refuses_another_configuration():
    router, _ = _filled()
    other, _ = _filled(weights=[0.3, 0.7])
    before = router.to_json()
    with pytest.raises(StateError, match="another configuration"):
        router.load_json(other.to_json())
    assert router.to_json() == before


def test_load_json_replaces_the_state():
    router, _ = _filled()
    fresh = FixedSplitRouter("exp-adapters")
    fresh.load_json(router.to_json())
    assert fresh.summary() == router.summary()


# --- Bad input: clear errors, nothing recorded


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"weights": [0.6, 0.6]}, ValueError, r"`weights` must sum to 1; got 1\.2"),
    ({"weights": [0.5, 0.3, 0.2]}, ValueError, r"`weights` must have one entry per variant \(2\); got 3"),
    ({"coverage": -0.5}, ValueError, r"`coverage` must be in \[0, 1\]; got -0\.5"),
    ({"variants": ["a", "a"]}, ValueError, r"`variants` must be distinct"),
    ({"variants": ["a"]}, ValueError, r"`variants` must have at least 2 entries; got 1"),
    ({"variants": "ab"}, TypeError, r"`variants` must be a sequence of strings"),
    ({"metric": "median"}, ValueError, r"`metric` must be one of 'proportion', 'mean'; got 'median'"),
    ({"hash_version": 3}, ValueError, r"`hash_version` must be 1 or 2; got 3"),
    ({"hashing": "optimizely", "namespace": ("n", 0, 1)}, ValueError, r"GrowthBook options"),
])
def test_bad_configuration(kwargs, error, match):
    with pytest.raises(error, match=match):
        FixedSplitRouter("e", **kwargs)


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda r: r.route(""), ValueError, r"`unit_id` must be a non-empty string; got ''"),
    (lambda r: r.route(3), TypeError, r"`unit_id` must be a string; got int 3"),
    (lambda r: r.record("", 1), ValueError, r"`unit_id` must be a non-empty string"),
    (lambda r: r.record("u1", 1, variant="nope"), ValueError,
     r"`variant` must be one of \['control', 'treatment'\]; got 'nope'"),
    (lambda r: r.record("u1", 2), ValueError, r"`outcome` must be 0, 1, True or False"),
    (lambda r: r.record("u1", "yes"), ValueError, r"`outcome` must be 0, 1, True or False"),
    (lambda r: r.test("nope"), ValueError, r"`treatment` must be one of"),
])
def test_bad_calls_change_nothing(call, error, match):
    router, _ = _filled()
    before = router.to_json()
    with pytest.raises(error, match=match):
        call(router)
    assert router.to_json() == before


@pytest.mark.parametrize(("outcome", "error", "match"), [
    (float("nan"), ValueError, r"`outcome` must be finite; got nan"),
    ("3.0", TypeError, r"`outcome` must be a real number; got '3.0'"),
])
def test_bad_mean_outcomes(outcome, error, match):
    router, _ = _filled("mean")
    before = router.to_json()
    with pytest.raises(error, match=match):
        router.record("u1", outcome)
    assert router.to_json() == before


# --- Shadow mode


def _shadow():
    router = ShadowRouter("champion", ["challenger", "candidate"], experiment="ranker")
    router.record("r1", {"predictions": {"champion": 0.2, "challenger": 0.6, "candidate": "cat"},
                         "latencies": {"champion": 0.01, "challenger": 0.03}, "timestamp": 100.0})
    router.record("r2", {"predictions": {"champion": 0.9, "challenger": 0.8}, "label": 1,
                         "latencies": {"champion": 0.02, "challenger": 0.05}, "timestamp": 101.0})
    return router


def test_shadow_route_serves_live_and_names_shadows():
    route = _shadow().route("r3")
    assert (route.variant, route.variant_index, route.propensity) == ("champion", 0, 1.0)
    assert route.shadows == ("challenger", "candidate") and route.experiment == "ranker"


def test_shadow_log_long_layout_and_late_labels():
    router = _shadow()
    router.record_label("r1", 0)
    frame = router.to_frame()
    assert tuple(frame.columns) == SHADOW_LOG_COLUMNS
    assert frame[["request_id", "model"]].values.tolist() == [
        ["r1", "champion"], ["r1", "challenger"], ["r1", "candidate"], ["r2", "champion"],
        ["r2", "challenger"]]
    assert frame["label"].tolist() == [0, 0, 0, 1, 1]
    assert frame["prediction"].tolist() == [0.2, 0.6, "cat", 0.9, 0.8]
    assert frame["latency"].isna().tolist() == [False, False, True, False, False]
    assert frame["timestamp"].tolist() == [100.0, 100.0, 100.0, 101.0, 101.0]
    latency = router.summary()
    assert latency["challenger"] == MeanStats.from_samples([0.03, 0.05])
    assert latency["candidate"] == MeanStats.empty()


def test_shadow_state_round_trip_and_merge():
    router = _shadow()
    restored = ShadowRouter.from_json(router.to_json())
    assert restored.to_records() == router.to_records()
    other = ShadowRouter("champion", ["challenger", "candidate"], experiment="ranker")
    other.record("r9", {"predictions": {"champion": 0.5}, "timestamp": 102.0})
    merged = router.merge(other)
    assert len(merged) == len(router) + 1
    assert merged.to_records()[-1]["request_id"] == "r9"
    merged.record_label("r9", 1)  # the merged log indexes requests from both sides
    assert merged.to_records()[-1]["label"] == 1


def test_shadow_concurrent_records_lose_nothing():
    router = ShadowRouter("a", ["b"])

    def work(k):
        for i in range(1_000):
            router.record(f"r{k}-{i}", {"predictions": {"a": float(i), "b": float(-i)}})

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    frame = router.to_frame()
    assert len(frame) == 12_000
    assert frame.groupby("request_id").size().eq(2).all()


@pytest.mark.parametrize(("outcome", "error", "match"), [
    ({"predictions": {"stranger": 1.0}}, ValueError, r"unknown model 'stranger'"),
    ({"predictions": {}}, TypeError, r"must map 'predictions'"),
    ([0.1, 0.2], TypeError, r"`outcome` must be a mapping with 'predictions'"),
    ({"predictions": {"champion": 1.0}, "score": 2}, ValueError, r"unknown keys \['score'\]"),
    ({"predictions": {"champion": float("inf")}}, ValueError, r"`prediction` must be finite"),
    ({"predictions": {"champion": 1.0}, "latencies": {"champion": -1.0}}, ValueError,
     r"`latency` must be at least 0"),
])
def test_shadow_bad_records_change_nothing(outcome, error, match):
    router = _shadow()
    before = router.to_json()
    with pytest.raises(error, match=match):
        router.record("r5", outcome)
    assert router.to_json() == before


def test_shadow_bad_configuration_and_labels():
    with pytest.raises(ValueError, match="must not include the live model"):
        ShadowRouter("a", ["a"])
    with pytest.raises(ValueError, match=r"`shadows` must have at least 1 entries; got 0"):
        ShadowRouter("a", [])
    with pytest.raises(ValueError, match=r"`request_id` was never recorded; got 'r7'"):
        _shadow().record_label("r7", 1)


@pytest.mark.parametrize(("column", "value", "match"), [
    ("model", ["champion", "x", "champion", "champion", "challenger"], "unknown model 'x'"),
    ("label", [None], "log columns must be lists of one length"),
    ("timestamp", [None, 1.0, 1.0, 1.0, 1.0], "every row needs a timestamp"),
    ("request_id", ["", "r1", "r1", "r2", "r2"], "`unit_id` must be a non-empty string|`request_id`"),
])
def test_shadow_corrupt_state(column, value, match):
    router = _shadow()
    document = json.loads(router.to_json())
    document["state"]["log"][column] = value
    with pytest.raises(StateError, match=match):
        router.load_json(json.dumps(document))
    assert router.to_records() == _shadow().to_records()
