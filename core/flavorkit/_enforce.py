"""Schema enforcement: check and coerce predict input and params against a signature.

``PyFuncModel.predict`` calls :func:`enforce_schema` and :func:`enforce_params`
on every call, for every flavor. The rules are MLflow 3.17's (FORMAT.md §5),
except where flavorkit accepts a conversion that provably loses nothing or
rejects one that loses or mangles data; docs/signatures.md lists each one.

Errors are :class:`~flavorkit.exceptions.SchemaEnforcementError` naming the
column, tensor or param, the expected and the actual type or shape, and a
fix. They never echo input values.

numpy and pandas are imported inside the functions, so importing this module
is cheap.
"""

from __future__ import annotations

import copy
import datetime
import warnings
from typing import TYPE_CHECKING, Any

from flavorkit._schema import (
    AnyType,
    Array,
    ColSpec,
    DataType,
    Map,
    Object,
    ParamSchema,
    Schema,
    TensorSpec,
    type_label,
)
from flavorkit.exceptions import SchemaEnforcementError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["enforce_params", "enforce_schema"]


class _Plan:
    """Facts about a schema that every call needs, derived once and kept on the Schema."""

    __slots__ = ("fast", "index", "keys", "named", "pairs", "specs", "tensor")

    def __init__(self, schema: Schema) -> None:
        import numpy as np
        import pandas as pd

        self.specs: list[Any] = list(schema.inputs)
        self.tensor = schema.is_tensor_spec()
        self.named = schema.has_input_names()
        self.keys = tuple(str(s.name) for s in self.specs) if self.named else ()
        self.index = pd.Index([s.name for s in self.specs]) if self.named else None
        self.pairs = [(s, str(s.name) if self.named else None) for s in self.specs]
        # per column: the numpy dtype that passes untouched, or None for a `string` column
        # (which passes untouched with pandas' string dtype); no fast path at all when a
        # column needs per-value checks (binary, complex types)
        self.fast: tuple[np.dtype | None, ...] | None = None
        if not self.tensor and all(
            isinstance(s.type, DataType) and s.type is not DataType.binary for s in self.specs
        ):
            self.fast = tuple(
                None if s.type is DataType.string else np.dtype(s.type.to_numpy())
                for s in self.specs
            )


def _plan(schema: Schema) -> _Plan:
    plan = getattr(schema, "_enforce_plan", None)
    if plan is None:
        plan = schema._enforce_plan = _Plan(schema)
    return plan


def _label(spec: ColSpec | TensorSpec, i: int) -> str:
    return str(spec.name) if spec.name is not None else f"[{i}]"


def _warn(message: str) -> None:
    warnings.warn(message, UserWarning, stacklevel=4)


def enforce_schema(data: Any, schema: Schema | None) -> Any:
    """Check ``data`` against ``schema`` and return it coerced for the model.

    Called by ``PyFuncModel.predict`` before the flavor's predict. Returns a
    pandas DataFrame for column schemas (the input object itself when nothing
    had to change), an ndarray or a dict of name -> ndarray for tensor
    schemas, and ``data`` untouched when ``schema`` is None. Extra columns or
    tensors are dropped with a UserWarning. Raises SchemaEnforcementError.
    """
    if schema is None:
        return data
    plan = _plan(schema)
    if plan.tensor:
        return _enforce_tensors(data, plan)
    return _enforce_columns(data, plan)


# ---------------------------------------------------------------- column schemas


def _frame_dtypes(df: pd.DataFrame) -> Any:
    try:
        # the block manager answers in well under a microsecond; df.dtypes builds a Series
        return df._mgr.get_dtypes()
    except AttributeError:
        return df.dtypes.to_numpy()


def _column_array(df: pd.DataFrame, i: int) -> Any:
    """The values of column ``i``: an ndarray, or a pandas ExtensionArray."""
    try:
        # ~0.5 us; df.iloc[:, i] or df[label] build a Series (~10-20 us each on pandas 3)
        return df._get_column_array(i)
    except AttributeError:
        return df.iloc[:, i].array if _is_extension(df.dtypes.iloc[i]) else df.iloc[:, i].to_numpy()


def _is_extension(dtype: Any) -> bool:
    import pandas as pd

    return isinstance(dtype, pd.api.extensions.ExtensionDtype)


def _enforce_columns(data: Any, plan: _Plan) -> pd.DataFrame:
    import pandas as pd

    df = data if isinstance(data, pd.DataFrame) else _to_frame(data, plan)
    cols = df.columns
    n = len(plan.specs)
    in_order = cols.equals(plan.index) if plan.named else len(cols) == n
    if in_order and plan.fast is not None:
        for actual, expected in zip(_frame_dtypes(df), plan.fast, strict=True):
            if expected is None:
                if not isinstance(actual, pd.StringDtype):
                    break
            elif actual is not expected and actual != expected:
                break
        else:
            return df
    if in_order:
        pairs = [(s, i, f"[{i}]" if k is None else k) for i, (s, k) in enumerate(plan.pairs)]
    elif plan.named:
        pairs = _match_named(df, plan)
    else:
        if len(cols) < n:
            raise SchemaEnforcementError(
                f"the signature declares {n} unnamed columns, the input has {len(cols)}; "
                "unnamed columns are matched by position, so pass all of them in order",
                field=_label(plan.specs[len(cols)], len(cols)),
                expected=f"{n} columns",
                actual=f"{len(cols)} columns",
            )
        _warn(f"the input has {len(cols) - n} more column(s) than the signature; dropped")
        pairs = [(s, i, f"[{i}]") for i, s in enumerate(plan.specs)]
    positions: list[int] = []
    outputs: list[Any] = []
    changed = not in_order
    for spec, i, field in pairs:
        values = _column_array(df, i)
        new = _enforce_column(values, spec, field)
        changed = changed or new is not values
        positions.append(i)
        outputs.append(new)
    if not changed:
        return df
    labels = cols if positions == list(range(len(cols))) else cols.take(positions)
    return _assemble(outputs, labels, df.index)


def _assemble(arrays: list[Any], labels: pd.Index, index: pd.Index) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    if not arrays:
        return pd.DataFrame(index=index)
    first = arrays[0]
    if first.dtype.kind != "O" and all(
        type(a) is np.ndarray and a.ndim == 1 and a.dtype == first.dtype for a in arrays
    ):
        # one 2-D block builds ~8x faster than a dict of columns
        return pd.DataFrame(np.column_stack(arrays), columns=labels, index=index, copy=False)
    return pd.DataFrame(dict(zip(labels, arrays, strict=True)), index=index, copy=False)


def _to_frame(data: Any, plan: _Plan) -> pd.DataFrame:
    """Turn the accepted non-DataFrame inputs into a DataFrame (FORMAT.md §5.1)."""
    import numpy as np
    import pandas as pd

    complex_cols = any(not isinstance(s.type, DataType) for s in plan.specs)
    try:
        if isinstance(data, pd.Series):
            return data.to_frame()
        if isinstance(data, (str, bytes)) or np.isscalar(data):
            return pd.DataFrame([data])
        if isinstance(data, dict):
            if complex_cols or all(v is None or np.isscalar(v) for v in data.values()):
                return pd.DataFrame([data])
            return pd.DataFrame(
                {
                    k: v.tolist() if isinstance(v, np.ndarray) and v.ndim > 1 else v
                    for k, v in data.items()
                }
            )
        if isinstance(data, list):
            if len(plan.specs) == 1 and complex_cols and not all(isinstance(x, dict) for x in data):
                # one complex column: each element is one cell, not one row of cells
                name = plan.specs[0].name
                return pd.DataFrame({0 if name is None else name: pd.Series(data, dtype=object)})
            return pd.DataFrame(data)
        if isinstance(data, np.ndarray):
            if data.ndim > 2:
                raise SchemaEnforcementError(
                    f"a column signature takes 1-D or 2-D arrays, got {data.ndim}-D; "
                    "reshape to (rows, columns)",
                    field=None,
                    expected="DataFrame or 2-D array",
                    actual=f"ndarray of shape {data.shape}",
                )
            return pd.DataFrame(data)
    except (ValueError, TypeError) as exc:
        raise SchemaEnforcementError(
            f"could not build a DataFrame from the {type(data).__name__} input: {exc}",
            expected="DataFrame",
            actual=type(data).__name__,
        ) from None
    raise SchemaEnforcementError(
        "a column signature takes a DataFrame, Series, dict, list, ndarray or scalar, "
        f"got {type(data).__name__}",
        expected="DataFrame",
        actual=type(data).__name__,
    )


def _match_named(df: pd.DataFrame, plan: _Plan) -> list[tuple[Any, int, str]]:
    """Pair each spec with its input column position by name; check missing, drop extra."""
    by_key: dict[str, int] = {}
    for i, label in enumerate(df.columns):
        key = label if isinstance(label, str) else str(label)
        if key in by_key:
            raise SchemaEnforcementError(
                f"the input has two columns named {key!r}; rename one",
                field=key,
                expected="unique column names",
                actual="duplicated column",
            )
        by_key[key] = i
    missing = [
        k for s, k in zip(plan.specs, plan.keys, strict=True) if s.required and k not in by_key
    ]
    extra = [k for k in by_key if k not in plan.keys]
    if missing:
        note = f" The input also has columns the signature does not name: {extra}." if extra else ""
        raise SchemaEnforcementError(
            f"Model is missing inputs {missing}.{note} Add the missing column(s) to the input.",
            field=", ".join(missing),
            expected=list(plan.keys),
            actual=list(by_key),
        )
    if extra:
        _warn(f"dropping input column(s) the signature does not name: {extra}")
    return [(s, by_key[k], k) for s, k in zip(plan.specs, plan.keys, strict=True) if k in by_key]


def _enforce_column(values: Any, spec: ColSpec, field: str) -> Any:
    t = spec.type
    if isinstance(t, DataType):
        return _enforce_scalar_column(values, t, field)
    if not isinstance(t, AnyType):
        for row, value in enumerate(values):
            _check_value(value, t, spec.required, field, f"column {field!r}, row {row}")
    return values


def _hint_cast(field: str, dtype: Any) -> str:
    return f"cast with df[{field!r}].astype({str(dtype)!r})"


def _column_error(
    field: str, t: DataType, actual: Any, why: str, fix: str
) -> SchemaEnforcementError:
    return SchemaEnforcementError(
        f"column {field!r}: expected {t.name} ({t.to_numpy()}), got {actual}{why}; {fix}",
        field=field,
        expected=t.name,
        actual=str(actual),
    )


def _enforce_scalar_column(values: Any, t: DataType, field: str) -> Any:
    """Apply the scalar rules of FORMAT.md §5.3 plus flavorkit's lossless widening.

    ``values`` is an ndarray or a pandas ExtensionArray; the result is the same
    object when it passes as-is, else the converted values.
    """
    import numpy as np

    dtype = values.dtype
    target = t.to_numpy()
    if dtype == target:
        return values
    if t in (DataType.string, DataType.binary, DataType.boolean) or _is_object(dtype):
        special = _enforce_special_column(values, t, field)
        if special is not None:
            return special
    if t is DataType.datetime:
        return _enforce_datetime_column(values, field)
    if t in (DataType.string, DataType.binary):
        raise _column_error(
            field, t, dtype, "", _hint_cast(field, "str" if t is DataType.string else "bytes")
        )
    if _is_extension(dtype) and hasattr(dtype, "numpy_dtype"):
        return _enforce_nullable_column(values, t, field)
    if (
        not isinstance(dtype, np.dtype)
        or dtype.kind not in "biuf"
        or (dtype.kind == "b") != (t is DataType.boolean)
    ):
        raise _column_error(field, t, dtype, "", _hint_cast(field, target))
    cast = _exact_cast(values, target)
    if cast is None:
        raise _column_error(
            field, t, dtype, _lossy_reason(values, target), _lossy_fix(field, values, target)
        )
    return cast


def _enforce_special_column(values: Any, t: DataType, field: str) -> Any:
    """Object, string, category and boolean columns; None when the numeric rules apply."""
    import decimal

    import numpy as np
    import pandas as pd

    dtype = values.dtype
    if t is DataType.string and isinstance(dtype, pd.StringDtype):
        return values
    if (
        t is DataType.string
        and isinstance(dtype, pd.CategoricalDtype)
        and all(isinstance(c, str) for c in dtype.categories)
    ):
        return values
    if t is DataType.binary and dtype.kind == "S":
        return values
    if not _is_object(dtype):
        return None
    allowed: tuple[type, ...] | None = {
        DataType.string: (str,),
        DataType.binary: (bytes, bytearray),
        DataType.boolean: (bool, np.bool_),
        DataType.datetime: (datetime.date, np.datetime64, str),
    }.get(t)
    if allowed is not None:
        for row, v in enumerate(values):
            if not isinstance(v, allowed) and not _is_null(v):
                raise _column_error(
                    field,
                    t,
                    f"object column holding {type(v).__name__} (row {row})",
                    "",
                    _hint_cast(field, "str")
                    if t is DataType.string
                    else "send values of that type",
                )
        return None if t is DataType.datetime else values
    if t is DataType.double and any(isinstance(v, decimal.Decimal) for v in values):
        # Spark decimals arrive as objects; MLflow converts them the same way
        return pd.to_numeric(pd.Series(values), errors="raise").to_numpy(dtype="float64")
    present = [v for v in values if not _is_null(v)]
    if len(present) < len(values) and all(_is_int(v) for v in present):
        # Python ints with None: a nullable integer column holds them exactly (floats would not)
        try:
            ints = pd.array([None if _is_null(v) else int(v) for v in values], dtype="Int64")
        except (OverflowError, TypeError, ValueError):
            raise _column_error(
                field, t, "object column holding ints beyond int64", "", "send them as strings"
            ) from None
        return _enforce_scalar_column(ints, t, field)
    inferred = pd.Series(values, dtype=object).infer_objects()
    if _is_object(inferred.dtype):
        kinds = sorted({type(v).__name__ for v in present})
        raise _column_error(
            field, t, f"object column holding {kinds}", "", _hint_cast(field, t.to_numpy())
        )
    array = inferred.array if _is_extension(inferred.dtype) else inferred.to_numpy()
    return _enforce_scalar_column(array, t, field)


def _is_int(v: Any) -> bool:
    import numpy as np

    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _enforce_datetime_column(values: Any, field: str) -> Any:
    import numpy as np
    import pandas as pd

    t = DataType.datetime
    dtype = values.dtype
    if isinstance(dtype, np.dtype) and dtype.kind == "M":
        # any unit passes as-is: converting to [ns] would overflow outside 1677-2262
        return values
    if getattr(dtype, "tz", None) is not None:
        raise _column_error(
            field,
            t,
            dtype,
            " (time-zone aware)",
            f"drop the zone with df[{field!r}].dt.tz_convert(None)",
        )
    if _is_object(dtype):
        try:
            return pd.Series(values).astype("datetime64[ns]").to_numpy()
        except (ValueError, TypeError, OverflowError):
            raise _column_error(
                field,
                t,
                dtype,
                " that do not parse as dates",
                f"convert with pd.to_datetime(df[{field!r}])",
            ) from None
    raise _column_error(field, t, dtype, "", f"convert with pd.to_datetime(df[{field!r}])")


def _enforce_nullable_column(values: Any, t: DataType, field: str) -> Any:
    """pandas nullable columns (Int64, Float64, boolean, ...): keep NA, never lose a value."""
    import numpy as np

    dtype = values.dtype
    src = np.dtype(dtype.numpy_dtype)
    target = t.to_numpy()
    if src.kind not in "biuf" or (src.kind == "b") != (t is DataType.boolean):
        raise _column_error(field, t, dtype, "", _hint_cast(field, target))
    mask = np.asarray(values.isna(), dtype=bool)
    present = values[~mask].to_numpy(dtype=src)
    cast = _exact_cast(present, target)
    if cast is None:
        raise _column_error(
            field, t, dtype, _lossy_reason(present, target), _lossy_fix(field, present, target)
        )
    if not mask.any():
        return cast
    if target.kind == "f":
        full = np.full(len(values), np.nan, dtype=target)
        full[~mask] = cast
        return full
    if src.kind == "f":
        raise _column_error(
            field,
            t,
            dtype,
            " with missing values",
            "declare the column 'double', or use a nullable integer: "
            f"df[{field!r}].astype('Int64')",
        )
    # integers or booleans with missing values stay a nullable pandas column of the declared width
    nullable = {"bool": "boolean", "int32": "Int32", "int64": "Int64"}[target.name]
    return values if str(dtype) == nullable else values.astype(nullable)


def _exact_cast(values: np.ndarray, target: np.dtype) -> np.ndarray | None:
    """Return ``values`` as ``target`` when every value converts exactly, else None."""
    import numpy as np

    src = values.dtype
    if src == target:
        return values
    if src.kind in "biuf" and target.kind in "biuf":
        if (src.kind == "b") != (target.kind == "b"):
            return None
        if _widens(src, target):
            return values.astype(target)
        with np.errstate(all="ignore"):
            out = values.astype(target)
            back = out.astype(src)
        return (
            out
            if np.array_equal(back, values, equal_nan=src.kind == "f" and target.kind == "f")
            else None
        )
    if target.kind in "US" and src.kind == target.kind:
        return values
    if target.kind == "O":
        return values.astype(object)
    if src.kind == "O" and target.kind in "US":
        kind = str if target.kind == "U" else bytes
        return values.astype(target) if all(isinstance(v, kind) for v in values) else None
    if src.kind == "M" and target.kind == "M":
        with np.errstate(all="ignore"):
            out = values.astype(target)
        return out if np.array_equal(out.astype(src), values, equal_nan=True) else None
    return None


def _widens(src: np.dtype, target: np.dtype) -> bool:
    """Whether every value of ``src`` fits ``target`` exactly (numpy calls int64->float64 safe)."""
    if src.kind == target.kind:
        return src.itemsize <= target.itemsize
    if src.kind == "u" and target.kind == "i":
        return src.itemsize < target.itemsize
    if src.kind in "iu" and target.kind == "f":
        mantissa = {2: 11, 4: 24, 8: 53}.get(target.itemsize, 0)
        return src.itemsize * 8 <= mantissa
    return False


def _lossy_reason(values: np.ndarray, target: np.dtype) -> str:
    import numpy as np

    if values.dtype.kind == "f" and target.kind in "iu":
        if np.isnan(values).any():
            return " with missing values (NaN)"
        return " with values that are not whole numbers or do not fit"
    return f" with values that {target} cannot hold exactly"


def _lossy_fix(field: str, values: np.ndarray, target: np.dtype) -> str:
    import numpy as np

    if values.dtype.kind == "f" and target.kind in "iu" and np.isnan(values).any():
        # the classic case: an integer column with missing values arrives as floats
        return (
            "integer columns with missing values arrive as floats; declare the column 'double' "
            f"in the signature, or send a nullable integer column (df[{field!r}].astype('Int64'))"
        )
    return f"{_hint_cast(field, target)} if losing precision is acceptable"


def _is_object(dtype: Any) -> bool:
    """Whether ``dtype`` is numpy's object dtype (not a pandas extension dtype)."""
    import numpy as np

    return isinstance(dtype, np.dtype) and dtype.kind == "O"


def _is_null(v: Any) -> bool:
    if v is None or (isinstance(v, float) and v != v):
        return True
    import pandas as pd

    return v is pd.NA or v is pd.NaT


def _scalar_ok(v: Any, t: DataType) -> bool:
    """Whether one Python/numpy value is of type ``t`` (or converts to it exactly)."""
    import numpy as np

    if t is DataType.string:
        return isinstance(v, str)
    if t is DataType.binary:
        return isinstance(v, (bytes, bytearray))
    if t is DataType.boolean:
        return isinstance(v, (bool, np.bool_))
    if t is DataType.datetime:
        return isinstance(v, (datetime.date, np.datetime64))
    if isinstance(v, (bool, np.bool_)):
        return False
    if isinstance(v, (int, np.integer)):
        limit = {"integer": 2**31, "long": 2**63, "float": 2**24, "double": 2**53}[t.name]
        return -limit <= int(v) < limit if t.name in ("integer", "long") else abs(int(v)) <= limit
    if isinstance(v, (float, np.floating)) and t in (DataType.float, DataType.double):
        if t is DataType.double or isinstance(v, (np.float32, np.float16)) or v != v:
            return True
        with np.errstate(all="ignore"):
            return float(np.float32(v)) == float(v)
    return False


def _check_value(v: Any, t: Any, required: bool, field: str, where: str) -> None:
    """Check one cell of a complex column (recursively); raise SchemaEnforcementError."""
    import numpy as np

    if isinstance(t, AnyType):
        return
    if not required and _is_null(v):
        return
    ok = True
    if isinstance(t, DataType):
        ok = _scalar_ok(v, t)
    elif isinstance(t, Array):
        ok = isinstance(v, (list, np.ndarray))
        if ok:
            for i, item in enumerate(v):
                _check_value(item, t.dtype, required, field, f"{where}[{i}]")
    elif isinstance(t, Map):
        ok = isinstance(v, dict) and all(isinstance(k, str) for k in v)
        if ok:
            for k, item in v.items():
                _check_value(item, t.value_type, required, field, f"{where}[{k!r}]")
    elif isinstance(t, Object):
        ok = isinstance(v, dict)
        if ok:
            props = {p.name: p for p in t.properties}
            missing = sorted(n for n, p in props.items() if p.required and n not in v)
            extra = sorted(str(k) for k in v if k not in props)
            if missing or extra:
                raise SchemaEnforcementError(
                    f"{where}: missing required properties {missing}, "
                    f"properties not in the signature {extra}; send exactly the declared keys",
                    field=field,
                    expected=type_label(t),
                    actual=f"object with keys {sorted(map(str, v))}",
                )
            for k, item in v.items():
                _check_value(item, props[k].dtype, props[k].required, field, f"{where}[{k!r}]")
    if not ok:
        raise SchemaEnforcementError(
            f"{where}: expected {type_label(t)}, got {type(v).__name__}",
            field=field,
            expected=type_label(t),
            actual=type(v).__name__,
        )


# ---------------------------------------------------------------- tensor schemas


def _enforce_tensors(data: Any, plan: _Plan) -> Any:
    import numpy as np
    import pandas as pd

    specs = plan.specs
    if not plan.named:
        spec = specs[0]
        if isinstance(data, pd.DataFrame):
            return _frame_to_tensor(data, spec)
        if isinstance(data, np.ndarray) or _is_sparse(data):
            return _check_tensor(data, spec, "[0]")
        raise _tensor_input_error(data, "an ndarray (or a DataFrame)")
    if isinstance(data, np.ndarray) and len(specs) == 1:
        data = {specs[0].name: data}
    if isinstance(data, pd.DataFrame):
        missing = [str(s.name) for s in specs if s.name not in data.columns]
        _check_names(missing, [str(c) for c in data.columns if c not in plan.index])
        return {s.name: _column_to_tensor(data[s.name], s, str(s.name)) for s in specs}
    if not isinstance(data, dict):
        raise _tensor_input_error(data, "a dict of name -> ndarray")
    by_key = {str(k): k for k in data}
    missing = [k for k in plan.keys if k not in by_key]
    _check_names(missing, [k for k in by_key if k not in plan.keys])
    out = {}
    for s, k in zip(specs, plan.keys, strict=True):
        value = data[by_key[k]]
        if not isinstance(value, np.ndarray):
            raise SchemaEnforcementError(
                f"tensor {k!r}: expected an ndarray, got {type(value).__name__}; "
                f"convert with np.asarray(value, dtype={s.type.name!r})",
                field=k,
                expected=f"ndarray of {s.type.name}",
                actual=type(value).__name__,
            )
        out[s.name] = _check_tensor(value, s, k)
    return out


def _check_names(missing: list[str], extra: list[str]) -> None:
    if missing:
        note = (
            f" The input also has names the signature does not declare: {extra}." if extra else ""
        )
        raise SchemaEnforcementError(
            f"Model is missing inputs {missing}.{note} Add the missing tensor(s) to the input.",
            field=", ".join(missing),
            expected=missing,
            actual=extra,
        )
    if extra:
        _warn(f"dropping input tensor(s) the signature does not declare: {extra}")


def _is_sparse(x: Any) -> bool:
    return (
        type(x).__module__.startswith("scipy.sparse") and hasattr(x, "data") and hasattr(x, "shape")
    )


def _tensor_input_error(data: Any, wanted: str) -> SchemaEnforcementError:
    fix = "; convert with np.asarray(...)" if isinstance(data, (list, tuple)) else ""
    return SchemaEnforcementError(
        f"a tensor signature takes {wanted}, got {type(data).__name__}{fix}",
        expected=wanted,
        actual=type(data).__name__,
    )


def _check_tensor(values: Any, spec: TensorSpec, field: str) -> Any:
    """Check rank, fixed dimensions and dtype (no casting), as MLflow does."""
    import numpy as np

    shape, dtype = spec.shape, spec.type
    actual_shape = tuple(values.shape)
    actual = values.dtype if isinstance(values, np.ndarray) else values.data.dtype
    if shape == (-1,) and dtype.kind == "O":
        return values  # an object vector accepts anything
    if len(shape) > 1 and -1 in shape[1:] and len(actual_shape) == 1 and actual.kind == "O":
        return values  # a ragged array (1-D of objects) against a variable inner shape
    if len(shape) != len(actual_shape):
        fix = f"wrong rank, reshape with x.reshape({', '.join(map(str, shape))})"
    else:
        pairs = enumerate(zip(shape, actual_shape, strict=True))
        wrong = [k for k, (e, a) in pairs if e not in (-1, a)]
        fix = f"dimension {wrong[0]} must be {shape[wrong[0]]}" if wrong else ""
    if fix:
        raise SchemaEnforcementError(
            f"tensor {field!r}: expected shape {shape} (-1 = any size), "
            f"got shape {actual_shape}; {fix}",
            field=field,
            expected=shape,
            actual=actual_shape,
        )
    clean = np.dtype(actual.char) if actual.kind in "US" else actual
    if clean != dtype:
        raise SchemaEnforcementError(
            f"tensor {field!r}: expected dtype {dtype.name}, got {actual.name}; "
            f"cast with x.astype({dtype.name!r})",
            field=field,
            expected=dtype.name,
            actual=actual.name,
        )
    return values


def _frame_to_tensor(df: pd.DataFrame, spec: TensorSpec) -> Any:
    if df.empty:
        raise SchemaEnforcementError(
            "the input DataFrame is empty", field="[0]", expected=spec.shape, actual=df.shape
        )
    if df.shape[1] == 1:
        return _column_to_tensor(df[df.columns[0]], spec, "[0]")
    if spec.shape != (-1, df.shape[1]):
        raise SchemaEnforcementError(
            f"tensor '[0]': a DataFrame of {df.shape[1]} scalar columns needs shape "
            f"(-1, {df.shape[1]}), the signature declares {spec.shape}",
            field="[0]",
            expected=spec.shape,
            actual=df.shape,
        )
    return _check_tensor(df.to_numpy(), spec, "[0]")


def _column_to_tensor(col: pd.Series, spec: TensorSpec, field: str) -> Any:
    """One DataFrame column -> one tensor (scalars, or list/ndarray cells stacked)."""
    import numpy as np

    shape = spec.shape
    if shape[0] != -1 or -1 in shape[1:]:
        raise SchemaEnforcementError(
            f"tensor {field!r}: DataFrame input needs a shape whose first dimension is -1 and "
            f"the others fixed, the signature declares {shape}; pass an ndarray instead",
            field=field,
            expected=shape,
            actual="DataFrame column",
        )
    if len(col) == 0:
        raise SchemaEnforcementError(
            f"tensor {field!r}: the column is empty", field=field, expected=shape, actual=(0,)
        )
    first = col.iloc[0]
    if np.isscalar(first):
        if shape not in ((-1,), (-1, 1)):
            raise SchemaEnforcementError(
                f"tensor {field!r}: a column of scalars needs shape (-1,) or (-1, 1), "
                f"the signature declares {shape}",
                field=field,
                expected=shape,
                actual=(len(col),),
            )
        stacked = col.to_numpy().reshape(shape)
    elif isinstance(first, (list, np.ndarray)):
        try:
            stacked = np.vstack(col.tolist()).reshape(shape)
        except ValueError:
            raise SchemaEnforcementError(
                f"tensor {field!r}: the cells cannot be stacked into shape {shape}; "
                "every cell needs the same length",
                field=field,
                expected=shape,
                actual="ragged cells",
            ) from None
        if len(stacked) != len(col):
            raise SchemaEnforcementError(
                f"tensor {field!r}: {len(col)} rows became {len(stacked)} "
                f"after reshaping to {shape}",
                field=field,
                expected=shape,
                actual=stacked.shape,
            )
        if isinstance(first, np.ndarray):
            return _check_tensor(stacked, spec, field)
    else:
        raise SchemaEnforcementError(
            f"tensor {field!r}: DataFrame cells must be scalars, lists or ndarrays, "
            f"got {type(first).__name__}",
            field=field,
            expected=shape,
            actual=type(first).__name__,
        )
    cast = _exact_cast(stacked, spec.type)
    if cast is None:
        raise SchemaEnforcementError(
            f"tensor {field!r}: expected dtype {spec.type.name}, got {stacked.dtype.name} with "
            f"values that {spec.type.name} cannot hold exactly; cast the column first",
            field=field,
            expected=spec.type.name,
            actual=stacked.dtype.name,
        )
    return _check_tensor(cast, spec, field)


# ---------------------------------------------------------------- params


def enforce_params(
    params: dict[str, Any] | None, param_schema: ParamSchema | None
) -> dict[str, Any]:
    """Validate ``params`` against ``param_schema`` and fill in defaults.

    Called by ``PyFuncModel.predict`` after :func:`enforce_schema`. Returns a
    new dict holding every declared param (missing ones get their default)
    converted to Python builtins. Unknown params are dropped with a
    UserWarning; with no params schema every param is dropped that way and
    ``{}`` is returned. Raises SchemaEnforcementError listing every invalid
    param at once; its ``expected``/``actual`` are dicts keyed by param name.
    """
    if param_schema is None:
        if params:
            names = sorted(map(str, params)) if isinstance(params, dict) else "params"
            _warn(f"the model declares no params schema; ignoring {names}")
        return {}
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise SchemaEnforcementError(
            f"params must be a dict of name -> value, got {type(params).__name__}",
            field="params",
            expected="dict",
            actual=type(params).__name__,
        )
    if any(not isinstance(k, str) for k in params):
        _warn("param names should be strings; converting them with str()")
        params = {str(k): v for k, v in params.items()}
    declared = {p.name for p in param_schema}
    unknown = sorted(k for k in params if k not in declared)
    if unknown:
        _warn(
            f"ignoring params the signature does not declare: {unknown}; "
            f"declared: {sorted(declared)}"
        )
    out: dict[str, Any] = {}
    errors: dict[str, str] = {}
    expected: dict[str, str] = {}
    actual: dict[str, str] = {}
    for spec in param_schema:
        if spec.name not in params:
            # a copy, so a model that mutates a list/dict default cannot change the next call
            out[spec.name] = copy.deepcopy(spec.default)
            continue
        value = params[spec.name]
        try:
            out[spec.name] = _validate_param(value, spec.dtype, spec.shape)
        except ValueError as exc:
            errors[spec.name] = str(exc)
            expected[spec.name] = type_label(spec.dtype) + ("" if spec.shape is None else " list")
            actual[spec.name] = type(value).__name__
    if errors:
        detail = "; ".join(f"{name!r}: {msg}" for name, msg in errors.items())
        raise SchemaEnforcementError(
            f"Invalid parameters found: {detail}",
            field=", ".join(errors),
            expected=expected,
            actual=actual,
        )
    return out


def _validate_param(value: Any, dtype: DataType | Object, shape: tuple[int, ...] | None) -> Any:
    """Check one param value; return it as Python builtins. Raise ValueError (no value echoed).

    Also validates ``ParamSpec`` defaults.
    """
    import numpy as np

    if shape is None:
        return _param_value(value, dtype)
    if isinstance(value, np.ndarray):
        if value.ndim != 1:
            raise ValueError(f"expected a 1-D list, got a {value.ndim}-D array")
        items = list(value)
    elif isinstance(value, list):
        if any(isinstance(v, (list, tuple, np.ndarray)) for v in value):
            raise ValueError("expected a 1-D list, got a nested list")
        items = value
    else:
        raise ValueError(f"expected a 1-D list, got {type(value).__name__}")
    return [_param_value(v, dtype) for v in items]


def _param_value(value: Any, dtype: DataType | Object) -> Any:
    import numpy as np

    if value is None:
        return None
    if isinstance(dtype, Object):
        try:
            _check_value(value, dtype, True, "param", "value")
        except SchemaEnforcementError as exc:
            raise ValueError(str(exc)) from None
        return value
    if dtype is DataType.datetime:
        return _param_datetime(value)
    if dtype is DataType.boolean:
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
    elif dtype is DataType.string:
        if isinstance(value, str):
            return str(value)
    elif isinstance(value, (bool, np.bool_)):
        pass
    elif dtype in (DataType.integer, DataType.long):
        if isinstance(value, (int, np.integer)):
            bits = 31 if dtype is DataType.integer else 63
            if -(2**bits) <= int(value) < 2**bits:
                return int(value)
            raise ValueError(f"expected {dtype.name}, got an integer outside its range")
    elif isinstance(value, (int, np.integer)):
        # float/double params arrive as Python floats (64 bit); ints beyond 2**53 would round
        if abs(int(value)) <= 2**53:
            return float(value)
        raise ValueError(f"expected {dtype.name}, got an integer too large to convert exactly")
    elif isinstance(value, (float, np.floating)):
        return float(value)
    raise ValueError(f"expected {dtype.name}, got {type(value).__name__}")


def _param_datetime(value: Any) -> Any:
    import numpy as np

    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            raise ValueError("expected a time-zone naive datetime, got an aware one")
        if type(value) is not datetime.datetime:
            # a pandas Timestamp: keep it only when no nanoseconds would be dropped
            if getattr(value, "nanosecond", 0):
                raise ValueError("expected datetime, got a value finer than microseconds")
            return datetime.datetime(*value.timetuple()[:6], value.microsecond)
        return value
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, (bool, int, float, np.number)):
        raise ValueError(f"expected datetime, got {type(value).__name__}")
    try:
        with warnings.catch_warnings():
            # numpy only warns about time-zone offsets in strings; refuse them instead
            warnings.simplefilter("error")
            result = np.datetime64(value).item()
    except (ValueError, TypeError, Warning):
        raise ValueError(
            f"expected datetime, got a {type(value).__name__} that does not parse as a naive one"
        ) from None
    if not isinstance(result, datetime.date):
        raise ValueError("expected datetime, got a value finer than microseconds")
    return result
