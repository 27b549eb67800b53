"""Breaks: load writes a "compiled" copy of the weights into a cache under HOME."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import flavorkit

from broken_flavors import _toy, good

FLAVOR = "toy_caches_in_home"
_HOOKS = good.hooks(FLAVOR)
flavorkit_flavors = _HOOKS.flavors
flavorkit_persist = _HOOKS.persist
flavorkit_predict = _HOOKS.predict
flavorkit_detect_environment = _HOOKS.detect_environment


@flavorkit.hookimpl
def flavorkit_load(flavor: str, path: Path, conf: dict[str, Any], options: dict[str, Any]) -> Any:
    if flavor != FLAVOR:
        return None
    model = _toy.load(path, conf, options)
    cache = Path.home() / ".cache" / "toy-flavor"
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "compiled.bin").write_bytes(model.weights.tobytes())  # "faster next time"
    return model
