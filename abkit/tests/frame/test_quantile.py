"""Quantile metric: engines agree, R type 7 estimates, exact order statistics, coverage, bootstrap."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

import abkit
from abkit import DegenerateDataWarning, Experiment, Proportion, Quantile, bootstrap_test
from abkit.frame import QuantileStats, quantile_test, summarize
from abkit.shadow.latency import order_statistic_ranks
from abkit.tests.conftest import binomial_band
from abkit.tests.frame.test_experiment import engines, three_arm_data


def r_type7(x: np.ndarray, q: float) -> float:
    """R's quantile(x, q, type = 7) from Hyndman and Fan's (1996) definition, written out."""
    s = np.sort(x)
    h = (s.size - 1) * q + 1.0
    k = math.floor(h)
    return float(s[k - 1] + (h - k) * (s[min(k, s.size - 1)] - s[k - 1]))


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return three_arm_data(2400, seed=5)


METRICS = {"p50": Quantile("revenue", 0.5), "p90": Quantile("revenue", 0.9),
           "conversion": Proportion("converted")}


@pytest.mark.parametrize("engine", ["polars", "polars-lazy", "pyarrow", "duckdb"])
def test_every_engine_gives_the_pandas_answer(data: pd.DataFrame, engine: str) -> None:
    experiment = Experiment(**METRICS)
    expected = experiment.analyze(data, control="a").to_frame()
    actual = experiment.analyze(engines(data)[engine], control="a").to_frame()
    numeric = ["control_value", "treatment_value", "ci_low", "ci_high", "rel_ci_low", "rel_ci_high",
               "pvalue", "pvalue_adjusted"]
    # Order statistics are exact values, so engines agree to rounding (1e-12 relative).
    np.testing.assert_allclose(actual[numeric].to_numpy(float), expected[numeric].to_numpy(float),
                               rtol=1e-12)


def test_arms_are_r_type7_quantiles_with_exact_order_statistic_intervals(data: pd.DataFrame) -> None:
    summary = summarize(data, metrics=METRICS)
    for arm, stats in summary.items():
        x = data.loc[data["variant"] == arm, "revenue"].to_numpy()
        s = np.sort(x)
        for name in ("p50", "p90"):
            q = METRICS[name].q  # type: ignore[union-attr]
            got = stats[name]
            assert isinstance(got, QuantileStats)
            # Exact: the same order statistics, the same arithmetic as R's type 7.
            assert got.estimate == pytest.approx(r_type7(x, q), rel=1e-14)
            assert got.estimate == pytest.approx(np.quantile(x, q, method="linear"), rel=1e-14)
            low, high, coverage = order_statistic_ranks(x.size, q, 0.95)
            assert (got.low, got.high, got.coverage) == (s[low - 1], s[high - 1], coverage)
            assert got == QuantileStats.from_values(x, q)


def test_r_type7_hand_values() -> None:
    # R: quantile(c(1, 3, 4, 7, 9, 12), c(0.3, 0.5, 0.9), type = 7) gives 3.5, 5.5, 10.5
    # (h = 5 q + 1 interpolates the order statistics).
    x = [1.0, 3.0, 4.0, 7.0, 9.0, 12.0]
    assert [QuantileStats.from_values(x, q).estimate for q in (0.3, 0.5, 0.9)] == [3.5, 5.5, 10.5]


def test_quantile_takes_three_queries(data: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    import narwhals as nw

    calls = []
    collect = nw.LazyFrame.collect

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(self)
        return collect(self, *args, **kwargs)

    monkeypatch.setattr(nw.LazyFrame, "collect", counting)
    Experiment(**METRICS).analyze(engines(data)["duckdb"], control="a")
    # a sample of rows (here the whole small table), which places a band of values around each
    # arm's quantile; the group-by, which also counts each arm's values below and above the
    # band; one read of the band's rows: no histogram, no sort
    assert len(calls) == 3


def test_interval_covers_the_true_difference() -> None:
    # Exponential arms: the true q quantile is -log(1 - q) * scale. 400 seeded experiments.
    rng = np.random.default_rng(2026)
    reps, n, q = 400, 300, 0.75
    truth = -math.log(1 - q) * (1.3 - 1.0)
    covered = relative_covered = 0
    for _ in range(reps):
        a = QuantileStats.from_values(rng.exponential(1.0, n), q)
        b = QuantileStats.from_values(rng.exponential(1.3, n), q)
        r = quantile_test(a, b)
        covered += r.ci.contains(truth)
        relative_covered += r.relative_ci.contains(0.3)
    low, high = binomial_band(reps, 0.95)
    assert low <= covered <= high
    assert low <= relative_covered <= high


def test_interval_is_close_to_a_seeded_bootstrap() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.lognormal(3.0, 0.8, 3000), rng.lognormal(3.1, 0.8, 3000)
    for q in (0.5, 0.9):
        r = quantile_test(QuantileStats.from_values(a, q), QuantileStats.from_values(b, q))
        boot = bootstrap_test(a, b, statistic=("quantile", q), n_resamples=2000, method="percentile",
                              rng=1)
        assert r.effect == pytest.approx(boot.effect, rel=1e-12)  # the same type-7 estimates
        # Two estimates of one standard error: within 15% (bootstrap noise with 2,000 resamples
        # is about 3%; the order-statistic width is discrete, a few ranks either way).
        assert r.se == pytest.approx(boot.se, rel=0.15)
        assert r.ci.low == pytest.approx(boot.ci.low, abs=0.15 * r.ci.width)
        assert r.ci.high == pytest.approx(boot.ci.high, abs=0.15 * r.ci.width)


def test_swapping_arms_flips_the_effect(data: pd.DataFrame) -> None:
    experiment = Experiment(p90=Quantile("revenue", 0.9))
    ab = experiment.analyze(data[data.variant != "c"], control="a").rows[0]
    ba = experiment.analyze(data[data.variant != "c"], control="b").rows[0]
    assert ab.effect == -ba.effect
    assert (ab.ci.low, ab.ci.high) == pytest.approx((-ba.ci.high, -ba.ci.low), rel=1e-12)
    assert ab.pvalue == pytest.approx(ba.pvalue, rel=1e-12)


def test_row_fields_and_result_type(data: pd.DataFrame) -> None:
    row = Experiment(p90=Quantile("revenue", 0.9)).analyze(data, control="a").row("p90", "b")
    assert row.test == "quantile_test" and row.method == "order-statistic"
    assert row.control_value == row.details.control_quantile  # type: ignore[attr-defined]
    assert abkit.Quantile is Quantile


def test_degenerate_quantiles_are_nan_with_a_warning() -> None:
    rng = np.random.default_rng(3)
    table = pd.DataFrame({"variant": ["a"] * 50 + ["b"] * 50, "y": rng.normal(size=100),
                          "k": [1.0] * 100})
    with pytest.warns(DegenerateDataWarning, match="Too few values beyond the 0.99 quantile"):
        row = Experiment(y=Quantile("y", 0.99)).analyze(table).rows[0]
    assert math.isnan(row.pvalue) and math.isnan(row.ci.low) and math.isfinite(row.effect)
    with pytest.warns(DegenerateDataWarning, match="zero width in both arms"):
        row = Experiment(k=Quantile("k", 0.5)).analyze(table).rows[0]
    assert row.effect == 0.0 and math.isnan(row.pvalue)


@pytest.mark.parametrize("engine", ["pandas", "polars", "pyarrow", "duckdb"])
def test_bad_values_are_named(engine: str) -> None:
    for bad in (math.nan, math.inf):
        table = pd.DataFrame({"variant": ["a", "a", "a", "b", "b", "b"],
                              "y": [1.0, 2.0, 3.0, 2.0, bad, 5.0]})
        with pytest.raises(ValueError, match=r"Column 'y' \(metric 'y'\) must (not contain missing|"
                                             r"contain only finite).* in variant 'b'"):
            Experiment(y=Quantile("y", 0.5)).analyze(engines(table)[engine])


def test_bad_declarations() -> None:
    with pytest.raises(ValueError, match=r"`q` must be in \(0, 1\); got 1.5."):
        Quantile("y", 1.5)
    with pytest.raises(TypeError, match="`column` must be a column name"):
        Quantile("", 0.5)
    a = QuantileStats.from_values([1.0, 2.0, 3.0], 0.5)
    with pytest.raises(ValueError, match="`control` and `treatment` must hold the same quantile"):
        quantile_test(a, QuantileStats.from_values([1.0, 2.0, 3.0], 0.9))
    with pytest.raises(TypeError, match="`treatment` must be a QuantileStats; got list"):
        quantile_test(a, [1.0])  # type: ignore[arg-type]


def test_order_statistics_by_histogram_narrowing(monkeypatch: pytest.MonkeyPatch) -> None:
    import narwhals as nw

    from abkit.frame import order_stats

    rng = np.random.default_rng(9)
    # Heavy ties (a block of zeros), a heavy tail, and two groups; small BUCKETS/FETCH force
    # several histogram passes before the read.
    x = np.concatenate([np.zeros(3000), rng.lognormal(0.0, 2.0, 7000)])
    g = rng.integers(0, 2, x.size)
    monkeypatch.setattr(order_stats, "BUCKETS", 8)
    monkeypatch.setattr(order_stats, "FETCH", 50)
    lazy = nw.from_native(pd.DataFrame({"g": g, "x": x})).lazy()
    members = {0: ((0,),), 1: ((1,),), "all": ((0,), (1,))}
    ranks = [1, 2, 500, 1500, 2999, 3001, 5000, 9999]
    targets = [(members[k], r) for k in (0, 1) for r in ranks[:5]] + [(members["all"], r) for r in ranks]
    found = order_stats.order_statistics(lazy, ["g"], nw.col("x"), targets)
    for (group, rank), value in found.items():
        values = np.sort(x if len(group) == 2 else x[g == group[0][0]])
        assert value == values[rank - 1]
