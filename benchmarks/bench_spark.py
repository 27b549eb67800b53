"""Spark: 1,000,000 rows scored by flavorkit's UDF, MLflow's ``spark_udf`` and a hand-written UDF.

A scikit-learn LinearRegression (10 float features) scores a Parquet input
of ``BENCH_SPARK_ROWS`` rows (1,000,000) in 8 files, so 8 partitions, on
one local Spark (``local[2]``, Arrow batches of 10,000 rows). Every
variant computes the same query: the prediction of every row, written to
Spark's ``noop`` sink, so the whole input is read and scored and nothing
is written:

- flavorkit: ``flavorkit.spark.udf(spark, MODEL)()``: the folder resolved on
  the driver, the executors' packages checked, the model loaded once per
  Python worker, each batch converted exactly and enforced.
- mlflow: ``mlflow.pyfunc.spark_udf(spark, MODEL, env_manager="local")``
  on ``struct`` of the features.
- raw: the hand-written iterator pandas UDF: the estimator (loaded with
  skops) in a broadcast variable, ``estimator.predict(batch)`` per batch.

Timing: one process, one Spark session; each UDF runs once unrecorded (the
workers start, the model loads), then ``BENCH_SPARK_REPEAT`` (3) rounds, the
variants' order reversed every other round; the medians are reported. Memory: each
variant in its own process and Spark, run twice; the figure is the peak of
the summed resident memory of the Python workers (the JVM is the same for
all). MLflow's column needs ``.venvs/mlflow`` with pyspark importable, from
``BENCH_PYSPARK_PATH`` (default ``.venvs/pyspark``, made by ``make bench``:
``pip install --target``); without it the run uses this environment and
leaves MLflow's column empty. Figures are printed, never asserted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import MLFLOW_PYTHON, ROOT, mlflow_available, regression_parquet, row, run_python

ROWS = int(os.environ.get("BENCH_SPARK_ROWS", "1000000"))
REPEAT = int(os.environ.get("BENCH_SPARK_REPEAT", "3"))
FILES = 8
FEATURES = [f"f{i}" for i in range(10)]
PYSPARK_PATH = Path(os.environ.get("BENCH_PYSPARK_PATH", ROOT / ".venvs" / "pyspark"))

CHILD = r'''
import json, os, statistics, sys, threading, time, warnings
from typing import Iterator

warnings.simplefilter("ignore", FutureWarning)  # pyspark 4.3 on pandas 3
os.environ["PYSPARK_PYTHON"] = sys.executable
import pandas as pd
from pyspark.sql import SparkSession, functions as F

mode, data, model_dir, repeat, variants = sys.argv[1:6]
variants = variants.split(",")
spark = (
    SparkSession.builder.master("local[2]")
    .config("spark.ui.enabled", "false")
    .config("spark.ui.showConsoleProgress", "false")
    .config("spark.driver.host", "127.0.0.1")
    .config("spark.driver.memory", "2g")
    .getOrCreate()
)
spark.sparkContext.setLogLevel("ERROR")
df = spark.read.parquet(data)
features = [c for c in df.columns if c != "id"]


def flavorkit_column():
    import flavorkit.spark
    return flavorkit.spark.udf(spark, model_dir)()


def mlflow_column():
    import mlflow.pyfunc
    udf = mlflow.pyfunc.spark_udf(spark, model_dir, result_type="double", env_manager="local")
    return udf(F.struct(*features))


def raw_column():
    import skops.io as sio
    model_file = os.path.join(model_dir, "model.skops")
    estimator = sio.load(model_file, trusted=sio.get_untrusted_types(file=model_file))
    shared = spark.sparkContext.broadcast(estimator)

    @F.pandas_udf("double")
    def predict(batches: Iterator[pd.DataFrame]) -> Iterator[pd.Series]:
        est = shared.value  # deserialized once per Python worker
        for batch in batches:
            yield pd.Series(est.predict(batch))

    return predict(F.struct(*features))


def run(column):
    start = time.perf_counter()
    df.select(column.alias("p")).write.format("noop").mode("overwrite").save()
    return time.perf_counter() - start


def worker_rss():
    """Summed VmRSS (MiB) of this process's Python descendants (the PySpark workers)."""
    parents, names = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
            names[int(entry)] = stat[stat.index("(") + 1 : stat.rindex(")")]
        except (OSError, ValueError, IndexError):
            continue
    me, total, todo = os.getpid(), 0, [os.getpid()]
    while todo:
        pid = todo.pop()
        kids = [p for p, parent in parents.items() if parent == pid]
        todo.extend(kids)
        if pid != me and names.get(pid, "").startswith("python"):
            try:
                with open(f"/proc/{pid}/status") as fh:
                    for line in fh:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1])
            except OSError:
                pass
    return total / 1024


columns = {name: globals()[name + "_column"]() for name in variants}
if mode == "time":
    for column in columns.values():
        run(column)  # warm: workers start, the model loads
    times = {name: [] for name in columns}
    for round_ in range(int(repeat)):
        order = list(columns.items())
        for name, column in order if round_ % 2 == 0 else order[::-1]:  # neither always first
            times[name].append(run(column))
    print(json.dumps({name: statistics.median(t) for name, t in times.items()}))
else:
    peak, stop = [0.0], threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], worker_rss())
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    for _ in range(2):
        run(columns[variants[0]])
    stop.set()
    sampler.join()
    print(json.dumps({variants[0]: peak[0]}))
spark.stop()
'''


def _python() -> tuple[str, dict[str, str], bool]:
    """(the interpreter, its environment, whether MLflow runs): MLflow's when it has pyspark."""
    if mlflow_available():
        env = {**os.environ}
        if PYSPARK_PATH.is_dir():
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(PYSPARK_PATH), env.get("PYTHONPATH", "")) if p
            )
        probe = subprocess.run(
            [str(MLFLOW_PYTHON), "-c", "import pyspark, mlflow"], env=env, capture_output=True
        )
        if probe.returncode == 0:
            return str(MLFLOW_PYTHON), env, True
        print(
            "bench_spark: MLflow's environment cannot import pyspark (make bench installs it "
            f"into {PYSPARK_PATH}); MLflow's column stays empty",
            file=sys.stderr,
        )
    return sys.executable, {**os.environ}, False


def _child(
    python: str, env: dict[str, str], mode: str, data: Path, model: Path, variants: list[str]
) -> dict[str, float]:
    args = [mode, str(data), str(model), str(REPEAT), ",".join(variants)]
    return run_python(CHILD, python=python, env=env, args=args)


def run() -> list[dict[str, Any]]:
    """Score the rows every way; return the rows of the table."""
    python, env, with_mlflow = _python()
    variants = ["flavorkit", "raw", *(["mlflow"] if with_mlflow else [])]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-spark-") as tmp:
        model, data = regression_parquet(Path(tmp), rows=ROWS, files=FILES, features=FEATURES)
        seconds = _child(python, env, "time", data, model, variants)
        peaks: dict[str, float] = {}
        for variant in variants:
            peaks.update(_child(python, env, "memory", data, model, [variant]))
    name = f"Spark UDF, {ROWS:,} rows x 10 features, local[2]"
    ours, raw, theirs = seconds["flavorkit"], seconds["raw"], seconds.get("mlflow")
    rows.append(
        row(
            name,
            "throughput",
            "rows/s",
            ROWS / ours,
            ROWS / theirs if theirs else None,
            raw=ROWS / raw,
            note=f"{ours / raw:.2f}x the hand-written UDF's time ({ours:.2f} s vs {raw:.2f} s)"
            + (f"; MLflow's spark_udf {theirs / ours:.2f}x flavorkit's" if theirs else ""),
            higher_is_better=True,
        )
    )
    rows.append(
        row(
            name,
            "peak RSS, Python workers",
            "MiB",
            peaks["flavorkit"],
            peaks.get("mlflow"),
            raw=peaks["raw"],
            note=f"{peaks['flavorkit'] / peaks['raw']:.2f}x the hand-written UDF; summed over "
            "the 2 workers, the JVM left out",
        )
    )
    return rows


if __name__ == "__main__":
    from _common import print_table

    print_table(run())
