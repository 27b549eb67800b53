"""Enforcement of inference params against a ParamSchema.

:func:`enforce_params` is called by ``PyFuncModel.predict`` on every call;
:func:`_validate_param` also validates ``ParamSpec`` defaults when a spec is
built.

numpy is imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import copy
import datetime
import warnings
from typing import TYPE_CHECKING, Any

from flavorkit._enforce_values import _check_value, _warn
from flavorkit._schema import DataType, Object, type_label
from flavorkit.exceptions import SchemaEnforcementError

if TYPE_CHECKING:
    from flavorkit._signature import ParamSchema

__all__ = ["enforce_params"]


def enforce_params(
    params: dict[str, Any] | None, param_schema: ParamSchema | None
) -> dict[str, Any]:
    """Validate ``params`` against ``param_schema`` and fill in defaults.

    Called by ``PyFuncModel.predict`` after :func:`enforce_schema`. Returns a
    new dict holding every declared param (missing ones get their default)
    converted to Python builtins. Unknown params are dropped with a
    SchemaWarning; with no params schema every param is dropped that way and
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
        # nothing is dropped here, so a plain UserWarning rather than a SchemaWarning
        _warn("param names should be strings; converting them with str()", UserWarning)
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
