"""Experiment.simulate: A/A calibration, exact agreement with analyze, power under a treatment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from abkit import Experiment, Mean, Proportion, Quantile, RatioOfMeans
from abkit.datasets import make_experiment
from abkit.tests.conftest import binomial_band

METRICS = {"conversion": Proportion("converted"), "revenue": Mean("revenue"),
           "ctr": RatioOfMeans("clicks", "sessions")}


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return make_experiment(3000, rng=4)


def test_aa_rejection_rate_is_inside_the_binomial_band(table: pd.DataFrame) -> None:
    result = Experiment(**METRICS).simulate(table, n_simulations=400, rng=11)
    low, high = binomial_band(400, 0.05)
    for row in result.rows:
        assert low <= row.rejections <= high, row.metric
        assert row.ci.low <= row.rejection_rate <= row.ci.high
    assert not result.treated and result.n_units == 3000


def test_one_simulation_is_the_analysis_of_that_assignment(table: pd.DataFrame) -> None:
    # Replay the first assignment (the generator's first block) and analyse that table.
    n = len(table)
    treated = np.random.default_rng(5).random((1, n))[0] < 0.5
    relabelled = table.assign(variant=np.where(treated, "t", "c"))
    experiment = Experiment(**METRICS)
    pvalues = {r.metric: r.pvalue for r in experiment.analyze(relabelled, control="c").rows}
    for name, p in pvalues.items():
        single = Experiment(**{name: METRICS[name]})
        # sums by matrix products vs the engine's aggregates: 1e-9 relative around the p-value
        above = single.simulate(table, n_simulations=1, rng=5, alpha=min(p * (1 + 1e-9), 0.999))
        below = single.simulate(table, n_simulations=1, rng=5, alpha=p * (1 - 1e-9))
        assert (above.rows[0].rejections, below.rows[0].rejections) == (1, 0), name


def test_a_treatment_effect_gives_power(table: pd.DataFrame) -> None:
    experiment = Experiment(revenue=Mean("revenue"))
    result = experiment.simulate(table, n_simulations=64, rng=2,
                                 treat=lambda v: {**v, "revenue": v["revenue"] * 1.3})
    assert result.treated and result.rows[0].rejection_rate > 0.9


def test_bad_arguments(table: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"`simulate` supports Proportion, Mean .* got metric 'q'"):
        Experiment(q=Quantile("revenue", 0.5)).simulate(table, n_simulations=2)
    with pytest.raises(ValueError, match="got metric 'c'"):
        Experiment(c=Mean("revenue", "revenue_pre")).simulate(table, n_simulations=2)
    with pytest.raises(ValueError, match="`n_simulations` must be"):
        Experiment(**METRICS).simulate(table, n_simulations=0)
    with pytest.raises(TypeError, match="`progress` must be True, False or None; got 1"):
        Experiment(**METRICS).simulate(table, n_simulations=2, progress=1)  # type: ignore[arg-type]
