"""The custom model the adversarial suite saves (importable: the ``reference`` format applies)."""

from __future__ import annotations

from typing import Any

import flavorkit


class Scale(flavorkit.PythonModel):
    """Multiplies every value by ``k``."""

    def __init__(self, k: float = 2.0) -> None:
        self.k = k

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        return model_input * self.k
