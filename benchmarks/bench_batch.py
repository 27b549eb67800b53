"""Batch scoring of a 1,000,000-row file, next to a hand-written loop at the same memory.

A scikit-learn LinearRegression (10 float features, plus an ``id`` column: 11
columns) scores a 1M-row CSV and the same rows as Parquet. Each run is a
separate process, measured from outside: wall time and peak RSS
(``getrusage(RUSAGE_CHILDREN)`` in a small launcher process).

- flavorkit: ``flavorkit predict MODEL -i IN -o OUT --keep id --chunk-size N``
  for two chunk sizes; a 10-row file gives the fixed cost (interpreter,
  pandas, scikit-learn, the model).
- raw: the hand-written loop, the reference: the estimator loaded with skops,
  ``pandas.read_csv(chunksize=10000)`` with the columns' dtypes (Parquet:
  ``pyarrow`` ``iter_batches(batch_size=10000)``), ``estimator.predict``, the
  id and the predictions appended with ``to_csv`` (a ``ParquetWriter``). The
  note gives flavorkit's time and peak memory over the loop's.
- mlflow: ``mlflow models predict`` (``--env-manager local``; CSV input only),
  which reads the whole file.

Each figure is the median of ``BENCH_BATCH_REPEAT`` runs (3), flavorkit's and
the loop's interleaved so that both see the same load. Figures are printed,
never asserted. ``BENCH_BATCH_ROWS`` changes the row count.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import MLFLOW_PYTHON, mlflow_available, row

ROWS = int(os.environ.get("BENCH_BATCH_ROWS", "1000000"))
REPEAT = int(os.environ.get("BENCH_BATCH_REPEAT", "3"))
CHUNKS = (10_000, 100_000)
FEATURES = [f"f{i}" for i in range(10)]
LOOP_CHUNK = 10_000
FLAVORKIT = [sys.executable, "-m", "flavorkit.cli"]

RAW_SCRIPT = """
import sys
import pandas as pd
import skops.io as sio
kind, model_file, source, target, chunk = sys.argv[1:]
chunk = int(chunk)
est = sio.load(model_file, trusted=sio.get_untrusted_types(file=model_file))
features = list(est.feature_names_in_)
if kind == "csv":
    dtypes = {"id": str, **dict.fromkeys(features, "float64")}
    with open(target, "w", newline="") as out:
        for i, frame in enumerate(pd.read_csv(source, chunksize=chunk, dtype=dtypes)):
            pred = pd.DataFrame({"id": frame["id"], "prediction": est.predict(frame[features])})
            pred.to_csv(out, header=i == 0, index=False)
else:
    import pyarrow as pa
    import pyarrow.parquet as pq
    writer = None
    for batch in pq.ParquetFile(source).iter_batches(batch_size=chunk):
        frame = batch.to_pandas()
        table = pa.table({"id": batch.column("id"), "prediction": est.predict(frame[features])})
        writer = writer or pq.ParquetWriter(target, table.schema)
        writer.write_table(table)
    writer.close()
"""


# Scoring alone, the model loaded: predict_file and the loop above timed in one process,
# alternately, so start-up costs and the machine's load drop out of the ratio.
SCORING_SCRIPT = """
import json, statistics, sys, time
import flavorkit
import pyarrow.parquet
import skops.io
from flavorkit.batch import predict_file
model_dir, csv, parquet, target, chunk, repeat, loop_source = sys.argv[1:]
model = flavorkit.load_model(model_dir)
loop = compile(loop_source, "loop", "exec")
times = {}
for _ in range(int(repeat)):
    for kind, source, suffix in (("csv", csv, ".csv"), ("parquet", parquet, ".parquet")):
        start = time.perf_counter()
        predict_file(model, source, target + suffix, keep=["id"], chunk_rows=int(chunk))
        times.setdefault(kind, {}).setdefault("flavorkit", []).append(time.perf_counter() - start)
        sys.argv = ["loop", kind, model_dir + "/model.skops", source, target + suffix, chunk]
        start = time.perf_counter()
        exec(loop, {"__name__": "__main__"})
        times[kind].setdefault("loop", []).append(time.perf_counter() - start)
print(json.dumps({k: {w: statistics.median(v) for w, v in t.items()} for k, t in times.items()}))
"""


# A small launcher runs the measured command: a child's peak RSS starts at its parent's
# (Linux keeps the high-water mark across fork and exec), and this process holds the data.
LAUNCHER = """
import json, os, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux: KiB
err = done.stderr.decode()[-2000:]
print(json.dumps({"rc": done.returncode, "seconds": seconds, "peak": peak, "err": err}))
"""


def measure(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Run ``cmd`` to completion; returns (wall seconds, peak RSS in MiB) of that process."""
    out = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *cmd],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["rc"] != 0:
        raise RuntimeError(f"{cmd[:4]} failed: {result['err']}")
    return result["seconds"], result["peak"]


def medians(runs: list[tuple[float, float]]) -> tuple[float, float]:
    """The median wall time and the median peak RSS of ``runs``."""
    return (
        statistics.median(seconds for seconds, _ in runs),
        statistics.median(peak for _, peak in runs),
    )


def make_data(folder: Path) -> tuple[Path, Path, Path, Path]:
    """The model, the 1M-row CSV and Parquet files, and a 10-row CSV."""
    import flavorkit
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    train = pd.DataFrame(rng.normal(size=(1000, len(FEATURES))), columns=FEATURES)
    estimator = LinearRegression().fit(train, train.sum(axis=1))
    model = folder / "model"
    flavorkit.save_model(estimator, model, input_example=train.head(3))
    frame = pd.DataFrame(rng.normal(size=(ROWS, len(FEATURES))).round(6), columns=FEATURES)
    frame.insert(0, "id", np.char.add("row-", np.arange(ROWS).astype(str)))
    csv, parquet, tiny = folder / "data.csv", folder / "data.parquet", folder / "tiny.csv"
    frame.to_csv(csv, index=False)
    frame.to_parquet(parquet, index=False)
    frame.head(10).to_csv(tiny, index=False)
    return model, csv, parquet, tiny


def _flavorkit(model: Path, source: Path, target: Path, chunk: int) -> tuple[float, float]:
    return measure(
        [
            *FLAVORKIT,
            "predict",
            str(model),
            "-i",
            str(source),
            "-o",
            str(target),
            "--keep",
            "id",
            "--chunk-size",
            str(chunk),
            "--quiet",
        ]
    )


def _raw(model: Path, kind: str, source: Path, target: Path) -> tuple[float, float]:
    return measure(
        [
            sys.executable,
            "-c",
            RAW_SCRIPT,
            kind,
            str(model / "model.skops"),
            str(source),
            str(target),
            str(LOOP_CHUNK),
        ]
    )


def scoring_alone(
    model: Path, csv: Path, parquet: Path, target: Path, env: dict[str, str] | None = None
) -> dict[str, dict[str, float]]:
    """Median seconds of ``predict_file`` and of the loop, per format, in one process."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            SCORING_SCRIPT,
            str(model),
            str(csv),
            str(parquet),
            str(target),
            str(LOOP_CHUNK),
            str(REPEAT),
            RAW_SCRIPT,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    if out.returncode:
        raise RuntimeError(f"scoring alone failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _mlflow(model: Path, source: Path, target: Path) -> tuple[float, float]:
    bin_dir = MLFLOW_PYTHON.parent
    cmd = [
        str(bin_dir / "mlflow"),
        "models",
        "predict",
        "-m",
        str(model),
        "-i",
        str(source),
        "-t",
        "csv",
        "-o",
        str(target),
        "--env-manager",
        "local",
    ]
    return measure(cmd, {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"})


def run() -> list[dict[str, Any]]:
    """Make the data, score it every way, and return the rows."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        folder = Path(tmp)
        model, csv, parquet, tiny = make_data(folder)
        size_mib = {"CSV": csv.stat().st_size / 2**20, "Parquet": parquet.stat().st_size / 2**20}
        tiny_runs: dict[str, list[tuple[float, float]]] = {"flavorkit": [], "loop": []}
        for _ in range(REPEAT):
            tiny_runs["loop"].append(_raw(model, "csv", tiny, folder / "tiny.loop.csv"))
            tiny_runs["flavorkit"].append(
                _flavorkit(model, tiny, folder / "tiny.out.csv", CHUNKS[0])
            )
        fixed, loop_fixed = medians(tiny_runs["flavorkit"]), medians(tiny_runs["loop"])
        rows.append(
            row(
                "batch predict",
                "fixed cost (10-row CSV)",
                "MiB",
                fixed[1],
                raw=loop_fixed[1],
                note=f"interpreter, pandas, scikit-learn, model; {fixed[0]:.1f} s",
            )
        )
        rows.append(
            row(
                "batch predict",
                "fixed cost (10-row CSV)",
                "s",
                fixed[0],
                raw=loop_fixed[0],
                note="new process to output written; the loop imports skops.io as it is",
            )
        )
        mlflow_csv = _mlflow(model, csv, folder / "mlflow.json") if mlflow_available() else None
        for kind, source in (("CSV", csv), ("Parquet", parquet)):
            suffix = ".csv" if kind == "CSV" else ".parquet"
            runs: dict[Any, list[tuple[float, float]]] = {}
            for _ in range(REPEAT):
                runs.setdefault("loop", []).append(
                    _raw(model, kind.lower(), source, folder / f"loop{suffix}")
                )
                for chunk in CHUNKS:
                    runs.setdefault(chunk, []).append(
                        _flavorkit(model, source, folder / f"out{suffix}", chunk)
                    )
            loop = medians(runs["loop"])
            loop_scoring = loop[0] - loop_fixed[0]
            theirs = mlflow_csv if kind == "CSV" else None
            for chunk in CHUNKS:
                seconds, peak = medians(runs[chunk])
                scoring = seconds - fixed[0]
                name = f"predict {ROWS:,}-row {kind} ({size_mib[kind]:.0f} MiB), chunk {chunk:,}"
                rows.append(
                    row(
                        name,
                        "peak RSS",
                        "MiB",
                        peak,
                        theirs[1] if theirs else None,
                        raw=loop[1],
                        note=f"{peak / loop[1]:.2f}x the hand-written loop (chunk "
                        f"{LOOP_CHUNK:,}); {peak - fixed[1]:+.0f} MiB over the fixed cost"
                        + (
                            "; Parquet decodes a row group at a time (here 1 of 1M rows)"
                            if kind == "Parquet"
                            else ""
                        ),
                    )
                )
                rows.append(
                    row(
                        name,
                        "wall time",
                        "s",
                        seconds,
                        theirs[0] if theirs else None,
                        raw=loop[0],
                        note=f"{seconds / loop[0]:.2f}x the hand-written loop; less each "
                        f"one's 10-row run: {scoring / loop_scoring:.2f}x; "
                        f"{ROWS / seconds:,.0f} rows/s",
                    )
                )
        alone = scoring_alone(model, csv, parquet, folder / "alone")
        for kind, label in (("csv", "CSV"), ("parquet", "Parquet")):
            ours, loop_s = alone[kind]["flavorkit"], alone[kind]["loop"]
            rows.append(
                row(
                    f"predict {ROWS:,}-row {label}, chunk {LOOP_CHUNK:,}: scoring alone",
                    "wall time",
                    "s",
                    ours,
                    raw=loop_s,
                    note=f"{ours / loop_s:.2f}x the hand-written loop; model loaded, "
                    "predict_file and the loop alternated in one process",
                )
            )
    return rows


if __name__ == "__main__":
    from _common import print_table

    print_table(run())
