"""The `abkit` command and the synthetic data behind the demo."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import abkit as abkit_package
from abkit import ProportionStats, power_proportions, proportions_test
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
    with pytest.raises(SystemExit) as info:
        main(["nonsense"])
    assert info.value.code == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["demo", "--users", "0"], "abkit demo: error: argument --users: must be at least 2; got 0\n"),
        (["demo", "--users", "many"], "abkit demo: error: argument --users: must be an integer; got 'many'\n"),
        (["sample-size", "--control-rate", "1.5", "--mde", "0.1"],
         "abkit sample-size: error: `--control-rate` must be in (0, 1); got 1.5.\n"),
        (["sample-size", "--mde", "0.1"],
         "abkit sample-size: error: give exactly one of --control-rate (rates) or --sd (means).\n"),
        (["analyze", "missing.csv", "--proportion", "converted"],
         "abkit analyze: error: `PATH` must be an existing CSV or Parquet file; got 'missing.csv'.\n"),
    ],
)
def test_usage_errors_exit_2_with_one_line(argv: list[str], message: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's errors
        code = exit_.code
    assert (code, *capsys.readouterr()) == (2, "", message)


def test_no_traceback_from_the_command() -> None:
    done = subprocess.run([sys.executable, "-m", "abkit.cli", "demo", "--users", "0"],
                          capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "abkit demo: error: argument --users: must be at least 2; got 0\n"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert (info.value.code, capsys.readouterr().out) == (0, f"abkit {abkit_package.__version__}\n")
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    assert tomllib.loads(pyproject.read_text())["project"]["version"] == abkit_package.__version__


def test_demo_json_matches_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--users", "4000", "--seed", "2", "--output", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    data = make_experiment(4000, rng=2)
    counts = data["variant"].value_counts()
    assert report["srm"]["observed"] == [counts["control"], counts["treatment"]]
    conversion = report["metrics"][0]
    assert conversion["metric"] == "conversion"
    expected = proportions_test(*(ProportionStats.from_samples(data.loc[data["variant"] == arm, "converted"])
                                  for arm in ("control", "treatment")))
    assert conversion["result"]["pvalue"] == pytest.approx(expected.pvalue, rel=1e-12)
    assert [m["metric"] for m in report["metrics"]] == ["conversion", "revenue (CUPED)", "clicks/session"]
    assert main(["demo", "--users", "4000", "--seed", "2"]) == 0
    table = capsys.readouterr().out
    for row in report["metrics"]:
        assert f"{row['metric']}: {row['decision']}" in table


def test_sample_size_json(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["sample-size", "--control-rate", "0.05", "--mde", "0.1", "--relative", "--daily-visitors", "20000"]
    assert main([*argv, "--output", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    expected = power_proportions(control_rate=0.05, mde=0.1, relative=True, power=0.8)
    assert report["design"]["n_total"] == expected.n_total == 62468  # as the README says
    assert report["duration"]["days"] == pytest.approx(62468 / 20000, rel=1e-12)


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
