"""Helpers of the registry tests, imported by name (``from conftest import`` would find
whichever folder's conftest was imported first)."""

from __future__ import annotations

from pathlib import Path


def save_add_constant(path: Path, k: float) -> Path:
    """A custom model adding ``k``, with an input example (so it has a signature)."""
    import flavorkit
    import pandas as pd
    from _models import AddConstant

    flavorkit.save_model(AddConstant(k), path, input_example=pd.DataFrame({"x": [1.0, 2.0]}))
    return path
