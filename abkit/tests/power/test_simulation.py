"""Seeded simulation: abkit's own tests, run at the computed sample size, reject as often as the
power calculation says (inside a 99.9% binomial band)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import stats

import abkit
from abkit.power._core import dunnett_critical_value

N_SIMULATIONS = 2000  # band half-width about 0.03 at power 0.8


def _band(power: float) -> tuple[float, float]:
    low, high = stats.binom.ppf([0.0005, 0.9995], N_SIMULATIONS, power)
    return low / N_SIMULATIONS, high / N_SIMULATIONS


@pytest.mark.parametrize(
    "design",
    [
        dict(control_rate=0.2, mde=0.05, ratio=1.5, method="pooled"),
        dict(control_rate=0.1, mde=0.25, relative=True, method="unpooled", alternative="greater"),
        dict(control_rate=0.5, mde=0.0, margin=-0.05, method="pooled", alternative="greater", alpha=0.025),
    ],
    ids=["pooled-unequal", "unpooled-relative-one-sided", "non-inferiority"],
)
def test_proportions_power_by_simulation(design: dict[str, Any]) -> None:
    plan = abkit.power_proportions(power=0.8, **design)
    n_c, n_t = plan.n_control_rounded, plan.n_treatment_rounded
    # Power at the sizes actually simulated (rounded up, so at least the target).
    expected = abkit.power_proportions(n_control=n_c, **{**design, "ratio": n_t / n_c}).power
    assert expected >= 0.8
    rng = np.random.default_rng(20261126)
    control = rng.binomial(n_c, plan.control_rate, N_SIMULATIONS)
    treatment = rng.binomial(n_t, plan.treatment_rate, N_SIMULATIONS)
    test_options = dict(alternative=plan.alternative, margin=plan.margin,
                        method="unpooled" if design["method"] == "unpooled" else "pooled")
    rejected = sum(
        abkit.proportions_test(abkit.ProportionStats(int(c), n_c), abkit.ProportionStats(int(t), n_t),
                               **test_options).pvalue < plan.alpha
        for c, t in zip(control, treatment, strict=True)
    )
    low, high = _band(expected)
    assert low <= rejected / N_SIMULATIONS <= high


@pytest.mark.parametrize(
    "design",
    [
        dict(sd=2.0, mde=0.5, method="t"),
        dict(sd=1.0, mde=0.8, method="t", ratio=2.0, alternative="less", alpha=0.1),
    ],
    ids=["t-two-sided", "t-unequal-one-sided"],
)
def test_means_power_by_simulation(design: dict[str, Any]) -> None:
    if design.get("alternative") == "less":
        design = {**design, "mde": -design["mde"]}
    plan = abkit.power_means(power=0.85, **design)
    n_c, n_t = plan.n_control_rounded, plan.n_treatment_rounded
    expected = abkit.power_means(n_control=n_c, **{**design, "ratio": n_t / n_c}).power
    rng = np.random.default_rng(7)
    sd = design["sd"]
    # Sufficient statistics of normal samples: the mean is normal, (n-1) var / sd^2 is chi-square.
    # Control mean 10 keeps means_test's relative interval away from a near-zero denominator.
    mean_c = rng.normal(10.0, sd / np.sqrt(n_c), N_SIMULATIONS)
    mean_t = rng.normal(10.0 + plan.mde, sd / np.sqrt(n_t), N_SIMULATIONS)
    var_c = sd**2 * rng.chisquare(n_c - 1, N_SIMULATIONS) / (n_c - 1)
    var_t = sd**2 * rng.chisquare(n_t - 1, N_SIMULATIONS) / (n_t - 1)
    # means_test is Welch's t; with equal variances it has the power of the pooled t used above
    # to well inside the band at these sizes.
    rejected = sum(
        abkit.means_test(abkit.MeanStats(n_c, mc, vc), abkit.MeanStats(n_t, mt, vt),
                         alternative=plan.alternative).pvalue < plan.alpha
        for mc, mt, vc, vt in zip(mean_c, mean_t, var_c, var_t, strict=True)
    )
    low, high = _band(expected)
    assert low <= rejected / N_SIMULATIONS <= high


@pytest.mark.parametrize("adjustment", ["bonferroni", "dunnett"])
def test_several_treatments_by_simulation(adjustment: str) -> None:
    # Three treatments share one control; each comparison is proportions_test. Bonferroni rejects
    # where adjust_pvalues(..., "bonferroni") <= alpha; the Dunnett-style design rejects beyond
    # the planned critical value. The simulated power is that of the first comparison.
    plan = abkit.power_proportions(control_rate=0.3, mde=0.05, power=0.8, n_treatments=3,
                                   adjustment=adjustment)
    n = plan.n_control_rounded
    expected = abkit.power_proportions(control_rate=0.3, mde=0.05, n_control=n, n_treatments=3,
                                       adjustment=adjustment).power
    rng = np.random.default_rng(11)
    control = rng.binomial(n, 0.3, N_SIMULATIONS)
    treatments = rng.binomial(n, 0.35, (N_SIMULATIONS, 3))
    crit = dunnett_critical_value(0.05, 1.0, 3, 2)  # checked against scipy in test_power.py
    rejected = 0
    for c, ts in zip(control, treatments, strict=True):
        results = [abkit.proportions_test(abkit.ProportionStats(int(c), n),
                                          abkit.ProportionStats(int(t), n)) for t in ts]
        if adjustment == "bonferroni":
            adjusted = abkit.adjust_pvalues([r.pvalue for r in results], method="bonferroni")
            rejected += bool(adjusted[0] <= 0.05)
        else:
            rejected += bool(abs(results[0].statistic) > crit)
    low, high = _band(expected)
    assert low <= rejected / N_SIMULATIONS <= high
