"""Importing the plugin must stay light: no tritonclient, protobuf, onnx, numpy or pandas."""

from __future__ import annotations

import pytest
from flavorkit.testing import modules_imported_by

HEAVY = ("tritonclient", "google.protobuf", "onnx", "onnxruntime", "torch", "numpy", "pandas")


@pytest.mark.parametrize(
    "module", ["flavorkit_triton", "flavorkit_triton.hooks", "flavorkit_triton.testing"]
)
def test_import_plugin_loads_nothing_heavy(module: str) -> None:
    assert modules_imported_by(f"import {module}", HEAVY) == []


def test_import_check_detects_a_heavy_import() -> None:
    # the check above must be able to fail
    code = "import flavorkit_triton._config as c; c.schema()"
    assert "tritonclient" in modules_imported_by(code, HEAVY)


def test_building_the_cli_loads_nothing_heavy() -> None:
    # every CLI call builds the parser, and with it this plugin's `export triton` command
    code = "from flavorkit.cli import build_parser; build_parser()"
    assert modules_imported_by(code, HEAVY) == []
