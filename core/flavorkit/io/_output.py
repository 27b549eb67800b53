"""Predictions out: as JSON (MLflow's response body, JSON files) or as a table (CSV, Parquet)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from flavorkit.io._json import dump_json, to_jsonable

if TYPE_CHECKING:
    import pandas as pd


def predictions_jsonable(result: Any) -> Any:
    """Predictions as plain JSON data, as MLflow's server writes them.

    DataFrame -> list of records; Series -> records of a one-column frame;
    ndarray -> nested lists; dicts and lists recursively; NaN -> null,
    bytes -> base64, datetimes -> ISO text.
    """
    pd = sys.modules.get("pandas")
    if pd is not None:
        if isinstance(result, pd.Series):
            result = result.to_frame(name=result.name if result.name is not None else 0)
        if isinstance(result, pd.DataFrame):
            result = result.to_dict(orient="records")
    return to_jsonable(result)


def encode_predictions(result: Any, *, unwrap: bool = False) -> bytes:
    """The response body: ``{"predictions": ...}`` (or the bare value) as UTF-8 JSON."""
    value = predictions_jsonable(result)
    document = value if unwrap else {"predictions": value}
    return dump_json(document)


def predictions_frame(result: Any) -> pd.DataFrame:
    """Predictions as a table for CSV/Parquet: one column ``prediction`` or one per output."""
    import numpy as np
    import pandas as pd

    if isinstance(result, pd.DataFrame):
        return result.reset_index(drop=True)
    if isinstance(result, pd.Series):
        return result.reset_index(drop=True).to_frame(
            name=result.name if result.name is not None else "prediction"
        )
    if isinstance(result, dict):
        return pd.DataFrame(
            {str(k): list(np.asarray(v)) if np.ndim(v) > 1 else v for k, v in result.items()}
        )
    arr = np.asarray(result)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim == 1:
        return pd.DataFrame({"prediction": arr})
    if arr.ndim == 2:
        return pd.DataFrame(arr, columns=[f"prediction_{i}" for i in range(arr.shape[1])])
    return pd.DataFrame({"prediction": list(arr)})
