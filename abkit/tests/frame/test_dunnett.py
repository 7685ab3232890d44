"""``analyze(..., adjust="dunnett")``: Dunnett's many-to-one test within each metric."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from abkit import Experiment, Mean, Proportion
from abkit.multiple import dunnett_pvalues


def test_means_match_scipy_dunnett() -> None:
    rng = np.random.default_rng(5)
    n = 20_000
    samples = [rng.normal(10.0, 1.0, n) for _ in range(4)]
    samples[1] += 0.03
    samples[2] += 0.02
    table = pd.DataFrame({"variant": np.repeat(list("abcd"), n), "y": np.concatenate(samples)})
    result = Experiment(y=Mean("y")).analyze(table, control="a", adjust="dunnett")
    reference = stats.dunnett(*samples[1:], control=samples[0], rng=np.random.default_rng(1))
    ours = np.array([r.pvalue_adjusted for r in result.rows])
    # The adjustment itself on scipy's own statistics (pooled-variance t, N - 4 df): scipy's
    # multivariate t CDF is a randomised QMC estimate (about 1e-5 absolute) and abkit uses the
    # normal copula of the rows' own tests, whose difference from the multivariate t at
    # 80,000 df is below 1e-4: 1e-3 relative.
    raw = 2.0 * stats.t.sf(np.abs(reference.statistic), 4 * n - 4)
    np.testing.assert_allclose(dunnett_pvalues(raw, [0.5] * 3), reference.pvalue, rtol=1e-3)
    # End to end, abkit's rows are Welch tests with each pair's own variances where scipy pools
    # all four arms': the statistics differ by the sampling error of the variances (about 1%
    # at 20,000 units per arm), 0.03 on the normal-quantile scale of the p-value.
    np.testing.assert_allclose(stats.norm.isf(ours / 2), stats.norm.isf(reference.pvalue / 2),
                               atol=0.03)
    assert np.all(ours >= [r.pvalue for r in result.rows])


def test_dunnett_within_metric_bonferroni_across_metrics() -> None:
    rng = np.random.default_rng(8)
    n = 3000
    table = pd.DataFrame({"variant": np.repeat(list("abc"), n),
                          "y": rng.normal(1.0, 1.0, 3 * n) + np.repeat([0.0, 0.06, 0.03], n),
                          "won": rng.random(3 * n) < np.repeat([0.10, 0.12, 0.11], n)})
    experiment = Experiment(y=Mean("y"), won=Proportion("won"))
    result = experiment.analyze(table, control="a", adjust="dunnett")
    for metric in ("y", "won"):
        rows = [r for r in result.rows if r.metric == metric]
        summary_n = np.array([n, n, n], dtype=float)
        if metric == "y":
            var = [table.loc[table["variant"] == v, "y"].var() for v in "abc"]
        else:
            rate = [table.loc[table["variant"] == v, "won"].mean() for v in "abc"]
            var = [p * (1 - p) for p in rate]
        vc = var[0] / summary_n[0]
        share = [vc / (vc + var[i] / summary_n[i]) for i in (1, 2)]
        expected = np.minimum(2 * dunnett_pvalues([r.pvalue for r in rows], share), 1.0)
        np.testing.assert_allclose([r.pvalue_adjusted for r in rows], expected, rtol=1e-12)
    assert "pvalue (dunnett)" in repr(result)


def test_dunnett_with_one_treatment_is_bonferroni_over_metrics() -> None:
    rng = np.random.default_rng(2)
    table = pd.DataFrame({"variant": np.repeat(["a", "b"], 500), "y": rng.normal(5, 1, 1000),
                          "z": rng.normal(5, 1, 1000)})
    result = Experiment(y=Mean("y"), z=Mean("z")).analyze(table, adjust="dunnett")
    for row in result.rows:
        assert row.pvalue_adjusted == pytest.approx(min(2 * row.pvalue, 1.0), rel=1e-12)
