"""Breaks: load changes the working directory into the folder and leaves it there."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import flavorkit

from broken_flavors import _toy, good

FLAVOR = "toy_chdir_on_load"
_HOOKS = good.hooks(FLAVOR)
flavorkit_flavors = _HOOKS.flavors
flavorkit_persist = _HOOKS.persist
flavorkit_predict = _HOOKS.predict
flavorkit_detect_environment = _HOOKS.detect_environment


@flavorkit.hookimpl
def flavorkit_load(flavor: str, path: Path, conf: dict[str, Any], options: dict[str, Any]) -> Any:
    if flavor != FLAVOR:
        return None
    os.chdir(path)  # "so the file names in conf resolve"
    return _toy.load(Path("."), conf, options)
