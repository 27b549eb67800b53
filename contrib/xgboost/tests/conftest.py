"""Shared setup: the tests run against the installed plugin."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

PLUGIN_MODULE = "flavorkit_xgboost.hooks"


def pytest_configure(config: pytest.Config) -> None:
    # flavorkit finds plugins through installed entry points; without the
    # install every test would fail with "no working plugin provides flavor"
    if not any(ep.value == PLUGIN_MODULE for ep in entry_points(group="flavorkit")):
        raise pytest.UsageError(
            "flavorkit-xgboost is not installed in this environment, so "
            "flavorkit cannot find it; run: python -m pip install -e '.[testing]'"
        )
