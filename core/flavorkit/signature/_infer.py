"""Signature inference: read a schema off example data.

``save_model`` calls :func:`infer_signature` (through :func:`infer_schema` and
:func:`infer_output_schema`) when the caller gave an input example but no
signature. The rules are MLflow 3.17's (FORMAT.md §4) with one policy on top:
inference never silently gives up. Where MLflow would log a warning and fall
back to ``AnyType`` or save no signature at all (uint64 columns, mixed-type
columns, time-zone aware datetimes), flavorkit raises SignatureError naming
the column and the dtype and saying what to do.

numpy and pandas are imported inside the functions; torch is only used when
the caller already imported it.
"""

from __future__ import annotations

import datetime
import sys
from typing import TYPE_CHECKING, Any

from flavorkit.exceptions import SignatureError
from flavorkit.signature._exact import is_none, is_null
from flavorkit.signature._params import ParamSchema, ParamSpec
from flavorkit.signature._schema import ColSpec, Schema, TensorSpec
from flavorkit.signature._signature import ModelSignature
from flavorkit.signature._types import (
    AnyType,
    Array,
    ColSpecType,
    DataType,
    Map,
    Object,
    Property,
    duplicated,
    type_label,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["infer_output_schema", "infer_params_schema", "infer_schema", "infer_signature"]


def infer_signature(
    model_input: Any = None, model_output: Any = None, params: dict[str, Any] | None = None
) -> ModelSignature:
    """Infer a ModelSignature from example input, output and params.

    Any of the three may be None (that part of the signature is then None),
    but not all. Returns the signature; raises SignatureError naming the part
    and the column (or key) that cannot be typed.
    """
    if model_input is None and model_output is None and not params:
        raise SignatureError(
            "infer_signature: give at least one of model_input, model_output, params"
        )
    inputs = _part("model_input", infer_schema, model_input)
    outputs = _part("model_output", infer_schema, model_output)
    param_schema = _part("params", infer_params_schema, params) if params else None
    return ModelSignature(inputs, outputs, param_schema)


def _part(label: str, fn: Any, value: Any) -> Any:
    if value is None:
        return None
    try:
        return fn(value)
    except SignatureError as exc:
        raise SignatureError(f"{label}: {exc}") from None


def infer_output_schema(output: Any, *, column_input: bool) -> Schema:
    """Infer the output schema the way ``save_model`` does.

    When the input schema is column based (``column_input``), a 1-D ndarray
    output becomes a single unnamed ColSpec (e.g. ``long``) rather than a
    tensor, as MLflow does inside ``log_model``. Raises SignatureError.
    """
    import numpy as np

    output = _from_torch(output)
    if column_input and isinstance(output, np.ndarray) and output.ndim == 1:
        if output.dtype == object:
            return Schema([ColSpec(_merge_values(output.tolist(), "output", top=True))])
        return Schema([ColSpec(_numpy_type(output.dtype, "output"))])
    return infer_schema(output)


def infer_schema(data: Any) -> Schema:
    """Infer the Schema of one piece of data.

    DataFrame -> one named ColSpec per column; Series -> one ColSpec; ndarray
    (or torch tensor, or scipy sparse matrix) -> one unnamed TensorSpec with
    the first dimension -1; dict of ndarrays -> named TensorSpecs; dict of
    JSON-like values -> one named ColSpec per key (a one-row table); list of
    dicts -> named ColSpecs (records); list of scalars, scalar, ``[]`` -> one
    unnamed ColSpec. Columns holding missing values become ``required=False``.
    Raises SignatureError for what has no faithful signature type.
    """
    import numpy as np
    import pandas as pd

    data = _from_torch(data)
    if isinstance(data, pd.DataFrame):
        return _frame_schema(data)
    if isinstance(data, pd.Series):
        return Schema([_series_spec(data, _column_name(data.name, allow_none=True))])
    if isinstance(data, np.ndarray):
        return Schema([_tensor_spec(data, None)])
    if type(data).__module__.startswith("scipy.sparse") and hasattr(data, "data"):
        return Schema([TensorSpec(_clean_dtype(data.data.dtype), (-1, *data.shape[1:]))])
    if isinstance(data, dict):
        return _dict_schema(data)
    if isinstance(data, list):
        if not data:
            return Schema([ColSpec(DataType.string)])  # MLflow keeps this for old models
        if all(isinstance(x, dict) for x in data):
            return _records_schema(data)
        element = _merge_values(data, "list element", top=True)
        if any(is_null(x) or _has_none_item(x) for x in data) and not isinstance(
            element, (DataType, AnyType)
        ):
            raise SignatureError(
                f"a list of {type_label(element)} holding None cannot be typed as an unnamed "
                "column (unnamed columns cannot be optional); pass a dict or DataFrame with a name"
            )
        return Schema([ColSpec(element)])
    if data is None:
        raise SignatureError("cannot infer a schema from None")
    return Schema([ColSpec(_value_type(data, "value"))])


def infer_params_schema(params: dict[str, Any]) -> ParamSchema:
    """Infer a ParamSchema from a dict of example params (values become the defaults).

    Scalars get shape None, 1-D lists and arrays shape (-1,), dicts an Object
    type. Python float is ``double``, int is ``long``. Raises SignatureError
    for None, binary, empty or nested lists.
    """
    import numpy as np

    if not isinstance(params, dict):
        raise SignatureError(f"params must be a dict, got {type(params).__name__}")
    specs = []
    for name, value in params.items():
        where = f"param {name!r}"
        if not isinstance(name, str):
            raise SignatureError(f"{where}: param names must be strings")
        value = _from_torch(value)
        shape = None
        if isinstance(value, (list, np.ndarray)):
            items = list(value)
            if not items or any(isinstance(x, (list, tuple, np.ndarray)) for x in items):
                raise SignatureError(f"{where}: list params must be non-empty and 1-D")
            dtype = _merge_values(items, where)
            shape = (-1,)
        else:
            dtype = _value_type(value, where)
        if not isinstance(dtype, (DataType, Object)) or dtype is DataType.binary:
            raise SignatureError(
                f"{where}: a {type_label(dtype)} value cannot be a param; params are "
                "boolean, integer, long, float, double, string, datetime or an object"
            )
        specs.append(ParamSpec(name, dtype, value, shape))
    return ParamSchema(specs)


# ---------------------------------------------------------------- helpers


def _from_torch(x: Any) -> Any:
    """Turn torch tensors (and dicts of them) into ndarrays, if torch is already imported."""
    torch = sys.modules.get("torch")
    if torch is None:
        return x
    if isinstance(x, dict):
        return {k: _from_torch(v) for k, v in x.items()}
    if isinstance(x, torch.Tensor):
        try:
            return x.detach().cpu().numpy()
        except TypeError as exc:
            raise SignatureError(
                f"a torch tensor of dtype {x.dtype} has no numpy equivalent; "
                "cast it first, e.g. tensor.float()"
            ) from exc
    return x


def _column_name(label: Any, *, allow_none: bool = False) -> Any:
    import numpy as np

    if label is None and allow_none:
        return None
    if isinstance(label, (np.integer, int)) and not isinstance(label, bool):
        return int(label)
    if isinstance(label, str):
        return label
    raise SignatureError(
        f"column label {label!r} ({type(label).__name__}) cannot be a signature name; "
        "use string (or integer) column names"
    )


def _frame_schema(df: pd.DataFrame) -> Schema:
    if df.shape[1] == 0:
        raise SignatureError("the DataFrame has no columns")
    names = [_column_name(c) for c in df.columns]
    dupes = duplicated(str(n) for n in names)
    if dupes:
        raise SignatureError(f"the DataFrame has duplicated column names {dupes}; rename them")
    return Schema([_series_spec(df.iloc[:, i], n) for i, n in enumerate(names)])


def _series_spec(s: pd.Series, name: Any) -> ColSpec:
    where = f"column {name!r}" if name is not None else "the unnamed column"
    t = _pandas_type(s, where)
    missing = bool(s.isna().any()) or (
        s.dtype.kind == "O" and any(_has_none_item(v) for v in s.tolist())
    )
    if name is None:
        if missing and not isinstance(t, (DataType, AnyType)):
            raise SignatureError(
                f"{where} holds missing values and a {type_label(t)} type; unnamed columns "
                "cannot be optional, so give the Series a name"
            )
        return ColSpec(t)
    return ColSpec(t, name, required=not missing)


def _pandas_type(s: pd.Series, where: str) -> ColSpecType:
    """Type of one pandas column; nullable extension dtypes map to their numpy type."""
    import numpy as np
    import pandas as pd

    dtype = s.dtype
    if isinstance(dtype, pd.StringDtype):
        return DataType.string
    if isinstance(dtype, pd.CategoricalDtype):
        if all(isinstance(c, str) for c in dtype.categories):
            return DataType.string
        raise SignatureError(
            f"{where}: a categorical column whose categories are not strings has no signature "
            f"type; cast it with df[...].astype({str(dtype.categories.dtype)!r})"
        )
    if getattr(dtype, "tz", None) is not None:
        raise SignatureError(
            f"{where}: dtype {dtype} is time-zone aware and the signature type datetime is not; "
            "convert with df[...].dt.tz_convert(None) (UTC) before saving and predicting"
        )
    if isinstance(dtype, pd.api.extensions.ExtensionDtype):
        numpy_dtype = getattr(dtype, "numpy_dtype", None)
        if numpy_dtype is None or np.dtype(numpy_dtype) == object:
            return _merge_values(s.tolist(), where, dtype, top=True)
        return _numpy_type(np.dtype(numpy_dtype), where, dtype)
    if dtype.kind == "O":
        return _merge_values(s.tolist(), where, dtype, top=True)
    return _numpy_type(dtype, where)


def _numpy_type(dtype: np.dtype, where: str, shown: Any = None) -> DataType:
    """Map a numpy dtype to a DataType (FORMAT.md §4 table); raise SignatureError."""
    kind, size = dtype.kind, dtype.itemsize
    if kind == "b":
        return DataType.boolean
    if kind in "iu" and (size < 4 or (kind == "i" and size == 4)):
        return DataType.integer
    if kind in "iu" and (size < 8 or (kind == "i" and size == 8)):
        return DataType.long
    if kind == "f" and size <= 8:
        return DataType.float if size <= 4 else DataType.double
    if kind == "U":
        return DataType.string
    if kind == "S":
        return DataType.binary
    if kind == "M":
        return DataType.datetime
    fix = {
        "u": "cast with .astype('int64') when every value is below 2**63, else to 'float64' or str",
        "f": "cast with .astype('float64')",
        "m": "convert durations to numbers, e.g. .dt.total_seconds()",
        "c": "split complex numbers into real and imaginary columns",
    }.get(kind, "convert it to a supported type")
    raise SignatureError(
        f"{where}: dtype {shown if shown is not None else dtype} has no signature type; {fix}"
    )


def _clean_dtype(dtype: np.dtype) -> np.dtype:
    import numpy as np

    # MLflow rejects sized flexible types (<U5): the size belongs to the example, not the model
    return np.dtype(dtype.char) if dtype.kind in "US" else dtype


def _tensor_spec(arr: np.ndarray, name: str | None) -> TensorSpec:
    where = f"tensor {name!r}" if name is not None else "the array"
    if arr.ndim == 0:
        raise SignatureError(f"{where} is 0-D; pass at least a 1-D array (a batch of values)")
    return TensorSpec(_clean_dtype(arr.dtype), (-1, *arr.shape[1:]), name)


def _dict_schema(data: dict[Any, Any]) -> Schema:
    import numpy as np

    if not data:
        raise SignatureError("cannot infer a schema from an empty dict")
    for key in data:
        if not isinstance(key, str):
            raise SignatureError(f"dict key {key!r}: keys must be strings")
    if all(isinstance(v, np.ndarray) for v in data.values()):
        return Schema([_tensor_spec(v, k) for k, v in data.items()])
    return Schema(
        [
            ColSpec(
                _value_type(v, f"key {k!r}"), k, required=not is_null(v) and not _has_none_item(v)
            )
            for k, v in data.items()
        ]
    )


def _records_schema(records: list[dict[Any, Any]]) -> Schema:
    keys: dict[str, None] = {}
    for rec in records:
        for key in rec:
            if not isinstance(key, str):
                raise SignatureError(f"record key {key!r}: keys must be strings")
            keys.setdefault(key)
    specs = []
    for key in keys:
        values = [rec.get(key) for rec in records]
        required = all(
            key in rec and not is_null(rec[key]) and not _has_none_item(rec[key]) for rec in records
        )
        specs.append(
            ColSpec(_merge_values(values, f"key {key!r}", top=True), key, required=required)
        )
    return Schema(specs)


def _has_none_item(v: Any) -> bool:
    """Whether a list (at any depth) holds a missing item; its column must then be optional.

    Enforcement lets items be missing only in optional columns (as MLflow does).
    """
    if isinstance(v, list) or (type(v).__name__ == "ndarray" and v.dtype.kind == "O"):
        return any(is_none(x) or _has_none_item(x) for x in v)
    return False


def _merge_values(
    values: list[Any], where: str, shown: Any = None, *, top: bool = False
) -> ColSpecType:
    """The one type all non-missing ``values`` share (AnyType when all are missing).

    ``top`` is for the cells of a column, where NaN means missing too.
    """
    skip = is_null if top else is_none
    result: ColSpecType | None = None
    for v in values:
        if not skip(v):
            t = _value_type(v, where)
            result = t if result is None else _merge(result, t, where, shown)
    return AnyType() if result is None else result


def _value_type(v: Any, where: str) -> ColSpecType:
    """Type of one Python/numpy value (JSON-like data, object columns, params)."""
    import numpy as np

    if is_none(v):
        return AnyType()
    if isinstance(v, (bool, np.bool_)):
        return DataType.boolean
    if isinstance(v, (np.integer, np.floating)):
        return _numpy_type(np.dtype(type(v)), where)
    if isinstance(v, int):
        return DataType.long
    if isinstance(v, float):
        return DataType.double
    if isinstance(v, str):
        return DataType.string
    if isinstance(v, (bytes, bytearray)):
        return DataType.binary
    if isinstance(v, (datetime.date, np.datetime64)):
        return DataType.datetime
    if isinstance(v, np.ndarray):
        if v.dtype == object or v.ndim > 1:
            return Array(_merge_values(list(v), where))
        return Array(_numpy_type(v.dtype, where))
    if isinstance(v, list):
        return Array(_merge_values(v, where))
    if isinstance(v, dict):
        if not v:
            return AnyType()
        props = []
        for key, item in v.items():
            if not isinstance(key, str):
                raise SignatureError(
                    f"{where}: object keys must be strings, got {type(key).__name__}"
                )
            props.append(
                Property(
                    key,
                    _value_type(item, f"{where}.{key}"),
                    required=not is_none(item) and not _has_none_item(item),
                )
            )
        return Object(props)
    raise SignatureError(f"{where}: values of type {type(v).__name__} have no signature type")


_NUMERIC = {DataType.integer, DataType.long, DataType.float, DataType.double}


def _merge(a: ColSpecType, b: ColSpecType, where: str, shown: Any = None) -> ColSpecType:
    """Combine the types of two values of one column; raise SignatureError on a clash."""
    if isinstance(b, AnyType) and not isinstance(a, AnyType):
        a, b = b, a
    if isinstance(a, AnyType):
        # an empty dict ({} -> AnyType) next to objects makes their properties optional
        if isinstance(b, Object):
            return Object([Property(p.name, p.dtype, required=False) for p in b.properties])
        return b
    if a == b:
        return a
    if isinstance(a, DataType) and isinstance(b, DataType) and {a, b} <= _NUMERIC:
        # 1 and 2.5 in one column: a double holds both (flavorkit checks the ints fit exactly)
        ints = {DataType.integer, DataType.long}
        return DataType.long if {a, b} <= ints else DataType.double
    if isinstance(a, Array) and isinstance(b, Array) and type(a) is type(b):
        return Array(_merge(a.dtype, b.dtype, where, shown))
    if isinstance(a, Map) and isinstance(b, Map):
        return Map(_merge(a.value_type, b.value_type, where, shown))
    if isinstance(a, Object) and isinstance(b, Object):
        pa = {p.name: p for p in a.properties}
        pb = {p.name: p for p in b.properties}
        props = []
        for name in {**pa, **pb}:
            if name in pa and name in pb:
                dtype = _merge(pa[name].dtype, pb[name].dtype, f"{where}.{name}", shown)
                props.append(Property(name, dtype, pa[name].required and pb[name].required))
            else:
                props.append(Property(name, (pa.get(name) or pb[name]).dtype, required=False))
        return Object(props)
    column = f" (dtype {shown})" if shown is not None else ""
    raise SignatureError(
        f"{where}{column} mixes values of types {type_label(a)} and {type_label(b)}; "
        "a column needs one type, so convert the values first (e.g. .astype(str))"
    )
