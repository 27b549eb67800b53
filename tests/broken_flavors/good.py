"""The toy flavor that keeps every rule: the zoo's control, and the hooks the broken flavors reuse.

:func:`hooks` makes the five rule-keeping hook functions for a flavor name.
This module exports them for ``toy_good``; each broken module exports them
for its own name (so each lists, saves and fails under a name of its own)
and replaces the one hook that breaks its rule.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import flavorkit

from broken_flavors import _toy

FLAVOR = "toy_good"


class Hooks(NamedTuple):
    """The hook functions of one toy flavor, each marked with ``flavorkit.hookimpl``."""

    flavors: Callable[..., Any]
    persist: Callable[..., Any]
    load: Callable[..., Any]
    predict: Callable[..., Any]
    detect_environment: Callable[..., Any]


def hooks(name: str) -> Hooks:
    """The rule-keeping hooks of the toy flavor called ``name``; called once per zoo module."""

    @flavorkit.hookimpl
    def flavorkit_flavors() -> list[str]:
        return [name]

    @flavorkit.hookimpl
    def flavorkit_persist(
        model: Any, path: Path, flavor: str | None, options: dict[str, Any]
    ) -> Any:
        if flavor not in (None, name) or not _toy.is_mine(model):
            return None
        return _toy.persist(name, model, path, options)

    @flavorkit.hookimpl
    def flavorkit_load(
        flavor: str, path: Path, conf: dict[str, Any], options: dict[str, Any]
    ) -> Any:
        return _toy.load(path, conf, options) if flavor == name else None

    @flavorkit.hookimpl
    def flavorkit_predict(flavor: str, model: Any, data: Any, params: dict[str, Any]) -> Any:
        return _toy.predict(model, data, params) if flavor == name else None

    @flavorkit.hookimpl
    def flavorkit_detect_environment(flavor: str) -> list[str] | None:
        return _toy.environment() if flavor == name else None

    return Hooks(
        flavorkit_flavors,
        flavorkit_persist,
        flavorkit_load,
        flavorkit_predict,
        flavorkit_detect_environment,
    )


# module-level names, so pluggy registers them when this module is the plugin
_HOOKS = hooks(FLAVOR)
flavorkit_flavors = _HOOKS.flavors
flavorkit_persist = _HOOKS.persist
flavorkit_load = _HOOKS.load
flavorkit_predict = _HOOKS.predict
flavorkit_detect_environment = _HOOKS.detect_environment
