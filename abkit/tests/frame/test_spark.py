"""The same Experiment on a PySpark DataFrame (local mode): the pandas answer, and the same errors.

Spark starts once per session (``local[1]``, one shuffle partition, no UI, quiet logs); the tests
use small tables so the whole file stays well under a minute.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from abkit import Experiment, Mean, Proportion, RatioOfMeans
from abkit.frame import summarize
from abkit.tests.frame.test_experiment import METRICS, NUMERIC, three_arm_data

pyspark_sql = pytest.importorskip("pyspark.sql")
if shutil.which("java") is None:  # pragma: no cover - CI installs a Java runtime
    pytest.skip("PySpark needs a Java runtime (java is not on PATH)", allow_module_level=True)


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    session = (
        pyspark_sql.SparkSession.builder.master("local[1]")
        .appName("abkit-tests")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.default.parallelism", "1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        # Tiny tables: compiling whole-stage code costs more than it saves.
        .config("spark.sql.codegen.wholeStage", "false")
        .config("spark.sql.adaptive.enabled", "false")
        # The client JIT alone (C1) and the serial GC start a short-lived JVM several times faster.
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def to_spark(spark: Any, frame: pd.DataFrame) -> Any:
    # Through Arrow: explicit column types, no pandas conversion warnings.
    import pyarrow as pa

    return spark.createDataFrame(pa.Table.from_pandas(frame, preserve_index=False))


def test_spark_gives_the_pandas_answer(spark: Any) -> None:
    data = three_arm_data(1500, seed=4)
    experiment = Experiment(**METRICS)
    expected = experiment.analyze(data, control="a").to_frame()
    actual = experiment.analyze(to_spark(spark, data), control="a").to_frame()
    assert list(actual["metric"]) == list(expected["metric"])
    assert list(actual["treatment"]) == list(expected["treatment"])
    for column in NUMERIC:
        # 1e-9 relative: the bar for identical results across engines.
        np.testing.assert_allclose(actual[column], expected[column], rtol=1e-9, atol=0, err_msg=column)
    assert list(actual["n_control"]) == list(expected["n_control"])


def test_spark_summaries_and_integer_variants(spark: Any) -> None:
    frame = pd.DataFrame({"arm": [0, 0, 0, 1, 1, 1], "y": [1.0, 2.0, 4.0, 2.0, 3.0, 5.0],
                          "won": [True, False, True, True, True, False]})
    summary = summarize(to_spark(spark, frame), variant="arm",
                        metrics={"y": Mean("y"), "won": Proportion("won")})
    assert list(summary) == [0, 1]
    assert summary[1]["won"].successes == 2
    assert summary[0]["y"].var == pytest.approx(np.var([1.0, 2.0, 4.0], ddof=1), rel=1e-12)


def test_spark_bad_tables_give_the_same_errors(spark: Any) -> None:
    rows = [("a", 1.0, 1.0, 1), ("a", 2.0, 2.0, 1), ("b", math.nan, 3.0, 2), ("b", 4.0, None, 1)]
    table = spark.createDataFrame(rows, "variant string, y double, z double, n long")
    with pytest.raises(ValueError, match=r"Column 'y' \(metric 'r'\) must contain only finite values; "
                                         r"got NaN .* in variant 'b'"):
        Experiment(r=RatioOfMeans("y", "n")).analyze(table)
    with pytest.raises(ValueError, match=r"Column 'z' \(metric 'z'\) must not contain missing values; "
                                         r"got 1 null or NaN value\(s\) in variant 'b'"):
        Experiment(z=Mean("z")).analyze(table)
    with pytest.raises(ValueError, match=r"Column 'n' \(metric 'p'\) must contain only 0 and 1"):
        Experiment(p=Proportion("n")).analyze(table)
    with pytest.raises(TypeError, match=r"Column 'variant' \(metric 'v'\) must be numeric or boolean"):
        Experiment(v=Mean("variant")).analyze(table)


def test_shadow_engine_on_spark_gives_the_pandas_answer(spark: Any) -> None:
    # One table, every engine-path test of abkit.frame.ShadowTable (issue 16): Spark equals pandas.
    from abkit.datasets import make_shadow_log
    from abkit.frame import ShadowTable, compare_models
    from abkit.tests.frame.test_shadow_engine import _assert_same

    data = make_shadow_log(600, models={"v1": 1.0, "v2": 1.3}, rng=8)
    data.loc[data["request_id"] % 11 == 0, "label"] = np.nan
    local, remote = ShadowTable(data), ShadowTable(to_spark(spark, data))
    options = {"champion": "v1", "challengers": ["v2"], "metrics": ["auc", "log_loss", "latency"],
               "min_requests": 100}
    _assert_same(compare_models(remote, **options), compare_models(local, **options))
    _assert_same(remote.mcnemar_test("v1", "v2"), local.mcnemar_test("v1", "v2"))
    _assert_same(remote.diebold_mariano_test("v1", "v2", values="log_loss", horizon=3),
                 local.diebold_mariano_test("v1", "v2", values="log_loss", horizon=3))


def test_spark_quantiles_give_the_pandas_answer(spark: Any) -> None:
    from abkit import Quantile

    data = three_arm_data(1500, seed=4)
    experiment = Experiment(p50=Quantile("revenue", 0.5), p90=Quantile("revenue", 0.9))
    expected = experiment.analyze(data, control="a").to_frame()
    actual = experiment.analyze(to_spark(spark, data), control="a").to_frame()
    # Order statistics are exact values: the engines agree to rounding.
    for column in ["control_value", "treatment_value", "ci_low", "ci_high", "pvalue"]:
        np.testing.assert_allclose(actual[column], expected[column], rtol=1e-12, err_msg=column)


def test_spark_capped_means_give_the_pandas_answer(spark: Any) -> None:
    data = three_arm_data(1500, seed=4)
    experiment = Experiment(capped=Mean("revenue", cap=("percentile", 0.9)))
    expected = experiment.analyze(data, control="a").to_frame()
    actual = experiment.analyze(to_spark(spark, data), control="a").to_frame()
    # Spark's exact percentile is type 7 too; sums in another order: 1e-9 relative.
    for column in ["cap_threshold", "effect", "ci_low", "ci_high", "pvalue"]:
        np.testing.assert_allclose(actual[column], expected[column], rtol=1e-9, err_msg=column)


def test_offpolicy_engine_on_spark_gives_the_in_memory_answer(spark: Any) -> None:
    from abkit.frame import evaluate_policy
    from abkit.tests.frame.test_offpolicy_engine import (
        REFERENCE,
        _assert_same,
        _bad_table,
        _columns,
        _frame,
        _in_memory,
    )

    inputs = REFERENCE["inputs"]
    table = to_spark(spark, _frame(inputs))
    results = evaluate_policy(table, target_action="best", **_columns(len(inputs["target"][0])))
    expected = _in_memory(inputs)
    assert list(results) == list(expected)
    for name, result in results.items():
        _assert_same(result, expected[name])  # 1e-9 relative, as the other engines
    clipped = evaluate_policy(table, methods=["ips"], clip=2.0, **_columns(len(inputs["target"][0])))
    _assert_same(clipped["ips"], _in_memory(inputs, clip=2.0)["ips"])
    with pytest.raises(ValueError, match=r"`propensity` column 'propensity' must be in \(0, 1\]; got 1"):
        evaluate_policy(to_spark(spark, _bad_table(propensity=(3, 0.0))), **_columns(2))


def test_shadow_rank_tests_on_spark_give_the_in_memory_answer(spark: Any) -> None:
    from abkit.frame import ShadowTable
    from abkit.shadow import latency_quantiles, wilcoxon_test
    from abkit.tests.frame.test_shadow_engine import _assert_same, _long

    rng = np.random.default_rng(3)
    a = rng.random(120).round(1)  # ties and zeros
    b = np.clip(a + rng.normal(0.05, 0.2, 120), 0, 1).round(1)
    frame = _long(a, b).assign(latency=rng.lognormal(3.0, 0.5, 240))
    table = ShadowTable(to_spark(spark, frame))
    _assert_same(table.wilcoxon_test("a", "b"), wilcoxon_test(a, b))
    _assert_same(table.latency_quantiles("b", quantiles=(0.5, 0.9)),
                 latency_quantiles(frame["latency"][120:], quantiles=(0.5, 0.9)))
def test_spark_segments_give_the_pandas_answer(spark: Any) -> None:
    from abkit import Quantile

    data = three_arm_data(1500, seed=4)
    experiment = Experiment(**METRICS, p90=Quantile("revenue", 0.9))
    expected = experiment.analyze(data, control="a", by="country").to_frame()
    actual = experiment.analyze(to_spark(spark, data), control="a", by="country").to_frame()
    assert actual[["country", "metric", "treatment"]].fillna("").values.tolist() == (
        expected[["country", "metric", "treatment"]].fillna("").values.tolist())
    for column in NUMERIC:
        # 1e-9 relative: the bar for identical results across engines.
        np.testing.assert_allclose(actual[column], expected[column], rtol=1e-9, atol=0, err_msg=column)
