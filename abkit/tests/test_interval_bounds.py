"""Every interval on a bounded parameter stays inside the parameter's range (issue 19).

For any valid input, ``low <= high`` and both ends lie in the range: [-1, 1] for a difference
of rates, accuracies or AUCs; [0, 1] for a rate or an AUC; at least -1 for a relative change of
rates or of positive quantities; [-1/2, 1/2] for ``P(canary > baseline) - 1/2``; at least 0 for a
quantile of non-negative latencies. NaN intervals (degenerate data, reported with a warning)
have no ends to check. The reference case is R's ``prop.test``, which tea-tasting follows.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special

from abkit import (
    CanaryJudge,
    DegenerateDataWarning,
    MeanStats,
    ProportionStats,
    auc_ci,
    bayes_proportions,
    compare_models,
    delong_test,
    mcnemar_test,
    proportions_test,
)
from abkit._results import ConfidenceInterval
from abkit.sequential import MSPRT, confidence_sequence, msprt
from abkit.sequential.boundaries import bernoulli_confidence_sequence
from abkit.shadow import ShadowMonitor
from abkit.shadow.latency import latency_quantiles, latency_ratio_test
from abkit.shadow.log import ShadowLog

ALTERNATIVES = st.sampled_from(["two-sided", "greater", "less"])
LEVELS = st.floats(0.5, 0.999)


def assert_within(ci: ConfidenceInterval, low: float, high: float) -> None:
    """Both ends in ``[low, high]`` and ordered; an all-NaN interval is the degenerate answer."""
    if math.isnan(ci.low) and math.isnan(ci.high):
        return
    assert low <= ci.low <= ci.high <= high, (ci, low, high)


def quiet(function, *args, **kwargs):
    """Call ``function`` with degenerate-data warnings silenced (they are tested elsewhere)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateDataWarning)
        return function(*args, **kwargs)


@st.composite
def proportion_stats(draw, max_n: int = 60):
    n = draw(st.integers(1, max_n))
    return ProportionStats(draw(st.integers(0, n)), n)


@st.composite
def binary_pair(draw, min_size: int = 2, max_size: int = 30):
    """Two 0/1 arrays of one length (paired outcomes)."""
    n = draw(st.integers(min_size, max_size))
    first = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    second = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    return np.array(first, float), np.array(second, float)


@st.composite
def labelled_scores(draw, max_size: int = 25):
    """Binary labels with both classes and two models' scores (ties allowed)."""
    n = draw(st.integers(2, max_size))
    labels = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n).filter(lambda y: 0 < sum(y) < len(y)))
    scores = st.lists(st.integers(0, 5).map(float), min_size=n, max_size=n)
    return np.array(labels, float), np.array(draw(scores)), np.array(draw(scores))


# ---------------------------------------------------------------- reference: R prop.test


def test_difference_of_rates_is_clipped_as_r_prop_test() -> None:
    # The case from tea-tasting's test suite: 1/20 against 20/20. R 4.x prop.test(c(20, 1),
    # c(20, 20), correct = FALSE)$conf.int is c(max(DELTA - WIDTH, -1), min(DELTA + WIDTH, 1))
    # with WIDTH = qnorm(0.975) sqrt(sum(p (1 - p) / n)): [0.8544832, 1] (the Wald upper end,
    # 1.0455, is clipped). The low end is written out here from R's source formula.
    r = proportions_test(ProportionStats(1, 20), ProportionStats(20, 20))
    width = float(special.ndtri(0.975)) * math.sqrt(0.05 * 0.95 / 20)
    assert r.ci.high == 1.0
    assert r.ci.low == pytest.approx(0.95 - width, rel=1e-12)
    assert r.ci.low == pytest.approx(0.8544832, abs=1e-7)  # R's printed digits
    # Arms swapped: the mirror image, clipped at -1.
    swapped = proportions_test(ProportionStats(20, 20), ProportionStats(1, 20))
    assert (swapped.ci.low, swapped.ci.high) == (-1.0, pytest.approx(-0.95 + width, rel=1e-12))


def test_one_sided_difference_of_rates_ends_at_the_range_as_r_prop_test() -> None:
    # R: "greater" = c(max(DELTA - WIDTH, -1), 1), "less" = c(-1, min(DELTA + WIDTH, 1)) with
    # WIDTH = qnorm(conf.level) * se; tea-tasting reports the same ends.
    c, t = ProportionStats(30, 420), ProportionStats(48, 400)
    se = math.sqrt(c.rate * (1 - c.rate) / c.n + t.rate * (1 - t.rate) / t.n)
    width = float(special.ndtri(0.95)) * se
    greater = proportions_test(c, t, alternative="greater")
    less = proportions_test(c, t, alternative="less")
    assert greater.ci.high == 1.0 and greater.ci.low == pytest.approx(t.rate - c.rate - width, rel=1e-12)
    assert less.ci.low == -1.0 and less.ci.high == pytest.approx(t.rate - c.rate + width, rel=1e-12)
    # The relative change of a rate is at least -1: tea-tasting's "less" interval starts there.
    assert less.relative_ci.low == -1.0 and greater.relative_ci.high == math.inf


# ---------------------------------------------------------------- fixed-horizon primitives


@given(proportion_stats(), proportion_stats(), ALTERNATIVES, LEVELS,
       st.sampled_from(["pooled", "unpooled"]), st.sampled_from(["delta-log", "fieller"]))
def test_proportions_test_intervals_in_range(control, treatment, alternative, level, method,
                                             relative_method) -> None:
    r = quiet(proportions_test, control, treatment, alternative=alternative, confidence_level=level,
              method=method, relative_method=relative_method)
    assert_within(r.ci, -1.0, 1.0)
    assert_within(r.relative_ci, -1.0, math.inf)


@given(proportion_stats(max_n=400), proportion_stats(max_n=400), st.floats(0.8, 0.99))
@settings(max_examples=40)  # quadrature and root finding: about 10 ms an example
def test_bayes_proportions_credible_intervals_in_range(control, treatment, level) -> None:
    r = bayes_proportions(control, treatment, confidence_level=level)
    assert_within(r.ci, -1.0, 1.0)
    assert_within(r.relative_ci, -1.0, math.inf)
    assert_within(r.control_ci, 0.0, 1.0)
    assert_within(r.treatment_ci, 0.0, 1.0)


@given(binary_pair(), ALTERNATIVES, LEVELS)
def test_mcnemar_accuracy_difference_in_range(pair, alternative, level) -> None:
    r = quiet(mcnemar_test, *pair, alternative=alternative, confidence_level=level)
    assert_within(r.ci, -1.0, 1.0)


def test_mcnemar_interval_is_clipped_where_wald_leaves_the_range() -> None:
    # b = 0, c = 2 of n = 3: effect 2/3, Wald se = sqrt(2 - 4/3) / 3, upper end 1.17 before clipping.
    r = mcnemar_test([0, 0, 1], [1, 1, 1])
    assert r.ci.high == 1.0
    assert r.ci.low == pytest.approx(2 / 3 - float(special.ndtri(0.975)) * math.sqrt(2 - 4 / 3) / 3, rel=1e-12)


@given(labelled_scores(), ALTERNATIVES, LEVELS)
def test_delong_auc_difference_in_range(data, alternative, level) -> None:
    y, champion, challenger = data
    r = quiet(delong_test, y, champion, challenger, alternative=alternative, confidence_level=level)
    assert_within(r.ci, -1.0, 1.0)


@given(labelled_scores(), LEVELS)
def test_auc_interval_in_range(data, level) -> None:
    y, score, _ = data
    assert_within(quiet(auc_ci, y, score, confidence_level=level).ci, 0.0, 1.0)


# ---------------------------------------------------------------- sequential


@given(proportion_stats(), proportion_stats(), st.floats(1e-4, 1.0), st.floats(0.01, 0.2))
def test_msprt_on_proportions_in_range(control, treatment, tau2, alpha) -> None:
    assert_within(quiet(msprt, control, treatment, tau2=tau2, alpha=alpha).ci, -1.0, 1.0)


@given(st.lists(st.tuples(proportion_stats(max_n=20), proportion_stats(max_n=20)), min_size=1, max_size=4))
def test_streaming_msprt_on_proportions_in_range(looks) -> None:
    test = MSPRT(tau2=0.05)
    for control, treatment in looks:
        quiet(test.update, control, treatment)
    assert test.ci.low >= -1.0 and test.ci.high <= 1.0  # a running intersection may be empty


@given(proportion_stats(), proportion_stats(), st.floats(0.01, 0.2), st.floats(10.0, 1e5),
       st.sampled_from(["absolute", "relative"]))
def test_confidence_sequence_on_proportions_in_range(control, treatment, alpha, tuning_n, difference) -> None:
    r = quiet(confidence_sequence, control, treatment, alpha=alpha, tuning_n=tuning_n, difference=difference)
    assert_within(r.ci, -1.0, 1.0 if difference == "absolute" else math.inf)


def test_confidence_sequence_means_are_not_clipped() -> None:
    # Means are unbounded: the same numbers as MeanStats keep the symmetric sequence.
    r = confidence_sequence(MeanStats(5, 0.0, 0.25), MeanStats(5, 0.9, 0.1), tuning_n=100)
    assert r.ci.high > 1.0 and r.ci.high - r.effect == pytest.approx(r.effect - r.ci.low, rel=1e-12)


@given(proportion_stats(max_n=500), st.floats(0.01, 0.2), st.floats(1.0, 1e4))
@settings(max_examples=40)  # two root searches an example
def test_bernoulli_confidence_sequence_in_unit_interval(stats, alpha, t_opt) -> None:
    ci = bernoulli_confidence_sequence(stats.successes, stats.n, alpha=alpha, t_opt=t_opt)
    assert_within(ci, 0.0, 1.0)
    assert ci.contains(stats.rate)


# ---------------------------------------------------------------- canary judge


@st.composite
def judge_arms(draw):
    n_base, n_canary = draw(st.integers(5, 40)), draw(st.integers(5, 40))
    rates = st.floats(0.0, 1.0)
    p_base, p_canary = draw(rates), draw(rates)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    base = {"errors": rng.random(n_base) < p_base, "rank": rng.integers(0, 4, n_base) * 1.0,
            "latency": rng.lognormal(0.0, 1.0, n_base), "mean": rng.exponential(1.0, n_base)}
    canary = {"errors": rng.random(n_canary) < p_canary, "rank": rng.integers(0, 4, n_canary) + draw(rates),
              "latency": rng.lognormal(0.0, 1.0, n_canary), "mean": rng.exponential(2.0, n_canary)}
    return base, canary


CHECKS = [CanaryJudge.error_rate("errors", min_samples=5), CanaryJudge.rank("rank", min_samples=5),
          CanaryJudge.latency("latency", quantile=0.5, min_samples=5),
          CanaryJudge.mean("mean", min_samples=5)]
RANGES = {"errors": (-1.0, 1.0), "rank": (-0.5, 0.5), "latency": (-1.0, math.inf), "mean": (-1.0, math.inf)}


@given(judge_arms(), st.sampled_from(["always-valid", "spending"]))
@settings(max_examples=60)
def test_canary_judge_intervals_in_range(arms, validity) -> None:
    judge = CanaryJudge(CHECKS, validity=validity, planned_looks=2, tuning_n=100.0)
    verdict = quiet(judge.judge, *arms)
    for metric in verdict.metrics:
        assert_within(metric.ci, *RANGES[metric.name])


def test_canary_rank_interval_is_clipped_at_one_half() -> None:
    # Two small samples that barely overlap: P(canary > baseline) = 24/25, effect 0.46. DeLong's
    # placements are (0.8, 1, 1, 1, 1) in each arm (sample variance 0.008), so se = sqrt(0.0032)
    # and the 90% interval (one look, alpha 0.05 per side) is 0.46 -+ 0.0930: its upper end, 0.553,
    # is clipped to 1/2.
    base = {"rank": np.arange(5.0)}
    canary = {"rank": np.arange(3.5, 8.5)}
    verdict = CanaryJudge([CanaryJudge.rank("rank", min_samples=5)], validity="spending",
                          planned_looks=1).judge(base, canary)
    ci = verdict.metrics[0].ci
    assert verdict.metrics[0].effect == pytest.approx(0.46, rel=1e-12)
    assert ci.high == 0.5
    assert ci.low == pytest.approx(0.46 - float(special.ndtri(0.95)) * math.sqrt(0.0032), rel=1e-12)


# ---------------------------------------------------------------- shadow


def _log(y, champion, challenger) -> ShadowLog:
    n = y.size
    return ShadowLog.from_arrays(request_id=np.tile(np.arange(n), 2), model=np.repeat(["a", "b"], n),
                                 score=np.concatenate([champion, challenger]), label=np.tile(y, 2))


@st.composite
def correctness(draw):
    """Labels and two models' scores of 0/1 (so each is right or wrong per request)."""
    y, a = draw(binary_pair(min_size=3, max_size=15).filter(lambda pair: 0 < pair[0].sum() < pair[0].size))
    b = np.array(draw(st.lists(st.integers(0, 1), min_size=y.size, max_size=y.size)), float)
    return y, a, b


@given(correctness())
@settings(max_examples=40)
def test_compare_models_accuracy_difference_in_range(data) -> None:
    result = quiet(compare_models, _log(*data), champion="a", challengers=["b"], metrics=["accuracy"],
                   min_requests=2)
    assert_within(result.rows[0].ci, -1.0, 1.0)


@given(correctness())
@settings(max_examples=40)
def test_shadow_monitor_accuracy_difference_in_range(data) -> None:
    monitor = ShadowMonitor("a", ["b"], ["accuracy"], min_requests=2, tuning_n=10.0)
    result = quiet(monitor.update, _log(*data))
    ci = result.rows[0].ci
    if not math.isnan(ci.low):
        assert -1.0 <= ci.low <= ci.high <= 1.0


@given(st.lists(st.floats(0.0, 1e4), min_size=1, max_size=200), LEVELS)
def test_latency_quantile_intervals_are_non_negative(latency, level) -> None:
    result = latency_quantiles(latency, quantiles=(0.5, 0.9, 0.99), confidence_level=level)
    for row in result.rows:
        assert_within(row.ci, 0.0, math.inf)


@given(st.lists(st.tuples(st.floats(1e-3, 1e4), st.floats(1e-3, 1e4)), min_size=2, max_size=30),
       ALTERNATIVES, LEVELS)
def test_latency_ratio_relative_change_is_at_least_minus_one(pairs, alternative, level) -> None:
    champion, challenger = np.array(pairs).T
    r = quiet(latency_ratio_test, champion, challenger, alternative=alternative, confidence_level=level)
    assert_within(r.ci, -1.0, math.inf)
    assert_within(r.ratio_ci, 0.0, math.inf)
