"""Breaks: predicts into one scratch buffer kept on the loaded model, shared by every call."""

from __future__ import annotations

from typing import Any

import flavorkit

from broken_flavors import good

FLAVOR = "toy_shared_buffer"
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
    scratch = getattr(model, "scratch", None)
    if scratch is None or len(scratch) < len(x):
        scratch = model.scratch = np.empty(max(len(x), 64), dtype=model.weights.dtype)
    for i, row in enumerate(x):  # "no allocation per call"
        scratch[i] = row @ model.weights + model.bias
    scale = model.weights.dtype.type(params.get("scale", 1.0))
    out = np.empty(len(x), dtype=model.weights.dtype)
    for i in range(len(x)):
        out[i] = scratch[i] * scale
    return out
