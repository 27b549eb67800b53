"""Breaks: predict ignores the ``scale`` param it declares."""

from __future__ import annotations

from typing import Any

import flavorkit

from broken_flavors import good

FLAVOR = "toy_ignores_params"
_HOOKS = good.hooks(FLAVOR)
flavorkit_flavors = _HOOKS.flavors
flavorkit_persist = _HOOKS.persist
flavorkit_load = _HOOKS.load
flavorkit_detect_environment = _HOOKS.detect_environment


@flavorkit.hookimpl
def flavorkit_predict(flavor: str, model: Any, data: Any, params: dict[str, Any]) -> Any:
    if flavor != FLAVOR:
        return None
    return model.predict(data)
