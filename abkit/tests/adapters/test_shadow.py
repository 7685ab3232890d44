"""End to end: requests routed by :class:`abkit.adapters.ShadowRouter`, judged by :mod:`abkit.shadow`."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from abkit import shadow
from abkit.adapters import ShadowRouter
from abkit.datasets import make_shadow_log
from abkit.frame import compare_models, load_shadow_log
from abkit.shadow import ShadowLog, ShadowMonitor


@pytest.fixture(scope="module")
def served() -> tuple[ShadowRouter, pd.DataFrame]:
    """A router that served 1500 requests; 15% of the labels never arrived, the rest arrived late."""
    table = make_shadow_log(1500, models={"ranker-v1": 1.0, "ranker-v2": 1.6},
                            latency_ms={"ranker-v1": 40.0, "ranker-v2": 44.0}, pending_rate=0.15, rng=7)
    wide = table.pivot(index="request_id", columns="model", values=["score", "latency"])
    labels = table.drop_duplicates("request_id").set_index("request_id")["label"]
    router = ShadowRouter("ranker-v1", ["ranker-v2"])
    for request, row in wide.iterrows():
        route = router.route(f"req-{request}")
        models = (route.variant, *route.shadows)
        router.record(route.unit_id, {
            "predictions": {m: float(row[("score", m)]) for m in models},
            "latencies": {m: float(row[("latency", m)]) / 1000.0 for m in models},
            "timestamp": 1.7e9 + float(request),
        })
    for request, label in labels.items():  # ground truth arrives after the predictions
        if not np.isnan(label):
            router.record_label(f"req-{request}", int(label))
    return router, table


def test_router_log_loads_directly(served: tuple[ShadowRouter, pd.DataFrame]) -> None:
    router, table = served
    log = load_shadow_log(router)
    assert log.models == ("ranker-v1", "ranker-v2")
    assert log.report.n_requests == 1500 and log.report.missing == (0, 0)
    assert log.report.unlabeled == int(table.drop_duplicates("request_id")["label"].isna().sum())
    direct = ShadowLog.from_arrays(request_id="req-" + table["request_id"].astype(str), model=table["model"],
                                   score=table["score"], label=table["label"], latency=table["latency"] / 1000.0)
    for field in ("score", "latency"):
        _, a, b = log.paired("ranker-v1", "ranker-v2", field=field)
        _, a0, b0 = direct.paired("ranker-v1", "ranker-v2", field=field)
        np.testing.assert_array_equal(np.sort(a), np.sort(a0))
        np.testing.assert_array_equal(np.sort(b - a), np.sort(b0 - a0))
    np.testing.assert_array_equal(log.score, load_shadow_log(router.to_frame(), score="prediction").score)
    restored = ShadowRouter.from_json(router.to_json())  # the router's own JSON state
    np.testing.assert_array_equal(load_shadow_log(restored).label, log.label)


@pytest.mark.parametrize("n_extra", [0, 3])
def test_to_shadow_log_is_the_log_the_loader_reads_from_the_frame(
        served: tuple[ShadowRouter, pd.DataFrame], n_extra: int) -> None:
    router = ShadowRouter.from_json(served[0].to_json())  # a copy: the fixture stays as it is
    for i in range(n_extra):  # requests without latency or label, the shadow missing
        router.record(f"extra-{i}", {"predictions": {"ranker-v1": 0.5}, "timestamp": 1.0 + i})
    log = router.to_shadow_log()
    loaded = load_shadow_log(router.to_frame())
    assert log.models == loaded.models and log.report == loaded.report
    for name in ("request_id", "score", "latency", "label", "timestamp"):
        got, want = getattr(log, name), getattr(loaded, name)
        assert got.dtype == want.dtype, name
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="duplicated"):
        _twice().to_shadow_log()
    assert _twice().to_shadow_log(duplicates="last").score.tolist() == [[0.3]]


def _twice() -> ShadowRouter:
    router = ShadowRouter("a", ["b"])
    for score in (0.1, 0.3):
        router.record("r1", {"predictions": {"a": score}, "timestamp": 1.0})
    return router


def test_core_comparisons_take_a_shadow_log_not_a_table() -> None:
    table = make_shadow_log(100, rng=1)
    hint = re.escape("Pass a table through abkit.frame.load_shadow_log(...) first.")
    with pytest.raises(TypeError, match=r"`log` must be a ShadowLog; got DataFrame\. " + hint):
        shadow.compare_models(table, champion="champion", challengers=["challenger"])
    monitor = ShadowMonitor("champion", ["challenger"], ["latency"])
    with pytest.raises(TypeError, match=r"`batch` must be a ShadowLog; got DataFrame\. " + hint):
        monitor.update(table)
    assert monitor.looks == 0


def test_router_log_reaches_a_verdict(served: tuple[ShadowRouter, pd.DataFrame]) -> None:
    router, table = served
    result = compare_models(router, champion=router.live, challengers=list(router.shadows),
                            metrics=["auc", "log_loss"], min_requests=500)
    assert result.verdicts[0].decision == "promote"
    expected = compare_models(table, champion="ranker-v1", challengers=["ranker-v2"], metrics=["auc", "log_loss"],
                              min_requests=500)
    for got, want in zip(result.rows, expected.rows, strict=True):
        assert got.effect == pytest.approx(want.effect, rel=1e-12)
        assert got.pvalue_noninferiority == pytest.approx(want.pvalue_noninferiority, rel=1e-9)
        assert got.n == want.n


def test_monitor_watches_the_router(served: tuple[ShadowRouter, pd.DataFrame]) -> None:
    router, _ = served
    monitor = ShadowMonitor(router.live, router.shadows, ["log_loss", "latency"], min_requests=200)
    result = monitor.update(router.to_shadow_log())
    assert result.n_pending == load_shadow_log(router).report.unlabeled > 0
    latency = {r.metric: r for r in result.rows}["latency"]
    assert latency.effect == pytest.approx(0.1, abs=0.02)  # 44 ms against 40 ms, geometric


def test_partial_and_non_numeric_router_logs() -> None:
    router = ShadowRouter("a", ["b"])
    router.record("r1", {"predictions": {"a": 0.2, "b": 0.4}, "label": 1, "timestamp": 1.0})
    router.record("r2", {"predictions": {"a": 0.7}, "label": 0, "timestamp": 2.0})  # the shadow timed out
    log = load_shadow_log(router)
    assert log.report.missing == (0, 1)
    classes = ShadowRouter("a", ["b"])
    classes.record("r1", {"predictions": {"a": "cat", "b": "dog"}, "label": "cat", "timestamp": 1.0})
    with pytest.raises(TypeError, match=re.escape("`score` must hold numbers")):
        load_shadow_log(classes)
