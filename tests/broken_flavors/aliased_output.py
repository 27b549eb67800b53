"""Breaks: predict returns a view of one buffer kept on the model, overwritten by the next call."""

from __future__ import annotations

from typing import Any

import flavorkit

from broken_flavors import good

FLAVOR = "toy_aliased_output"
_HOOKS = good.hooks(FLAVOR)
flavorkit_flavors = _HOOKS.flavors
flavorkit_persist = _HOOKS.persist
flavorkit_load = _HOOKS.load
flavorkit_detect_environment = _HOOKS.detect_environment


@flavorkit.hookimpl
def flavorkit_predict(flavor: str, model: Any, data: Any, params: dict[str, Any]) -> Any:
    if flavor != FLAVOR:
        return None
    import numpy as np

    x = np.asarray(data[model.columns] if hasattr(data, "columns") else data, model.weights.dtype)
    buffer = getattr(model, "buffer", None)  # "no allocation per call"
    if buffer is None or len(buffer) < len(x):
        buffer = model.buffer = np.empty(max(len(x), 64), dtype=model.weights.dtype)
    out = buffer[: len(x)]
    np.matmul(x, model.weights, out=out)
    out += model.weights.dtype.type(model.bias)
    out *= model.weights.dtype.type(params.get("scale", 1.0))
    return out
