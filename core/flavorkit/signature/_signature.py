"""The signature itself: ModelSignature bundles the input, output and params schemas.

It is what the ``signature`` section of MLmodel holds, and mirrors MLflow's
``mlflow.models.ModelSignature`` (same JSON).
"""

from __future__ import annotations

from typing import Any

from flavorkit.exceptions import SignatureError
from flavorkit.signature._params import ParamSchema
from flavorkit.signature._schema import Schema

__all__ = ["ModelSignature"]


class ModelSignature:
    """What a model takes and returns: input schema, output schema and params schema.

    At least one part must be set (SignatureError otherwise).
    """

    def __init__(
        self,
        inputs: Schema | None = None,
        outputs: Schema | None = None,
        params: ParamSchema | None = None,
    ) -> None:
        for part, value, cls in (("inputs", inputs, Schema), ("outputs", outputs, Schema)):
            if value is not None and not isinstance(value, cls):
                raise SignatureError(f"ModelSignature: {part} must be a Schema or None")
        if params is not None and not isinstance(params, ParamSchema):
            raise SignatureError("ModelSignature: params must be a ParamSchema or None")
        if inputs is None and outputs is None and params is None:
            raise SignatureError(
                "ModelSignature: at least one of inputs, outputs, params is needed"
            )
        self.inputs = inputs
        self.outputs = outputs
        self.params = params

    def to_dict(self) -> dict[str, str | None]:
        """Return the ``signature`` section of MLmodel: each part a JSON string or None."""
        return {
            "inputs": self.inputs.to_json() if self.inputs is not None else None,
            "outputs": self.outputs.to_json() if self.outputs is not None else None,
            # MLflow writes null for an empty params schema
            "params": self.params.to_json() if self.params else None,
        }

    @classmethod
    def from_dict(cls, signature_dict: dict[str, Any]) -> ModelSignature:
        """Read the ``signature`` section (JSON strings, or already-decoded lists, or null)."""
        if not isinstance(signature_dict, dict):
            raise SignatureError("signature: expected a mapping with inputs/outputs/params")

        def part(key: str, reader: Any) -> Any:
            value = signature_dict.get(key)
            if value is None or value == "":
                return None
            try:
                return (
                    reader.from_dict(value) if isinstance(value, list) else reader.from_json(value)
                )
            except SignatureError as exc:
                raise SignatureError(f"signature.{key}: {exc}") from None

        return cls(part("inputs", Schema), part("outputs", Schema), part("params", ParamSchema))

    def to_table(self) -> str:
        """Render inputs, outputs and params as titled plain-text tables."""
        parts = []
        for title, value in (
            ("inputs", self.inputs),
            ("outputs", self.outputs),
            ("params", self.params),
        ):
            if value is not None:
                parts.append(
                    f"{title}:\n" + "\n".join("  " + ln for ln in value.to_table().splitlines())
                )
        return "\n".join(parts)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ModelSignature)
            and self.inputs == other.inputs
            and self.outputs == other.outputs
            and self.params == other.params
        )

    def __repr__(self) -> str:
        parts = (("inputs", self.inputs), ("outputs", self.outputs), ("params", self.params))
        return "".join(f"{name}:\n  {value!r}\n" for name, value in parts)
