"""Input examples: ``input_example.json`` and ``serving_input_example.json`` (FORMAT.md §6).

Files are strict JSON: NaN and infinities become ``null``, numpy scalars
become Python values, bytes become base64 and datetimes ISO strings.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flavorkit.exceptions import ManifestError

if TYPE_CHECKING:
    from flavorkit._schema import Schema

EXAMPLE_FILE = "input_example.json"
SERVING_FILE = "serving_input_example.json"
_CHAT_KEYS = ("messages", "prompt", "input")


def to_jsonable(value: Any) -> Any:
    """Convert ``value`` to plain JSON data (strict: no NaN)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (bytes, bytearray)):
        return base64.encodebytes(bytes(value)).decode("ascii")
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(value, np.ndarray):
            return to_jsonable(value.tolist())
        if isinstance(value, np.datetime64):
            return None if np.isnat(value) else str(value)
        if isinstance(value, np.generic):
            return to_jsonable(value.item())
    pd = sys.modules.get("pandas")
    if pd is not None:
        if value is pd.NaT or value is pd.NA:
            return None
        if isinstance(value, pd.Timestamp):
            return value.isoformat()
    raise TypeError(f"cannot write a value of type {type(value).__name__} into an input example")


def normalize(example: Any) -> tuple[Any, dict[str, Any] | None]:
    """Split a ``(data, params)`` tuple and turn tensors and Series into numpy/pandas objects."""
    params = None
    if isinstance(example, tuple) and len(example) == 2 and isinstance(example[1], dict):
        example, params = example
    torch = sys.modules.get("torch")
    if torch is not None:
        if isinstance(example, torch.Tensor):
            example = example.detach().cpu().numpy()
        elif isinstance(example, dict) and any(
            isinstance(v, torch.Tensor) for v in example.values()
        ):
            example = {
                k: v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else v
                for k, v in example.items()
            }
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(example, pd.Series):
        example = example.to_frame()
    return example, params


def _encode(example: Any) -> tuple[dict[str, Any], Any, Any]:
    """Return (info, example JSON, serving payload) for a normalized example."""
    pd = sys.modules.get("pandas")
    np = sys.modules.get("numpy")
    if pd is not None and isinstance(example, pd.DataFrame):
        rows = example.astype(object).where(example.notna(), None).to_numpy().tolist()
        if isinstance(example.columns, pd.RangeIndex):
            body: dict[str, Any] = {"data": to_jsonable(rows)}
            orient = "values"
        else:
            body = {"columns": [str(c) for c in example.columns], "data": to_jsonable(rows)}
            orient = "split"
        info = {"type": "dataframe", "pandas_orient": orient}
        return info, body, {"dataframe_split": body}
    if np is not None and isinstance(example, np.ndarray):
        data = to_jsonable(example)
        return {"type": "ndarray"}, data, {"inputs": data}
    if (
        np is not None
        and isinstance(example, dict)
        and example
        and all(isinstance(v, np.ndarray) for v in example.values())
    ):
        data = to_jsonable(example)
        return {"type": "ndarray"}, data, {"inputs": data}
    data = to_jsonable(example)
    if isinstance(example, dict) and any(k in example for k in _CHAT_KEYS):
        return {"type": "json_object"}, data, data
    return {"type": "json_object"}, data, {"inputs": data}


def write(path: Path, example: Any, params: dict[str, Any] | None) -> dict[str, Any]:
    """Write both example files into the folder ``path``; return ``saved_input_example_info``."""
    info, body, serving = _encode(example)
    if params is not None:
        body = {"inputs": body, "params": to_jsonable(params)}
        serving = {**serving, "params": to_jsonable(params)}
        info["params"] = "true"
    (path / EXAMPLE_FILE).write_text(json.dumps(body, allow_nan=False), encoding="utf-8")
    (path / SERVING_FILE).write_text(json.dumps(serving, allow_nan=False), encoding="utf-8")
    return {"artifact_path": EXAMPLE_FILE, "serving_input_path": SERVING_FILE, **info}


def read(
    path: Path, info: dict[str, Any], schema: Schema | None
) -> tuple[Any, dict[str, Any] | None]:
    """Read the saved example back as (data, params), typed by ``schema`` where one exists."""
    from flavorkit._folder import MAX_JSON_BYTES, load_json, model_file, read_text

    key = "saved_input_example_info.artifact_path"
    file = model_file(path, info.get("artifact_path", EXAMPLE_FILE), key=key)
    body = load_json(read_text(file, limit=MAX_JSON_BYTES, key=key), path=file, key=key)
    params = None
    if str(info.get("params", "")).lower() == "true" and isinstance(body, dict):
        params = body.get("params")
        body = body.get("inputs")
    kind = info.get("type")
    try:
        if kind == "dataframe":
            return _read_frame(body, info, schema), params
        if kind == "ndarray":
            return _read_arrays(body, schema), params
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        if isinstance(exc, ManifestError):
            raise
        text = str(exc).strip().splitlines()
        raise ManifestError(
            f"the input example is not a valid {kind}: {text[0][:200] if text else exc!r}",
            path=file,
            key=key,
        ) from None
    return body, params


def _read_frame(body: Any, info: dict[str, Any], schema: Schema | None) -> Any:
    import pandas as pd

    if not isinstance(body, dict) or "data" not in body:
        raise ManifestError("expected a mapping with 'data'", key="input_example")
    frame = pd.DataFrame(body["data"], columns=body.get("columns"))
    if schema is None or schema.is_tensor_spec():
        return frame
    return _cast_columns(frame, schema)


def _cast_columns(frame: Any, schema: Schema) -> Any:
    """Give each column the dtype its ColSpec declares, keeping nulls in integer columns."""
    import pandas as pd

    from flavorkit._schema import DataType

    nullable_ints = {DataType.integer: "Int32", DataType.long: "Int64"}
    names = schema.input_names() if schema.has_input_names() else list(range(len(schema.inputs)))
    for name, spec in zip(names, schema.inputs, strict=True):
        column = name if schema.has_input_names() else frame.columns[name]
        if column not in frame.columns or not isinstance(spec.type, DataType):
            continue
        series = frame[column]
        try:
            if spec.type in nullable_ints and series.isna().any():
                frame[column] = series.astype(nullable_ints[spec.type])
            elif spec.type == DataType.datetime:
                frame[column] = pd.to_datetime(series)
            elif spec.type == DataType.binary:
                frame[column] = [
                    base64.decodebytes(v.encode("ascii")) if isinstance(v, str) else v
                    for v in series
                ]
            elif spec.type != DataType.string:
                frame[column] = series.astype(spec.type.to_pandas())
        except (TypeError, ValueError):
            continue  # leave it as read; enforcement will name the problem
    return frame


def _read_arrays(body: Any, schema: Schema | None) -> Any:
    import numpy as np

    if isinstance(body, dict):
        dtypes = {}
        if schema is not None and schema.is_tensor_spec() and schema.has_input_names():
            dtypes = {spec.name: spec.type for spec in schema.inputs}
        return {k: np.asarray(v, dtype=dtypes.get(k)) for k, v in body.items()}
    dtype = None
    if schema is not None and schema.is_tensor_spec() and len(schema.inputs) == 1:
        dtype = schema.inputs[0].type
    return np.asarray(body, dtype=dtype)
