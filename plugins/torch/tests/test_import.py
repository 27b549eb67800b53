"""Importing the plugin must stay light: no torch, numpy or pandas."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("torch", "numpy", "pandas", "safetensors")


def _heavy_modules_after(code: str) -> list[str]:
    script = (
        f"import sys\n{code}\nprint(','.join(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    return [name for name in result.stdout.strip().split(",") if name]


@pytest.mark.parametrize("module", ["flavorkit_torch", "flavorkit_torch.hooks"])
def test_import_plugin_loads_no_framework(module: str) -> None:
    assert _heavy_modules_after(f"import {module}") == []


def test_import_check_detects_a_framework_import() -> None:
    # the check above must be able to fail
    assert "torch" in _heavy_modules_after("import flavorkit_torch.hooks, torch")


def test_import_flavor_listing_loads_no_framework() -> None:
    # discovery imports the hooks module and calls flavorkit_flavors()
    code = (
        "import flavorkit\n"
        "names = [f.name for f in flavorkit.list_flavors() if f.status == 'ok']\n"
        "assert 'pytorch' in names, names"
    )
    assert _heavy_modules_after(code) == []
