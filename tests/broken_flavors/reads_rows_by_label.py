"""Breaks: reads a DataFrame's rows with ``.loc[i]`` for i in 0..n-1, i.e. by index label."""

from __future__ import annotations

from typing import Any

import flavorkit

from broken_flavors import _toy, good

FLAVOR = "toy_reads_rows_by_label"
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

    if hasattr(data, "loc"):
        rows = [data.loc[i].to_numpy() for i in range(len(data))]
        data = np.asarray(rows, dtype=float).reshape(data.shape)
    return _toy.predict(model, data, params)
