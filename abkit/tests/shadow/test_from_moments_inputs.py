"""The engine-facing *_from_* functions refuse moments no data could produce (issue 15),
naming the argument, and still agree with the in-memory tests on valid moments."""

from __future__ import annotations

import math

import numpy as np
import pytest

from abkit.errors import DegenerateDataWarning
from abkit.shadow.auc import delong_from_moments, delong_test
from abkit.shadow.forecast import diebold_mariano_from_autocovariances
from abkit.shadow.latency import latency_ratio_from_log_test
from abkit.shadow.paired import mcnemar_from_counts, paired_t_from_moments

S10 = [[0.04, 0.02], [0.02, 0.05]]
S01 = [[0.03, 0.01], [0.01, 0.04]]


@pytest.mark.parametrize(("call", "kind", "message"), [
    (lambda: mcnemar_from_counts(794, 150, 86, 1000), ValueError,
     r"^`both` \+ `b` \+ `c` must be at most `n` \(1000\); got 1030\.$"),
    (lambda: mcnemar_from_counts(794, -1, 86, 1600), ValueError, r"^`b` must be at least 0; got -1\.$"),
    (lambda: mcnemar_from_counts(794, 150, 86, 0), ValueError, r"^`n` must be at least 1; got 0\.$"),
    (lambda: paired_t_from_moments(10, 0.75, 2.33, 1.58, -1.0), ValueError,
     r"^`var_difference` must be at least 0; got -1\.0\.$"),
    (lambda: paired_t_from_moments(1, 0.75, 2.33, 1.58, 1.5), ValueError, r"^`n` must be at least 2; got 1\.$"),
    (lambda: delong_from_moments(0.7, 0.8, [[0.04, 0.05], [0.05, 0.04]], S01, 40, 60), ValueError,
     r"^`s10` must be a covariance matrix \(correlation within \[-1, 1\]\); got correlation 1\.25\.$"),
    (lambda: delong_from_moments(0.7, 0.8, S10, [[-0.03, 0.0], [0.0, 0.04]], 40, 60), ValueError,
     r"^`s01` must have non-negative variances"),
    (lambda: delong_from_moments(0.7, 0.8, [[math.nan] * 2] * 2, S01, 40, 60), ValueError,
     r"^`s10` must be finite"),
    (lambda: delong_from_moments(0.7, 0.8, S10, S01, 0, 60), ValueError, r"^`n_positive` must be at least 1"),
    (lambda: diebold_mariano_from_autocovariances(8, -0.2625, [0.0866, -0.1], horizon=2), ValueError,
     r"^`autocovariances` must start with the variance"),
    (lambda: diebold_mariano_from_autocovariances(8, -0.2625, 0.0866), TypeError,
     r"^`autocovariances` must be a 1-D array of numbers"),
    (lambda: latency_ratio_from_log_test(0.5, 0.0), TypeError, r"^`logs` must be a PairedTTestResult"),
])
def test_impossible_moments_are_refused_by_name(call, kind, message):
    with pytest.raises(kind, match=message):
        call()


def test_delong_from_moments_accepts_nan_covariance_for_a_class_of_one():
    # The ddof=1 covariance of a single positive is NaN: allowed there (the variance is then
    # undefined and reported as degenerate, as the in-memory test does on the same data).
    labels = np.array([1, 0, 0, 0, 0])
    a = np.array([0.9, 0.2, 0.4, 0.1, 0.3])
    b = np.array([0.8, 0.1, 0.85, 0.2, 0.3])
    with pytest.warns(DegenerateDataWarning):
        memory = delong_test(labels, a, b)
    with pytest.warns(DegenerateDataWarning):
        engine = delong_from_moments(1.0, 0.75, [[math.nan] * 2] * 2, S01, 1, 4)  # AUCs by hand
    assert engine.effect == pytest.approx(memory.effect, abs=1e-12) and math.isnan(engine.pvalue)
