"""The champion/challenger decision (:func:`abkit.shadow.compare_models`) on shadow logs."""

from __future__ import annotations

import json
import math
import re

import matplotlib
import numpy as np
import pandas as pd
import pytest

from abkit.datasets import make_shadow_log
from abkit.frame import compare_models, load_shadow_log, to_frame
from abkit.shadow import ShadowMetric, delong_test

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_shadow_log(3000, models={"champion": 1.0, "better": 1.25, "same": 1.0},
                           latency_ms={"champion": 40.0, "better": 41.0, "same": 40.0},
                           missing_rate=0.02, pending_rate=0.1, rng=5)


# ---------------------------------------------------------------- the decision


def test_verdicts_promote_keep_and_inconclusive(frame: pd.DataFrame) -> None:
    result = compare_models(load_shadow_log(frame), champion="champion", challengers=["better", "same"],
                            metrics=["auc", "log_loss"], min_requests=500)
    verdicts = {v.challenger: v.decision for v in result.verdicts}
    assert verdicts == {"better": "promote", "same": "inconclusive"}
    # the better model is the worse one when the roles swap
    swapped = compare_models(load_shadow_log(frame), champion="better", challengers=["champion"],
                             metrics=["auc"])
    assert swapped.verdicts[0].decision == "keep"
    assert "auc: misses its superiority goal" in swapped.verdicts[0].reasons[0]


def test_decision_rows_equal_the_primitive_tests_and_holm(frame: pd.DataFrame) -> None:
    log = load_shadow_log(frame)
    result = compare_models(log, champion="champion", challengers=["better", "same"], metrics=["auc"])
    raw = []
    for row in result.rows:
        y, a, b = log.paired("champion", row.challenger)
        r = delong_test(y, a, b, alternative="greater")
        assert row.pvalue_noninferiority == pytest.approx(r.pvalue, rel=1e-12)
        assert row.effect == pytest.approx(r.effect, rel=1e-12)
        raw.append(r.pvalue)
    holm = np.minimum(1.0, np.maximum.accumulate(np.sort(raw) * [2, 1]))[np.argsort(np.argsort(raw))]
    np.testing.assert_allclose([r.pvalue_noninferiority_adjusted for r in result.rows], holm, rtol=1e-12)


def test_non_inferiority_margin_and_latency(frame: pd.DataFrame) -> None:
    log = load_shadow_log(frame)
    tolerant = ShadowMetric.builtin("latency", goal="non-inferiority", margin=0.10)
    strict = ShadowMetric.builtin("latency", goal="superiority")
    result = compare_models(log, champion="champion", challengers=["better"], metrics=[tolerant, strict])
    met, missed = result.rows
    assert (met.reason, met.threshold) == ("goal met", 0.10)  # ~2.5% slower, within the 10% allowed
    assert missed.reason == "goal missed" and missed.effect == pytest.approx(met.effect)
    assert result.verdicts[0].decision == "keep"


def test_minimum_sample_and_thin_tails_block_any_verdict() -> None:
    small = make_shadow_log(300, models={"champion": 1.0, "challenger": 3.0}, rng=2)
    result = compare_models(small, champion="champion", challengers=["challenger"],
                            metrics=["auc", "latency_p99"], min_requests=500)
    verdict = result.verdicts[0]
    assert verdict.decision == "inconclusive"
    assert verdict.reasons[0] == "auc: insufficient data (300 paired requests; at least 500 needed)"
    assert verdict.reasons[1] == "latency_p99: insufficient tail data"
    assert math.isnan(result.rows[1].effect)


def test_custom_bootstrap_and_loss_metrics() -> None:
    log = load_shadow_log(make_shadow_log(2000, models={"champion": 1.0, "challenger": 1.6}, rng=3))

    def f1(y: np.ndarray, score: np.ndarray) -> float:
        predicted = score >= 0.5
        tp = np.sum(predicted & (y == 1))
        return float(2 * tp / (predicted.sum() + (y == 1).sum()))

    metrics = [ShadowMetric(name="f1", statistic=f1, worse="lower"),
               ShadowMetric(name="abs_error", loss=lambda y, p: np.abs(y - p), worse="higher"),
               "accuracy", "brier"]
    result = compare_models(log, champion="champion", challengers=["challenger"], metrics=metrics,
                            n_resamples=300, min_requests=100)
    assert result.verdicts[0].decision == "promote"
    assert [r.method for r in result.rows] == ["paired bootstrap", "paired t", "paired t on correctness",
                                               "paired t"]


def test_result_prints_renders_converts_and_plots(frame: pd.DataFrame) -> None:
    import matplotlib.pyplot as plt

    from abkit.plotting.shadow import plot_comparison

    result = compare_models(frame, champion="champion", challengers=["better", "same"],
                            metrics=["auc", "latency"])
    text = repr(result)
    verdict_lines = text.split("Decisions\n")[1].splitlines()
    assert [line.split(":")[0].strip() for line in verdict_lines] == ["better", "same"]
    assert text.splitlines()[0].startswith("ShadowComparison vs champion 'champion'")
    assert "<table>" in result._repr_html_()
    table = to_frame(result)
    assert list(table["challenger"]) == ["better", "better", "same", "same"]
    assert {"ci_low", "ci_high", "challenger_decision", "decision", "pvalue_noninferiority_adjusted"} <= set(table.columns)
    json.dumps(result.to_dict())
    fig = plot_comparison(result)
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == ["auc (higher is better)", "latency (lower is better)"]
    plt.close(fig)


def test_metric_spec_errors() -> None:
    with pytest.raises(ValueError, match=re.escape("`name` must be one of 'auc', 'accuracy'")):
        ShadowMetric.builtin("rmse")
    with pytest.raises(ValueError, match=re.escape("`metrics` must be one of 'auc', 'accuracy'")):
        compare_models(load_shadow_log(make_shadow_log(50, models={"a": 1.0, "b": 1.0}, rng=1)),
                       champion="a", challengers=["b"], metrics=["rmse"])
    with pytest.raises(ValueError, match=re.escape("`margin` must be at least 0; got -0.1")):
        ShadowMetric.builtin("auc", margin=-0.1)
    message = "must set exactly one of `kind`, `loss`, `statistic`, `quantile`; got 0"
    with pytest.raises(ValueError, match=re.escape(message)):
        ShadowMetric(name="x", worse="lower")
