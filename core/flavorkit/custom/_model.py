"""The base class of custom models and what it gets at load time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class PythonModel:
    """Base class of custom models: subclass it and implement ``predict``.

    ``load_context`` is called once after loading, with the artifacts
    resolved to local paths; ``predict`` on every call, after the core
    enforced the signature.
    """

    def load_context(self, context: PythonModelContext) -> None:
        """Prepare the model (e.g. read ``context.artifacts``). Called once per load."""

    def predict(
        self, context: PythonModelContext, model_input: Any, params: dict[str, Any] | None = None
    ) -> Any:
        """Return predictions for ``model_input``."""
        raise NotImplementedError


@dataclass
class PythonModelContext:
    """What a ``PythonModel`` gets at load time.

    ``artifacts`` maps names to local paths; ``model_config`` is the merged config.
    """

    artifacts: dict[str, str] = field(default_factory=dict)
    model_config: dict[str, Any] = field(default_factory=dict)
