"""Continuous shadow evaluation (:class:`abkit.shadow.ShadowMonitor`): always-valid looks.

References: the mSPRT cases of ``sequential.json`` (Johari et al.; R mixtureSPRT) and the
GrowthBook sequential interval (gbstats), mapped to one stream of paired differences; the
Howard et al. normal-mixture boundary (:func:`abkit.sequential.normal_mixture_bound`) as a
second closed form; calibration by seeded simulation inside 99.9% binomial bands.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from abkit.datasets import make_shadow_log
from abkit.errors import DegenerateDataWarning, StateError
from abkit.frame import load_shadow_log, to_frame
from abkit.plotting.shadow import plot_comparison
from abkit.sequential import normal_mixture_bound
from abkit.shadow import ShadowLog, ShadowMetric, ShadowMonitor, compare_models
from abkit.tests.conftest import reference_cases

matplotlib.use("Agg")


def _identity(y: Any, values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.asarray(values, dtype=float)


LOSS = ShadowMetric(name="loss", worse="higher", loss=_identity)
GAIN = ShadowMetric(name="gain", worse="lower", loss=_identity)


def _batch(champion: npt.NDArray[np.float64], challenger: npt.NDArray[np.float64], start: int = 0) -> ShadowLog:
    """A log whose per-request "score" is the value the identity metrics use."""
    n = champion.size
    ids = np.arange(start, start + n)
    return ShadowLog.from_arrays(request_id=np.concatenate([ids, ids]), model=np.repeat(["champ", "chall"], n),
                                 score=np.concatenate([champion, challenger]), label=np.ones(2 * n))


def _exact(n: int, mean: float, var: float, seed: int = 0) -> npt.NDArray[np.float64]:
    """``n`` values with exactly this mean and sample variance (up to rounding)."""
    z = np.random.default_rng(seed).normal(size=n)
    z = (z - z.mean()) / z.std(ddof=1)
    return mean + math.sqrt(var) * z


def _upper_band(p: float, reps: int) -> float:
    return float(stats.binom.ppf(0.999, reps, p)) / reps


# ---------------------------------------------------------------- against the references


@pytest.mark.parametrize("case", reference_cases("sequential", function_kind="msprt_normal_two_sample"))
def test_msprt_look_matches_the_two_stream_reference(case: dict) -> None:
    # Two streams of n per arm with variance s2 each: Var(estimate) = 2 s2 / n. One stream of n
    # paired differences with sample variance 2 s2 has the same Var(mean), hence the same mSPRT.
    i, e = case["inputs"], case["expected"]
    n, diff = i["n_per_arm"], i["mean_diff_treatment_minus_control"]
    d = _exact(n, diff, 2.0 * i["sigma2_per_observation_each_arm"])
    monitor = ShadowMonitor("champ", ["chall"], [GAIN], alpha=i["alpha"], method="msprt",
                            tau2=i["tau2_mixing_variance"], min_requests=2)
    row = monitor.update(_batch(np.zeros(n), d)).rows[0]
    rel = case["tolerance"]["rel"]
    p = row.pvalue_noninferiority if diff > 0 else row.pvalue_harm  # the side of the estimate
    assert p == pytest.approx(e["always_valid_p_single_look"], rel=rel)
    assert row.ci.low == pytest.approx(e["ci"][0], rel=rel)
    assert row.ci.high == pytest.approx(e["ci"][1], rel=rel)
    assert row.effect == pytest.approx(diff, rel=1e-12)


@pytest.mark.parametrize("case", reference_cases("sequential", function_kind="growthbook_sequential_ttest"))
def test_confidence_sequence_look_matches_growthbook(case: dict) -> None:
    # GrowthBook's interval depends on the data only through the estimate, N and N Var(estimate);
    # N paired differences with sample variance N se^2 reproduce it (absolute or relative).
    i, e = case["inputs"], case["expected"]
    n = i["n_a"] + i["n_b"]
    d = _exact(n, e["point_estimate"], n * e["se"] ** 2)
    monitor = ShadowMonitor("champ", ["chall"], [GAIN], alpha=i["alpha"],
                            tuning_n=i["sequential_tuning_parameter"])
    row = monitor.update(_batch(np.zeros(n), d)).rows[0]
    rel = 1e-8  # the data are standardised to the variance: rounding over 10^5 values
    assert row.pvalue_noninferiority == pytest.approx(e["p_value"], rel=rel)
    assert row.ci.low == pytest.approx(e["ci"][0], rel=rel)
    assert row.ci.high == pytest.approx(e["ci"][1], rel=rel)


def test_confidence_sequence_equals_howard_normal_mixture_bound_with_bonferroni() -> None:
    # Half-width = u(n s^2) / n, u the two-sided normal-mixture boundary tuned at v_opt = tuning_n s^2
    # (and alpha_opt = alpha / m), at alpha / m for m = 2 challengers x 2 metrics.
    rng = np.random.default_rng(1)
    n, tuning_n, alpha = 800, 2000.0, 0.1
    champ = rng.normal(size=n)
    log = ShadowLog.from_arrays(request_id=np.tile(np.arange(n), 3), model=np.repeat(["champ", "c1", "c2"], n),
                                score=np.concatenate([champ, champ + rng.normal(0.1, 1, n),
                                                      champ + rng.normal(0, 2, n)]), label=np.ones(3 * n))
    monitor = ShadowMonitor("champ", ["c1", "c2"], [LOSS, GAIN], alpha=alpha, tuning_n=tuning_n)
    result = monitor.update(log)
    assert monitor.alpha_per_sequence == alpha / 4
    for row in result.rows:
        _, a, b = log.paired("champ", row.challenger)
        s2 = float(np.var(b - a, ddof=1))
        half = normal_mixture_bound(n * s2, alpha / 4, tuning_n * s2, alpha_opt=alpha / 4) / n
        assert (row.ci.high - row.ci.low) / 2 == pytest.approx(half, rel=1e-10)
        assert row.effect == pytest.approx(float(np.mean(b - a)), rel=1e-12)
        assert min(row.pvalue_noninferiority_adjusted, row.pvalue_harm_adjusted) == pytest.approx(
            min(1.0, 4 * min(row.pvalue_noninferiority, row.pvalue_harm)), rel=1e-12)


# ---------------------------------------------------------------- calibration by simulation

REPS, LOOKS, BATCH = 300, 30, 100


def _simulate(shift: float, reps: int, seed: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per-request losses ``(reps, looks * batch)``: shared request difficulty, challenger - shift."""
    rng = np.random.default_rng(seed)
    shape = (reps, LOOKS * BATCH)
    shared = rng.normal(size=shape)
    return shared + rng.normal(size=shape), shared + rng.normal(size=shape) - shift


def _watch(champion: npt.NDArray[np.float64], challenger: npt.NDArray[np.float64],
           truth: float) -> tuple[bool, int | None]:
    """Did the interval cover ``truth`` at every look, and the first look that promoted."""
    monitor = ShadowMonitor("champ", ["chall"], [LOSS], min_requests=BATCH)
    covered, first = True, None
    for k in range(LOOKS):
        part = slice(k * BATCH, (k + 1) * BATCH)
        result = monitor.update(_batch(champion[part], challenger[part], start=k * BATCH))
        ci = result.rows[0].ci
        covered &= bool(ci.low <= truth <= ci.high)
        promoted = result.verdicts[0].decision == "promote"
        assert first is None or promoted  # once decided, a metric stays decided
        if promoted and first is None:
            first = k
    return covered, first


def test_null_daily_looks_keep_false_promotions_at_alpha_while_naive_peeking_inflates() -> None:
    champion, challenger = _simulate(0.0, REPS, seed=11)
    watched = [_watch(champion[r], challenger[r], 0.0) for r in range(REPS)]
    false_promotions = np.mean([first is not None for _, first in watched])
    missed_coverage = np.mean([not covered for covered, _ in watched])
    assert false_promotions <= _upper_band(0.05, REPS)
    assert missed_coverage <= _upper_band(0.05, REPS)

    # The same data, judged by compare_models after every batch: promotions far above alpha.
    naive_reps = 120
    naive = 0
    for r in range(naive_reps):
        for k in range(1, LOOKS + 1):
            log = _batch(champion[r, : k * BATCH], challenger[r, : k * BATCH])
            verdict = compare_models(log, champion="champ", challengers=["chall"], metrics=[LOSS],
                                     min_requests=BATCH).verdicts[0].decision
            if verdict == "promote":
                naive += 1
                break
    assert naive / naive_reps > _upper_band(0.05, naive_reps)
    assert naive / naive_reps > 2 * false_promotions


def test_better_challenger_is_promoted_and_interval_covers_the_true_difference() -> None:
    reps, shift = 100, 0.15  # the challenger's loss is lower by 0.15 (sd of differences sqrt 2)
    champion, challenger = _simulate(shift, reps, seed=12)
    watched = [_watch(champion[r], challenger[r], -shift) for r in range(reps)]
    firsts = [first for _, first in watched]
    assert np.mean([f is not None for f in firsts]) >= 0.95
    assert np.median([f for f in firsts if f is not None]) < LOOKS - 5  # well before the end
    assert np.mean([not covered for covered, _ in watched]) <= _upper_band(0.05, reps)


def test_worse_challenger_is_kept_out_and_latency_ratio_is_monitored() -> None:
    table = make_shadow_log(3000, models={"v1": 1.2, "v2": 0.8}, latency_ms={"v1": 40.0, "v2": 60.0}, rng=3)
    monitor = ShadowMonitor("v1", ["v2"], ["log_loss", "latency"], min_requests=200)
    for day in range(3):
        result = monitor.update(load_shadow_log(table[table["request_id"] % 3 == day]))
    rows = {r.metric: r for r in result.rows}
    assert result.verdicts[0].decision == "keep"
    assert rows["log_loss"].reason == rows["latency"].reason == "goal missed"
    # latency: effect is the geometric ratio - 1 with its interval on the same scale
    _, a, b = ShadowLog.from_arrays(request_id=table["request_id"], model=table["model"], score=table["score"],
                                    latency=table["latency"]).paired("v1", "v2", field="latency",
                                                                     labelled=False)
    assert rows["latency"].effect == pytest.approx(math.expm1(np.mean(np.log(b) - np.log(a))), rel=1e-10)
    assert rows["latency"].ci.low < rows["latency"].effect < rows["latency"].ci.high
    assert rows["latency"].effect == pytest.approx(0.5, abs=0.02)
    frame = to_frame(result)
    assert frame["challenger_decision"].tolist() == ["keep"] * 2 and result.looks == 3
    figure = plot_comparison(result)  # the fixed-sample plot draws the running intervals
    assert len(figure.axes) >= 1
    plt.close(figure)


# ---------------------------------------------------------------- properties


@given(st.integers(0, 10_000), st.floats(-0.5, 0.5))
def test_swapping_models_mirrors_the_sequence(seed: int, shift: float) -> None:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=300), rng.normal(shift, 1.0, size=300)
    forward = ShadowMonitor("champ", ["chall"], [LOSS]).update(_batch(a, b)).rows[0]
    backward = ShadowMonitor("champ", ["chall"], [LOSS]).update(_batch(b, a)).rows[0]
    assert backward.effect == pytest.approx(-forward.effect, abs=1e-12)
    assert backward.ci.low == pytest.approx(-forward.ci.high, abs=1e-12)
    assert (backward.pvalue_noninferiority, backward.pvalue_harm) == pytest.approx((forward.pvalue_harm, forward.pvalue_noninferiority))


@given(st.integers(0, 10_000))
def test_running_interval_only_shrinks_and_pvalues_only_fall(seed: int) -> None:
    a, b = _simulate(0.05, 1, seed)
    monitor = ShadowMonitor("champ", ["chall"], [LOSS], min_requests=BATCH)
    previous = None
    for k in range(5):
        part = slice(k * BATCH, (k + 1) * BATCH)
        row = monitor.update(_batch(a[0, part], b[0, part], start=k * BATCH)).rows[0]
        if previous is not None:
            assert previous.ci.low <= row.ci.low and row.ci.high <= previous.ci.high
            assert row.pvalue_noninferiority <= previous.pvalue_noninferiority and row.pvalue_harm <= previous.pvalue_harm
        previous = row


# ---------------------------------------------------------------- state


def _fed(method: str = "confidence-sequence", **kwargs: Any) -> ShadowMonitor:
    monitor = ShadowMonitor("champion", ["challenger"], ["accuracy", "brier", "latency"], method=method,
                            min_requests=50, **kwargs)
    monitor.update(load_shadow_log(make_shadow_log(400, pending_rate=0.1, rng=1)))
    monitor.update(load_shadow_log(make_shadow_log(400, pending_rate=0.1, rng=2)))
    return monitor


@pytest.mark.parametrize("kwargs", [{}, {"method": "msprt", "tau2": {"accuracy": 1e-3, "brier": 1e-4,
                                                                    "latency": 1e-2}}])
def test_json_round_trip_continues_identically(kwargs: dict) -> None:
    monitor = _fed(**kwargs)
    restored = ShadowMonitor.from_json(monitor.to_json())
    assert restored.to_dict() == monitor.to_dict()
    assert json.loads(monitor.to_json())["state"]["n_pending"] == monitor.n_pending > 0
    batch = load_shadow_log(make_shadow_log(400, rng=3))
    assert restored.update(batch).to_dict() == monitor.update(batch).to_dict()


def test_custom_metrics_must_be_passed_again_to_restore() -> None:
    monitor = ShadowMonitor("champ", ["chall"], [LOSS])
    monitor.update(_batch(np.arange(200.0), np.arange(200.0) + np.sin(np.arange(200.0))))
    state = monitor.to_json()
    assert ShadowMonitor.from_json(state, metrics=[LOSS]).to_dict() == monitor.to_dict()
    with pytest.raises(StateError, match="Corrupt ShadowMonitor state"):
        ShadowMonitor.from_json(state)  # "loss" is not a built-in metric
    other = ShadowMetric(name="loss", worse="higher", loss=_identity, goal="non-inferiority", margin=0.1)
    with pytest.raises(StateError, match="do not match the saved ones"):
        ShadowMonitor.from_json(state, metrics=[other])


def _corrupt(change: Any) -> str:
    state = _fed().to_dict()
    change(state)
    return json.dumps(state)


@pytest.mark.parametrize(("change", "match"), [
    (lambda s: s.update(kind="MSPRT"), "not a 'ShadowMonitor' state"),
    (lambda s: s.update(version=99), "ShadowMonitor state version 99 is not one this abkit reads"),
    (lambda s: s.update(format=1), "Corrupt ShadowMonitor state"),
    (lambda s: s["state"].pop("looks"), "Corrupt ShadowMonitor state"),
    (lambda s: s["config"].update(alpha=2.0), "Corrupt ShadowMonitor state.*alpha"),
    (lambda s: s["state"]["sequences"].pop(), "sequences .* do not match"),
    (lambda s: s["state"]["sequences"][0].update(p_meet=1.5), r"p-values must be in \[0, 1\]"),
    (lambda s: s["state"]["sequences"][0]["stats"]["champion"].update(n=3), "counts differ"),
    (lambda s: s["state"]["sequences"][0].update(ci=None), "`ci` must be null exactly when"),
    (lambda s: s["state"]["sequences"][1]["stats"]["difference"].update(n=-1), "Corrupt ShadowMonitor state"),
])
def test_corrupt_state_raises_state_error(change: Any, match: str) -> None:
    with pytest.raises(StateError, match=match):
        ShadowMonitor.from_json(_corrupt(change))


def test_invalid_json_raises_state_error() -> None:
    with pytest.raises(StateError, match="not valid JSON"):
        ShadowMonitor.from_json("{not json")


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"challengers": []}, ValueError, "`challengers` must be a non-empty list"),
    ({"challengers": "v2"}, ValueError, "`challengers` must be a non-empty list"),
    ({"challengers": ["v1"]}, ValueError, "distinct and exclude the champion"),
    ({"metrics": ["auc"]}, ValueError, "'auc' is not"),
    ({"metrics": ["latency_p99"]}, ValueError, "must be per-request metrics"),
    ({"metrics": ["log_loss", "log_loss"]}, ValueError, "distinct names"),
    ({"metrics": ["f1"]}, ValueError, "`metrics` must be one of"),
    ({"metrics": [3]}, TypeError, "`metrics` must hold metric names"),
    ({"alpha": 1.5}, ValueError, r"`alpha` must be in \(0, 1\); got 1.5"),
    ({"method": "bayes"}, ValueError, "`method` must be one of"),
    ({"tau2": 0.1}, ValueError, "`tau2` is for method='msprt'"),
    ({"method": "msprt"}, ValueError, "needs `tau2`"),
    ({"method": "msprt", "tau2": {"accuracy": 0.1}}, ValueError, r"missing \['log_loss'\]"),
    ({"method": "msprt", "tau2": -1.0}, ValueError, "`tau2` must be"),
    ({"tuning_n": 0}, ValueError, "`tuning_n` must be"),
    ({"min_requests": 1}, ValueError, "`min_requests` must be"),
    ({"metrics": [ShadowMetric.builtin("latency", margin=1.5)]}, ValueError, "latency margin must be less"),
])
def test_bad_configuration(kwargs: dict, error: type[Exception], match: str) -> None:
    config: dict[str, Any] = {"challengers": ["v2"], "metrics": ["accuracy", "log_loss"], **kwargs}
    with pytest.raises(error, match=match):
        ShadowMonitor("v1", config.pop("challengers"), config.pop("metrics"), **config)


def test_bad_batches() -> None:
    monitor = ShadowMonitor("champion", ["challenger"], ["latency"])
    table = make_shadow_log(300, rng=1)
    with pytest.raises(ValueError, match=re.escape("`batch` must have rows of the monitor's model 'nobody'; its models are")):
        ShadowMonitor("champion", ["nobody"], ["latency"]).update(load_shadow_log(table))
    table.loc[3, "latency"] = 0.0
    with pytest.raises(ValueError, match="must be positive numbers"):
        monitor.update(load_shadow_log(table))
    with pytest.raises(TypeError, match=r"`batch` must be a ShadowLog; got int\. Pass a table through"):
        monitor.update(42)
    with pytest.raises(ValueError, match="no requests in common"):
        ShadowMonitor("a", ["b"], [LOSS]).update(ShadowLog.from_arrays(
            request_id=[1, 2], model=["a", "b"], score=[0.1, 0.2], label=[1, 1]))


def _nan_for_large(y: Any, values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.where(values > 5.0, np.nan, values)


def test_a_bad_batch_changes_nothing() -> None:
    picky = ShadowMetric(name="picky", worse="higher", loss=_nan_for_large)
    monitor = ShadowMonitor("champ", ["chall"], [LOSS, picky])
    monitor.update(_batch(np.zeros(200), np.linspace(0.0, 1.0, 200)))
    before = monitor.to_dict()
    with pytest.raises(ValueError, match="Metric 'picky' must give one finite value per request"):
        monitor.update(_batch(np.zeros(200), np.linspace(0.0, 10.0, 200), start=200))
    assert monitor.to_dict() == before


def test_no_verdict_before_min_requests_and_degenerate_looks_warn() -> None:
    monitor = ShadowMonitor("champ", ["chall"], [LOSS], min_requests=150)
    result = monitor.update(_batch(np.zeros(100), np.ones(100)))
    assert result.rows[0].reason == "insufficient data" and math.isnan(result.rows[0].ci.low)
    assert result.verdicts[0].decision == "inconclusive"
    with pytest.warns(DegenerateDataWarning, match="do not vary yet"):
        result = monitor.update(_batch(np.zeros(100), np.ones(100), start=100))
    assert result.rows[0].reason == "undecided" and result.rows[0].pvalue_harm == 1.0
    assert "ShadowMonitorResult" in repr(result) and "always valid" in result._repr_html_()


# --- safe under threads, refuses overflow, strict JSON (issue 14: faults) --------------------------


def test_eight_threads_updating_lose_no_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    import time

    from abkit.stats import MeanStats

    merge = MeanStats.merge

    def slow_merge(self: MeanStats, other: MeanStats) -> MeanStats:
        time.sleep(0.001)  # widens the read-merge-write window an unlocked monitor would lose batches in
        return merge(self, other)

    monkeypatch.setattr(MeanStats, "merge", slow_merge)
    monitor = ShadowMonitor("champ", ["chall"], [LOSS], min_requests=10)
    rng = np.random.default_rng(3)
    batches = [_batch(rng.normal(size=100), rng.normal(size=100), start=100 * i) for i in range(24)]
    barrier = threading.Barrier(8)

    def work(mine: list[ShadowLog]) -> None:
        barrier.wait()
        for batch in mine:
            monitor.update(batch)

    threads = [threading.Thread(target=work, args=(batches[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert monitor.looks == 24
    assert monitor.result.rows[0].n == 2400
    one = ShadowMonitor("champ", ["chall"], [LOSS], min_requests=10)
    for batch in batches:
        one.update(batch)
    # the order of looks differs between threads, the pooled statistics do not (up to rounding)
    pooled = json.loads(monitor.to_json())["state"]["sequences"][0]["stats"]["difference"]
    expected = json.loads(one.to_json())["state"]["sequences"][0]["stats"]["difference"]
    assert pooled["n"] == expected["n"] == 2400
    assert pooled["mean"] == pytest.approx(expected["mean"], rel=1e-12, abs=1e-15)
    assert pooled["var"] == pytest.approx(expected["var"], rel=1e-12)


def test_values_whose_variance_overflows_are_refused_and_change_nothing() -> None:
    monitor = ShadowMonitor("champ", ["chall"], [LOSS, GAIN], min_requests=10)
    monitor.update(_batch(np.arange(20.0), np.arange(20.0) ** 1.5))
    before = monitor.to_json()
    with pytest.raises(ValueError, match="The values of 'loss' for 'chall' are too large"):
        monitor.update(_batch(np.array([1e300, -1e300, 0.0]), np.zeros(3), start=100))
    assert monitor.to_json() == before
    with pytest.raises(ValueError, match="are too large: their mean or variance overflows"):
        monitor.update(_batch(np.full(3, 1e200), np.full(3, -1e200) * np.array([1, -1, 1]), start=100))
    assert monitor.to_json() == before


@pytest.mark.parametrize(("text", "message"), [
    ("[" * 100_000 + "]" * 100_000, "nested deeper than"),
    ('{"kind": "ShadowMonitor", "format": 1, "alpha": NaN}', "holds NaN"),
    (b"\xff", "not UTF-8"),
    (None, "must be JSON text"),
])
def test_deep_or_malformed_monitor_json_is_a_state_error(text: Any, message: str) -> None:
    with pytest.raises(StateError, match=message):
        ShadowMonitor.from_json(text)
