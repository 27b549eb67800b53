"""Fixtures of the registry tests: a fresh embedded registry per test, small saved models.

The tests folder goes on ``sys.path`` so the models of ``tests/_models.py``
(saved by reference) load in this process.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from registry_support import save_add_constant

TESTS = Path(__file__).resolve().parents[1]
for _folder in (TESTS, TESTS / "stores"):  # tests/_models.py; moto's server (store_support)
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))


@pytest.fixture
def registry_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty embedded registry named by ``FLAVORKIT_REGISTRY_URI``; acting user ``alice``."""
    from flavorkit.registry._resolve import forget_registries

    folder = tmp_path / "registry"
    monkeypatch.setenv("FLAVORKIT_REGISTRY_URI", str(folder))
    monkeypatch.setenv("FLAVORKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("FLAVORKIT_USER", "alice")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    yield folder
    forget_registries()  # close this test's connections


@pytest.fixture(scope="session")
def plus_two(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved model that adds 2 (never modified by a test)."""
    return save_add_constant(tmp_path_factory.mktemp("models") / "plus_two", 2.0)


@pytest.fixture(scope="session")
def plus_ten(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved model that adds 10 (never modified by a test)."""
    return save_add_constant(tmp_path_factory.mktemp("models") / "plus_ten", 10.0)
