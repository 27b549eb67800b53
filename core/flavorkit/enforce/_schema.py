"""Schema enforcement's entry point: route predict input to the column or tensor rules.

numpy and pandas are imported inside the functions, so importing this module
is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flavorkit.enforce._columns import enforce_columns
from flavorkit.enforce._plan import plan_for
from flavorkit.enforce._tensors import enforce_tensors

if TYPE_CHECKING:
    from flavorkit.signature import Schema

__all__ = ["enforce_schema"]


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
    plan = plan_for(schema)
    if plan.tensor:
        return enforce_tensors(data, plan)
    return enforce_columns(data, plan)
