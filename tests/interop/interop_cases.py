"""What both environments do with one signature case, written once for both.

A case is a dict with ``id``, ``kind`` and the data: for ``columns`` and
``tensors`` a ``schema`` (JSON text) and ``data``; for ``params`` a
``schema`` and ``params``; for ``infer`` a ``part`` (``model_input``,
``model_output`` or ``params``) and ``data``. The interop tests build cases
in flavorkit's environment and pickle them; ``mlflow_signatures.py`` runs
them through MLflow. Each tool's verdict is ``{"ok": True, "result": ...}``
with :func:`describe` of what enforcement returned (or the signature JSON
for ``infer``), or ``{"ok": False, "error": <type>, "message": <text>}``.
"""

from __future__ import annotations

import datetime
import warnings
from collections.abc import Callable
from typing import Any


def describe(value: Any) -> Any:
    """What enforcement returned, reduced to types and dtypes (values are the same objects)."""
    import numpy as np
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return {
            "DataFrame": [[str(c), str(t)] for c, t in value.dtypes.items()],
            "rows": len(value),
        }
    if isinstance(value, np.ndarray):
        return {"ndarray": str(value.dtype), "shape": list(value.shape)}
    if isinstance(value, dict):
        return {"dict": {str(k): describe(v) for k, v in value.items()}}
    return {"other": type(value).__name__}


def describe_param(value: Any) -> Any:
    """A validated param value: its Python type and value (lists element by element)."""
    if isinstance(value, list):
        return ["list", [describe_param(v) for v in value]]
    if isinstance(value, (datetime.date, datetime.datetime)):
        return [type(value).__name__, value.isoformat()]
    if isinstance(value, float) and value != value:
        return ["float", "nan"]
    return [type(value).__name__, repr(value)]


def verdict(run: Callable[[], Any], summarize: Callable[[Any], Any]) -> dict[str, Any]:
    """Run one enforcement or inference call and summarize its outcome; never raises."""
    try:
        with warnings.catch_warnings():
            # both tools warn about dropped columns and unknown params; the verdict is what counts
            warnings.simplefilter("ignore")
            result = run()
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__, "message": str(exc)[:500]}
    try:
        return {"ok": True, "result": summarize(result)}
    except Exception as exc:  # a result we cannot describe is a finding too
        return {"ok": False, "error": f"describe:{type(exc).__name__}", "message": str(exc)[:500]}


def summarize_params(result: Any) -> Any:
    """``describe_param`` for each validated param, by name."""
    return {str(k): describe_param(v) for k, v in (result or {}).items()}
