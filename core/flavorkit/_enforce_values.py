"""Value-level rules shared by column, tensor and params enforcement.

Exact casts (a conversion passes only when no value changes), null and dtype
tests, the per-value check of complex types (Array, Map, Object), and the
warning every enforcement step uses when it drops something. Called from
:mod:`flavorkit._enforce_columns`, :mod:`flavorkit._enforce_tensors` and
:mod:`flavorkit._enforce_params`.

numpy and pandas are imported inside the functions, so importing this module
is cheap.
"""

from __future__ import annotations

import datetime
import warnings
from typing import TYPE_CHECKING, Any

from flavorkit._schema import AnyType, Array, DataType, Map, Object, type_label
from flavorkit.exceptions import SchemaEnforcementError, SchemaWarning

if TYPE_CHECKING:
    import numpy as np


def _warn(message: str, category: type[Warning] = SchemaWarning) -> None:
    """Warn the caller of ``PyFuncModel.predict``; drops use SchemaWarning (a UserWarning)."""
    warnings.warn(message, category, stacklevel=4)


def names_preview(names: Any, limit: int = 10, width: int = 40) -> str:
    """Up to ``limit`` names for a message, each cut to ``width`` characters, then "and N more".

    Names can come from a client (column names, keys): an error must stay short
    whatever they send, so neither their number nor their length is echoed in full.
    """
    names = list(names) if not isinstance(names, (list, tuple)) else names
    shown = []
    for name in names[:limit]:
        text = name if isinstance(name, str) else str(name)
        shown.append(repr(text[:width] + "...") if len(text) > width else repr(text))
    more = len(names) - len(shown)
    return f"[{', '.join(shown)}]" + (f" and {more} more" if more > 0 else "")


def _is_extension(dtype: Any) -> bool:
    import pandas as pd

    return isinstance(dtype, pd.api.extensions.ExtensionDtype)


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
        if src.kind in "iu" and target.kind in "iu" and values.size:
            # integer casts wrap around (uint64 2**63 -> int64 -2**63), and so does the
            # way back: compare the range as Python ints instead
            info = np.iinfo(target)
            if int(values.min()) < info.min or int(values.max()) > info.max:
                return None
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
