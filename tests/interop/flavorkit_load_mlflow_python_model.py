"""Run by MLflow's interpreter: load an MLflow custom-model folder with flavorkit.

Usage: ``python flavorkit_load_mlflow_python_model.py SAVED.pkl OUT.pkl``.
An MLflow ``PythonModel`` is a cloudpickle of a subclass of MLflow's own
class, so unpickling it needs mlflow importable (it is in the folder's
requirements.txt); flavorkit does the loading and predicting here, MLflow
only provides the base class. Writes ``{"refused", "prediction",
"example_prediction", "bad_param", "signature", "native_type"}`` to OUT.
"""

from __future__ import annotations

import pickle
import sys
from typing import Any

import flavorkit
from flavorkit.exceptions import SchemaEnforcementError, UnsafeFormatError


def main(saved_file: str, out_file: str) -> int:
    with open(saved_file, "rb") as fh:
        entry = pickle.load(fh)["pyfunc_python_model"]  # written by mlflow_save_folders.py
    path = entry["path"]
    out: dict[str, Any] = {}
    try:
        flavorkit.load_model(path)
        out["refused"] = None
    except UnsafeFormatError as exc:
        out["refused"] = str(exc)
    model = flavorkit.load_model(path, allow_unsafe=True)
    out["prediction"] = model.predict(entry["data"], params=entry["params"])
    out["example"] = model.input_example
    out["example_params"] = model.input_example_params
    out["example_prediction"] = model.predict(
        model.input_example, params=model.input_example_params
    )
    try:
        model.predict(entry["data"], params={"scale": "three"})
        out["bad_param"] = None
    except SchemaEnforcementError as exc:
        out["bad_param"] = {"field": exc.field, "message": str(exc)}
    out["signature"] = model.signature.to_dict() if model.signature is not None else None
    out["native_type"] = type(flavorkit.load_native(path, allow_unsafe=True)).__name__
    with open(out_file, "wb") as fh:
        pickle.dump(out, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
