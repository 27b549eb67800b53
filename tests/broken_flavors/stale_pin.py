"""Breaks: the environment adds a hard-coded pin of another package, long out of date."""

from __future__ import annotations

from typing import Any

import flavorkit

from broken_flavors import _toy, good

FLAVOR = "toy_stale_pin"
_HOOKS = good.hooks(FLAVOR)
flavorkit_flavors = _HOOKS.flavors
flavorkit_persist = _HOOKS.persist
flavorkit_load = _HOOKS.load
flavorkit_predict = _HOOKS.predict

# what the author had installed when the plugin was written
STALE = "pandas==1.3.5"


@flavorkit.hookimpl
def flavorkit_detect_environment(flavor: str) -> Any:
    return [*_toy.environment(), STALE] if flavor == FLAVOR else None
