"""The `abkit` command and the synthetic data behind the demo."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from abkit.cli import main
from abkit.datasets import make_experiment


def test_demo_prints_a_report(capsys) -> None:
    assert main(["demo", "--users", "5000", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "abkit demo: 5,000 users, seed 3" in out
    for metric in ("conversion", "revenue (CUPED)", "clicks/session", "Sample ratio"):
        assert metric in out


def test_demo_runs_as_a_command() -> None:
    done = subprocess.run([sys.executable, "-m", "abkit.cli", "demo", "--users", "3000"],
                          capture_output=True, text=True, check=True)
    assert "CUPED" in done.stdout


def test_closed_pipe_is_quiet() -> None:
    # `abkit demo | head -1`: the reader goes away; no traceback, exit status 0
    process = subprocess.Popen([sys.executable, "-m", "abkit.cli", "demo", "--users", "3000"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    stderr = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait() == 0
    assert "Traceback" not in stderr


def test_unknown_command_fails() -> None:
    with pytest.raises(SystemExit):
        main(["nonsense"])


def test_make_experiment_is_seeded_and_has_the_designed_effects() -> None:
    a, b = make_experiment(2000, rng=7), make_experiment(2000, rng=7)
    assert a.equals(b)
    big = make_experiment(200_000, conversion_lift=0.5, rng=1)
    rates = big.groupby("variant")["converted"].mean()
    # 0.10 vs 0.15 with ~100k users per arm: standard error ~0.001
    assert rates["control"] == pytest.approx(0.10, abs=0.005)
    assert rates["treatment"] == pytest.approx(0.15, abs=0.005)
    assert np.corrcoef(big["revenue"], big["revenue_pre"])[0, 1] > 0.5
    assert (big["clicks"] <= big["sessions"]).all()


def test_make_experiment_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"`conversion_rate` must be in \(0, 1\); got 1\.5\."):
        make_experiment(100, conversion_rate=1.5)
    with pytest.raises(ValueError, match=r"`n_users` must be at least 2; got 1\."):
        make_experiment(1)
