"""Lossless conversion of payload values to the signature's types.

Used by every reader in :mod:`flavorkit.io`: JSON payloads, CSV and Parquet
tables (the server and batch scoring) and saved input examples. A JSON
value, a CSV cell or a Parquet number becomes the type its column declares
only when no value changes on the way: ``2.0`` fits an ``integer`` column,
``2.7`` does not, nor does ``2**31``; an integer joins a ``double`` column only
up to 2**53 (the bounds are :mod:`flavorkit.signature._exact`'s). Decimal text
for a ``float`` column is read at float32 precision, as any parser of that
column would; only overflow is refused there. Binary values travel as base64
text, datetimes as ISO 8601 text.

Every refusal is a ``SchemaEnforcementError`` naming the column, the
declared type, what came and the first row that does not fit, without the
value itself.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flavorkit.exceptions import SchemaEnforcementError
from flavorkit.signature import AnyType, DataType, Schema, type_label
from flavorkit.signature._exact import (
    FLOAT_EXACT,
    INT_BOUNDS,
    exact_cast,
    int_fits,
    is_null,
    lossy_mask,
    not_whole,
    outside_int,
    too_large_for_float,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


@dataclass
class Rows:
    """Row-major values of a table payload, kept raw so concurrent requests can be joined.

    ``columns`` is None for positional rows (matched to an unnamed signature by position).
    """

    columns: tuple[str, ...] | None
    rows: list[list[Any]]


def typed_array(value: Any, dtype: np.dtype | None, name: str) -> np.ndarray:
    """Nested lists as an ndarray of ``dtype``, converted only when no value changes.

    Numbers convert exactly (decimal text may round to ``float32``); other
    values convert only where nothing can change (to ``object``, text to a
    text dtype) and are otherwise left for enforcement to report.
    Raises ``ValueError`` for ragged lists and ``SchemaEnforcementError`` for a lossy conversion.
    """
    import numpy as np

    try:
        arr = np.asarray(value)
    except ValueError:
        raise ValueError(
            f"tensor {name!r}: the nested lists are ragged (rows of different lengths)"
        ) from None
    if dtype is None or arr.dtype == dtype:
        return arr
    if arr.dtype.kind in "biuf" and dtype.kind in "biuf":
        return exact(arr, dtype, name, text=True)
    if arr.dtype.kind in "biuf" or dtype.kind in "biuf":
        return arr  # numbers for text or text for numbers: enforcement names the tensor
    out = exact_cast(arr, dtype)
    return arr if out is None else out


def exact(
    arr: np.ndarray, dtype: np.dtype, name: str, *, text: bool, label: str | None = None
) -> np.ndarray:
    """``arr`` as ``dtype`` when no value changes; float64 -> float32 rounds when ``text``.

    ``label`` is the declared type's name for messages (the dtype's by default).
    Raises ``SchemaEnforcementError`` naming ``name`` and the first row that changes.
    """
    import numpy as np

    label = label or dtype.name
    src = arr.dtype
    if (src.kind == "b") != (dtype.kind == "b"):
        raise _mismatch(name, label, "booleans" if src.kind == "b" else "numbers")
    if src.kind == "b":
        return arr
    # decimal text is read at the declared precision; only overflow loses the value there
    rounding = text and src.kind == "f" and dtype.kind == "f"
    bad = lossy_mask(arr, dtype, round_floats=rounding)
    if bad.any():
        why = f"a number too large for {label}" if rounding else _why(src, dtype, label)
        raise _lossy(name, label, f"{why} (row {_first(bad)})")
    with np.errstate(all="ignore"):
        return arr.astype(dtype)


def _why(src: np.dtype, dtype: np.dtype, label: str) -> str:
    if src.kind == "f" and dtype.kind in "iu":
        return "a number that is not whole or is outside its range"
    if src.kind in "iu" and dtype.kind == "f":
        return f"an integer too large for {label} to hold exactly"
    return f"a number outside the range of {label}"


def _first(mask: Any) -> int:
    import numpy as np

    return int(np.flatnonzero(np.asarray(mask).ravel())[0])


# ---------------------------------------------------------------- JSON values


def typed_frame(rows: Rows, schema: Schema, *, nulls: bool = False) -> pd.DataFrame:
    """Build the DataFrame of ``rows`` with each column converted to its ColSpec type.

    Called once per (micro-)batch. Columns the signature does not name are
    kept as given (enforcement drops them); missing ones are left for
    enforcement to report. Raises ``SchemaEnforcementError`` for a value that
    its column's type cannot hold exactly, and (unless ``nulls``, for a saved
    input example read back as MLflow wrote it) for a null in a required column.
    """
    import pandas as pd

    width = (
        len(rows.columns) if rows.columns is not None else (len(rows.rows[0]) if rows.rows else 0)
    )
    cols = list(zip(*rows.rows, strict=True)) if rows.rows else [()] * width
    labels: list[Any] = list(rows.columns) if rows.columns is not None else list(range(width))
    specs = _spec_for(labels, schema)
    data = {}
    for label, values, spec in zip(labels, cols, specs, strict=True):
        if not nulls and spec is not None and _needs_values(spec) and None in values:
            raise _null_in_required(_field(label, spec), values.index(None))
        data[label] = (
            json_column(list(values), spec.type, _field(label, spec))
            if spec is not None
            else list(values)
        )
    return pd.DataFrame(data)


def _needs_values(spec: Any) -> bool:
    """Whether a payload column must hold a value in every row: required and not ``any``."""
    return bool(spec.required) and not isinstance(spec.type, AnyType)


def _null_in_required(name: str, row: int) -> SchemaEnforcementError:
    # MLflow 3.17 lets nulls into required scalar columns (FORMAT.md §5.7), where they crash
    # the model or come back as null predictions; a payload must send a value instead
    return SchemaEnforcementError(
        f"column {name!r} is required, but row {row} has no value (null or missing); "
        "send a value in every row, or declare the column optional (required: false) "
        "in the signature",
        field=name,
        expected="a value",
        actual="null",
    )


def _spec_for(labels: list[Any], schema: Schema) -> list[Any]:
    if schema.has_input_names():
        by_name = {str(s.name): s for s in schema.inputs}
        return [by_name.get(str(label)) for label in labels]
    specs = list(schema.inputs)
    return [specs[i] if i < len(specs) else None for i in range(len(labels))]


def _field(label: Any, spec: Any) -> str:
    return str(spec.name) if spec.name is not None else f"[{label}]"


def json_column(values: list[Any], t: Any, name: str) -> Any:
    """Convert one column of JSON values to the type ``t`` declares, exactly or not at all.

    Returns an ndarray, a pandas array (nullable integers, strings) or the
    list itself for complex types (enforcement checks those cell by cell).
    """
    import numpy as np
    import pandas as pd

    if not isinstance(t, DataType):
        return pd.Series(values, dtype=object)
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind == "empty":
        return _nulls(len(values), t)
    if t is DataType.string:
        if kind != "string":
            raise _mismatch(name, "string", _kind_label(kind))
        return pd.array(values, dtype="str")
    if t is DataType.binary:
        return _base64_column(values, kind, name)
    if t is DataType.datetime:
        return _datetime_column(pd.Series(values, dtype=object), kind, name)
    if t is DataType.boolean:
        if kind != "boolean":
            raise _mismatch(name, "boolean", _kind_label(kind))
        has_null = any(v is None for v in values)
        return pd.array(values, dtype="boolean") if has_null else np.array(values, dtype=bool)
    if kind == "integer":
        try:
            arr = np.array([0 if v is None else v for v in values], dtype=np.int64)
        except OverflowError:
            raise _lossy(name, t.name, "an integer beyond 64 bits") from None
        mask = np.array([v is None for v in values]) if None in values else None
        return _typed_numbers(arr, mask, t, name, text=True)
    if kind in ("floating", "mixed-integer-float"):
        if kind == "mixed-integer-float" and any(
            isinstance(v, int) and not int_fits(v, DataType.double) for v in values
        ):
            raise _lossy(name, t.name, "a mix of numbers and integers too large to hold exactly")
        arr = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        return _typed_numbers(arr, None, t, name, text=True)
    raise _mismatch(name, t.name, _kind_label(kind))


def _typed_numbers(
    arr: np.ndarray, mask: np.ndarray | None, t: DataType, name: str, *, text: bool
) -> Any:
    """Numbers (int64, or float64 with NaN for nulls) -> the declared numeric type, exactly."""
    import numpy as np
    import pandas as pd

    if t not in INT_BOUNDS and t not in FLOAT_EXACT:
        raise _mismatch(name, t.name, "numbers")
    if arr.dtype.kind == "f" and t in INT_BOUNDS:
        nan = np.isnan(arr)
        fraction = not_whole(arr)
        outside = outside_int(arr, t)
        if fraction.any():
            raise _lossy(name, t.name, f"a number that is not whole (row {_first(fraction)})")
        if outside.any():
            raise _lossy(
                name, t.name, f"a number outside the range of {t.name} (row {_first(outside)})"
            )
        if nan.any():
            out = pd.array(
                np.where(nan, 0, arr).astype(t.to_numpy()), dtype=f"Int{t.to_numpy().itemsize * 8}"
            )
            out[nan] = pd.NA
            return out
        return arr.astype(t.to_numpy())
    if arr.dtype.kind in "iu" and t in FLOAT_EXACT:
        big = too_large_for_float(arr, t)
        if big.any():
            raise _lossy(
                name,
                t.name,
                f"an integer too large for {t.name} to hold exactly (row {_first(big)})",
            )
    out = exact(arr, t.to_numpy(), name, text=text, label=t.name)
    if mask is not None and mask.any():
        if t in FLOAT_EXACT:
            out = out.copy()
            out[mask] = np.nan
            return out
        out = pd.array(out, dtype=f"Int{out.dtype.itemsize * 8}")
        out[mask] = pd.NA
    return out


def _nulls(n: int, t: DataType) -> Any:
    import numpy as np
    import pandas as pd

    if t in FLOAT_EXACT:
        return np.full(n, np.nan, dtype=t.to_numpy())
    if t in INT_BOUNDS:
        return pd.array([None] * n, dtype=f"Int{t.to_numpy().itemsize * 8}")
    if t is DataType.boolean:
        return pd.array([None] * n, dtype="boolean")
    if t is DataType.string:
        return pd.array([None] * n, dtype="str")
    if t is DataType.datetime:
        return np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    return pd.Series([None] * n, dtype=object)


def _base64_column(values: list[Any], kind: str, name: str) -> Any:
    import pandas as pd

    if kind == "bytes":
        return pd.Series(values, dtype=object)
    if kind != "string":
        raise _mismatch(name, "binary (base64 text)", _kind_label(kind))
    out = []
    for row, v in enumerate(values):
        try:
            # MLflow writes base64 with line breaks (encodebytes); the rest must be the alphabet
            out.append(None if is_null(v) else base64.b64decode("".join(v.split()), validate=True))
        except (binascii.Error, ValueError):
            raise SchemaEnforcementError(
                f"column {name!r}: expected binary as base64 text, row {row} is not valid base64",
                field=name,
                expected="binary",
                actual="text that is not base64",
            ) from None
    return pd.Series(out, dtype=object)


def _datetime_column(series: pd.Series, kind: str, name: str) -> Any:
    import pandas as pd

    if kind in ("datetime", "datetime64", "date"):
        return series.astype("datetime64[ns]")
    if kind != "string":
        raise _mismatch(name, "datetime (ISO 8601 text)", _kind_label(kind))
    try:
        out = pd.to_datetime(series, format="ISO8601")
    except (ValueError, TypeError, OverflowError):
        raise SchemaEnforcementError(
            f"column {name!r}: expected datetime as ISO 8601 text, "
            "got text that does not parse as one",
            field=name,
            expected="datetime",
            actual="string",
        ) from None
    if getattr(out.dtype, "tz", None) is not None:
        raise SchemaEnforcementError(
            f"column {name!r}: expected a time-zone naive datetime, got one with a UTC offset; "
            "send local times without an offset",
            field=name,
            expected="datetime",
            actual=str(out.dtype),
        )
    return out


# ---------------------------------------------------------------- text and typed columns


def text_frame(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """Convert the text columns of a CSV chunk (read with ``dtype=str``) to their ColSpec types.

    Empty cells are nulls. Raises ``SchemaEnforcementError`` naming the
    column for text that does not convert exactly.
    """
    out = {}
    for label, spec in zip(frame.columns, _spec_for(list(frame.columns), schema), strict=True):
        col = frame[label]
        if spec is not None and _needs_values(spec):
            _refuse_missing(col, _field(label, spec))
        out[label] = col if spec is None else text_column(col, spec.type, _field(label, spec))
    import pandas as pd

    return pd.DataFrame(out, index=frame.index)


def text_column(col: pd.Series, t: Any, name: str) -> Any:
    """One column of text -> the type ``t`` declares, exactly or not at all."""
    import numpy as np
    import pandas as pd

    if not isinstance(t, DataType):
        try:
            return pd.Series(
                [None if is_null(v) else json.loads(v) for v in col], index=col.index, dtype=object
            )
        except ValueError:
            raise SchemaEnforcementError(
                f"column {name!r}: expected {type_label(t)} as JSON text in each cell, "
                "got text that is not JSON",
                field=name,
                expected=type_label(t),
                actual="string",
            ) from None
    if t is DataType.string:
        return col
    if t is DataType.binary:
        return _base64_column(col.tolist(), "string", name)
    if t is DataType.datetime:
        return _datetime_column(col, "string", name) if col.notna().any() else _nulls(len(col), t)
    if t is DataType.boolean:
        lowered = col.str.lower()
        mapped = lowered.map({"true": True, "false": False, "1": True, "0": False})
        if (mapped.isna() & col.notna()).any():
            raise _mismatch(name, "boolean (true/false)", "other text")
        return mapped.astype("boolean") if col.isna().any() else mapped.astype(bool)
    try:
        numbers = pd.to_numeric(col)
    except (ValueError, TypeError):
        raise _mismatch(name, t.name, "text that is not a number") from None
    arr = numbers.to_numpy()
    if arr.dtype == object:
        raise _lossy(name, t.name, "an integer beyond 64 bits")
    return _typed_numbers(
        arr.astype(np.float64) if arr.dtype.kind == "b" else arr, None, t, name, text=True
    )


def binary_frame(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """Narrow the numeric columns of a typed chunk (Parquet) to their ColSpec types, exactly.

    Other columns are left for enforcement. Raises ``SchemaEnforcementError``.
    """
    import pandas as pd

    out = {}
    for label, spec in zip(frame.columns, _spec_for(list(frame.columns), schema), strict=True):
        col = frame[label]
        if spec is not None and _needs_values(spec):
            _refuse_missing(col, _field(label, spec))
        t = spec.type if spec is not None else None
        if isinstance(t, DataType) and (t in INT_BOUNDS or t in FLOAT_EXACT):
            dtype = col.dtype
            if getattr(dtype, "numpy_dtype", None) is not None and col.isna().any():
                out[label] = col  # nullable: enforcement keeps NA and checks the rest exactly
                continue
            arr = col.to_numpy(dtype=getattr(dtype, "numpy_dtype", None))
            if arr.dtype.kind in "iuf" and arr.dtype != t.to_numpy():
                out[label] = _typed_numbers(arr, None, t, _field(label, spec), text=False)
                continue
        out[label] = col
    return pd.DataFrame(out, index=frame.index)


def _refuse_missing(col: pd.Series, name: str) -> None:
    """Raise for the first missing value (an empty CSV cell, a Parquet null) of ``col``."""
    import numpy as np

    missing = col.isna().to_numpy()
    if missing.any():
        raise _null_in_required(name, int(np.argmax(missing)))


# ---------------------------------------------------------------- messages


_KIND_LABELS = {
    "integer": "integers",
    "floating": "numbers",
    "mixed-integer-float": "numbers",
    "boolean": "booleans (true/false)",
    "string": "strings",
    "bytes": "bytes",
    "mixed-integer": "a mix of integers and other values",
}


def _kind_label(kind: str) -> str:
    return _KIND_LABELS.get(kind, "a mix of value types" if kind.startswith("mixed") else kind)


def _mismatch(name: str, expected: str, actual: str) -> SchemaEnforcementError:
    return SchemaEnforcementError(
        f"column {name!r}: expected {expected}, got {actual}",
        field=name,
        expected=expected,
        actual=actual,
    )


def _lossy(name: str, expected: str, actual: Any) -> SchemaEnforcementError:
    return SchemaEnforcementError(
        f"column {name!r}: expected {expected}, got {actual}; converting would change the value, "
        f"so send values that {expected} holds exactly",
        field=name,
        expected=expected,
        actual=str(actual),
    )
