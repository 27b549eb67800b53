"""Custom models the core tests save and load (importable, so the reference format applies)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import flavorkit


class AddConstant(flavorkit.PythonModel):
    """Adds ``k`` to every value; ``params={"scale": s}`` multiplies the result."""

    def __init__(self, k: float = 1.0) -> None:
        self.k = k

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        scale = (params or {}).get("scale", 1.0)
        return (model_input + self.k) * scale


class WithArtifact(flavorkit.PythonModel):
    """Reads an offset from its artifact ``offset`` at load time."""

    def load_context(self, context: Any) -> None:
        self.offset = float(Path(context.artifacts["offset"]).read_text())

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        return model_input + self.offset


class NoContext(flavorkit.PythonModel):
    """The newer style: ``predict(model_input, params=None)`` without a context."""

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:  # type: ignore[override]
        return model_input * 2


class Exploding(flavorkit.PythonModel):
    """Fails whenever it predicts."""

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        raise RuntimeError("boom")
