"""Cells of complex columns (Array, Map, Object): checked, and their items converted.

MLflow converts every item of an Array, Map or Object cell to its declared
type (FORMAT.md §5.4): ``np.int32`` items of an ``array<double>`` reach the
model as floats, a ``datetime64`` value of a ``map<string, datetime>`` as a
``pd.Timestamp``, an object array of strings as a numpy string array. flavorkit
converts the same items, but only exactly (:mod:`flavorkit.signature._exact`),
and keeps an item that already has the declared type as it is. Items MLflow
would mangle are refused with an error naming the column and the place of the
item: lists of datetimes (MLflow hands them on as integer nanoseconds) and
missing items of boolean, string and binary arrays (MLflow turns them into
``False`` or text).

Called by :mod:`flavorkit.enforce._columns` for each cell. A cell comes back
as the same object when nothing in it changed; containers that change are
rebuilt, never mutated, so the caller's data is left as it was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flavorkit.exceptions import SchemaEnforcementError
from flavorkit.signature import AnyType, Array, DataType, Map, type_label
from flavorkit.signature._exact import exact_cast, is_null, value_fits
from flavorkit.signature._values import object_properties, type_mismatch

if TYPE_CHECKING:
    import numpy as np

__all__ = ["conform_cell"]

# the Python type a converted item of each declared type becomes (as MLflow's ``tolist``)
_BUILTIN: dict[DataType, type] = {
    DataType.integer: int,
    DataType.long: int,
    DataType.float: float,
    DataType.double: float,
    DataType.boolean: bool,
    DataType.string: str,
    DataType.binary: bytes,
}
# what a missing item of these array types would become if it were converted
_NO_MISSING = {DataType.boolean: "False", DataType.string: "text", DataType.binary: "bytes"}


def conform_cell(v: Any, t: Any, required: bool, field: str, where: str) -> Any:
    """Check one value of declared type ``t`` (recursively) and return it converted.

    ``field`` names the column for the error, ``where`` the place of the value
    (``column 'a', row 3[0]['k']``). Returns ``v`` itself when nothing changed.
    Raises SchemaEnforcementError.
    """
    import numpy as np

    if isinstance(t, AnyType) or (not required and is_null(v)):
        return v
    if isinstance(t, DataType):
        return _scalar(v, t, field, where)
    if isinstance(t, Array):
        if isinstance(v, np.ndarray):
            return _array_cell(v, t, required, field, where)
        if isinstance(v, list):
            return _list_cell(v, t, required, field, where)
        raise type_mismatch(v, t, field, where)
    if not isinstance(v, dict):
        raise type_mismatch(v, t, field, where)
    if isinstance(t, Map):
        if not all(isinstance(k, str) for k in v):
            raise type_mismatch(v, t, field, where)
        out = {
            k: conform_cell(item, t.value_type, required, field, f"{where}[{k!r}]")
            for k, item in v.items()
        }
    else:
        props = object_properties(v, t, field, where)
        out = {
            k: conform_cell(item, props[k].dtype, props[k].required, field, f"{where}[{k!r}]")
            for k, item in v.items()
        }
    return out if any(out[k] is not item for k, item in v.items()) else v


def _scalar(v: Any, t: DataType, field: str, where: str) -> Any:
    """One item of a scalar type: kept when it has that type, else converted exactly."""
    import numpy as np

    if not value_fits(v, t):
        raise type_mismatch(v, t, field, where)
    if t is DataType.datetime:
        if isinstance(v, np.datetime64):
            import pandas as pd

            return pd.Timestamp(v)
        return v
    builtin = _BUILTIN[t]
    if (
        type(v) is builtin
        or t in (DataType.string, DataType.binary)
        or (isinstance(v, np.generic) and v.dtype == t.to_numpy())
    ):
        return v
    return builtin(v)


def _list_cell(v: list[Any], t: Array, required: bool, field: str, where: str) -> Any:
    item_t = t.dtype
    if item_t is DataType.datetime and any(not is_null(x) for x in v):
        raise SchemaEnforcementError(
            f"{where}: the items of {type_label(t)} must come as a datetime64 array, got a "
            "list (converting a list of dates keeps no date type: they would reach the model "
            "as integer nanoseconds); send np.array(cell, dtype='datetime64[ns]')",
            field=field,
            expected=type_label(t),
            actual="list",
        )
    out = [_item(x, item_t, required, field, f"{where}[{i}]", t) for i, x in enumerate(v)]
    return out if any(a is not b for a, b in zip(out, v, strict=True)) else v


def _item(x: Any, item_t: Any, required: bool, field: str, where: str, t: Array) -> Any:
    """One item of an array cell; a missing one is kept, made NaN or refused by its type."""
    if required or not isinstance(item_t, DataType) or not is_null(x):
        return conform_cell(x, item_t, required, field, where)
    if item_t in _NO_MISSING:
        raise SchemaEnforcementError(
            f"{where}: a missing item in {type_label(t)} has no {item_t.name} value "
            f"(converting it would give {_NO_MISSING[item_t]}); leave the item out, "
            "or send None for the whole cell",
            field=field,
            expected=item_t.name,
            actual="None",
        )
    if item_t in (DataType.float, DataType.double) and not isinstance(x, float):
        return float("nan")
    return x


def _array_cell(v: np.ndarray, t: Array, required: bool, field: str, where: str) -> Any:
    """An ndarray cell: converted to the declared item dtype as a whole, exactly."""
    import numpy as np

    item_t = t.dtype
    if not isinstance(item_t, DataType) or v.dtype.kind == "O":
        items = [_item(x, item_t, required, field, f"{where}[{i}]", t) for i, x in enumerate(v)]
        if isinstance(item_t, DataType):
            return _typed_items(items, item_t, field, where, t)
        return _as_array(items) if any(a is not b for a, b in zip(items, v, strict=True)) else v
    kind = v.dtype.kind
    if item_t is DataType.datetime:
        target = np.dtype("datetime64[ns]")
    elif item_t in (DataType.string, DataType.binary):
        if kind == ("U" if item_t is DataType.string else "S"):
            return v
        target = None
    elif kind in "biu" or (kind == "f" and item_t in (DataType.float, DataType.double)):
        target = item_t.to_numpy()
    else:
        target = None  # floats are not integers here, as for single items
    cast = None if target is None else exact_cast(v, target)
    if cast is None:
        lossy = " whose values do not all convert exactly" if target is not None else ""
        raise SchemaEnforcementError(
            f"{where}: expected {type_label(t)}, got an array of {v.dtype}{lossy}; "
            f"send items of type {item_t.name}",
            field=field,
            expected=type_label(t),
            actual=f"ndarray of {v.dtype}",
        )
    return cast


def _typed_items(items: list[Any], t: DataType, field: str, where: str, arr: Array) -> Any:
    """Checked items of an object ndarray cell as an array of the declared dtype."""
    import numpy as np

    if t is DataType.datetime:
        import pandas as pd

        try:
            return pd.Series(items, dtype=object).astype("datetime64[ns]").to_numpy()
        except (ValueError, TypeError, OverflowError):
            raise SchemaEnforcementError(
                f"{where}: expected {type_label(arr)}, got dates that datetime64[ns] cannot "
                "hold (before 1677, after 2262, or with a time zone)",
                field=field,
                expected=type_label(arr),
                actual="ndarray of object",
            ) from None
    if t is DataType.binary or any(x is None for x in items):
        # bytes stay objects (as MLflow keeps them); an integer has no missing value
        return _as_array(items, object)
    return np.array(items, dtype=str if t is DataType.string else t.to_numpy())


def _as_array(items: list[Any], dtype: Any = None) -> np.ndarray:
    """``items`` as an ndarray (as MLflow rebuilds one), or a 1-D object array when ragged."""
    import numpy as np

    if dtype is None:
        try:
            return np.array(items)
        except ValueError:
            pass
    out = np.empty(len(items), dtype=object)
    for i, x in enumerate(items):
        out[i] = x
    return out
