"""``flavorkit predict --engine spark``: files scored by Spark, read and written in parallel.

CSV is read as text (every column a string) and converted to the
signature's types exactly, as ``flavorkit predict`` converts it; Parquet
numbers are narrowed exactly. The output is a folder of part files, written
beside its destination and renamed into place at the end (local paths), so
a failed run leaves nothing at ``output``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from flavorkit.batch import BatchResult
from flavorkit.batch._engines import (
    check_input,
    check_output,
    file_formats,
    input_columns,
    write_staged,
)
from flavorkit.spark._errors import translate_errors
from flavorkit.spark._udf import udf


def predict_files(
    model_uri: str | os.PathLike[str],
    input_path: str,
    output_path: str,
    *,
    input_format: str | None = None,
    output_format: str | None = None,
    params: dict[str, Any] | None = None,
    keep: Sequence[str] = (),
    master: str | None = None,
    spark: Any = None,
    chunk_rows: int | None = None,
    allow_unsafe: bool | None = None,
    ship: str = "auto",
    check_workers: bool = True,
) -> BatchResult:
    """Score ``input_path`` (a CSV or Parquet file, folder or glob) into the folder ``output_path``.

    ``spark``: a session to use (default: the active one); otherwise one is
    started on ``master`` (default ``local[*]``) and stopped at the end.
    ``keep`` names input columns copied next to the predictions;
    ``chunk_rows`` sets the rows per Arrow batch the model gets. Returns
    rows in and out, the number of partitions (``chunks``) and the wall time.

    Raises ``PayloadError`` for an unsupported format, a missing ``keep``
    column or predictions CSV cannot hold, ``SchemaEnforcementError`` for
    missing inputs (before any task) or values that do not fit (naming the
    partition, rows and column), and what :func:`flavorkit.spark.udf` raises.
    """
    in_fmt, out_fmt = file_formats(input_path, input_format, output_path, output_format)
    started = time.perf_counter()
    check_input(input_path)
    own = False
    if spark is None:
        spark, own = _session(master)
    if chunk_rows is not None:
        spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(chunk_rows))
    try:
        predict = udf(
            spark, model_uri, params=params, allow_unsafe=allow_unsafe, ship=ship,
            check_workers=check_workers,
        )  # fmt: skip
        reader = spark.read
        if in_fmt == "csv":
            # text, converted exactly by the tasks; FAILFAST: a malformed line stops the run
            frame = reader.options(header=True, inferSchema=False, mode="FAILFAST").csv(input_path)
        else:
            frame = reader.parquet(input_path)
        model_cols, ignored = input_columns(list(frame.columns), predict.schema, keep)
        counter = spark.sparkContext.accumulator(0)
        column = predict._with(text=in_fmt == "csv", counter=counter)(*model_cols)
        out = _output(frame, column, predict.spec, keep, out_fmt)
        partitions = frame.rdd.getNumPartitions()

        def write(staging: str) -> int:
            with translate_errors():
                writer = out.write.mode("overwrite")
                if out_fmt == "csv":
                    writer.options(header=True).csv(staging)
                else:
                    writer.parquet(staging)
            return int(counter.value)

        rows = write_staged(output_path, write)
    finally:
        if own:
            spark.stop()
    return BatchResult(rows, rows, partitions, time.perf_counter() - started, ignored)


def _session(master: str | None) -> tuple[Any, bool]:
    """(the active session, False) when there is one; else (a new one on ``master``, True)."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    master = master or "local[*]"
    if master.startswith("local") and "PYSPARK_PYTHON" not in os.environ:
        os.environ["PYSPARK_PYTHON"] = sys.executable  # local workers: this very environment
    session = (
        SparkSession.builder.master(master)
        .appName("flavorkit predict")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session, True


def _output(frame: Any, column: Any, spec: Any, keep: Sequence[str], fmt: str) -> Any:
    from pyspark.sql import functions as F

    check_output(spec, keep, fmt)
    names = [name for name, _ in spec.fields]
    kept = [F.col(f"`{k}`") for k in keep]
    if spec.struct:
        return frame.select(*kept, column.alias("__flavorkit_prediction")).select(
            *kept, *[F.col(f"__flavorkit_prediction.`{n}`").alias(n) for n in names]
        )
    return frame.select(*kept, column.alias(names[0]))
