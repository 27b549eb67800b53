"""Breaks: saving writes the weights through a temporary file and a lock it never removes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import flavorkit

from broken_flavors import _toy, good

FLAVOR = "toy_leaves_temp_files"
_HOOKS = good.hooks(FLAVOR)
flavorkit_flavors = _HOOKS.flavors
flavorkit_load = _HOOKS.load
flavorkit_predict = _HOOKS.predict
flavorkit_detect_environment = _HOOKS.detect_environment


@flavorkit.hookimpl
def flavorkit_persist(model: Any, path: Path, flavor: str | None, options: dict[str, Any]) -> Any:
    if flavor not in (None, FLAVOR) or not _toy.is_mine(model):
        return None
    (path / ".lock").write_text(str(id(model)), encoding="utf-8")  # "no two saves at once"
    result = _toy.persist(FLAVOR, model, path, options)
    weights = path / _toy.WEIGHTS
    (path / f"{_toy.WEIGHTS}.tmp").write_bytes(weights.read_bytes())  # the "atomic" copy
    return result
