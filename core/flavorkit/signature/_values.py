"""Value rules: does one value (a complex cell, a param) conform to its declared type?

:func:`check_value` checks a cell of an Array, Map or Object column item by
item; :func:`validate_param` checks (and converts to Python builtins) a param
value or a ``ParamSpec`` default. Enforcement calls both; they live with the
types so that building a ``ParamSpec`` needs nothing from enforcement.

numpy is imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import datetime
import warnings
from typing import Any

from flavorkit.exceptions import SchemaEnforcementError
from flavorkit.signature._exact import int_fits, is_null, value_fits
from flavorkit.signature._types import AnyType, Array, DataType, Map, Object, type_label

__all__ = ["check_value", "object_properties", "type_mismatch", "validate_param"]


def check_value(v: Any, t: Any, required: bool, field: str, where: str) -> None:
    """Check one cell of a complex column (recursively); raise SchemaEnforcementError.

    ``field`` names the column (or param) for the error, ``where`` the place of
    the value inside it (``row 3[0]['k']``). Items are checked, never converted.
    """
    import numpy as np

    if isinstance(t, AnyType):
        return
    if not required and is_null(v):
        return
    ok = True
    if isinstance(t, DataType):
        ok = value_fits(v, t)
    elif isinstance(t, Array):
        ok = isinstance(v, (list, np.ndarray))
        if ok:
            for i, item in enumerate(v):
                check_value(item, t.dtype, required, field, f"{where}[{i}]")
    elif isinstance(t, Map):
        ok = isinstance(v, dict) and all(isinstance(k, str) for k in v)
        if ok:
            for k, item in v.items():
                check_value(item, t.value_type, required, field, f"{where}[{k!r}]")
    elif isinstance(t, Object):
        ok = isinstance(v, dict)
        if ok:
            props = object_properties(v, t, field, where)
            for k, item in v.items():
                check_value(item, props[k].dtype, props[k].required, field, f"{where}[{k!r}]")
    if not ok:
        raise type_mismatch(v, t, field, where)


def object_properties(v: dict[Any, Any], t: Object, field: str, where: str) -> dict[str, Any]:
    """The properties of ``t`` by name; raise unless ``v`` has exactly the declared keys."""
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
    return props


def type_mismatch(v: Any, t: Any, field: str, where: str) -> SchemaEnforcementError:
    """The error for a value ``v`` not of the declared type ``t`` (the value is not shown)."""
    return SchemaEnforcementError(
        f"{where}: expected {type_label(t)}, got {type(v).__name__}",
        field=field,
        expected=type_label(t),
        actual=type(v).__name__,
    )


def validate_param(value: Any, dtype: DataType | Object, shape: tuple[int, ...] | None) -> Any:
    """Check one param value; return it as Python builtins. Raise ValueError (no value echoed).

    Called for each param passed to predict and for a ``ParamSpec`` default.
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
            check_value(value, dtype, True, "param", "value")
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
            if int_fits(int(value), dtype):
                return int(value)
            raise ValueError(f"expected {dtype.name}, got an integer outside its range")
    elif isinstance(value, (int, np.integer)):
        # float/double params arrive as Python floats (64 bit); ints beyond 2**53 would round
        if int_fits(int(value), DataType.double):
            return float(value)
        raise ValueError(f"expected {dtype.name}, got an integer too large to convert exactly")
    elif isinstance(value, (float, np.floating)):
        return float(value)
    raise ValueError(f"expected {dtype.name}, got {type(value).__name__}")


_NOT_A_DATETIME = "{got}; send e.g. '2024-01-31T12:00:00', or None for no value"


def _param_datetime(value: Any) -> Any:
    import numpy as np

    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            raise ValueError("expected a time-zone naive datetime, got an aware one")
        if type(value) is not datetime.datetime:
            if value != value:
                raise ValueError(_NOT_A_DATETIME.format(got="expected datetime, got NaT"))
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
    if result is None:
        # "" and "NaT" parse to NaT; MLflow passes None on, a value the caller did not send
        got = (
            "expected an ISO datetime, got an empty or 'NaT' string"
            if isinstance(value, str)
            else "expected datetime, got NaT"
        )
        raise ValueError(_NOT_A_DATETIME.format(got=got))
    if not isinstance(result, datetime.date):
        raise ValueError("expected datetime, got a value finer than microseconds")
    return result
