"""Input examples: ``input_example.json`` and ``serving_input_example.json`` (FORMAT.md §6).

Files are strict JSON: NaN and infinities become ``null``, numpy scalars
become Python values, bytes become base64 and datetimes ISO strings.

Read back, an example is typed by the signature with the conversion the
server applies to a payload (:mod:`flavorkit.io._convert`): a value that
its column or tensor cannot hold exactly is an error naming the column,
never a changed value.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flavorkit.exceptions import ManifestError
from flavorkit.io._convert import typed_array
from flavorkit.io._json import CHAT_KEYS, to_jsonable
from flavorkit.io._payload import rows_input, split_rows

if TYPE_CHECKING:
    from flavorkit.signature import Schema

EXAMPLE_FILE = "input_example.json"
SERVING_FILE = "serving_input_example.json"
# the key of an ndarray example as MLflow 1.x-2.9 wrote it (format: tf-serving)
_TF_SERVING_KEYS = ("inputs", "instances")


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
    if isinstance(example, dict) and any(k in example for k in CHAT_KEYS):
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
    """Read the saved example back as (data, params), typed by ``schema`` where one exists.

    Raises ``ManifestError`` naming the file for an example that is not the
    type its ``saved_input_example_info`` says, or holds a value that its
    column or tensor cannot hold exactly (the message names the column).
    """
    from flavorkit.folder import MAX_JSON_BYTES, load_json, model_file, read_text

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
            return _read_frame(body, schema), params
        if kind == "ndarray":
            if info.get("format") == "tf-serving":
                body = _unwrap_tf_serving(body)
            return _read_arrays(body, schema), params
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        if isinstance(exc, ManifestError):
            raise
        lines = str(exc).strip().splitlines()
        why = lines[0][:200] if lines else repr(exc)
        raise ManifestError(
            f"the input example is not a valid {kind}: {why}",
            path=file,
            key=key,
        ) from None
    return body, params


def _read_frame(body: Any, schema: Schema | None) -> Any:
    """A ``split``/``values`` orient body as a DataFrame, typed exactly by a column signature.

    Nulls stay allowed in required columns: MLflow writes missing values of
    an example as they are, and enforcement decides what the model accepts.
    """
    if not isinstance(body, dict) or "data" not in body:
        raise ManifestError("expected a mapping with 'data'", key="input_example")
    return rows_input(split_rows(body, key="input_example"), schema, nulls=True)


def _unwrap_tf_serving(body: Any) -> Any:
    """An ndarray example of MLflow 1.x-2.9: ``{"inputs": ...}`` or ``{"instances": [...]}``."""
    if not isinstance(body, dict) or len(body) != 1 or next(iter(body)) not in _TF_SERVING_KEYS:
        return body
    ((key, value),) = body.items()
    if key == "instances" and value and all(isinstance(v, dict) for v in value):
        names = list(dict.fromkeys(k for v in value for k in v))
        return {k: [v.get(k) for v in value] for k in names}
    return value


def _read_arrays(body: Any, schema: Schema | None) -> Any:
    """Nested lists (or a dict of them) as ndarrays, of the declared dtypes where exact."""
    dtypes: dict[Any, Any] = {}
    dtype = None
    if schema is not None and schema.is_tensor_spec():
        if schema.has_input_names():
            dtypes = {spec.name: spec.type for spec in schema.inputs}
        if len(schema.inputs) == 1:
            dtype = schema.inputs[0].type
    if isinstance(body, dict):
        return {k: typed_array(v, dtypes.get(k), str(k)) for k, v in body.items()}
    name = str(schema.inputs[0].name) if dtypes else "[0]"
    return typed_array(body, dtype, name)
