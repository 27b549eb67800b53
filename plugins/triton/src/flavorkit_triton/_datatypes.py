"""Signature types -> Triton data types, and the wire names of a signature's tensors.

The one answer to "which Triton type and which tensor name does this column
or tensor become?", used by the exporter's ``config.pbtxt`` and by the plan
the backend's ``model.py`` follows. Names are those ``flavorkit serve``'s V2
endpoints use (and MLServer's MLflow runtime): a spec's own name, else
``input-<i>`` / ``output-<i>``; a column is a ``[N, 1]`` tensor, and so is a
1-D tensor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flavorkit.exceptions import SignatureError

# column type name (flavorkit.DataType.name) -> Triton data type
COLUMN_TYPES: dict[str, str] = {
    "boolean": "TYPE_BOOL",
    "integer": "TYPE_INT32",
    "long": "TYPE_INT64",
    "float": "TYPE_FP32",
    "double": "TYPE_FP64",
    "string": "TYPE_STRING",
    "binary": "TYPE_STRING",
}
# numpy dtype name -> Triton data type (text and bytes tensors are TYPE_STRING)
TENSOR_TYPES: dict[str, str] = {
    "bool": "TYPE_BOOL",
    "uint8": "TYPE_UINT8",
    "uint16": "TYPE_UINT16",
    "uint32": "TYPE_UINT32",
    "uint64": "TYPE_UINT64",
    "int8": "TYPE_INT8",
    "int16": "TYPE_INT16",
    "int32": "TYPE_INT32",
    "int64": "TYPE_INT64",
    "float16": "TYPE_FP16",
    "float32": "TYPE_FP32",
    "float64": "TYPE_FP64",
}
# Triton data type -> the numpy dtype its tensors hold in the Python backend
NUMPY_OF: dict[str, str] = {v: k for k, v in TENSOR_TYPES.items()} | {"TYPE_STRING": "object"}


@dataclass(frozen=True)
class WireTensor:
    """One input or output of the exported model as Triton sees it.

    ``name`` is the tensor's name on the wire; ``key`` the spec's own name
    (``None`` for an unnamed spec, matched by ``position``); ``data_type``
    the Triton type; ``shape`` the full shape with the batch dimension
    first (``-1`` for any size); ``column`` whether it is a column of a
    table; ``text`` ``"str"`` for UTF-8 text, ``"bytes"`` for raw bytes,
    ``None`` for numbers; ``squeeze`` whether the model sees it without the
    trailing ``1`` the wire adds (a column, a 1-D tensor).
    """

    name: str
    key: str | None
    position: int
    data_type: str
    shape: tuple[int, ...]
    column: bool
    text: str | None
    squeeze: bool

    def plan(self) -> dict[str, Any]:
        """The JSON the backend's ``model.py`` reads for this tensor."""
        return {
            "name": self.name,
            "key": self.key,
            "position": self.position,
            "dtype": NUMPY_OF[self.data_type],
            "shape": list(self.shape),
            "column": self.column,
            "text": self.text,
            "squeeze": self.squeeze,
        }


def wire_tensors(schema: Any, prefix: str, where: str) -> list[WireTensor]:
    """The wire tensors of ``schema`` (the signature's inputs or outputs).

    ``prefix`` names unnamed specs (``input-`` / ``output-``); ``where``
    says which schema it is, for messages. Raises ``SignatureError`` naming
    the column or tensor whose type has no Triton equivalent.
    """
    from flavorkit.signature import ColSpec

    out = []
    for i, spec in enumerate(schema.inputs):
        name = str(spec.name) if spec.name is not None else f"{prefix}{i}"
        key = None if spec.name is None else str(spec.name)
        if isinstance(spec, ColSpec):
            data_type, text = _column_type(spec, name, where)
            out.append(WireTensor(name, key, i, data_type, (-1, 1), True, text, True))
        else:
            data_type, text = _tensor_type(spec, name, where)
            shape = tuple(int(d) for d in spec.shape)
            if not shape:
                raise SignatureError(
                    f"{where} tensor {name!r} is a scalar (shape ()); Triton tensors have at "
                    "least one dimension: save the model with a batch dimension, e.g. (-1,)"
                )
            squeeze = len(shape) == 1
            wire = (*shape, 1) if squeeze else shape
            out.append(WireTensor(name, key, i, data_type, wire, False, text, squeeze))
    return out


def _column_type(spec: Any, name: str, where: str) -> tuple[str, str | None]:
    type_name = getattr(spec.type, "name", None)
    if not isinstance(type_name, str) or type_name not in COLUMN_TYPES:
        raise SignatureError(
            f"{where} column {name!r} has type {_label(spec.type)}, which has no Triton data "
            f"type; Triton tensors hold {', '.join(sorted(COLUMN_TYPES))} columns "
            "(convert the column, e.g. datetimes to ISO strings, and save the model again)"
        )
    text = {"string": "str", "binary": "bytes"}.get(type_name)
    return COLUMN_TYPES[type_name], text


def _tensor_type(spec: Any, name: str, where: str) -> tuple[str, str | None]:
    dtype = spec.type
    if dtype.kind in "OU":
        return "TYPE_STRING", "str"
    if dtype.kind == "S":
        return "TYPE_STRING", "bytes"
    if dtype.name not in TENSOR_TYPES:
        raise SignatureError(
            f"{where} tensor {name!r} has dtype {dtype.name}, which has no Triton data type; "
            f"Triton tensors hold {', '.join(TENSOR_TYPES)}, or text"
        )
    return TENSOR_TYPES[dtype.name], None


def _label(type_: Any) -> str:
    name = getattr(type_, "name", None)
    return name if isinstance(name, str) else type(type_).__name__
