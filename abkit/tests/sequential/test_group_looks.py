"""Group-sequential designs refuse more looks than the numerical recursion can compute."""

from __future__ import annotations

import numpy as np
import pytest

from abkit.sequential import peeking_type1_error


def test_more_looks_than_can_be_computed_are_refused() -> None:
    # peeking_type1_error(2**63) used to return 0.0 silently.
    for looks in (2**63, 10_001):
        with pytest.raises(ValueError, match=r"`information` must be at most 10000 looks; got "):
            peeking_type1_error(looks)
    with pytest.raises(ValueError, match=r"`information` must be at most 10000 looks; got 10001\."):
        peeking_type1_error(np.arange(1, 10_002) / 10_001)


def test_banded_transition_equals_the_dense_sum():
    # The compiled step sums only centres within 8.5 sd of each node; the dense NumPy sum over
    # all of them (the formula it replaced) is the reference. Tolerance 1e-12 relative (both
    # sums round exp(-u**2 / 2) at about u**2 * eps) plus 1e-15 of the largest value: a term
    # left out is below exp(-8.5**2 / 2) = 2e-16 of the peak kernel value (random sparse
    # centres here; the integration grid is dense, so no node is that far from every centre).
    import math

    import numpy as np

    from abkit.sequential import _kernels

    rng = np.random.default_rng(5)
    centre = np.sort(rng.uniform(-3.0, 3.0, 400))
    nodes = np.sort(rng.uniform(-2.5, 2.5, 300))
    mass = rng.uniform(0.0, 1.0, 400)
    for root_t, sd in ((1.0, 1.0), (0.9, 0.05), (1.0, 0.01)):
        u = (np.subtract.outer(centre, nodes * root_t) / sd) ** 2
        dense = mass @ np.exp(-0.5 * u) * root_t / (sd * math.sqrt(2 * math.pi))
        banded = _kernels.transition_density(mass, centre, nodes, root_t, sd)
        np.testing.assert_allclose(banded, dense, rtol=1e-12, atol=1e-15 * dense.max())


def test_peeking_with_many_looks_is_fast_and_unchanged():
    # 2,000 looks: 5 s with the dense step, well under a second banded. The value is the one the
    # dense recursion gave (0.5700048265225215), to rounding.
    import time

    start = time.process_time()
    value = peeking_type1_error(2000, progress=False)
    assert time.process_time() - start < 5.0
    assert value == pytest.approx(0.5700048265225215, rel=1e-13)
