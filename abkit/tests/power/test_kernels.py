"""The compiled noncentral t, t quantile and t-test solver against scipy and 40-digit mpmath."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import special, stats

from abkit.power import _kernels

dfs = st.floats(0.0, np.log(1e6)).map(np.exp)  # 1 to 1e6 degrees of freedom, log-uniform


def _mp_cdf(t: float, df: float, nc: float) -> mpmath.mpf:
    """Noncentral t CDF by the Poisson mixture of incomplete betas at 40 digits (no cancellation)."""
    with mpmath.workdps(40):
        t, df, nc = mpmath.mpf(t), mpmath.mpf(df), mpmath.mpf(nc)
        if t < 0:
            return 1 - _mp_cdf(-t, df, -nc)
        x = t * t / (t * t + df)
        lam = nc * nc / 2
        total = mpmath.ncdf(-nc)
        for j in range(int(lam + 12 * mpmath.sqrt(lam) + 40)):
            p = mpmath.exp(-lam) * lam**j / mpmath.factorial(j)
            q = nc * mpmath.exp(-lam) * lam**j / (mpmath.sqrt(2) * mpmath.gamma(j + 1.5))
            total += (p * mpmath.betainc(j + 0.5, df / 2, 0, x, regularized=True)
                      + q * mpmath.betainc(j + 1, df / 2, 0, x, regularized=True)) / 2
        return total


@settings(max_examples=60, deadline=None)
@given(t=st.floats(-12.0, 12.0).filter(lambda t: abs(t) > 1e-3), df=dfs, nc=st.floats(-12.0, 12.0))
def test_nct_tails_match_scipy(t: float, df: float, nc: float) -> None:
    # scipy's nctdtr (Boost) takes the smaller tail as one minus the larger in places, so it is
    # accurate to about 1e-16 absolute: compare relatively where both tails exceed 1e-5. (It also
    # returns exactly 1/2 at t = 1e-9, nc = 0, df = 1, where the Cauchy CDF is 1/2 + 3.2e-10.)
    # Where t and nc have opposite signs the series alternates: absolute accuracy, about 1e-13,
    # growing with df (4e-12 at 1e6 in a 200,000-point sweep), so 1e-13 + 1e-17 df.
    cdf, sf = _kernels.nct_tails(t, df, nc)
    expected = stats.nct.cdf(t, df, nc)
    assert cdf + sf == pytest.approx(1.0, abs=1e-15)
    if np.isnan(expected):  # scipy gives up where the tail underflows its method
        expected = float(_mp_cdf(t, df, nc))
    if t * nc < 0.0:
        assert cdf == pytest.approx(expected, abs=1e-13 + 1e-17 * df)
    elif 1e-5 < expected < 1.0 - 1e-5:
        assert cdf == pytest.approx(expected, rel=1e-10)
        assert sf == pytest.approx(stats.nct.sf(t, df, nc), rel=1e-10)
    else:
        assert cdf == pytest.approx(expected, abs=1e-14)


@settings(max_examples=25, deadline=None)
@given(t=st.floats(0.05, 9.0), df=dfs, nc=st.floats(0.0, 5.0), flip=st.booleans())
def test_nct_small_tail_is_relatively_accurate(t: float, df: float, nc: float, flip: bool) -> None:
    # Where the summed terms are all positive (t and nc of one sign), the smaller tail is
    # accurate relatively, far below what scipy resolves (1e-10 relative against 40 digits).
    sign = -1.0 if flip else 1.0
    cdf, sf = _kernels.nct_tails(sign * t, df, sign * nc)
    truth_cdf = _mp_cdf(sign * t, df, sign * nc)
    small, truth = (cdf, truth_cdf) if cdf <= sf else (sf, 1 - truth_cdf)
    if truth > 1e-280:
        assert small == pytest.approx(float(truth), rel=1e-10)


@pytest.mark.parametrize(("t", "df", "nc"), [(-2.0, 30.0, 3.0), (-1.96, 1000.0, 4.0), (-3.0, 5.0, 6.0),
                                             (-2.6, 2e5, 8.0), (1.0, 10.0, -5.0), (-9.875, 2981.0, 9.75)])
def test_far_tail_of_a_two_sided_test(t: float, df: float, nc: float) -> None:
    # The far rejection region (t and nc of opposite signs) is a difference of positive series:
    # accurate to about 1e-14 absolute (rounding in terms of the order of the Poisson weights).
    cdf = _kernels.nct_tails(t, df, nc)[0]
    assert cdf == pytest.approx(float(_mp_cdf(t, df, nc)), abs=1e-14)


def test_central_and_limits() -> None:
    assert _kernels.nct_tails(1e-9, 1.0, 0.0)[0] == pytest.approx(0.5 + np.arctan(1e-9) / np.pi, rel=1e-15)
    assert _kernels.nct_tails(1.5, 7.0, 0.0)[0] == pytest.approx(stats.t.cdf(1.5, 7.0), rel=1e-13)
    assert _kernels.nct_tails(0.0, 7.0, 1.2) == pytest.approx((stats.norm.cdf(-1.2), stats.norm.sf(-1.2)),
                                                              rel=1e-14)
    assert _kernels.nct_tails(1.0, np.inf, 0.4)[0] == pytest.approx(stats.norm.cdf(0.6), rel=1e-14)


@settings(max_examples=60, deadline=None)
@given(q=st.floats(1e-6, 0.4), df=dfs)
def test_t_quantile_matches_scipy(q: float, df: float) -> None:
    t = _kernels.t_isf(q, float(-special.ndtri(q)), df)
    assert t == pytest.approx(stats.t.isf(q, df), rel=1e-11)


def test_t_quantile_at_large_df_against_mpmath() -> None:
    # At 1e5 degrees of freedom scipy's stdtrit and the 40-digit tail agree on this value.
    df, q = 59714.13, 0.025
    t = _kernels.t_isf(q, float(-special.ndtri(q)), df)
    with mpmath.workdps(40):
        v = mpmath.mpf(df)
        tail = mpmath.betainc(v / 2, 0.5, 0, v / (v + mpmath.mpf(t) ** 2), regularized=True) / 2
    assert float(tail) == pytest.approx(q, rel=1e-12)


def test_ibeta_against_mpmath() -> None:
    rng = np.random.default_rng(11)
    for _ in range(40):
        a, b = np.exp(rng.uniform(np.log(0.3), np.log(3e3), 2))  # mpmath stalls beyond
        x = float(rng.uniform(0.0, 1.0))
        p, q = _kernels.ibeta(a, b, x, 1.0 - x)
        with mpmath.workdps(40):
            truth = mpmath.betainc(a, b, 0, mpmath.mpf(x), regularized=True)
        small, ref = (p, truth) if p <= q else (q, 1 - truth)
        if ref > 1e-280:
            assert small == pytest.approx(float(ref), rel=1e-10)


def _scipy_t_power(n: float, effect: float, ratio: float, alpha: float, both: bool) -> float:
    df = n * (1.0 + ratio) - 2.0
    nc = np.sqrt(n) * effect / np.sqrt(1.0 + 1.0 / ratio)
    crit = stats.t.isf(alpha / 2.0, df)
    far = stats.nct.cdf(-crit, df, nc) if both else 0.0
    if np.isnan(far):  # scipy fails in the far tail at few df: nct_tails, tested against mpmath above
        far = _kernels.nct_tails(-crit, df, nc)[0]
    return float(stats.nct.sf(crit, df, nc) + far)


@settings(max_examples=40, deadline=None)
@given(effect=st.floats(0.003, 2.0), ratio=st.floats(0.3, 3.0), alpha=st.floats(0.005, 0.2),
       power=st.floats(0.5, 0.99), both=st.booleans())
def test_t_sample_size_gives_scipys_power(effect: float, ratio: float, alpha: float, power: float,
                                          both: bool) -> None:
    # Independent of the kernels: scipy's noncentral t and t quantile at the solved n give back
    # the target (1e-9: scipy's own accuracy at up to 1e6 degrees of freedom).
    from abkit import power_means

    r = power_means(sd=1.0, mde=effect, power=power, alpha=alpha, ratio=ratio,
                    two_sided_power="both" if both else "near")
    assert _scipy_t_power(r.n_control, effect, ratio, alpha, both) == pytest.approx(power, abs=1e-9)


def test_tiny_designs_take_the_bracketed_solve() -> None:
    # Below about two units per arm the compiled solve declines (the start is under one degree
    # of freedom) and the bracketed solve answers; scipy's power at its n is the target.
    from abkit import power_means

    r = power_means(sd=1.0, mde=3.0, power=0.6, alpha=0.1)
    assert r.n_control < 2.5
    assert _scipy_t_power(r.n_control, 3.0, 1.0, 0.1, True) == pytest.approx(0.6, abs=1e-10)


@settings(max_examples=60, deadline=None)
@given(c=st.floats(0.5, 5.0), df=dfs, nc=st.floats(0.1, 8.0), both=st.booleans())
@example(c=1.0, df=float(np.exp(9.75)), nc=0.1, both=True)  # scipy's t.pdf is 1e-11 off here
def test_power_terms_match_scipy(c: float, df: float, nc: float, both: bool) -> None:
    # Both branches: the upward series (x = c**2 / (c**2 + df) <= 0.3) and the incomplete beta.
    # The tail and power are probabilities near 1e-2 to 1: 1e-12 absolute is scipy's accuracy
    # up to 1e6 degrees of freedom.
    tail, tail_c, power, power_c, power_nc = _kernels._power_terms(c, df, nc, both, 4e-16)
    assert tail == pytest.approx(2.0 * stats.t.sf(c, df), abs=1e-13)
    # The density from mpmath at 30 digits: scipy's t.pdf drifts ~1e-11 relative at large df
    # (c = 1, df = e**9.75 gives -0.483927343773619 against the exact -0.483927343778879).
    with mpmath.workdps(30):
        density = mpmath.exp(mpmath.loggamma((df + 1) / 2) - mpmath.loggamma(mpmath.mpf(df) / 2)
                             - mpmath.log(mpmath.pi * df) / 2 - (df + 1) / 2 * mpmath.log1p(mpmath.mpf(c) ** 2 / df))
    assert tail_c == pytest.approx(-2.0 * float(density), rel=1e-11)
    far = stats.nct.cdf(-c, df, nc) if both else 0.0
    if np.isnan(far):  # scipy fails in the far tail at few df: nct_tails, tested against mpmath above
        far = _kernels.nct_tails(-c, df, nc)[0]
    assert power == pytest.approx(stats.nct.sf(c, df, nc) + far, abs=1e-12)
    # The derivatives against central differences of the power itself (1e-6: the difference's
    # truncation and rounding errors at step 1e-5).
    h = 1e-5
    for index, dc, dnc, slope in ((0, h, 0.0, power_c), (1, 0.0, h, power_nc)):
        up = _kernels._power_terms(c + dc, df, nc + dnc, both, 4e-16)[2]
        down = _kernels._power_terms(c - dc, df, nc - dnc, both, 4e-16)[2]
        assert slope == pytest.approx((up - down) / (2.0 * h), rel=1e-6, abs=1e-9), index


def test_t_quantile_cornish_fisher_slope() -> None:
    # The Cornish-Fisher quantile is within 1e-6 of the exact one from 30 degrees of freedom, and
    # its slope in df matches the exact quantile's central difference to 1e-3 relative there.
    z = float(special.ndtri(0.975))
    for df in (30.0, 300.0, 3e4):
        t, slope = _kernels._t_quantile_cf(z, df)
        assert t == pytest.approx(stats.t.isf(0.025, df), rel=1e-6)
        exact = (stats.t.isf(0.025, df * 1.001) - stats.t.isf(0.025, df * 0.999)) / (0.002 * df)
        assert slope == pytest.approx(exact, rel=1e-3)


def test_t_sample_size_at_large_df_against_scipy() -> None:
    # Small effects: the solve ends in the upward series with 1e4 to 1e6 degrees of freedom.
    from abkit import power_means

    for effect, alpha, power in ((0.05, 0.05, 0.8), (0.01, 0.01, 0.9), (0.003, 0.1, 0.6)):
        r = power_means(sd=1.0, mde=effect, power=power, alpha=alpha)
        assert _scipy_t_power(r.n_control, effect, 1.0, alpha, True) == pytest.approx(power, abs=1e-10)


@settings(max_examples=40, deadline=None)
@given(log_df=st.floats(1e-6, np.log(1e5)), ratio=st.floats(0.3, 3.0), alpha=st.floats(0.005, 0.2),
       power=st.floats(0.5, 0.99), both=st.booleans())
def test_t_effect_gives_scipys_power(log_df: float, ratio: float, alpha: float, power: float,
                                     both: bool) -> None:
    # From 1 to 1e5 degrees of freedom: scipy's power at the solved mde is the target (1e-9 as
    # above).
    from abkit import power_means

    n = (np.exp(log_df) + 2.0) / (1.0 + ratio)

    r = power_means(sd=1.0, n_control=n, power=power, alpha=alpha, ratio=ratio,
                    two_sided_power="both" if both else "near")
    assert _scipy_t_power(n, r.mde, ratio, alpha, both) == pytest.approx(power, abs=1e-9)


def test_t_effect_beyond_the_kernel_takes_the_bracketed_solve() -> None:
    # At 1 degree of freedom a small alpha needs a noncentrality near 27: the compiled solve
    # declines (beyond 20) and the bracketed solve answers; scipy's power at its mde is the target.
    from abkit import power_means

    q = 0.015625 / 2.0
    assert np.isnan(_kernels.t_effect(np.array([1.0]), np.array([q]), np.array([-special.ndtri(q)]),
                                      np.array([0.0]), np.array([0.5]), True)[0])
    r = power_means(sd=1.0, n_control=1.5, power=0.5, alpha=0.015625)
    assert _scipy_t_power(1.5, r.mde, 1.0, 0.015625, True) == pytest.approx(0.5, abs=1e-9)


@pytest.mark.parametrize(("df", "q", "nc", "exact"), [
    # Two-sided power P(|T| > t_{1-q}) from mpmath at 40 digits: the exact critical value
    # (findroot on the regularised incomplete beta) and the power as the integral of the normal
    # tails over the density of sqrt(chi2_df / df). Before the fix the kernel was off by
    # 2e-10 at df 1e8, 3e-8 at 1e10 and 3e-6 at 1e12 (Newton on an incomplete beta whose
    # first parameter is df / 2), and wrong altogether from 1e15.
    (1e6, 1e-8, 6.0, 0.650974042468738),
    (1e8, 1e-4, 4.0, 0.610638424876334),
    (1e10, 1e-8, 6.0, 0.650991521086409),
    (1e12, 1e-4, 4.0, 0.610638477913303),
])
def test_t_power_at_huge_degrees_of_freedom_matches_mpmath(df, q, nc, exact):
    assert _kernels.t_power(df, nc, q, -special.ndtri(q), True) == pytest.approx(exact, abs=1e-12)


def test_t_power_tends_to_the_normal_power():
    # As df -> inf the t test is the z test: at df 2e15 they differ by O(1/df), below 1e-13.
    import abkit
    n = 1e15
    mde = 3.0 / (n / 2) ** 0.5
    t = abkit.power_means(sd=1.0, mde=mde, n_control=n).power
    z = abkit.power_means(sd=1.0, mde=mde, n_control=n, method="z").power
    assert t == pytest.approx(z, abs=1e-13)


@pytest.mark.parametrize("q", [0.25, 0.025, 1e-4, 1e-6, 1e-8, 1e-12])
def test_t_quantile_is_continuous_across_the_cornish_fisher_cutoff(q: float) -> None:
    # Below _CF_DF Newton on the incomplete beta, from it the Cornish-Fisher expansion (next term
    # O(z^9 / df^4), under 1e-16 there). scipy's stdtrit is accurate to ~1e-16 here (checked
    # against 40-digit mpmath); 1e-12 leaves room for the Newton branch's incomplete beta at
    # df / 2 = 5e4. The caller's z must come from q itself: ndtri(1 - q) is 3e-10 off at q = 1e-8
    # (1 - q is rounded), and the Cornish-Fisher branch inherits that error (1.5e-10).
    cutoff = _kernels._CF_DF
    z = float(-special.ndtri(q))
    dfs = [0.5 * cutoff, 0.99 * cutoff, np.nextafter(cutoff, 0.0), cutoff, np.nextafter(cutoff, np.inf),
           1.01 * cutoff, 2.0 * cutoff, 10.0 * cutoff, 1e9]
    values = np.array([_kernels.t_isf(q, z, df) for df in dfs])
    np.testing.assert_allclose(values, stats.t.isf(q, dfs), rtol=1e-12, atol=0)
    below, at = values[2], values[3]
    assert abs(at / below - 1.0) < 1e-12  # continuous at the switch (the true step is 1e-21)
