"""Breaks: predicts row by row and stacks the rows, which raises on a batch of 0 rows."""

from __future__ import annotations

from typing import Any

import flavorkit

from broken_flavors import _toy, good

FLAVOR = "toy_raises_on_empty"
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

    rows = np.asarray(data)
    return np.concatenate([_toy.predict(model, row[None, :], params) for row in rows])
