"""PyTorch: pyfunc predict latency, and load time per format.

The model is an MLP (64 -> 256 -> 256 -> 10, float32). Predict latency at 1
and 1,024 rows: flavorkit's pyfunc (``export`` format, the default with an
input example) beside ``mlflow.pytorch``'s pyfunc (``pt2``, its default)
and beside calling the module directly (raw: numpy in, numpy out, under
``torch.inference_mode``), and flavorkit's pyfunc over the ``state_dict``
format (the eager module again: exported programs run slower per call than
the module they came from). Load time: ``flavorkit.load_model`` of the
``export`` and ``state_dict`` formats, with MLflow's pt2 load for reference.
Each tool runs in its own environment with the same torch and thread count.
"""

from __future__ import annotations

import sys
from typing import Any

import flavorkit_torch
from _common import MLFLOW_PYTHON, PER_CALL_SOURCE, ROOT, mlflow_available, row, run_python

BATCHES = (1, 1024)
THREADS = 1  # one intra-op thread in every process, so the figures do not fight over the cores


@flavorkit_torch.factory
def make_mlp() -> Any:
    """The benchmark's MLP, fixed weights; the ``state_dict`` factory ``bench_torch:make_mlp``."""
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(64, 256),
        torch.nn.ReLU(),
        torch.nn.Linear(256, 256),
        torch.nn.ReLU(),
        torch.nn.Linear(256, 10),
    ).eval()


SETUP = (
    PER_CALL_SOURCE
    + f"""
import json, os, sys, tempfile, warnings, logging
sys.path.insert(0, {str(ROOT / "benchmarks")!r})
import numpy as np, torch
warnings.simplefilter("ignore")
logging.disable(logging.WARNING)
torch.set_num_threads({THREADS})
from bench_torch import make_mlp
net = make_mlp()
rng = np.random.default_rng(0)
example = rng.normal(size=(4, 64)).astype("float32")
root = tempfile.mkdtemp()
out = {{"predict": {{}}, "load": {{}}}}
"""
)

PREDICT = """
for n in BATCHES:
    x = rng.normal(size=(n, 64)).astype("float32")
    def direct():
        with torch.inference_mode():
            return net(torch.from_numpy(x)).numpy()
    out["predict"][n] = {"raw": per_call(direct)}
    for name, model in models.items():
        out["predict"][n][name] = per_call(lambda: model.predict(x))
print(json.dumps(out))
"""

FLAVORKIT = """
import flavorkit
export = os.path.join(root, "export")
state = os.path.join(root, "state_dict")
flavorkit.save_model(net, export, input_example=example)
flavorkit.save_model(net, state, input_example=example, serialization_format="state_dict",
                     factory="bench_torch:make_mlp")
out["load"]["export"] = per_call(lambda: flavorkit.load_model(export), budget=2.0, repeat=3)
out["load"]["state_dict"] = per_call(lambda: flavorkit.load_model(state), budget=2.0, repeat=3)
models = {"export": flavorkit.load_model(export), "state_dict": flavorkit.load_model(state)}
"""

MLFLOW = """
import mlflow.pyfunc, mlflow.pytorch
path = os.path.join(root, "pt2")
mlflow.pytorch.save_model(net, path, input_example=example,
                          pip_requirements=["torch==" + torch.__version__.split("+")[0]])
out["load"]["pt2"] = per_call(lambda: mlflow.pyfunc.load_model(path), budget=2.0, repeat=3)
models = {"pt2": mlflow.pyfunc.load_model(path)}
"""


def _script(body: str) -> str:
    return SETUP + body + PREDICT.replace("BATCHES", repr(BATCHES))


def run() -> list[dict[str, Any]]:
    """Measure and return the rows."""
    ours = run_python(_script(FLAVORKIT), python=sys.executable)
    theirs = run_python(_script(MLFLOW), python=MLFLOW_PYTHON) if mlflow_available() else None
    rows = []
    for n in BATCHES:
        mine = ours["predict"][str(n)]
        other = theirs["predict"][str(n)]["pt2"] * 1e6 if theirs else None
        rows.append(
            row(
                "torch",
                f"pyfunc predict, MLP, batch {n:,}",
                "us",
                mine["export"] * 1e6,
                other,
                raw=mine["raw"] * 1e6,
                note="flavorkit: export format; mlflow: pt2; raw = the eager module itself",
            )
        )
        rows.append(
            row(
                "torch",
                f"pyfunc predict, state_dict format, batch {n:,}",
                "us",
                mine["state_dict"] * 1e6,
                other,
                raw=mine["raw"] * 1e6,
                note="the eager module behind pyfunc; mlflow column: its pt2, for reference",
            )
        )
    pt2 = theirs["load"]["pt2"] * 1e3 if theirs else None
    rows.append(
        row(
            "torch",
            "load_model, export format",
            "ms",
            ours["load"]["export"] * 1e3,
            pt2,
            note="mlflow column: mlflow.pyfunc.load_model of its pt2 folder",
        )
    )
    rows.append(
        row(
            "torch",
            "load_model, state_dict format",
            "ms",
            ours["load"]["state_dict"] * 1e3,
            pt2,
            note="safetensors weights + factory; mlflow column: its pt2 load, for reference",
        )
    )
    return rows


if __name__ == "__main__":
    from _common import print_table

    print_table(run())
