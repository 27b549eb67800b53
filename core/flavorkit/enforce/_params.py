"""Enforcement of inference params against a ParamSchema.

:func:`enforce_params` is called by ``PyFuncModel.predict`` on every call.
Each value is checked by :func:`flavorkit.signature._values.validate_param`,
the rule that also validates a ``ParamSpec`` default.

numpy is imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from flavorkit.enforce._values import _warn, names_preview
from flavorkit.exceptions import SchemaEnforcementError
from flavorkit.signature import type_label
from flavorkit.signature._values import validate_param

if TYPE_CHECKING:
    from flavorkit.signature import ParamSchema

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
            # names a client sent: shortened, so a request cannot fill the log
            names = "params"
            if isinstance(params, dict):
                names = names_preview(sorted(map(str, params)))
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
            f"ignoring params the signature does not declare: {names_preview(unknown)}; "
            f"declared: {names_preview(sorted(declared), limit=50)}"
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
            out[spec.name] = validate_param(value, spec.dtype, spec.shape)
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
