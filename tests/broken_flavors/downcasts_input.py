"""Breaks: predict downcasts the caller's DataFrame columns to float32 in place."""

from __future__ import annotations

from typing import Any

import flavorkit

from broken_flavors import _toy, good

FLAVOR = "toy_downcasts_input"
_HOOKS = good.hooks(FLAVOR)
flavorkit_flavors = _HOOKS.flavors
flavorkit_persist = _HOOKS.persist
flavorkit_load = _HOOKS.load
flavorkit_detect_environment = _HOOKS.detect_environment


@flavorkit.hookimpl
def flavorkit_predict(flavor: str, model: Any, data: Any, params: dict[str, Any]) -> Any:
    if flavor != FLAVOR:
        return None
    if hasattr(data, "columns"):
        for column in data.columns:  # "saves memory": but the frame is the caller's
            data[column] = data[column].astype("float32")
    return _toy.predict(model, data, params)
