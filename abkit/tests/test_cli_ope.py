"""`abkit ope`: off-policy estimates of a decision log in DuckDB, equal to evaluate_policy's.

The numbers are checked against abkit.frame.evaluate_policy on the same file (same engine: to
1e-12 relative, DuckDB's parallel sums may change the last bits) and against the in-memory
estimators of abkit.bandits.offpolicy (to 1e-9 relative: NumPy sums in another order).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from abkit.bandits import offpolicy
from abkit.cli import main
from abkit.frame import evaluate_policy

ARMS = 3


def _log(n: int = 2000, seed: int = 7) -> pd.DataFrame:
    """A seeded decision log: a logging policy, a target policy and a reward model per arm."""
    rng = np.random.default_rng(seed)
    logging = rng.dirichlet(np.ones(ARMS), n)
    actions = np.array([rng.choice(ARMS, p=row) for row in logging])
    target = rng.dirichlet(np.ones(ARMS), n)
    frame = pd.DataFrame({"arm": actions.astype(np.int64), "prop": logging[np.arange(n), actions],
                          "clicked": (rng.random(n) < 0.2 + 0.1 * actions).astype(float),
                          "best": target.argmax(axis=1).astype(np.int64)})
    for k in range(ARMS):
        frame[f"p{k}"], frame[f"q{k}"] = target[:, k], rng.random(n)
    return frame


@pytest.fixture(scope="module")
def log_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    frame = _log()
    path = tmp_path_factory.mktemp("ope") / "decisions.parquet"
    frame.to_parquet(path, index=False)
    return path, frame


POLICY = ["--policy", "p0,p1,p2", "--q-hat", "q0,q1,q2", "--policy-action", "best",
          "--reward", "clicked", "--action", "arm", "--propensity", "prop"]
COLUMNS: dict[str, Any] = {"target": ["p0", "p1", "p2"], "q_hat": ["q0", "q1", "q2"],
                           "target_action": "best", "reward": "clicked", "action": "arm",
                           "propensity": "prop"}


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict[str, Any]:
    assert main(argv) == 0
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return data


def _same(actual: dict[str, Any], expected: offpolicy.OffPolicyResult, rel: float) -> None:
    want = expected.to_dict()
    assert actual["method"] == want["method"] and actual["n"] == want["n"]
    for key in ("value", "se", "effective_sample_size", "confidence_level"):
        assert actual[key] == pytest.approx(want[key], rel=rel), key
    for end in ("low", "high"):
        assert actual["ci"][end] == pytest.approx(want["ci"][end], rel=rel), end


@pytest.mark.parametrize("clip", [None, 5.0])
def test_ope_json_equals_evaluate_policy_and_the_in_memory_estimators(
        capsys: pytest.CaptureFixture[str], log_file: tuple[Path, pd.DataFrame], clip: float | None) -> None:
    path, frame = log_file
    extra = [] if clip is None else ["--clip", str(clip)]
    out = _json(capsys, ["ope", str(path), *POLICY, "--confidence-level", "0.9", "--output", "json", *extra])
    assert list(out) == ["ips", "snips", "direct_method", "doubly_robust", "replay"]
    engine = evaluate_policy(str(path), clip=clip, confidence_level=0.9, **COLUMNS)
    for method, result in engine.items():
        _same(out[method], result, 1e-12)
    target = frame[["p0", "p1", "p2"]].to_numpy()
    q_hat = frame[["q0", "q1", "q2"]].to_numpy()
    logged = (frame["clicked"].to_numpy(), frame["arm"].to_numpy(), frame["prop"].to_numpy(), target)
    memory = {"ips": offpolicy.ips(*logged, clip=clip, confidence_level=0.9),
              "snips": offpolicy.snips(*logged, confidence_level=0.9),
              "direct_method": offpolicy.direct_method(target, q_hat, confidence_level=0.9),
              "doubly_robust": offpolicy.doubly_robust(*logged, q_hat, clip=clip, confidence_level=0.9),
              "replay": offpolicy.replay(frame["clicked"].to_numpy(), frame["arm"].to_numpy(),
                                         frame["best"].to_numpy(), confidence_level=0.9)}
    for method, result in memory.items():
        _same(out[method], result, 1e-9)


def test_ope_one_probability_column_and_chosen_methods(capsys: pytest.CaptureFixture[str],
                                                       tmp_path: Path) -> None:
    # the target's probability of the logged action alone (enough for IPS and SNIPS), in a CSV
    frame = _log(500, seed=3)
    frame["p_logged"] = frame[["p0", "p1", "p2"]].to_numpy()[np.arange(len(frame)), frame["arm"]]
    path = tmp_path / "decisions.csv"
    frame.to_csv(path, index=False)
    argv = ["ope", str(path), "--policy", "p_logged", "--reward", "clicked", "--action", "arm",
            "--propensity", "prop", "--method", "snips", "--output", "json"]
    out = _json(capsys, argv)
    assert list(out) == ["snips"]
    expected = evaluate_policy(frame, target="p_logged", reward="clicked", action="arm", propensity="prop",
                               methods=["snips"])["snips"]
    _same(out["snips"], expected, 1e-9)


def test_ope_table_output_from_the_command(log_file: tuple[Path, pd.DataFrame]) -> None:
    path, _ = log_file
    done = subprocess.run([sys.executable, "-m", "abkit.cli", "ope", str(path), *POLICY],
                          capture_output=True, text=True, check=True)
    lines = done.stdout.splitlines()
    assert lines[0] == "abkit ope: decisions.parquet, 2,000 rounds"
    assert lines[1].split() == ["method", "value", "se", "95%", "CI", "ESS"]
    ips = evaluate_policy(str(path), **COLUMNS)["ips"]
    row = lines[2].split()
    assert row[0] == "ips" and float(row[1]) == pytest.approx(ips.value, rel=1e-3)  # 4 digits shown


@pytest.mark.parametrize(("argv", "status", "message"), [
    (["ope", "none.parquet", "--policy", "p0"], 2,
     "`LOG` must be an existing Parquet or CSV file or directory; got 'none.parquet'."),
    (["ope", "{path}", "--reward", "clicked"], 2, "Give the target policy: --policy COLUMN[,COLUMN...]"),
    (["ope", "{path}", "--policy", "p0,,p2"], 2, "`--policy` must be COLUMN[,COLUMN...]; got 'p0,,p2'."),
    (["ope", "{path}", "--policy", "p0,p1,p9"], 2, "`--policy` must name a column of the table; got 'p9'"),
    (["ope", "{path}", "--policy", "p0,p1,p2", "--action", "arm", "--propensity", "prop", "--reward",
      "clicked", "--method", "replay"], 2, "--method replay needs other columns"),
    (["ope", "{path}", "--policy", "p0,p1,p2", "--clip", "0"], 2, "`--clip` must be greater than 0; got 0.0."),
    (["ope", "{path}", "--policy", "p0,p1,p2", "--memory-limit", "lots"], 2,
     "`--memory-limit` must be a DuckDB size such as '1GB'; got 'lots'"),
    (["ope", "{path}", "--policy", "p0,p1", "--action", "arm", "--propensity", "prop", "--reward",
      "clicked"], 1, "decisions.parquet: `--policy` rows must sum to 1;"),
])
def test_ope_errors_are_one_line(capsys: pytest.CaptureFixture[str], log_file: tuple[Path, pd.DataFrame],
                                 argv: list[str], status: int, message: str) -> None:
    path, _ = log_file
    assert main([a.replace("{path}", str(path)) for a in argv]) == status
    err = capsys.readouterr().err
    assert err.startswith(f"abkit ope: error: {message}"), err
    assert err.count("\n") == 1
