"""Breaks: a hook name is misspelt (``flavorkit_presist``), so the plugin cannot register."""

from __future__ import annotations

from broken_flavors import good

FLAVOR = "toy_misspelt_hook"
_HOOKS = good.hooks(FLAVOR)
flavorkit_flavors = _HOOKS.flavors
flavorkit_presist = _HOOKS.persist  # no hook spec has this name
flavorkit_load = _HOOKS.load
flavorkit_predict = _HOOKS.predict
flavorkit_detect_environment = _HOOKS.detect_environment
