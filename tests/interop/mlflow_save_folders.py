"""Run by MLflow's interpreter: save the folders the MLflow -> flavorkit tests load.

Usage: ``python mlflow_save_folders.py OUTDIR``. Writes one folder per entry
below into OUTDIR and ``OUTDIR/saved.pkl``: ``{name: {"path", "data",
"params", "prediction", "example", "example_params", "example_prediction"}}``
with MLflow's own predictions (``mlflow.pyfunc.load_model(path).predict``).
"""

from __future__ import annotations

import json
import pickle
import shutil
import sys
from pathlib import Path
from typing import Any

import cloudpickle
import mlflow.pyfunc
import mlflow.pytorch
import mlflow.sklearn
import sklearn
import torch
import yaml
from interop_models import iris_frame, logistic_regression, make_mlp, scaled_pipeline, tensor_batch
from mlflow.models import Model


class Doubler(mlflow.pyfunc.PythonModel):
    """An MLflow custom model defined in __main__, so cloudpickle stores it by value."""

    # no annotations on purpose: MLflow reads predict's type hints as a signature
    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        return model_input * (params or {}).get("scale", 2.0)


def _legacy_copy(src: Path, dest: Path) -> None:
    """Rewrite an MLflow sklearn cloudpickle folder into the 1.x layout (``data: model.pkl``)."""
    shutil.copytree(src, dest)
    manifest = yaml.safe_load((dest / "MLmodel").read_text())
    manifest.pop("mlflow_version", None)
    manifest.pop("model_id", None)
    manifest.pop("prompts", None)
    manifest["flavors"]["sklearn"] = {
        "pickled_model": "model.pkl",
        "sklearn_version": sklearn.__version__,
    }
    manifest["flavors"]["python_function"] = {
        "loader_module": "mlflow.sklearn",
        "data": "model.pkl",
        "env": "conda.yaml",
        "python_version": manifest["flavors"]["python_function"]["python_version"],
    }
    (dest / "MLmodel").write_text(yaml.safe_dump(manifest, default_flow_style=False))


def main(outdir: str) -> int:
    out = Path(outdir)
    frame = iris_frame()[0]
    sk_reqs = [f"scikit-learn=={sklearn.__version__}", f"cloudpickle=={cloudpickle.__version__}"]
    torch_reqs = [f"torch=={torch.__version__.split('+')[0]}"]
    entries: dict[str, dict[str, Any]] = {
        # the one save that runs MLflow's own requirement inference, for realistic environment files
        "sklearn_skops": {"data": frame.head(12)},
        "sklearn_cloudpickle": {"data": frame.head(12)},
        "pytorch_pt2": {"data": tensor_batch(9)},
        "pytorch_pickle": {"data": tensor_batch(9)},
        "pyfunc_python_model": {"data": frame.head(12), "params": {"scale": 3.0}},
        "sklearn_legacy_1x": {"data": frame.head(12)},
    }
    mlflow.sklearn.save_model(
        logistic_regression(), out / "sklearn_skops", input_example=frame.head(3)
    )
    mlflow.sklearn.save_model(
        scaled_pipeline(),
        out / "sklearn_cloudpickle",
        serialization_format="cloudpickle",
        input_example=frame.head(3),
        pip_requirements=sk_reqs,
    )
    mlflow.pytorch.save_model(
        make_mlp(), out / "pytorch_pt2", input_example=tensor_batch(3), pip_requirements=torch_reqs
    )
    mlflow.pytorch.save_model(
        make_mlp(),
        out / "pytorch_pickle",
        serialization_format="pickle",
        input_example=tensor_batch(3),
        pip_requirements=torch_reqs,
    )
    mlflow.pyfunc.save_model(
        out / "pyfunc_python_model",
        python_model=Doubler(),
        input_example=(frame.head(3), {"scale": 2.0}),
        pip_requirements=[],
    )
    _legacy_copy(out / "sklearn_cloudpickle", out / "sklearn_legacy_1x")

    for name, entry in entries.items():
        path = out / name
        model = mlflow.pyfunc.load_model(str(path))
        manifest = Model.load(str(path / "MLmodel"))
        entry["path"] = str(path)
        entry["prediction"] = model.predict(entry["data"], params=entry.get("params"))
        entry["example"] = manifest.load_input_example(str(path))
        entry["example_params"] = manifest.load_input_example_params(str(path))
        if entry["example"] is not None:
            entry["example_prediction"] = model.predict(
                entry["example"], params=entry["example_params"]
            )
    with open(out / "saved.pkl", "wb") as fh:
        pickle.dump(entries, fh)
    print(json.dumps(sorted(entries)))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
