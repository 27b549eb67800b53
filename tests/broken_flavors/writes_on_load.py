"""Breaks: every load writes into the model's own folder.

Each load records when the weights were last checked in a stamp file
beside them, "so a stale folder can be noticed". A registered version (or a
read-only mount, or a folder shared by several servers) is changed by its
readers.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import flavorkit

from broken_flavors import _toy, good

FLAVOR = "toy_writes_on_load"
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
    (path / "weights.checked").write_text(str(time.time_ns()))
    return model
