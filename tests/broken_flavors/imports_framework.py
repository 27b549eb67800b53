"""Breaks: imports its framework (numpy) when the plugin module is imported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import flavorkit
import numpy as np

from broken_flavors import _toy

FLAVOR = "toy_imports_framework"


@flavorkit.hookimpl
def flavorkit_flavors() -> list[str]:
    return [FLAVOR]


@flavorkit.hookimpl
def flavorkit_persist(model: Any, path: Path, flavor: str | None, options: dict[str, Any]) -> Any:
    if flavor not in (None, FLAVOR) or not _toy.is_mine(model):
        return None
    return _toy.persist(FLAVOR, model, path, options)


@flavorkit.hookimpl
def flavorkit_load(flavor: str, path: Path, conf: dict[str, Any], options: dict[str, Any]) -> Any:
    return _toy.load(path, conf, options) if flavor == FLAVOR else None


@flavorkit.hookimpl
def flavorkit_predict(flavor: str, model: Any, data: Any, params: dict[str, Any]) -> Any:
    if flavor != FLAVOR:
        return None
    return np.asarray(_toy.predict(model, data, params))


@flavorkit.hookimpl
def flavorkit_detect_environment(flavor: str) -> list[str] | None:
    return _toy.environment() if flavor == FLAVOR else None
