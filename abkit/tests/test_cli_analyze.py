"""``abkit analyze``: a CSV or Parquet file analysed inside DuckDB, as Experiment.analyze does."""

from __future__ import annotations

import io
import json
import re
import sys
from contextlib import redirect_stdout
from pathlib import Path

import pandas as pd
import pytest

from abkit import Experiment, Mean, Proportion, RatioOfMeans, srm_test
from abkit.cli import main, parse_metric
from abkit.datasets import make_experiment


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("analyze")
    data = make_experiment(3000, rng=8)
    paths = {"csv": folder / "exp.csv", "parquet": folder / "exp.parquet"}
    data.to_csv(paths["csv"], index=False)
    data.to_parquet(paths["parquet"], index=False)
    return paths


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["analyze", *argv])
    return code, out.getvalue()


METRIC_ARGS = ["--proportion", "converted", "--mean", "revenue", "--mean", "cuped=revenue:revenue_pre",
               "--ratio", "clicks/sessions"]


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_analyze_file_equals_experiment_on_pandas(files: dict[str, Path], kind: str) -> None:
    code, out = run(str(files[kind]), "--control", "control", *METRIC_ARGS, "--output", "csv")
    assert code == 0
    actual = pd.read_csv(io.StringIO(out))
    expected = Experiment(
        converted=Proportion("converted"), revenue=Mean("revenue"),
        cuped=Mean("revenue", covariate="revenue_pre"),
        **{"clicks/sessions": RatioOfMeans("clicks", "sessions")},
    ).analyze(pd.read_csv(files["csv"]), control="control").to_frame()
    assert list(actual["metric"]) == ["converted", "revenue", "cuped", "clicks/sessions"]
    for column in ("effect", "ci_low", "ci_high", "pvalue", "pvalue_adjusted", "rel_ci_low"):
        # CSV text keeps 17 significant digits; DuckDB and pandas aggregate in different orders.
        assert actual[column].tolist() == pytest.approx(expected[column].tolist(), rel=1e-9)


def test_analyze_table_and_json_output(files: dict[str, Path]) -> None:
    code, out = run(str(files["parquet"]), *METRIC_ARGS, "--alternative", "greater", "--adjust", "none")
    assert code == 0
    assert "Sample ratio check" in out and "clicks/sessions" in out and "pvalue (none)" in out
    code, out = run(str(files["parquet"]), "--proportion", "won=converted", "--output", "json")
    report = json.loads(out)
    assert report["control"] == "control" and report["rows"][0]["metric"] == "won"


@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "float64"])
def test_numeric_control_is_read_as_the_column_type(tmp_path: Path, dtype: str) -> None:
    path = tmp_path / "arms.parquet"
    frame = pd.DataFrame({"arm": [0, 0, 0, 1, 1, 1], "y": [1.0, 2.0, 4.0, 2.0, 3.0, 5.0]})
    frame.astype({"arm": dtype}).to_parquet(path, index=False)
    code, out = run(str(path), "--variant", "arm", "--control", "1", "--mean", "y", "--output", "json")
    assert code == 0
    report = json.loads(out)
    assert report["control"] == 1 and report["treatments"] == [0]
    assert main(["analyze", str(path), "--variant", "arm", "--control", "one", "--mean", "y"]) == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--proportion", "nope"], r"Column 'nope' \(metric 'nope'\) is not in the table"),
        (["--control", "x", "--proportion", "converted"], "`--control` must be a value of column 'variant'"),
        (["--variant", "arm", "--proportion", "converted"], "`--variant` must be a column of the table; got 'arm'"),
        (["--mean", "variant"], r"Column 'variant' \(metric 'variant'\) must be numeric or boolean"),
        (["--proportion", "converted", "--weights", "control=0.5"],
         r"`--weights` must give one share for each value of column 'variant' \(\['control', 'treatment'\]\)"),
        (["--proportion", "converted", "--weights", "control=0.5,treatment=-1"],
         "`--weights` must be VARIANT=SHARE,... with positive shares; got 'control=0.5,treatment=-1'"),
        (["--ratio", "clicks"], "`--ratio` must be NUMERATOR/DENOMINATOR; got 'clicks'"),
        (["--mean", "revenue", "--mean", "revenue"], r"Metric names must be unique .* \['revenue'\]"),
        ([], "Give at least one metric"),
        (["--proportion", "=converted"], "`--proportion` must be \\[NAME=\\]SPEC with a non-empty NAME"),
    ],
)
def test_analyze_errors(files: dict[str, Path], argv: list[str], message: str,
                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(files["csv"]), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("abkit analyze: error: ")
    assert re.search(message, err)


def test_analyze_rejects_missing_and_unknown_files(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(tmp_path / "none.csv"), "--proportion", "x"]) == 2
    assert "`PATH` must be an existing CSV or Parquet file" in capsys.readouterr().err
    other = tmp_path / "data.json"
    other.write_text("{}")
    assert main(["analyze", str(other), "--proportion", "x"]) == 2
    assert "`PATH` must end in .csv, .tsv or .parquet; got 'data.json'" in capsys.readouterr().err


def test_parse_metric() -> None:
    assert parse_metric("mean", "rev=revenue:pre") == ("rev", Mean("revenue", "pre"))
    assert parse_metric("proportion", "converted") == ("converted", Proportion("converted"))


def test_weights_set_the_designed_split_of_the_srm_check(files: dict[str, Path]) -> None:
    data = pd.read_csv(files["csv"])
    counts = data["variant"].value_counts()
    for weights, mismatch in (("control=0.5,treatment=0.5", False), ("control=0.2,treatment=0.8", True)):
        code, out = run(str(files["parquet"]), "--proportion", "converted", "--weights", weights,
                        "--output", "json")
        assert code == 0
        srm = json.loads(out)["srm"]
        shares = [float(w.split("=")[1]) for w in weights.split(",")]
        expected = srm_test([counts["control"], counts["treatment"]], shares)
        assert srm["statistic"] == pytest.approx(expected.statistic, rel=1e-12)
        assert srm["mismatch"] is mismatch


def test_bad_data_exits_1_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"this is not parquet" * 10)
    assert main(["analyze", str(corrupt), "--proportion", "converted"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("abkit analyze: error: cannot read 'corrupt.parquet': ") and err.count("\n") == 1
    tiny = tmp_path / "tiny.csv"
    make_experiment(3, rng=1).to_csv(tiny, index=False)
    assert main(["analyze", str(tiny), "--mean", "revenue"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("abkit analyze: error: tiny.csv: Each variant must have at least 2 rows")


def test_missing_duckdb_names_the_extra(files: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "duckdb", None)  # `import duckdb` raises ImportError
    assert main(["analyze", str(files["csv"]), "--proportion", "converted"]) == 1
    assert capsys.readouterr().err == 'abkit analyze: error: `abkit analyze` needs DuckDB: pip install "abkit[duckdb]".\n'


def test_quantile_cap_and_bayes_options_equal_experiment_on_pandas(files: dict[str, Path]) -> None:
    from abkit import Quantile

    data = pd.read_parquet(files["parquet"])
    code, out = run(str(files["parquet"]), "--mean", "revenue", "--quantile", "p90=revenue:0.9",
                    "--cap", "revenue=percentile:0.99", "--output", "csv")
    assert code == 0
    expected = Experiment(revenue=Mean("revenue", cap=("percentile", 0.99)),
                          p90=Quantile("revenue", 0.9)).analyze(data).to_frame()
    actual = pd.read_csv(io.StringIO(out))
    # DuckDB vs pandas aggregates, through CSV text (17 significant digits): 1e-9 relative
    for column in ("effect", "ci_low", "pvalue", "cap_threshold"):
        assert actual[column].tolist() == pytest.approx(expected[column].tolist(), rel=1e-9, nan_ok=True)
    code, out = run(str(files["parquet"]), "--proportion", "converted", "--engine", "bayes",
                    "--output", "csv")
    expected_bayes = Experiment(converted=Proportion("converted")).analyze(data, engine="bayes")
    assert pd.read_csv(io.StringIO(out))["chance_to_win"].tolist() == pytest.approx(
        [expected_bayes.rows[0].chance_to_win], rel=1e-9)


@pytest.mark.parametrize(("argv", "message"), [
    (["--quantile", "revenue"], "`--quantile` must be COLUMN:Q with Q in (0, 1); got 'revenue'."),
    (["--quantile", "revenue:1.5"], "`--quantile` must be COLUMN:Q with Q in (0, 1); got 'revenue:1.5'."),
    (["--mean", "revenue", "--cap", "rev=absolute:3"], "`--cap` must name a --mean metric"),
    (["--mean", "revenue", "--cap", "revenue=absolute:x"], "`--cap` must be NAME=percentile:P or"),
])
def test_quantile_and_cap_errors(files: dict[str, Path], argv: list[str], message: str,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(files["csv"]), *argv]) == 2
    assert message in capsys.readouterr().err


def test_by_segments_equal_experiment_on_pandas(files: dict[str, Path],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    data = pd.read_parquet(files["parquet"])
    code, out = run(str(files["parquet"]), "--proportion", "converted", "--mean", "revenue",
                    "--by", "country,platform", "--family", "all", "--adjust", "dunnett",
                    "--output", "csv")
    assert code == 0
    expected = Experiment(converted=Proportion("converted"), revenue=Mean("revenue")).analyze(
        data, by=["country", "platform"], family="all", adjust="dunnett").to_frame()
    actual = pd.read_csv(io.StringIO(out))
    assert list(actual.columns[:3]) == ["country", "platform", "metric"]
    assert actual["country"].fillna("").tolist() == expected["country"].fillna("").tolist()
    # DuckDB vs pandas aggregates, through CSV text (17 significant digits): 1e-9 relative
    for column in ("effect", "ci_low", "pvalue", "pvalue_adjusted"):
        assert actual[column].tolist() == pytest.approx(expected[column].tolist(), rel=1e-9)
    code, out = run(str(files["parquet"]), "--proportion", "converted", "--by", "country")
    assert code == 0 and "Segments by country: 3 of 3 analysed" in out
    assert main(["analyze", str(files["csv"]), "--proportion", "converted", "--by", "city"]) == 2
    assert "`--by` must name columns of the table; got 'city'" in capsys.readouterr().err
    assert main(["analyze", str(files["csv"]), "--proportion", "converted", "--by", "country,"]) == 2
    assert "`--by` must be COLUMN[,COLUMN...]; got 'country,'." in capsys.readouterr().err
