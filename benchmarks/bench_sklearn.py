"""scikit-learn saving: time and the requirements each tool writes.

A 100-tree RandomForestClassifier and a LogisticRegression, fitted on a
20-column float DataFrame, saved with an input example (so both tools infer
the signature by predicting on it) by ``flavorkit.save_model`` and by
``mlflow.sklearn.save_model`` with its default requirement inference. raw =
``skops.io.dump`` of the estimator alone. Each tool runs in its own
environment; the requirement lists are printed side by side after the runs.
"""

from __future__ import annotations

import sys
from typing import Any

from _common import MLFLOW_PYTHON, PER_CALL_SOURCE, mlflow_available, row, run_python

MODELS = {
    "RandomForest(100 trees)": "RandomForestClassifier(n_estimators=100, random_state=0)",
    "LogisticRegression": "LogisticRegression(max_iter=1000)",
}
# MLflow's save runs a requirement-inference subprocess (~10 s); one timed save per model is enough
MLFLOW_SAVES = 1

SETUP = (
    PER_CALL_SOURCE
    + """
import json, os, shutil, tempfile, time, warnings, logging
import numpy as np, pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
warnings.simplefilter("ignore")
logging.disable(logging.WARNING)
rng = np.random.default_rng(0)
X = pd.DataFrame(rng.normal(size=(500, 20)), columns=[f"f{i}" for i in range(20)])
y = (X["f0"] + X["f1"] > 0).astype(int)
MODELS = MODELS_LITERAL
root = tempfile.mkdtemp()
out = {}
counter = iter(range(10**6))
for name, expr in MODELS.items():
    est = eval(expr).fit(X, y)
    def save():
        path = os.path.join(root, f"m{next(counter)}")
        SAVE
        return path
    timings = [time.perf_counter()]
    paths = []
    for _ in range(REPEAT):
        paths.append(save())
        timings.append(time.perf_counter())
    seconds = min(b - a for a, b in zip(timings, timings[1:]))
    with open(os.path.join(paths[-1], "requirements.txt")) as fh:
        requirements = fh.read().split()
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(paths[-1]) for f in fs)
    EXTRA
    out[name] = {"seconds": seconds, "requirements": requirements, "bytes": size, "raw": raw}
shutil.rmtree(root)
print(json.dumps(out))
"""
)

FLAVORKIT = {
    "SAVE": "flavorkit.save_model(est, path, input_example=X.head(5))",
    "REPEAT": "3",
    "EXTRA": (
        "import skops.io\n"
        "    raw_file = os.path.join(root, 'raw.skops')\n"
        "    raw = per_call(lambda: skops.io.dump(est, raw_file), budget=1.0, repeat=3)"
    ),
}
MLFLOW = {
    # MLflow's skops save refuses a forest unless its tree type is declared trusted
    "SAVE": (
        "mlflow.sklearn.save_model(est, path, input_example=X.head(5), "
        "skops_trusted_types=['sklearn.tree._tree.Tree'] if 'Forest' in name else None)"
    ),
    "REPEAT": str(MLFLOW_SAVES),
    "EXTRA": "raw = None",
}


def _script(parts: dict[str, str], header: str) -> str:
    code = SETUP.replace("MODELS_LITERAL", repr(MODELS))
    for key, value in parts.items():
        code = code.replace(key, value)
    return header + code


def requirements_table(ours: dict[str, Any], theirs: dict[str, Any] | None) -> str:
    """The requirements each tool wrote, per model, as two aligned columns."""
    lines = []
    for name in MODELS:
        left = ours[name]["requirements"]
        right = theirs[name]["requirements"] if theirs else ["(MLflow not installed)"]
        width = max(len(x) for x in [*left, "flavorkit"]) + 4
        lines += [f"{name}:", f"  {'flavorkit'.ljust(width)}mlflow"]
        for i in range(max(len(left), len(right))):
            a = left[i] if i < len(left) else ""
            b = right[i] if i < len(right) else ""
            lines.append(f"  {a.ljust(width)}{b}")
    return "\n".join(lines)


def run() -> list[dict[str, Any]]:
    """Measure, print the requirement lists, and return the rows."""
    ours = run_python(_script(FLAVORKIT, "import flavorkit\n"), python=sys.executable)
    theirs = None
    if mlflow_available():
        theirs = run_python(_script(MLFLOW, "import mlflow.sklearn\n"), python=MLFLOW_PYTHON)
    print("\nrequirements.txt written by each tool\n" + requirements_table(ours, theirs) + "\n")
    rows = []
    for name in MODELS:
        mine, other = ours[name], (theirs or {}).get(name)
        rows.append(
            row(
                "sklearn",
                f"save_model, {name}",
                "s",
                mine["seconds"],
                other["seconds"] if other else None,
                raw=mine["raw"],
                note="mlflow: default requirement inference; raw = skops.io.dump",
            )
        )
        rows.append(
            row(
                "sklearn",
                f"requirements written, {name}",
                "lines",
                float(len(mine["requirements"])),
                float(len(other["requirements"])) if other else None,
                note="the lists are printed above the table",
            )
        )
        rows.append(
            row(
                "sklearn",
                f"folder size, {name}",
                "KiB",
                mine["bytes"] / 1024,
                other["bytes"] / 1024 if other else None,
            )
        )
    return rows


if __name__ == "__main__":
    from _common import print_table

    print_table(run())
