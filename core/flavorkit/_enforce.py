"""Schema enforcement: check and coerce predict input and params against a signature.

``PyFuncModel.predict`` calls :func:`enforce_schema` and :func:`enforce_params`
on every call, for every flavor. The rules are MLflow 3.17's (FORMAT.md §5),
except where flavorkit accepts a conversion that provably loses nothing or
rejects one that loses or mangles data; docs/signatures.md lists each one.

Errors are :class:`~flavorkit.exceptions.SchemaEnforcementError` naming the
column, tensor or param, the expected and the actual type or shape, and a
fix. They never echo input values.

This module is the entry point and holds the per-schema plan; the rules live
in :mod:`flavorkit._enforce_columns` (ColSpec schemas),
:mod:`flavorkit._enforce_tensors` (TensorSpec schemas),
:mod:`flavorkit._enforce_params` (params) and :mod:`flavorkit._enforce_values`
(exact casts and per-value checks they share). Everything they drop is
reported with a :class:`~flavorkit.exceptions.SchemaWarning`.

numpy and pandas are imported inside the functions, so importing this module
is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flavorkit._enforce_columns import _enforce_columns
from flavorkit._enforce_params import enforce_params
from flavorkit._enforce_tensors import _enforce_tensors
from flavorkit._schema import DataType, Schema

if TYPE_CHECKING:
    import numpy as np

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


def enforce_schema(data: Any, schema: Schema | None) -> Any:
    """Check ``data`` against ``schema`` and return it coerced for the model.

    Called by ``PyFuncModel.predict`` before the flavor's predict. Returns a
    pandas DataFrame for column schemas (the input object itself when nothing
    had to change), an ndarray or a dict of name -> ndarray for tensor
    schemas, and ``data`` untouched when ``schema`` is None. Extra columns or
    tensors are dropped with a SchemaWarning (a UserWarning). Raises SchemaEnforcementError.
    """
    if schema is None:
        return data
    plan = _plan(schema)
    if plan.tensor:
        return _enforce_tensors(data, plan)
    return _enforce_columns(data, plan)
