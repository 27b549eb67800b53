"""Importing the plugin must stay light: no scikit-learn, skops, numpy or pandas."""

from __future__ import annotations

import pytest
from flavorkit.testing import modules_imported_by

HEAVY = ("sklearn", "skops", "numpy", "pandas", "scipy", "cloudpickle")


@pytest.mark.parametrize("module", ["flavorkit_sklearn", "flavorkit_sklearn.hooks"])
def test_import_plugin_loads_no_framework(module: str) -> None:
    assert modules_imported_by(f"import {module}", HEAVY) == []


def test_import_check_detects_a_framework_import() -> None:
    # the check above must be able to fail
    assert "sklearn" in modules_imported_by("import flavorkit_sklearn.hooks, sklearn", HEAVY)


def test_import_flavor_listing_loads_no_framework() -> None:
    # discovery imports the hooks module and calls flavorkit_flavors()
    code = (
        "import flavorkit\n"
        "names = [f.name for f in flavorkit.list_flavors() if f.status == 'ok']\n"
        "assert 'sklearn' in names, names"
    )
    assert modules_imported_by(code, HEAVY) == []
