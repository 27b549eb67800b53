"""The per-schema enforcement plan: what every call needs, derived once per Schema.

Built by :func:`plan_for` on the first call and kept on the Schema object;
read by the column and tensor rules. It lives in its own module so that the
rules do not import their caller.

numpy and pandas are imported inside the functions, so importing this module
is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flavorkit.signature import DataType, Schema

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Plan", "plan_for"]


class Plan:
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


def plan_for(schema: Schema) -> Plan:
    """The plan of ``schema``, built on first use and kept on the schema object."""
    plan = getattr(schema, "_enforce_plan", None)
    if plan is None:
        plan = schema._enforce_plan = Plan(schema)
    return plan
