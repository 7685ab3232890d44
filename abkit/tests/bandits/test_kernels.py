"""The numba kernels: samplers against scipy, the KL-UCB index, the Welford update, the block protocol."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import optimize, special, stats

from abkit.bandits import _kernels as k


def _block(seed: int, size: int = 400_000) -> np.ndarray:
    buf = np.empty(k.HEADER + size)
    np.random.default_rng(seed).random(out=buf[k.HEADER :])
    k.rewind(buf)
    return buf


@pytest.mark.parametrize(("a", "b"), [(1.0, 1.0), (2.5, 7.0), (0.3, 0.5), (0.05, 40.0), (300.0, 2700.0)])
def test_block_beta_sampler_matches_scipy(a: float, b: float) -> None:
    buf = _block(int(a * 100 + b))
    draws = np.array([k._beta_variate(a, b, buf, None) for _ in range(5000)])
    assert not k._exhausted(buf, None)
    # seeded Kolmogorov-Smirnov test; a correct sampler fails at 0.1% only by chance
    assert stats.kstest(draws, stats.beta(a, b).cdf).pvalue > 1e-3


@pytest.mark.parametrize("shape", [0.2, 1.0, 3.5])
def test_block_gamma_and_normal_samplers_match_scipy(shape: float) -> None:
    buf = _block(int(shape * 10))
    gammas = np.exp([k._log_gamma_variate(shape, buf, None) for _ in range(5000)])
    assert stats.kstest(gammas, stats.gamma(shape).cdf).pvalue > 1e-3
    normals = [k._normal(buf, None) for _ in range(5000)]
    assert stats.kstest(normals, stats.norm.cdf).pvalue > 1e-3


@given(p=st.floats(0.0, 0.999), level=st.floats(1e-6, 5.0))
def test_kl_ucb_index_solves_the_kl_equation(p: float, level: float) -> None:
    q = k.kl_ucb_index(p, level)

    def kl(x: float) -> float:  # Bernoulli KL from scipy's relative entropy terms
        return float(special.rel_entr(p, x) + special.rel_entr(1 - p, 1 - x)) - level

    top = 1.0 - 1e-15
    if kl(top) <= 0:
        assert q >= 1.0 - 1e-9
    else:
        expected = optimize.brentq(kl, p, top, xtol=1e-15, rtol=1e-15)
        assert q == pytest.approx(expected, rel=1e-9, abs=1e-12)


@given(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=50))
def test_update_matches_numpy_mean_and_squared_deviations(values: list[float]) -> None:
    table = np.zeros((k.N_ROWS, 2))
    params = np.array([0.0, 0.0, 1.0, 0.0])
    k.update_many(table, params, np.ones(len(values), dtype=np.int64), np.array(values))
    array = np.array(values)
    assert table[k.COUNTS, 1] == len(values) and params[k.P_UPDATES] == len(values)
    assert table[k.MEANS, 1] == pytest.approx(array.mean(), rel=1e-12, abs=1e-9)
    assert table[k.M2, 1] == pytest.approx(((array - array.mean()) ** 2).sum(), rel=1e-9, abs=1e-6)
    assert table[k.COUNTS, 0] == 0.0


def test_choose_reports_an_exhausted_block_without_moving() -> None:
    table = np.zeros((k.N_ROWS, 3))
    table[k.ACTIVE] = 1.0
    table[k.P0 : k.P2] = 1.0
    buf = np.empty(k.HEADER + 5)  # too few uniforms for three Beta draws
    np.random.default_rng(0).random(out=buf[k.HEADER :])
    k.rewind(buf)
    assert k.choose(k.THOMPSON_BERNOULLI, table, np.zeros(k.N_PARAMS), buf) == k.EXHAUSTED
    assert buf[0] == k.HEADER and math.isnan(buf[1])


def test_refill_draws_what_numpy_draws() -> None:
    buf = k.new_buffer(2)
    k.refill(buf, np.random.default_rng(3))
    size = k.BUFFER_SIZE + 2 * k.PER_ARM
    np.testing.assert_array_equal(buf[k.HEADER :], np.random.default_rng(3).random(size))
    assert buf[0] == k.HEADER
