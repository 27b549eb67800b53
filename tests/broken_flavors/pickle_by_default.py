"""Breaks: saves with pickle unless told otherwise; the default folder needs the unsafe opt-in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import flavorkit

from broken_flavors import _toy, good

FLAVOR = "toy_pickle_by_default"
_HOOKS = good.hooks(FLAVOR)
flavorkit_flavors = _HOOKS.flavors
flavorkit_load = _HOOKS.load
flavorkit_predict = _HOOKS.predict
flavorkit_detect_environment = _HOOKS.detect_environment


@flavorkit.hookimpl
def flavorkit_persist(model: Any, path: Path, flavor: str | None, options: dict[str, Any]) -> Any:
    if flavor not in (None, FLAVOR) or not _toy.is_mine(model):
        return None
    return _toy.persist(FLAVOR, model, path, options, default_format="pickle")
