"""One-sample and paired power for means (``power_means(kind=...)``).

References: statsmodels' ``TTestPower`` (both tails counted, abkit's default
``two_sided_power="both"``), and R's ``power.t.test(type = "one.sample" | "paired")``, whose
power is ``pt(qt(alpha / tside, n - 1, lower = FALSE), n - 1, ncp = sqrt(n) * delta / sd,
lower = FALSE)`` (plus the far tail only with ``strict = TRUE``): that formula is evaluated
here with scipy's noncentral t, independently of abkit's compiled series. Both peers size one
sample or the pairs; for ``"paired"`` ``sd`` is the standard deviation of the differences.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.power import TTestPower

from abkit import power_means

KINDS = ("one-sample", "paired")


def _r_power(n: float, delta: float, sd: float, alpha: float, tside: int, strict: bool) -> float:
    """R 4.x ``power.t.test``'s power for ``type = "one.sample"`` (and ``"paired"``)."""
    df = n - 1.0
    ncp = np.sqrt(n) * delta / sd
    crit = stats.t.isf(alpha / tside, df)
    power = stats.nct.sf(crit, df, ncp)
    if strict and tside == 2:
        power += stats.nct.cdf(-crit, df, ncp)
    return float(power)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("n", "delta", "sd", "alpha"), [(20, 1.0, 1.0, 0.05), (12, 0.4, 0.8, 0.01),
                                                         (200, 0.1, 1.0, 0.05), (5, 2.0, 1.5, 0.1)])
def test_power_matches_r_and_statsmodels(kind: str, n: int, delta: float, sd: float, alpha: float) -> None:
    both = power_means(sd=sd, mde=delta, n_control=n, alpha=alpha, kind=kind)
    near = power_means(sd=sd, mde=delta, n_control=n, alpha=alpha, kind=kind, two_sided_power="near")
    one = power_means(sd=sd, mde=delta, n_control=n, alpha=alpha, kind=kind, alternative="greater")
    # 1e-9: scipy's nct and statsmodels are accurate to about 1e-12 here, abkit's series to 1e-14.
    assert both.power == pytest.approx(_r_power(n, delta, sd, alpha, 2, True), rel=1e-9)
    assert both.power == pytest.approx(TTestPower().power(delta / sd, n, alpha), rel=1e-9)
    assert near.power == pytest.approx(_r_power(n, delta, sd, alpha, 2, False), rel=1e-9)
    assert one.power == pytest.approx(_r_power(n, delta, sd, alpha, 1, False), rel=1e-9)
    assert one.power == pytest.approx(TTestPower().power(delta / sd, n, alpha, alternative="larger"), rel=1e-9)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("delta", "sd", "power", "alternative"), [
    (0.5, 1.0, 0.8, "two-sided"), (1.0, 1.0, 0.9, "two-sided"), (0.2, 2.0, 0.95, "greater"), (0.05, 1.0, 0.8, "less"),
])
def test_sample_size_reaches_the_power_of_r_and_statsmodels(kind: str, delta: float, sd: float, power: float,
                                                            alternative: str) -> None:
    mde = -delta if alternative == "less" else delta
    r = power_means(sd=sd, mde=mde, power=power, kind=kind, alternative=alternative)
    tside = 2 if alternative == "two-sided" else 1
    # The peers' power at abkit's unrounded n is the target (their own solvers stop at ~1e-7).
    assert _r_power(r.n_control, delta, sd, 0.05, tside, True) == pytest.approx(power, abs=1e-10)
    sm_alt = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}[alternative]
    assert TTestPower().power(mde / sd, r.n_control, 0.05, alternative=sm_alt) == pytest.approx(power, abs=1e-10)
    assert TTestPower().solve_power(mde / sd, power=power, alpha=0.05, alternative=sm_alt) == pytest.approx(
        r.n_control, rel=1e-6)
    assert r.n_control_rounded == r.n_total == r.n_treatment_rounded == int(np.ceil(r.n_control))
    assert r.kind == kind


@pytest.mark.parametrize("kind", KINDS)
def test_near_tail_sample_size_and_mde_match_r(kind: str) -> None:
    # R: power.t.test(delta = 0.5, power = 0.8, type = "one.sample", tol = 1e-12) solves the
    # near-tail power; checked here by R's own power formula at abkit's n (and the mde at n).
    r = power_means(sd=1.0, mde=0.5, power=0.8, kind=kind, two_sided_power="near")
    assert _r_power(r.n_control, 0.5, 1.0, 0.05, 2, False) == pytest.approx(0.8, abs=1e-10)
    r = power_means(sd=2.0, n_control=30, power=0.9, kind=kind, two_sided_power="near")
    assert _r_power(30, r.mde, 2.0, 0.05, 2, False) == pytest.approx(0.9, abs=1e-10)
    assert r.mde / 2.0 == pytest.approx(TTestPower().solve_power(nobs=30, power=0.9, alpha=0.05), rel=1e-6)


def test_paired_is_one_sample_on_differences_and_z_matches_the_normal_formula() -> None:
    a = power_means(sd=1.3, mde=0.4, n_control=25, kind="paired")
    b = power_means(sd=1.3, mde=0.4, n_control=25, kind="one-sample")
    assert a.power == b.power
    z = power_means(sd=1.3, mde=0.4, n_control=25, kind="paired", method="z", two_sided_power="near")
    expected = stats.norm.sf(stats.norm.isf(0.025) - np.sqrt(25) * 0.4 / 1.3)
    assert z.power == pytest.approx(expected, rel=1e-12)
    n = power_means(sd=1.3, mde=0.4, power=0.8, kind="one-sample", method="z", two_sided_power="near").n_control
    assert n == pytest.approx(((stats.norm.isf(0.025) + stats.norm.isf(0.2)) * 1.3 / 0.4) ** 2, rel=1e-12)


def test_one_sample_needs_a_quarter_of_the_two_sample_total_for_large_n() -> None:
    # Var of a difference of two means is 2 sd^2 / n against sd^2 / n: a two-sample arm needs
    # twice the one sample (z test exactly).
    one = power_means(sd=1.0, mde=0.1, power=0.8, kind="one-sample", method="z")
    two = power_means(sd=1.0, mde=0.1, power=0.8, method="z")
    assert two.n_control == pytest.approx(2.0 * one.n_control, rel=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(KINDS), st.floats(0.05, 2.0), st.floats(0.5, 0.99), st.sampled_from([0.01, 0.05, 0.1]))
def test_power_at_the_solved_n_is_the_target_and_mde_roundtrips(kind: str, d: float, power: float,
                                                                alpha: float) -> None:
    r = power_means(sd=1.0, mde=d, power=power, alpha=alpha, kind=kind)
    if r.n_control < 2.5:
        return
    back = power_means(sd=1.0, mde=d, n_control=r.n_control, alpha=alpha, kind=kind)
    assert back.power == pytest.approx(power, abs=1e-9)
    assert power_means(sd=1.0, mde=d, n_control=r.n_control_rounded, alpha=alpha, kind=kind).power >= power
    mde = power_means(sd=1.0, n_control=r.n_control, power=power, alpha=alpha, kind=kind).mde
    assert mde == pytest.approx(d, rel=1e-7)


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"kind": "one_sample"}, ValueError,
     "`kind` must be one of 'two-sample', 'one-sample', 'paired'; got 'one_sample'."),
    ({"kind": 1}, TypeError, "`kind` must be a string; got 1."),
    ({"kind": "paired", "ratio": 2.0}, ValueError, "`ratio` must be 1 with kind='paired'; got 2."),
    ({"kind": "one-sample", "n_treatments": 3}, ValueError, "`n_treatments` must be 1 with kind='one-sample'; got 3."),
])
def test_bad_kind_arguments(kwargs: dict[str, object], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        power_means(sd=1.0, mde=0.5, power=0.8, **kwargs)  # type: ignore[arg-type]


def test_one_sample_needs_two_units() -> None:
    with pytest.raises(ValueError, match=re.escape("(n_control / inflation_factor >= 2); got 1.5.")):
        power_means(sd=1.0, mde=0.5, n_control=1.5, kind="one-sample")
    assert 0.0 < power_means(sd=1.0, mde=0.5, n_control=2, kind="one-sample").power < 1.0
