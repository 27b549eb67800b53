"""Core costs: ``import`` time, and pyfunc predict overhead over calling the model directly.

The model is a scikit-learn LinearRegression on a 10-column float DataFrame,
saved with a signature by each tool; overhead = the median of paired
differences between pyfunc predict and the loaded estimator's own
``predict`` on the same data, at 1 and 10,000 rows.
"""

from __future__ import annotations

import statistics
import sys
from typing import Any

from _common import MLFLOW_PYTHON, mlflow_available, row, run_python

IMPORT_RUNS = 7


def _import_seconds(python: Any, module: str) -> float:
    code = f"""
    import json, time
    t = time.perf_counter()
    import {module}
    print(json.dumps(time.perf_counter() - t))
    """
    return statistics.median(run_python(code, python=python) for _ in range(IMPORT_RUNS))


OVERHEAD = """
import json, tempfile, time, warnings, os, statistics
import numpy as np, pandas as pd
from sklearn.linear_model import LinearRegression
warnings.simplefilter("ignore")
rng = np.random.default_rng(0)
cols = [f"f{i}" for i in range(10)]
train = pd.DataFrame(rng.normal(size=(200, 10)), columns=cols)
est = LinearRegression().fit(train, train.sum(axis=1))
path = os.path.join(tempfile.mkdtemp(), "m")
SAVE_AND_LOAD
def paired(a, b, rounds):
    # alternate the two calls and keep the median of each and of their difference:
    # paired rounds cancel the drift of a shared, noisy machine
    da, db, diff = [], [], []
    for _ in range(rounds):
        t0 = time.perf_counter(); a(); t1 = time.perf_counter(); b(); t2 = time.perf_counter()
        da.append(t1 - t0); db.append(t2 - t1); diff.append((t2 - t1) - (t1 - t0))
    return statistics.median(da), statistics.median(db), statistics.median(diff)
out = {}
for n, rounds in ((1, 3000), (10_000, 300)):
    X = pd.DataFrame(rng.normal(size=(n, 10)), columns=cols)
    paired(lambda: native.predict(X), lambda: model.predict(X), 50)  # warm up
    out[n] = paired(lambda: native.predict(X), lambda: model.predict(X), rounds)
print(json.dumps(out))
"""

FLAVORKIT_SAVE = """
import flavorkit
flavorkit.save_model(est, path, input_example=train.head(3))
model = flavorkit.load_model(path)
native = model.unwrap()
"""

MLFLOW_SAVE = """
import mlflow.sklearn, mlflow.pyfunc
from mlflow.models import infer_signature
mlflow.sklearn.save_model(est, path, signature=infer_signature(train, est.predict(train)),
                          pip_requirements=["scikit-learn"])
model = mlflow.pyfunc.load_model(path)
native = model.get_raw_model()
"""


def run() -> list[dict[str, Any]]:
    """Measure and return the rows."""
    have_mlflow = mlflow_available()
    rows = [
        row(
            "core",
            "import time",
            "s",
            _import_seconds(sys.executable, "flavorkit"),
            _import_seconds(MLFLOW_PYTHON, "mlflow") if have_mlflow else None,
            note="goal < 0.15 s; mlflow = import mlflow",
        )
    ]
    ours = run_python(OVERHEAD.replace("SAVE_AND_LOAD", FLAVORKIT_SAVE))
    theirs = (
        run_python(OVERHEAD.replace("SAVE_AND_LOAD", MLFLOW_SAVE), python=MLFLOW_PYTHON)
        if have_mlflow
        else None
    )
    for n in ("1", "10000"):
        direct, _, overhead = ours[n]
        mlflow_over = theirs[n][2] * 1e6 if theirs else None
        rows.append(
            row(
                "core",
                f"pyfunc predict overhead, {n} rows x 10 cols",
                "us",
                overhead * 1e6,
                mlflow_over,
                raw=direct * 1e6,
                note="raw = the loaded estimator's own predict"
                + ("; goal < 100 us" if n == "1" else ""),
            )
        )
    return rows


if __name__ == "__main__":
    from _common import print_table

    print_table(run())
