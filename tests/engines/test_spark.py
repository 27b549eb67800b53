"""flavorkit.spark on a real local Spark (local[2], Java 17): the UDF, its checks, its errors."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import flavorkit
import numpy as np
import pandas as pd
import pytest
from engine_support import ARROW_BATCH, PYSPARK_PANDAS_WARNING, Models, copy_with_requirement
from flavorkit.exceptions import SchemaEnforcementError

pytestmark = [pytest.mark.spark, pytest.mark.filterwarnings(PYSPARK_PANDAS_WARNING)]

pyspark = pytest.importorskip("pyspark", reason="pyspark is not installed")
import flavorkit.spark  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402
from pyspark.sql import types as T  # noqa: E402


def _frame(spark: Any, data: pd.DataFrame, partitions: int = 2) -> Any:
    return spark.createDataFrame(data).repartition(partitions)


def _local(models: Models, data: pd.DataFrame, path: Path, **kwargs: Any) -> np.ndarray:
    return np.asarray(flavorkit.load_model(path, **kwargs).predict(data))


def _pandas(df: Any) -> pd.DataFrame:
    """The rows of a Spark DataFrame, collected (pyspark's toPandas warns under pandas 3)."""
    return pd.DataFrame([row.asDict(recursive=True) for row in df.collect()], columns=df.columns)


def _no_jobs_since(spark: Any, group: str) -> bool:
    return list(spark.sparkContext.statusTracker().getJobIdsForGroup(group)) == []


def test_spark_udf_binds_columns_by_name_whatever_the_order(spark: Any, models: Models) -> None:
    data = models.frame.assign(extra="id")
    df = spark.createDataFrame(data).coalesce(2)
    predict = flavorkit.spark.udf(spark, models.regressor)
    assert predict.result_type == T.DoubleType()
    assert predict.input_names == ["a", "b", "c"]
    out = _pandas(
        df.select(
            "a",
            predict().alias("by_signature"),
            predict("c", "a", "b").alias("by_names"),
            predict(F.struct("b", "c", "a")).alias("by_struct"),
        )
    )
    expected = _local(models, models.frame, models.regressor)
    order = np.argsort(out["a"].to_numpy())
    for column in ("by_signature", "by_names", "by_struct"):
        np.testing.assert_allclose(
            out[column].to_numpy()[order], expected[np.argsort(models.frame["a"].to_numpy())]
        )


def test_spark_model_is_loaded_once_per_python_worker(
    spark: Any, models: Models, tmp_path: Path
) -> None:
    log = tmp_path / "calls.log"
    rows = 1000
    df = _frame(spark, pd.DataFrame({"x": np.arange(rows, dtype="float64")}), partitions=4)
    predict = flavorkit.spark.udf(
        spark, models.counts, allow_unsafe=True, model_config={"log": str(log)}
    )
    out = _pandas(df.select("x", predict().alias("y")))
    np.testing.assert_array_equal(out["y"], out["x"] * 2)
    lines = [line.split() for line in log.read_text().splitlines()]
    loads = Counter(fields[1] for fields in lines if fields[0] == "load")
    batches = [(fields[1], int(fields[2])) for fields in lines if fields[0] == "predict"]
    assert sum(n for _, n in batches) == rows
    assert len(batches) >= rows // ARROW_BATCH  # Arrow batches of at most ARROW_BATCH rows
    assert set(loads.values()) == {1}  # each worker process loaded it once ...
    assert set(loads) == {pid for pid, _ in batches}  # ... and every batch used a loaded copy
    assert len(loads) < len(batches)


def test_spark_ships_the_folder_as_an_archive(spark: Any, models: Models, tmp_path: Path) -> None:
    from pyspark import SparkFiles

    predict = flavorkit.spark.udf(
        spark,
        models.two_outputs,
        allow_unsafe=True,  # the model's class is imported from the folder's code/
        ship="files",
        result_type="score double, label string",
    )
    assert predict.model.archive is not None
    df = _frame(spark, models.frame[["a", "b"]])
    out = _pandas(df.select("a", "b", predict().alias("p")).select("a", "b", "p.*"))
    want = (out["a"] + 2 * out["b"]).to_numpy()
    np.testing.assert_allclose(out["score"], want)
    assert list(out["label"]) == ["high" if s > 1 else "low" for s in want]
    unpacked = Path(SparkFiles.getRootDirectory()) / predict.model.archive.removesuffix(".tar")
    assert (unpacked / "MLmodel").is_file()
    assert (unpacked / "code" / "engine_models.py").is_file()


def test_spark_several_outputs_become_a_struct(spark: Any, models: Models) -> None:
    predict = flavorkit.spark.udf(spark, models.two_outputs, allow_unsafe=True, params={"scale": 2})
    assert predict.result_type == T.StructType(
        [T.StructField("score", T.DoubleType()), T.StructField("label", T.StringType())]
    )
    df = _frame(spark, models.frame[["a", "b"]])
    out = _pandas(df.select("a", "b", predict().alias("p")).select("a", "b", "p.*"))
    np.testing.assert_allclose(out["score"], 2 * (out["a"] + 2 * out["b"]))
    assert set(out["label"]) == {"high", "low"}


def test_spark_params_reach_the_model(spark: Any, models: Models) -> None:
    predict = flavorkit.spark.udf(
        spark,
        models.classifier,
        params={"predict_fn": "predict_proba"},
        result_type="array<double>",
    )
    df = spark.createDataFrame(models.frame).coalesce(1)
    out = _pandas(df.select(predict().alias("proba")))
    got = np.array(out["proba"].tolist())
    want = flavorkit.load_model(models.classifier).predict(
        models.frame, params={"predict_fn": "predict_proba"}
    )
    np.testing.assert_allclose(got, want)
    labels = flavorkit.spark.udf(spark, models.classifier)
    assert labels.result_type == T.LongType()
    out = _pandas(df.select(labels().alias("label")))
    np.testing.assert_array_equal(
        out["label"], flavorkit.load_model(models.classifier).predict(models.frame)
    )


def test_spark_invalid_params_fail_on_the_driver(spark: Any, models: Models) -> None:
    spark.sparkContext.setJobGroup("bad-params", "no job may run")
    try:
        with pytest.raises(SchemaEnforcementError, match="scale") as caught:
            flavorkit.spark.udf(
                spark, models.two_outputs, allow_unsafe=True, params={"scale": "big"}
            )
        assert caught.value.field == "scale"
        assert _no_jobs_since(spark, "bad-params")
    finally:
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)


def test_spark_torch_tensor_signature(spark: Any, models: Models) -> None:
    rows = np.random.default_rng(5).normal(size=(200, 4)).astype("float32")
    predict = flavorkit.spark.udf(spark, models.torch)
    assert predict.result_type == T.ArrayType(T.FloatType())
    as_arrays = spark.createDataFrame(
        pd.DataFrame({"i": np.arange(200), "x": list(rows)}),
        schema="i long, x array<float>",
    ).coalesce(2)
    as_columns = spark.createDataFrame(
        pd.DataFrame(rows, columns=["f0", "f1", "f2", "f3"]).assign(i=np.arange(200))
    ).coalesce(2)
    expected = flavorkit.load_model(models.torch).predict(rows)
    for frame, args in ((as_arrays, ("x",)), (as_columns, ("f0", "f1", "f2", "f3"))):
        out = _pandas(frame.select("i", predict(*args).alias("y"))).sort_values("i")
        got = np.array(out["y"].tolist(), dtype=np.float32)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


def test_spark_missing_column_fails_on_the_driver(spark: Any, models: Models) -> None:
    predict = flavorkit.spark.udf(spark, models.regressor)
    spark.sparkContext.setJobGroup("missing", "no job may run")
    try:
        with pytest.raises(SchemaEnforcementError, match=r"missing inputs \['c'\]") as caught:
            predict("a", "b")
        assert caught.value.field == "c"
        df = spark.createDataFrame(models.frame[["a", "b"]])
        with pytest.raises(Exception, match="`c`") as analysis:
            df.withColumn("p", predict())  # Spark's analysis names the column, before any task
        assert "AnalysisException" in type(analysis.value).__name__
        assert _no_jobs_since(spark, "missing")
    finally:
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)


def test_spark_lossy_value_surfaces_on_the_driver_with_column_and_rows(
    spark: Any, models: Models
) -> None:
    values = np.arange(100, dtype="float64")
    values[70] = 70.5  # a long column cannot hold it
    df = spark.createDataFrame(pd.DataFrame({"n": values})).coalesce(1)
    predict = flavorkit.spark.udf(spark, models.whole, allow_unsafe=True)
    query = df.select(predict().alias("m"))
    with pytest.raises(Exception) as raw:
        query.collect()
    text = str(raw.value)
    assert "SchemaEnforcementError" in text and "column 'n'" in text and "row 71" in text
    error = flavorkit.spark.flavorkit_error(raw.value)
    assert isinstance(error, SchemaEnforcementError)
    with pytest.raises(SchemaEnforcementError) as caught, flavorkit.spark.translate_errors():
        query.collect()
    assert caught.value.field == "n"
    assert caught.value.partition == 0
    first, last = caught.value.rows
    assert first <= 71 <= last and last - first < ARROW_BATCH
    assert str(caught.value).startswith(f"partition 0, rows {first}-{last}: ")
    assert "not whole" in str(caught.value)
    ok = spark.createDataFrame(pd.DataFrame({"n": np.arange(10, dtype="float64")}))
    out = _pandas(ok.select(predict().alias("m")))
    assert sorted(out["m"]) == list(range(1, 11))  # whole doubles narrow to long exactly


def test_spark_registry_and_s3_models(
    spark: Any, models: Models, registered: str, s3_model: str
) -> None:
    df = spark.createDataFrame(models.frame).coalesce(1)
    expected = np.sort(_local(models, models.frame, models.regressor))
    for uri in (registered, s3_model):
        predict = flavorkit.spark.udf(spark, uri)
        assert predict.model.uri == uri
        got = _pandas(df.select(predict().alias("p")))["p"].to_numpy()
        np.testing.assert_allclose(np.sort(got), expected)


def test_spark_incompatible_requirement_is_reported_by_package(
    spark: Any, models: Models, tmp_path: Path
) -> None:
    folder = copy_with_requirement(models, tmp_path, "scikit-learn==0.20.0")
    with pytest.raises(flavorkit.spark.WorkerEnvironmentError) as caught:
        flavorkit.spark.udf(spark, folder)
    assert set(caught.value.problems) == {"scikit-learn"}
    assert "required ==0.20.0" in caught.value.problems["scikit-learn"]
    assert sys.executable in caught.value.problems["scikit-learn"]
    flavorkit.spark.udf(spark, folder, check_workers=False)  # the check can be skipped


def test_spark_executors_without_flavorkit_fail_before_any_task(
    spark: Any, models: Models, tmp_path: Path
) -> None:
    """Executors whose Python lacks flavorkit, numpy and scikit-learn (a bare virtualenv)."""
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    context = spark.sparkContext
    before = context.pythonExec
    context.pythonExec = str(bare / "bin" / "python")
    try:
        with pytest.raises(flavorkit.spark.WorkerEnvironmentError) as caught:
            flavorkit.spark.udf(spark, models.regressor)
    finally:
        context.pythonExec = before
    problems = caught.value.problems
    missing = {"flavorkit-sklearn", "scikit-learn", "numpy", "pandas", "pyarrow"}
    if not os.environ.get("PYTHONPATH"):  # the JVM passes its PYTHONPATH on to the workers
        missing.add("flavorkit")
    assert missing <= set(problems)
    assert all("not installed" in problems[name] for name in missing)
    assert str(bare) in str(caught.value)
