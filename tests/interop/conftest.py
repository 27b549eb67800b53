"""The ``interop`` test group: flavorkit against MLflow itself.

MLflow runs in its own virtual environment (``make mlflow-env`` builds
``.venvs/mlflow``), never in flavorkit's: the tests here save and load in this
process and hand folders and pickled data to scripts run by MLflow's
interpreter. Every test collected below this folder is marked ``interop``, and
all of them are skipped, with the reason, when MLflow's environment is missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from interop_support import MLFLOW_PYTHON

HERE = Path(__file__).resolve().parent


def _missing_reason() -> str | None:
    if not MLFLOW_PYTHON.is_file():
        return f"MLflow's environment is missing ({MLFLOW_PYTHON}); build it with `make mlflow-env`"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark this folder's tests ``interop``; skip them all when MLflow is not installed."""
    reason = _missing_reason()
    for item in items:
        if HERE not in Path(item.path).resolve().parents:
            continue
        item.add_marker(pytest.mark.interop)
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))
