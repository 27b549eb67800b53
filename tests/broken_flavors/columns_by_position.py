"""Breaks: hands the model ``to_numpy()`` of the frame, so columns bind by position."""

from __future__ import annotations

from typing import Any

import flavorkit

from broken_flavors import _toy, good

FLAVOR = "toy_columns_by_position"
_HOOKS = good.hooks(FLAVOR)
flavorkit_flavors = _HOOKS.flavors
flavorkit_persist = _HOOKS.persist
flavorkit_load = _HOOKS.load
flavorkit_detect_environment = _HOOKS.detect_environment


@flavorkit.hookimpl
def flavorkit_predict(flavor: str, model: Any, data: Any, params: dict[str, Any]) -> Any:
    if flavor != FLAVOR:
        return None
    values = data.to_numpy() if hasattr(data, "to_numpy") else data  # in the signature's order
    return _toy.predict(model, values, params)
