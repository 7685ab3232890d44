"""Progress bars: when they show (``progress=``, a terminal or notebook, ``TQDM_DISABLE``), that
they never change a result, and that every long-running call takes ``progress=``."""

from __future__ import annotations

import inspect
import io
from typing import ClassVar

import numpy as np
import pytest

import abkit
from abkit import _progress, bandits
from abkit.datasets import make_shadow_log
from abkit.frame import load_shadow_log
from abkit.sequential import peeking_type1_error
from abkit.shadow import compare_models, paired_bootstrap

LONG_RUNNING = [abkit.bootstrap_test, paired_bootstrap, compare_models, bandits.simulate,
                bandits.simulate_contextual, peeking_type1_error, abkit.Experiment.simulate]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class _Bar:
    """Stands in for tqdm: records every bar and how far it got."""

    bars: ClassVar[list[_Bar]] = []

    def __init__(self, *, total: float, desc: str, **_: object) -> None:
        self.total, self.desc, self.n, self.closed = total, desc, 0.0, False
        _Bar.bars.append(self)

    def update(self, n: float) -> None:
        self.n += n

    def close(self) -> None:
        self.closed = True


def record_bars(monkeypatch: pytest.MonkeyPatch) -> list[_Bar]:
    _Bar.bars = []
    monkeypatch.setattr(_progress, "_tqdm", lambda: _Bar)
    return _Bar.bars


def watch(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """Standard error becomes a terminal (inside the test: pytest resets it between phases)."""
    stream = _Terminal()
    monkeypatch.setattr("sys.stderr", stream)
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    return stream


@pytest.mark.parametrize("function", LONG_RUNNING, ids=lambda f: f.__name__)
def test_long_running_calls_take_progress(function) -> None:
    parameter = inspect.signature(function).parameters["progress"]
    assert parameter.default is None and parameter.kind is inspect.Parameter.KEYWORD_ONLY
    assert "TQDM_DISABLE" in (function.__doc__ or "")


def test_default_shows_only_large_work_when_watched(monkeypatch: pytest.MonkeyPatch) -> None:
    watch(monkeypatch)
    assert _progress.show_progress(None, work=11, threshold=10)
    assert not _progress.show_progress(None, work=10, threshold=10)
    assert not _progress.show_progress(False, work=11, threshold=10)
    assert _progress.show_progress(True, work=0, threshold=10)
    monkeypatch.setattr("sys.stderr", io.StringIO())  # not a terminal (a log file, a pipe)
    assert not _progress.show_progress(None, work=11, threshold=10)
    assert _progress.show_progress(True, work=11, threshold=10)


@pytest.mark.parametrize("value", ["1", "true", "True"])
def test_tqdm_disable_hides_every_bar(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    watch(monkeypatch)
    monkeypatch.setenv("TQDM_DISABLE", value)
    assert not _progress.show_progress(True, work=11, threshold=10)
    assert not _progress.show_progress(None, work=11, threshold=10)
    monkeypatch.setenv("TQDM_DISABLE", "0")
    assert _progress.show_progress(None, work=11, threshold=10)


def test_progress_must_be_a_bool_or_none() -> None:
    with pytest.raises(TypeError, match=r"`progress` must be True, False or None; got 1\."):
        abkit.bootstrap_test([1.0, 2.0], [3.0, 4.0], progress=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"`progress` must be True, False or None; got 'yes'\."):
        peeking_type1_error(3, progress="yes")  # type: ignore[arg-type]


def test_bootstrap_bar_moves_and_the_result_does_not_change(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = watch(monkeypatch)
    gen = np.random.default_rng(0)
    control, treatment = gen.normal(size=400), gen.normal(size=500)
    quiet = abkit.bootstrap_test(control, treatment, statistic=("quantile", 0.9), n_resamples=300, rng=4,
                                 progress=False)
    assert terminal.getvalue() == ""
    # Small blocks: many kernel calls, one bar step each; the resamples are the same stream.
    monkeypatch.setattr("abkit.nonparametric._BLOCK_VALUES", 4000)
    shown = abkit.bootstrap_test(control, treatment, statistic=("quantile", 0.9), n_resamples=300, rng=4,
                                 progress=True)
    assert shown == quiet
    assert "bootstrap_test" in terminal.getvalue()  # tqdm drew on the terminal
    bars = record_bars(monkeypatch)
    assert abkit.bootstrap_test(control, treatment, statistic=("quantile", 0.9), n_resamples=300, rng=4,
                                progress=True) == quiet
    (bar,) = bars
    assert (bar.desc, bar.total, bar.n, bar.closed) == ("bootstrap_test", 600, 600, True)


def test_other_bars_move_and_results_do_not_change(monkeypatch: pytest.MonkeyPatch) -> None:
    watch(monkeypatch)
    bars = record_bars(monkeypatch)
    values = np.linspace(0.0, 1.0, 50)
    kwargs = dict(n_resamples=40, rng=2)
    assert (paired_bootstrap(np.mean, values, values**2, progress=True, **kwargs)
            == paired_bootstrap(np.mean, values, values**2, progress=False, **kwargs))
    policy = bandits.UCB1(2)
    np.testing.assert_array_equal(
        bandits.simulate(policy, [0.2, 0.4], horizon=50, n_runs=3, rng=1, progress=True),
        bandits.simulate(policy, [0.2, 0.4], horizon=50, n_runs=3, rng=1, progress=False))
    assert peeking_type1_error(20, progress=True) == peeking_type1_error(20, progress=False)
    table = load_shadow_log(make_shadow_log(300, models={"v1": 1.0, "v2": 1.2, "v3": 1.0}, rng=1))
    options = dict(champion="v1", challengers=["v2", "v3"], metrics=["auc", "brier"], n_resamples=30)
    assert (compare_models(table, progress=True, **options)
            == compare_models(table, progress=False, **options))
    assert [(bar.desc, bar.total, bar.n, bar.closed) for bar in bars] == [
        ("paired_bootstrap", 40, 40, True), ("simulate UCB1", 3, 3, True), ("peeking_type1_error", 20, 20, True),
        ("compare_models", 4, 4, True)]


def test_large_default_work_shows_a_bar_when_watched(monkeypatch: pytest.MonkeyPatch) -> None:
    watch(monkeypatch)
    bars = record_bars(monkeypatch)
    peeking_type1_error(501)  # above the 500-look threshold
    peeking_type1_error(500)
    assert [(bar.desc, bar.n) for bar in bars] == [("peeking_type1_error", 501)]
