"""Breaks: load writes a "compiled" copy of the weights into the user's cache directory.

Like platformdirs, it honours ``XDG_CACHE_HOME`` and falls back to ``HOME/.cache``.
"""

from __future__ import annotations

import os
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
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "toy-flavor"
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "compiled.bin").write_bytes(model.weights.tobytes())  # "faster next time"
    return model
