"""Breaks: loading trusts an ``allow_unsafe`` key found in the model's own MLmodel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import flavorkit

from broken_flavors import _toy, good

FLAVOR = "toy_trusts_manifest"
_HOOKS = good.hooks(FLAVOR)
flavorkit_flavors = _HOOKS.flavors
flavorkit_persist = _HOOKS.persist
flavorkit_predict = _HOOKS.predict
flavorkit_detect_environment = _HOOKS.detect_environment


@flavorkit.hookimpl
def flavorkit_load(flavor: str, path: Path, conf: dict[str, Any], options: dict[str, Any]) -> Any:
    if flavor != FLAVOR:
        return None
    return _toy.load(
        path,
        conf,
        {**options, "allow_unsafe": options.get("allow_unsafe") or conf.get("allow_unsafe")},
    )
