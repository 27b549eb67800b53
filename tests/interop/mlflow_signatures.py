"""Run by MLflow's interpreter: MLflow's verdict on every signature case.

Usage: ``python mlflow_signatures.py CASES.pkl OUT.pkl``. CASES is a list of
cases (see ``interop_cases``); OUT maps case id -> verdict. Enforcement is
MLflow's ``PyFuncModel.predict`` path: ``_enforce_schema`` for inputs and
``_enforce_params_schema`` for params; inference is ``infer_signature``.
"""

from __future__ import annotations

import json
import logging
import pickle
import sys
from typing import Any

from interop_cases import describe, summarize_params, verdict
from mlflow.models import infer_signature
from mlflow.models.utils import _enforce_params_schema, _enforce_schema
from mlflow.types import ParamSchema, Schema


def _infer(case: dict[str, Any]) -> Any:
    return infer_signature(**{case["part"]: case["data"]}).to_dict()


def evaluate(case: dict[str, Any]) -> dict[str, Any]:
    kind = case["kind"]
    if kind in ("columns", "tensors"):
        schema = Schema.from_json(case["schema"])
        return verdict(lambda: _enforce_schema(case["data"], schema), describe)
    if kind == "params":
        schema = ParamSchema.from_json(case["schema"])
        return verdict(lambda: _enforce_params_schema(case["params"], schema), summarize_params)
    if kind == "infer":
        return verdict(lambda: _infer(case), lambda d: d)
    raise ValueError(f"unknown case kind {kind!r}")


def main(cases_file: str, out_file: str) -> int:
    # MLflow logs a warning per dropped column or unknown param; thousands of lines say nothing here
    logging.disable(logging.WARNING)
    with open(cases_file, "rb") as fh:
        cases = pickle.load(fh)  # written by the interop tests
    results = {case["id"]: evaluate(case) for case in cases}
    with open(out_file, "wb") as fh:
        pickle.dump(results, fh)
    print(json.dumps({"cases": len(results), "accepted": sum(r["ok"] for r in results.values())}))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
