"""Importing the plugin must stay light: no torch, numpy or pandas."""

from __future__ import annotations

import pytest
from flavorkit.testing import modules_imported_by

HEAVY = ("torch", "numpy", "pandas", "safetensors")


@pytest.mark.parametrize("module", ["flavorkit_torch", "flavorkit_torch.hooks"])
def test_import_plugin_loads_no_framework(module: str) -> None:
    assert modules_imported_by(f"import {module}", HEAVY) == []


def test_import_check_detects_a_framework_import() -> None:
    # the check above must be able to fail
    assert "torch" in modules_imported_by("import flavorkit_torch.hooks, torch", HEAVY)


def test_import_flavor_listing_loads_no_framework() -> None:
    # discovery imports the hooks module and calls flavorkit_flavors()
    code = (
        "import flavorkit\n"
        "names = [f.name for f in flavorkit.list_flavors() if f.status == 'ok']\n"
        "assert 'pytorch' in names, names"
    )
    assert modules_imported_by(code, HEAVY) == []
