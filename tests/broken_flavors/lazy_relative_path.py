"""Breaks: load defers reading the weights to the first predict, through the path as given.

A relative path that was right at load time is wrong once the working
directory changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import flavorkit

from broken_flavors import _toy, good

FLAVOR = "toy_lazy_relative_path"
_HOOKS = good.hooks(FLAVOR)
flavorkit_flavors = _HOOKS.flavors
flavorkit_persist = _HOOKS.persist
flavorkit_detect_environment = _HOOKS.detect_environment


class _Lazy:
    """Reads the folder on first use ("loading is instant")."""

    def __init__(self, path: Path, conf: dict[str, Any], options: dict[str, Any]) -> None:
        self.path, self.conf, self.options = path, conf, options
        self._model: _toy.ToyLinear | None = None

    def model(self) -> _toy.ToyLinear:
        if self._model is None:
            self._model = _toy.load(self.path, self.conf, self.options)
        return self._model


@flavorkit.hookimpl
def flavorkit_load(flavor: str, path: Path, conf: dict[str, Any], options: dict[str, Any]) -> Any:
    return _Lazy(path, conf, options) if flavor == FLAVOR else None


@flavorkit.hookimpl
def flavorkit_predict(flavor: str, model: Any, data: Any, params: dict[str, Any]) -> Any:
    return _toy.predict(model.model(), data, params) if flavor == FLAVOR else None
