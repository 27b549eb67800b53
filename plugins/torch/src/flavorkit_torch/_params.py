"""The predict params of the ``pytorch`` flavor: their specs, and the check of ``batch_size``.

Shared by saving (the params schema and the section's ``batch_size``) and
predicting (the per-call values), so it depends on neither.
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flavorkit import ParamSpec


def param_specs(batch_size: int) -> list[ParamSpec]:
    """The predict params this flavor understands, for the signature's params schema."""
    from flavorkit import DataType, ParamSpec

    return [
        ParamSpec("device", DataType.string, None),
        ParamSpec("batch_size", DataType.long, batch_size),
    ]


def check_batch_size(value: Any, source: str) -> int:
    """``value`` as a positive ``int``; ``SchemaEnforcementError`` naming ``source`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        from flavorkit.exceptions import SchemaEnforcementError

        raise SchemaEnforcementError(
            f"{source}: expected a positive integer, got {value!r}",
            field="batch_size",
            expected="an integer >= 1",
            actual=repr(value),
        )
    return int(value)
