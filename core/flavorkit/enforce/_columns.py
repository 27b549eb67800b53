"""Enforcement of column-based schemas (ColSpecs): DataFrames and what converts to one.

Called by :func:`flavorkit.enforce.enforce_schema` for a schema of ColSpecs.
Implements FORMAT.md §5.1-§5.3 (input conversion, column matching, scalar
type rules) with flavorkit's lossless widenings; the cells of complex columns
(§5.4) go to :mod:`flavorkit.enforce._complex`. docs/signatures.md lists
where these differ from MLflow.

numpy and pandas are imported inside the functions, so importing this module
is cheap.
"""

from __future__ import annotations

import datetime
import re
from typing import TYPE_CHECKING, Any

from flavorkit.enforce._complex import conform_cell
from flavorkit.enforce._values import _is_extension, _is_object, _warn, names_preview
from flavorkit.exceptions import SchemaEnforcementError
from flavorkit.signature import AnyType, Array, ColSpec, DataType, Map, Object, TensorSpec
from flavorkit.signature._exact import exact_cast, is_null

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from flavorkit.enforce._plan import Plan

# how ISO 8601 text starts: its year (a negative one too)
_YEAR_FIRST = re.compile(r"-?[0-9]").match


def not_year_first(values: Any, *, empty_is_missing: bool) -> int | None:
    """The index of the first text in ``values`` that does not start with its year, or None.

    ISO 8601 dates start with the year; pandas would read "now" and "today"
    as the clock and "NaT" as missing. ``empty_is_missing`` lets ``""``
    through (as pandas 2 read it, a missing value).
    """
    return next(
        (
            i
            for i, v in enumerate(values)
            if type(v) is str and (v or not empty_is_missing) and not _YEAR_FIRST(v)
        ),
        None,
    )


def _label(spec: ColSpec | TensorSpec, i: int) -> str:
    return str(spec.name) if spec.name is not None else f"[{i}]"


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


def enforce_columns(data: Any, plan: Plan) -> pd.DataFrame:
    """Check ``data`` against a column schema's ``plan``; return it as a conforming DataFrame.

    The input frame itself comes back when nothing had to change. Raises
    SchemaEnforcementError.
    """
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
    # object arrays go in as object Series: pandas 3 would turn strings into its str dtype
    columns = [
        pd.Series(a, index=index, dtype=object, copy=False)
        if type(a) is np.ndarray and a.dtype.kind == "O"
        else a
        for a in arrays
    ]
    return pd.DataFrame(dict(zip(labels, columns, strict=True)), index=index, copy=False)


def _to_frame(data: Any, plan: Plan) -> pd.DataFrame:
    """Turn the accepted non-DataFrame inputs into a DataFrame (FORMAT.md §5.1)."""
    import numpy as np
    import pandas as pd

    # Array, Map and Object columns hold a container per cell; `any` columns take what pandas
    # builds, as in MLflow (a list spreads over rows there)
    complex_cols = any(isinstance(s.type, (Array, Map, Object)) for s in plan.specs)
    try:
        if isinstance(data, pd.Series):
            return data.to_frame()
        if isinstance(data, (str, bytes)) or np.isscalar(data):
            return pd.DataFrame([data])
        if isinstance(data, dict):
            return _dict_frame(data, plan, complex_cols)
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
    except SchemaEnforcementError:
        raise
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


def _dict_frame(data: dict[Any, Any], plan: Plan, complex_cols: bool) -> pd.DataFrame:
    """A dict as one row or as columns, as MLflow decides (FORMAT.md §5.1).

    One row when the schema has complex columns, or when every value is a
    scalar (a 0-d array counts as its scalar) or a list of strings; columns
    otherwise. A list that would land in one cell of a scalar column is
    refused: MLflow would hand the whole list to the model as one value.
    """
    import numpy as np
    import pandas as pd

    data = {k: v[()] if isinstance(v, np.ndarray) and v.ndim == 0 else v for k, v in data.items()}
    if not complex_cols and not all(
        not _column_like(v) or (isinstance(v, list) and all(isinstance(x, str) for x in v))
        for v in data.values()
    ):
        # pandas cannot hold a 2-D array in a column: as lists, its rows become cells
        columns = {
            k: v.tolist() if isinstance(v, np.ndarray) and v.ndim > 1 else v
            for k, v in data.items()
        }
        return pd.DataFrame(columns)
    specs = (
        dict(zip(plan.keys, plan.specs, strict=True))
        if plan.named
        else {i: s for i, s in enumerate(plan.specs)}
    )
    for i, (key, value) in enumerate(data.items()):
        spec = specs.get(str(key) if plan.named else i)
        if isinstance(value, list) and spec is not None and isinstance(spec.type, DataType):
            field = _label(spec, i)
            raise SchemaEnforcementError(
                f"column {field!r}: the dict holds a list for a scalar {spec.type.name} column; "
                "a dict of scalars and lists of strings is one row, so the whole list would be "
                "one value. For one row per item pass a DataFrame (pd.DataFrame(data)) or a "
                f"list of row dicts; for a list in one row declare the column "
                f"array<{spec.type.name}>",
                field=field,
                expected=spec.type.name,
                actual="list",
            )
    return pd.DataFrame([data])


def _column_like(v: Any) -> bool:
    """Whether a dict value holds a column (pandas spreads it over rows), not one cell."""
    import numpy as np
    import pandas as pd

    column_types = (list, tuple, range, dict, pd.Series, pd.Index, np.ndarray)
    return isinstance(v, (*column_types, pd.api.extensions.ExtensionArray))


def _match_named(df: pd.DataFrame, plan: Plan) -> list[tuple[Any, int, str]]:
    """Pair each spec with its input column position by name; check missing, drop extra."""
    by_key: dict[str, int] = {}
    for i, label in enumerate(df.columns):
        key = label if isinstance(label, str) else str(label)
        if key in by_key:
            raise SchemaEnforcementError(
                f"the input has two columns named {names_preview([key])[1:-1]}; rename one",
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
        raise missing_columns_error(missing, extra, expected=list(plan.keys), actual=list(by_key))
    if extra:
        _warn(f"dropping input column(s) the signature does not name: {names_preview(extra)}")
    return [(s, by_key[k], k) for s, k in zip(plan.specs, plan.keys, strict=True) if k in by_key]


def missing_columns_error(
    missing: list[str], extra: list[Any], *, expected: Any, actual: Any
) -> SchemaEnforcementError:
    """The error for required columns the input lacks (MLflow's wording), naming extra ones."""
    note = (
        f" The input also has {len(extra)} column(s) the signature does not name: "
        f"{names_preview(extra)}."
        if extra
        else ""
    )
    return SchemaEnforcementError(
        f"Model is missing inputs {missing}.{note} Add the missing column(s) to the input.",
        field=", ".join(missing),
        expected=expected,
        actual=actual,
    )


def _enforce_column(values: Any, spec: ColSpec, field: str) -> Any:
    t = spec.type
    if isinstance(t, DataType):
        return _enforce_scalar_column(values, t, field)
    if isinstance(t, AnyType):
        return values
    cells = [
        conform_cell(value, t, spec.required, field, f"column {field!r}, row {row}")
        for row, value in enumerate(values)
    ]
    if all(new is old for new, old in zip(cells, values, strict=True)):
        return values
    import numpy as np

    out = np.empty(len(cells), dtype=object)
    for row, cell in enumerate(cells):
        out[row] = cell  # one by one: a list must stay one cell, not become a row of them
    return out


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
    cast = exact_cast(values, target)
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
        missing = False
        for row, v in enumerate(values):
            if isinstance(v, allowed):
                continue
            if not is_null(v):
                raise _column_error(
                    field,
                    t,
                    f"object column holding {type(v).__name__} (row {row})",
                    "",
                    _hint_cast(field, "str")
                    if t is DataType.string
                    else "send values of that type",
                )
            missing = True
        if t is DataType.datetime:
            return None
        if t is DataType.boolean and not missing and len(values):
            # only bools: numpy bool holds them exactly (MLflow casts them too); a column
            # holding None stays object, as numpy bool has no missing value
            return values.astype(bool)
        return values
    if t is DataType.double and any(isinstance(v, decimal.Decimal) for v in values):
        # Spark decimals arrive as objects; MLflow converts them the same way
        return pd.to_numeric(pd.Series(values), errors="raise").to_numpy(dtype="float64")
    present = [v for v in values if not is_null(v)]
    if len(present) < len(values) and all(_is_int(v) for v in present):
        # Python ints with None: a nullable integer column holds them exactly (floats would not)
        try:
            ints = pd.array([None if is_null(v) else int(v) for v in values], dtype="Int64")
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
        bad = not_year_first(values, empty_is_missing=True)
        if bad is not None:
            raise _column_error(
                field,
                t,
                dtype,
                f" holding text that is not an ISO 8601 date (row {bad})",
                "send dates as ISO 8601 text starting with the year, and None for no date",
            )
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
    cast = exact_cast(present, target)
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
