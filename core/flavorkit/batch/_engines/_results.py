"""Predictions as the declared result: one value per row, or several named ones."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flavorkit.exceptions import PayloadError

if TYPE_CHECKING:
    import pandas as pd

    from flavorkit.signature import ModelSignature


@dataclass(frozen=True)
class ResultSpec:
    """What a scored batch becomes: one value per row, or several named ones (``struct``).

    ``fields`` pairs each output name with its signature type (``DataType``,
    ``Array``, ``Object``, ``Map`` or ``AnyType``); a single unnamed result is
    named ``prediction``.
    """

    fields: tuple[tuple[str, Any], ...]
    struct: bool


def result_spec(signature: ModelSignature | None) -> ResultSpec | None:
    """The result the output schema declares; None without one (the engine picks a default)."""
    from flavorkit.signature import Array, DataType, TensorSpec

    outputs = signature.outputs if signature is not None else None
    if outputs is None or not outputs.inputs:
        return None
    fields = []
    for i, spec in enumerate(outputs.inputs):
        if isinstance(spec, TensorSpec):
            t: Any = numpy_data_type(spec.type)
            for _ in spec.shape[1:]:
                t = Array(t)
        else:
            t = spec.type
        fields.append((str(spec.name) if spec.name is not None else f"prediction_{i}", t))
    if len(fields) == 1:
        return ResultSpec((("prediction", fields[0][1]),), struct=False)
    assert all(isinstance(t, (DataType, Array)) or t is not None for _, t in fields)
    return ResultSpec(tuple(fields), struct=True)


def numpy_data_type(dtype: Any) -> Any:
    """The signature type holding a numpy dtype's values (int8 -> integer, uint32 -> long ...)."""
    from flavorkit.signature import AnyType, DataType

    kind, size = dtype.kind, dtype.itemsize
    if kind == "b":
        return DataType.boolean
    if kind == "i":
        return DataType.integer if size <= 4 else DataType.long
    if kind == "u":
        return DataType.integer if size <= 2 else DataType.long
    if kind == "f":
        return DataType.float if size <= 4 else DataType.double
    if kind == "U":
        return DataType.string
    if kind == "S":
        return DataType.binary
    if kind == "M":
        return DataType.datetime
    return AnyType()


def shape_result(pred: Any, spec: ResultSpec, rows: int) -> pd.Series | pd.DataFrame:
    """The model's predictions for ``rows`` rows as the declared result (Series or DataFrame).

    Raises ``PayloadError`` (field ``output``) when the predictions do not fit
    it: a different number of rows, or output columns the result names missing.
    """
    import numpy as np
    import pandas as pd

    if spec.struct:
        columns = _output_columns(pred, [name for name, _ in spec.fields])
        out = pd.DataFrame(
            {name: _typed(columns[name], t, rows, name) for name, t in spec.fields},
            index=pd.RangeIndex(rows),
        )
        return out
    name, t = spec.fields[0]
    if isinstance(pred, dict):
        if len(pred) != 1:
            raise _output_error(f"the model returned {len(pred)} outputs; {_want_struct(pred)}")
        pred = next(iter(pred.values()))
    if isinstance(pred, pd.DataFrame):
        if pred.shape[1] == 1:
            pred = pred.iloc[:, 0]
        elif _is_array(t):
            pred = pred.to_numpy()
        else:
            raise _output_error(
                f"the model returned {pred.shape[1]} columns; {_want_struct(pred.columns)}"
            )
    elif not isinstance(pred, (pd.Series, np.ndarray)):
        pred = np.asarray(pred)
    if isinstance(pred, np.ndarray) and pred.ndim == 2 and pred.shape[1] == 1 and not _is_array(t):
        pred = pred[:, 0]
    return pd.Series(_typed(pred, t, rows, name), name=name)


def empty_result(spec: ResultSpec) -> pd.Series | pd.DataFrame:
    """A result of no rows, typed as ``spec`` declares (Dask's meta, an empty batch)."""
    import pandas as pd

    columns = {name: pd.Series([], dtype=pandas_dtype(t)) for name, t in spec.fields}
    if spec.struct:
        return pd.DataFrame(columns)
    name = spec.fields[0][0]
    return columns[name].rename(name)


def pandas_dtype(t: Any) -> Any:
    """The pandas dtype of a result of signature type ``t`` (``object`` for text and containers)."""
    from flavorkit.signature import DataType

    if isinstance(t, DataType) and t not in (DataType.string, DataType.binary):
        return t.to_numpy()
    return object


def _is_array(t: Any) -> bool:
    from flavorkit.signature import Array

    return isinstance(t, Array)


def _want_struct(names: Any) -> str:
    shown = ", ".join(map(str, list(names)[:10]))
    return f"declare them in a struct result type to keep them all ({shown})"


def _output_error(message: str) -> PayloadError:
    return PayloadError(f"the predictions do not fit the result: {message}", field="output")


def _output_columns(pred: Any, names: list[str]) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    if isinstance(pred, pd.DataFrame):
        available = {str(c): pred[c] for c in pred.columns}
    elif isinstance(pred, dict):
        available = {str(k): v for k, v in pred.items()}
    else:
        arr = np.asarray(pred)
        if arr.ndim == 2 and arr.shape[1] == len(names):
            return {name: arr[:, i] for i, name in enumerate(names)}
        raise _output_error(
            f"expected {len(names)} named outputs ({', '.join(names)}), "
            f"got {type(pred).__name__} of shape {getattr(arr, 'shape', '?')}"
        )
    missing = [n for n in names if n not in available]
    if missing:
        raise _output_error(
            f"the model's output has no {', '.join(map(repr, missing))} "
            f"(it has: {', '.join(list(available)[:10])})"
        )
    return {n: available[n] for n in names}


def _typed(values: Any, t: Any, rows: int, name: str) -> Any:
    """``values`` (one per row) held as ``t``: numbers cast, arrays as one array per row."""
    import numpy as np
    import pandas as pd

    from flavorkit.signature import Array, DataType

    n = len(values)
    if n != rows:
        raise _output_error(f"{name!r} has {n} values for {rows} input rows")
    if isinstance(values, pd.Series):
        values = values.to_numpy()
    if isinstance(t, Array):
        arr = np.asarray(values) if not isinstance(values, np.ndarray) else values
        if arr.dtype != object and arr.ndim >= 2:
            return list(arr)
        return arr
    if isinstance(t, DataType):
        if t is DataType.string:
            arr = np.asarray(values, dtype=object)
            if arr.size and not all(isinstance(v, str) or v is None for v in arr):
                arr = np.array([None if v is None else str(v) for v in arr], dtype=object)
            return arr
        if t in (DataType.binary, DataType.datetime):
            return values if t is DataType.binary else pd.to_datetime(values)
        arr = np.asarray(values)
        target = t.to_numpy()
        if arr.dtype != target and arr.dtype.kind in "biuf":
            with np.errstate(all="ignore"):
                return arr.astype(target)
        return arr
    return values
