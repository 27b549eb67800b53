"""Cold start: a new process, the model loaded, the first prediction made.

Each figure is a whole process, measured from its start until it reports
its first prediction: the wall time seen from the parent, and the CPU
time (user + system) and peak resident memory the child reads from
``resource.getrusage`` (the CPU time varies less than the wall time on a
busy machine). Every variant runs ``COLDSTART_RUNS`` times (default 5,
after one unrecorded warm-up round), interleaved round by round so the
variants share the machine's noise; the medians are reported, with the
ratio to raw in the note. Flavors and references:

- scikit-learn: the quick start's ``LogisticRegression`` on iris.
  flavorkit: ``flavorkit.load_model`` of its folder (skops format);
  raw: ``joblib.load`` of the same estimator and ``predict``;
  MLflow: ``mlflow.pyfunc.load_model`` of ``mlflow.sklearn.save_model``'s folder.
- PyTorch: the MLP of ``bench_torch`` (64 -> 256 -> 256 -> 10).
  flavorkit: its default ``export`` format; raw: ``torch.export.load`` of
  the same ``.pt2`` file and a call of its module; MLflow: its default
  ``mlflow.pytorch`` folder through ``mlflow.pyfunc.load_model``.
- custom: a ``PythonModel`` whose ``predict`` scores a two-column
  DataFrame. raw: importing the scoring class and calling it on the same
  DataFrame; MLflow: the same class as an ``mlflow.pyfunc.PythonModel``.

Every child builds its input (a small DataFrame or array) the same way.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from _common import MLFLOW_PYTHON, ROOT, mlflow_available, row, run_python

RUNS = int(os.environ.get("COLDSTART_RUNS", "5"))

IRIS_ROWS = (
    "pd.DataFrame([[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3], [7.7, 3.0, 6.1, 2.3]], "
    "columns=['sepal length (cm)', 'sepal width (cm)', 'petal length (cm)', "
    "'petal width (cm)'])"
)
MLP_INPUT = "np.linspace(-1.0, 1.0, 4 * 64, dtype='float32').reshape(4, 64)"
CUSTOM_ROWS = "pd.DataFrame({'a': [1.0, 2.0, 3.0], 'b': [0.5, 0.25, 0.125]})"

MLP = """
import torch
torch.manual_seed(0)
net = torch.nn.Sequential(
    torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256), torch.nn.ReLU(),
    torch.nn.Linear(256, 10),
).eval()
"""

# the custom model: a plain scoring class (the raw reference) and its two wrappers
CUSTOM_MODULES = {
    "coldstart_scorer.py": '''
        class Scorer:
            """Scores a DataFrame with columns a and b."""

            def predict(self, frame):
                return frame["a"] * 2.0 + frame["b"]
    ''',
    "coldstart_flavorkit.py": """
        import flavorkit
        from coldstart_scorer import Scorer

        class ScorerModel(flavorkit.PythonModel):
            def predict(self, context, model_input, params=None):
                return Scorer().predict(model_input)
    """,
    "coldstart_mlflow.py": """
        import mlflow.pyfunc
        from coldstart_scorer import Scorer

        class ScorerModel(mlflow.pyfunc.PythonModel):
            def predict(self, context, model_input, params=None):
                return Scorer().predict(model_input)
    """,
}

SAVE_FLAVORKIT = f"""
import glob, json, os, shutil, warnings, logging
warnings.simplefilter("ignore")
logging.disable(logging.WARNING)
import joblib, numpy as np, pandas as pd
import flavorkit
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
root = ROOT_DIR
iris = load_iris(as_frame=True)
estimator = LogisticRegression(max_iter=500).fit(iris.data, iris.target)
flavorkit.save_model(estimator, os.path.join(root, "sklearn_flavorkit"),
                     input_example=iris.data.head(3))
joblib.dump(estimator, os.path.join(root, "sklearn_raw.joblib"))
{MLP}
example = np.random.default_rng(0).normal(size=(4, 64)).astype("float32")
flavorkit.save_model(net, os.path.join(root, "torch_flavorkit"), input_example=example)
(pt2,) = glob.glob(os.path.join(root, "torch_flavorkit", "**", "*.pt2"), recursive=True)
shutil.copy(pt2, os.path.join(root, "torch_raw.pt2"))
from coldstart_flavorkit import ScorerModel
flavorkit.save_model(ScorerModel(), os.path.join(root, "custom_flavorkit"),
                     input_example={CUSTOM_ROWS})
print(json.dumps("ok"))
"""

SAVE_MLFLOW = f"""
import json, os, warnings, logging
warnings.simplefilter("ignore")
logging.disable(logging.WARNING)
import joblib, numpy as np, pandas as pd, sklearn
import mlflow.pyfunc, mlflow.pytorch, mlflow.sklearn
root = ROOT_DIR
estimator = joblib.load(os.path.join(root, "sklearn_raw.joblib"))
mlflow.sklearn.save_model(estimator, os.path.join(root, "sklearn_mlflow"),
                          input_example={IRIS_ROWS},
                          pip_requirements=["scikit-learn==" + sklearn.__version__])
{MLP}
example = np.random.default_rng(0).normal(size=(4, 64)).astype("float32")
mlflow.pytorch.save_model(net, os.path.join(root, "torch_mlflow"), input_example=example,
                          pip_requirements=["torch==" + torch.__version__.split("+")[0]])
from coldstart_mlflow import ScorerModel
mlflow.pyfunc.save_model(os.path.join(root, "custom_mlflow"), python_model=ScorerModel(),
                         input_example={CUSTOM_ROWS}, pip_requirements=["pandas"])
print(json.dumps("ok"))
"""

# each child: imports, load, first prediction, then one line with its peak memory
REPORT = """
import json, resource
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"rss_kib": usage.ru_maxrss, "cpu": usage.ru_utime + usage.ru_stime,
                  "rows": len(prediction)}), flush=True)
"""

CHILDREN: dict[str, dict[str, tuple[str, str]]] = {
    "sklearn": {
        "flavorkit": (
            "main",
            f"import flavorkit, pandas as pd\n"
            f"model = flavorkit.load_model(ROOT_DIR + '/sklearn_flavorkit')\n"
            f"prediction = model.predict({IRIS_ROWS})\n",
        ),
        "raw": (
            "main",
            f"import joblib, pandas as pd\n"
            f"model = joblib.load(ROOT_DIR + '/sklearn_raw.joblib')\n"
            f"prediction = model.predict({IRIS_ROWS})\n",
        ),
        "mlflow": (
            "mlflow",
            f"import mlflow.pyfunc, pandas as pd\n"
            f"model = mlflow.pyfunc.load_model(ROOT_DIR + '/sklearn_mlflow')\n"
            f"prediction = model.predict({IRIS_ROWS})\n",
        ),
    },
    "pytorch": {
        "flavorkit": (
            "main",
            f"import flavorkit, numpy as np\n"
            f"model = flavorkit.load_model(ROOT_DIR + '/torch_flavorkit')\n"
            f"prediction = model.predict({MLP_INPUT})\n",
        ),
        "raw": (
            "main",
            f"import torch, numpy as np\n"
            f"module = torch.export.load(ROOT_DIR + '/torch_raw.pt2').module()\n"
            f"with torch.inference_mode():\n"
            f"    prediction = module(torch.from_numpy({MLP_INPUT})).numpy()\n",
        ),
        "mlflow": (
            "mlflow",
            f"import mlflow.pyfunc, numpy as np\n"
            f"model = mlflow.pyfunc.load_model(ROOT_DIR + '/torch_mlflow')\n"
            f"prediction = model.predict({MLP_INPUT})\n",
        ),
    },
    "custom": {
        "flavorkit": (
            "main",
            f"import flavorkit, pandas as pd\n"
            f"model = flavorkit.load_model(ROOT_DIR + '/custom_flavorkit')\n"
            f"prediction = model.predict({CUSTOM_ROWS})\n",
        ),
        "raw": (
            "main",
            f"import pandas as pd\n"
            f"from coldstart_scorer import Scorer\n"
            f"prediction = Scorer().predict({CUSTOM_ROWS})\n",
        ),
        "mlflow": (
            "mlflow",
            f"import mlflow.pyfunc, pandas as pd\n"
            f"model = mlflow.pyfunc.load_model(ROOT_DIR + '/custom_mlflow')\n"
            f"prediction = model.predict({CUSTOM_ROWS})\n",
        ),
    },
}


def _python(venv: str) -> str:
    return str(MLFLOW_PYTHON) if venv == "mlflow" else sys.executable


def cold_start(python: str, code: str, env: dict[str, str]) -> tuple[float, float, float]:
    """One new process, from its start to its first prediction: wall and CPU seconds, peak MiB."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [python, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    seconds = time.perf_counter() - started
    _, err = child.communicate()
    if child.returncode or not line:
        raise RuntimeError(f"cold-start child {python} failed:\n{err.decode()[-3000:]}")
    report = json.loads(line)
    return seconds, report["cpu"], report["rss_kib"] / 1024


def measure(root: Path, env: dict[str, str], runs: int = RUNS) -> dict[str, dict[str, Any]]:
    """Median seconds and MiB per flavor and variant, over ``runs`` interleaved rounds."""
    variants = [
        (flavor, name, _python(venv), code.replace("ROOT_DIR", repr(str(root))) + REPORT)
        for flavor, by_name in CHILDREN.items()
        for name, (venv, code) in by_name.items()
        if venv == "main" or mlflow_available()
    ]
    samples: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for round_ in range(runs + 1):  # round 0 warms the page cache and bytecode caches
        for flavor, name, python, code in variants:
            figure = cold_start(python, code, env)
            if round_:
                samples.setdefault((flavor, name), []).append(figure)
    out: dict[str, dict[str, Any]] = {}
    for (flavor, name), figures in samples.items():
        out.setdefault(flavor, {})[name] = {
            "seconds": statistics.median(f[0] for f in figures),
            "cpu": statistics.median(f[1] for f in figures),
            "mib": statistics.median(f[2] for f in figures),
        }
    return out


def _prepare(root: Path) -> dict[str, str]:
    """Write the models and the custom model's modules under ``root``; the children's env."""
    code = root / "code"
    code.mkdir()
    for name, source in CUSTOM_MODULES.items():
        (code / name).write_text(textwrap.dedent(source))
    path = os.pathsep.join(p for p in (str(code), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path, "PYTHONWARNINGS": "ignore"}
    run_python(SAVE_FLAVORKIT.replace("ROOT_DIR", repr(str(root))), env=env)
    if mlflow_available():
        run_python(SAVE_MLFLOW.replace("ROOT_DIR", repr(str(root))), python=MLFLOW_PYTHON, env=env)
    return env


def _note(fk: float, raw: float, extra: str) -> str:
    return f"{fk / raw:.2f}x raw; {extra}"


NOTES = {
    "sklearn": "quick start LogisticRegression; skops vs joblib.load",
    "pytorch": "MLP, export format vs torch.export.load",
    "custom": "PythonModel vs calling the class",
}


def run() -> list[dict[str, Any]]:
    """Measure and return the rows."""
    root = Path(tempfile.mkdtemp(prefix="flavorkit-coldstart-"))
    try:
        results = measure(root, _prepare(root))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    rows = []
    for flavor, figures in results.items():
        fk, raw, ml = figures["flavorkit"], figures["raw"], figures.get("mlflow")
        rows.append(
            row(
                "coldstart",
                f"{flavor}: new process to first prediction",
                "s",
                fk["seconds"],
                ml["seconds"] if ml else None,
                raw=raw["seconds"],
                note=_note(fk["seconds"], raw["seconds"], NOTES[flavor]),
            )
        )
        rows.append(
            row(
                "coldstart",
                f"{flavor}: CPU time of that process",
                "s",
                fk["cpu"],
                ml["cpu"] if ml else None,
                raw=raw["cpu"],
                note=_note(
                    fk["cpu"], raw["cpu"], "user + system, less sensitive to a busy machine"
                ),
            )
        )
        rows.append(
            row(
                "coldstart",
                f"{flavor}: peak memory of that process",
                "MiB",
                fk["mib"],
                ml["mib"] if ml else None,
                raw=raw["mib"],
                note=_note(fk["mib"], raw["mib"], f"median of {RUNS} processes"),
            )
        )
    return rows


if __name__ == "__main__":
    from _common import print_table

    print_table(run())
