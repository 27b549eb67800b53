"""Breaks: load_native returns a private wrapper around the model, not the model itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import flavorkit

from broken_flavors import _toy, good

FLAVOR = "toy_wraps_native"
_HOOKS = good.hooks(FLAVOR)
flavorkit_flavors = _HOOKS.flavors
flavorkit_persist = _HOOKS.persist
flavorkit_detect_environment = _HOOKS.detect_environment


class _Loaded:
    """Holds the model and the scale the folder was saved with ("so predict has it at hand")."""

    def __init__(self, model: _toy.ToyLinear) -> None:
        self.model = model

    def predict(self, data: Any, scale: float = 1.0) -> Any:
        return self.model.predict(data, scale=scale)


@flavorkit.hookimpl
def flavorkit_load(flavor: str, path: Path, conf: dict[str, Any], options: dict[str, Any]) -> Any:
    return _Loaded(_toy.load(path, conf, options)) if flavor == FLAVOR else None


@flavorkit.hookimpl
def flavorkit_predict(flavor: str, model: Any, data: Any, params: dict[str, Any]) -> Any:
    return model.predict(data, scale=params.get("scale", 1.0)) if flavor == FLAVOR else None
