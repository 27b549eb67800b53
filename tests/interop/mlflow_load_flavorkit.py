"""Run by MLflow's interpreter: load folders flavorkit saved, with MLflow's own API.

Usage: ``python mlflow_load_flavorkit.py JOB.pkl OUT.pkl``. JOB is a list of
``{"name", "path", "data", "params", "checks"}``; for each folder and check
this writes ``{"ok": True, "value": ...}`` or ``{"ok": False, "error": <type>,
"message": <text>}`` under ``OUT[name][check]``. Checks:

- ``pyfunc``: ``mlflow.pyfunc.load_model(path).predict(data, params=params)``
- ``pyfunc_unsafe``: the same with ``FLAVORKIT_ALLOW_UNSAFE=1`` set while loading
- ``sklearn`` / ``pytorch``: the flavor's own ``load_model`` and a forward pass
- ``manifest``: what MLflow reads from ``MLmodel``: the signature re-serialized,
  the input example, and the schemas the pyfunc model reports
- ``serving``: ``validate_serving_input`` with ``serving_input_example.json``
"""

from __future__ import annotations

import json
import os
import pickle
import sys
import traceback
from pathlib import Path
from typing import Any


def _pyfunc(entry: dict[str, Any]) -> Any:
    import mlflow.pyfunc

    model = mlflow.pyfunc.load_model(entry["path"])
    return model.predict(entry["data"], params=entry.get("params"))


def _pyfunc_unsafe(entry: dict[str, Any]) -> Any:
    os.environ["FLAVORKIT_ALLOW_UNSAFE"] = "1"
    try:
        return _pyfunc(entry)
    finally:
        del os.environ["FLAVORKIT_ALLOW_UNSAFE"]


def _sklearn(entry: dict[str, Any]) -> Any:
    import mlflow.sklearn

    estimator = mlflow.sklearn.load_model(entry["path"])
    return {"type": type(estimator).__name__, "predict": estimator.predict(entry["data"])}


def _pytorch(entry: dict[str, Any]) -> Any:
    import mlflow.pytorch
    import torch

    module = mlflow.pytorch.load_model(entry["path"])
    with torch.no_grad():
        return module(torch.from_numpy(entry["data"])).numpy()


def _manifest(entry: dict[str, Any]) -> Any:
    import mlflow.pyfunc
    from mlflow.models import Model

    path = entry["path"]
    model = Model.load(os.path.join(path, "MLmodel"))
    signature = model.signature
    pyfunc = mlflow.pyfunc.load_model(path)
    return {
        "signature": signature.to_dict() if signature is not None else None,
        "input_schema": pyfunc.metadata.get_input_schema().to_json()
        if pyfunc.metadata.get_input_schema() is not None
        else None,
        "params_schema": pyfunc.metadata.get_params_schema().to_json()
        if pyfunc.metadata.get_params_schema() is not None
        else None,
        "example_info": model.saved_input_example_info,
        "input_example": model.load_input_example(path),
        "input_example_params": model.load_input_example_params(path),
        "pyfunc_input_example": pyfunc.input_example,
        "flavors": sorted(model.flavors),
    }


def _serving(entry: dict[str, Any]) -> Any:
    from mlflow.models import validate_serving_input

    payload = (Path(entry["path"]) / "serving_input_example.json").read_text(encoding="utf-8")
    return validate_serving_input(entry["path"], payload)


CHECKS = {
    "pyfunc": _pyfunc,
    "pyfunc_unsafe": _pyfunc_unsafe,
    "sklearn": _sklearn,
    "pytorch": _pytorch,
    "manifest": _manifest,
    "serving": _serving,
}


def main(job_file: str, out_file: str) -> int:
    with open(job_file, "rb") as fh:
        job = pickle.load(fh)  # written by the interop tests
    results: dict[str, dict[str, Any]] = {}
    for entry in job:
        results[entry["name"]] = out = {}
        for check in entry["checks"]:
            try:
                out[check] = {"ok": True, "value": CHECKS[check](entry)}
            except Exception as exc:
                out[check] = {
                    "ok": False,
                    "error": type(exc).__name__,
                    "message": str(exc)[:2000],
                    "traceback": traceback.format_exc()[-3000:],
                }
    with open(out_file, "wb") as fh:
        pickle.dump(results, fh)
    print(json.dumps({name: sorted(r) for name, r in results.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
