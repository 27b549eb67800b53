"""Breaks: the environment names numpy without pinning its version."""

from __future__ import annotations

import flavorkit

from broken_flavors import good

FLAVOR = "toy_unpinned_framework"
_HOOKS = good.hooks(FLAVOR)
flavorkit_flavors = _HOOKS.flavors
flavorkit_persist = _HOOKS.persist
flavorkit_load = _HOOKS.load
flavorkit_predict = _HOOKS.predict


@flavorkit.hookimpl
def flavorkit_detect_environment(flavor: str) -> list[str] | None:
    return ["numpy"] if flavor == FLAVOR else None
