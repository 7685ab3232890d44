"""The effects plot draws one interval per row, in the rows' order, to the axes' edge if one-sided."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from abkit import Experiment, Mean, Proportion
from abkit.datasets import make_experiment
from abkit.plotting.effects import plot_effects


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return make_experiment(3000, rng=2)


def test_plot_draws_each_row(data: pd.DataFrame) -> None:
    result = Experiment(conversion=Proportion("converted"), revenue=Mean("revenue")).analyze(
        data, control="control")
    fig = plot_effects(result)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["revenue", "conversion"]
    lines = [line for line in ax.get_lines() if len(line.get_xdata()) == 2 and line.get_ydata()[0] == 1]
    ci = result.row("conversion").relative_ci  # top row (y = 1) is the first metric
    np.testing.assert_allclose(lines[0].get_xdata(), [ci.low * 100, ci.high * 100], rtol=1e-12)
    plt.close(fig)


def test_one_sided_intervals_reach_the_edge(data: pd.DataFrame) -> None:
    result = Experiment(revenue=Mean("revenue")).analyze(data, control="control", alternative="greater")
    fig, ax = plt.subplots()
    assert plot_effects(result, relative=False, ax=ax) is fig
    interval = next(line for line in ax.get_lines() if len(line.get_xdata()) == 2
                    and line.get_xdata()[0] != line.get_xdata()[1])
    assert math.isinf(result.row("revenue").ci.high)
    assert interval.get_xdata()[1] == pytest.approx(ax.get_xlim()[1])
    plt.close(fig)


def test_plot_needs_rows() -> None:
    with pytest.raises(ValueError, match="`result` must have at least one row; got none"):
        plot_effects([])
