"""``import flavorkit`` must not drag in frameworks, pandas or numpy."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("pandas", "numpy", "torch", "sklearn")


def imported_after(statement: str) -> set[str]:
    """Heavy top-level modules loaded after ``statement`` runs in a fresh interpreter."""
    script = f"import sys\n{statement}\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
    return {m for m in out.stdout.strip().split(",") if m}


def test_import_flavorkit_is_light() -> None:
    assert imported_after("import flavorkit, flavorkit.hookspecs, flavorkit.exceptions") == set()


def test_public_names_resolve_lazily_without_frameworks() -> None:
    # touching the API objects themselves must not import pandas either
    statement = (
        "import flavorkit; flavorkit.save_model; flavorkit.load_model; "
        "flavorkit.Schema; flavorkit.PythonModel"
    )
    assert imported_after(statement) == set()


@pytest.mark.parametrize("module", ["pandas", "numpy"])
def test_import_check_can_fail(module: str) -> None:
    # the meta-test: the same probe reports a module that really was imported
    assert module in imported_after(f"import flavorkit, {module}")
