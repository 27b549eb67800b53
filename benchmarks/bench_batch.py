"""Batch scoring of a 1,000,000-row file: peak memory stays bounded by the chunk size.

A scikit-learn LinearRegression (8 float features) scores a 1M-row CSV and
the same rows as Parquet. Each run is a separate process, measured from
outside: wall time and peak RSS (``getrusage(RUSAGE_CHILDREN)`` in a small
launcher process).

- flavorkit: ``flavorkit predict MODEL -i IN -o OUT --keep id --chunk-size N``
  for two chunk sizes; a 10-row file gives the fixed cost (interpreter,
  pandas, scikit-learn, the model).
- raw: pandas reads the whole file, ``estimator.predict``, writes the output:
  what a hand-written script does, memory growing with the file.
- mlflow: ``mlflow models predict`` (``--env-manager local``; CSV input only),
  which also reads the whole file.

Figures are printed, never asserted. ``BENCH_BATCH_ROWS`` changes the row count.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import MLFLOW_PYTHON, mlflow_available, row

ROWS = int(os.environ.get("BENCH_BATCH_ROWS", "1000000"))
CHUNKS = (10_000, 100_000)
FEATURES = [f"f{i}" for i in range(8)]
FLAVORKIT = [sys.executable, "-m", "flavorkit.cli"]

RAW_SCRIPT = """
import sys
import pandas as pd
import skops.io as sio
kind, model_file, source, target = sys.argv[1:]
est = sio.load(model_file, trusted=sio.get_untrusted_types(file=model_file))
frame = pd.read_csv(source) if kind == "csv" else pd.read_parquet(source)
out = pd.DataFrame({"id": frame["id"], "prediction": est.predict(frame[est.feature_names_in_])})
out.to_csv(target, index=False) if kind == "csv" else out.to_parquet(target, index=False)
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
        ]
    )


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
        fixed = _flavorkit(model, tiny, folder / "tiny.out.csv", CHUNKS[0])
        rows.append(
            row(
                "batch predict",
                "fixed cost (10-row CSV)",
                "MiB",
                fixed[1],
                note=f"interpreter, pandas, scikit-learn, model; {fixed[0]:.1f} s",
            )
        )
        mlflow_csv = _mlflow(model, csv, folder / "mlflow.json") if mlflow_available() else None
        for kind, source in (("CSV", csv), ("Parquet", parquet)):
            suffix = ".csv" if kind == "CSV" else ".parquet"
            raw = _raw(model, kind.lower(), source, folder / f"raw{suffix}")
            theirs = mlflow_csv if kind == "CSV" else None
            for chunk in CHUNKS:
                seconds, peak = _flavorkit(model, source, folder / f"out{suffix}", chunk)
                name = f"predict {ROWS:,}-row {kind} ({size_mib[kind]:.0f} MiB), chunk {chunk:,}"
                rows.append(
                    row(
                        name,
                        "peak RSS",
                        "MiB",
                        peak,
                        theirs[1] if theirs else None,
                        raw=raw[1],
                        note=f"{peak - fixed[1]:+.0f} MiB over the fixed cost (raw: "
                        f"{raw[1] - fixed[1]:+.0f}); raw = pandas whole file + predict"
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
                        raw=raw[0],
                        note=f"{ROWS / seconds:,.0f} rows/s",
                    )
                )
    return rows


if __name__ == "__main__":
    from _common import print_table

    print_table(run())
