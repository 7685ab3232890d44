"""The power-curve figure and the ``abkit sample-size`` command."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

import abkit
from abkit.cli import main
from abkit.plotting.power import plot_power_curves

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def test_power_curves_match_power_means() -> None:
    n = np.geomspace(10, 1000, 20)
    fig = plot_power_curves(n, [0.2, 0.5], sd=1.0, target=0.9, method="z")
    try:
        lines = fig.axes[0].lines
        assert len(lines) == 3  # two curves and the target line
        expected = abkit.power_means(sd=1.0, mde=0.5, n_control=n, method="z").power
        np.testing.assert_allclose(lines[1].get_ydata(), expected, rtol=1e-12)
        assert lines[2].get_ydata()[0] == 0.9
    finally:
        plt.close(fig)


def test_power_curves_draw_on_given_axes() -> None:
    fig, ax = plt.subplots()
    try:
        out = plot_power_curves([100, 1000], [0.1], control_rate=0.2, relative=True, ax=ax)
        assert out is fig and ax.get_legend().get_texts()[0].get_text() == "relative MDE 0.1"
    finally:
        plt.close(fig)


def test_power_curves_need_exactly_one_metric() -> None:
    with pytest.raises(ValueError, match="Exactly one of `control_rate` and `sd` must be given"):
        plot_power_curves([100], [0.1])


def test_cli_sample_size_with_duration(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sample-size", "--control-rate", "0.05", "--mde", "0.005", "--two-sided-power", "near",
                 "--daily-visitors", "10000", "--traffic-share", "0.5"]) == 0
    out = capsys.readouterr().out
    # R power.prop.test(p1 = 0.05, p2 = 0.055, power = 0.8): n = 31233.44 per group.
    assert "n_control            31233.4" in out
    assert "duration: 12.49 days (62,468 units" in out


def test_cli_means_power(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sample-size", "--sd", "1", "--mde", "1", "--n-control", "20", "--two-sided-power",
                 "near"]) == 0
    assert "power                0.868953" in capsys.readouterr().out


def test_cli_needs_one_metric(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sample-size", "--mde", "0.1"]) == 2
    assert "exactly one of --control-rate" in capsys.readouterr().err


def test_cli_reports_bad_designs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sample-size", "--control-rate", "0.5", "--n-control", "10", "--power", "0.8"]) == 2
    assert "even a treatment rate of 1 falls short" in capsys.readouterr().err
    assert main(["sample-size", "--control-rate", "1.5", "--mde", "0.1"]) == 2
    assert "`--control-rate` must be in (0, 1); got 1.5." in capsys.readouterr().err  # the option's name
