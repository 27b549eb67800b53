"""Importing ``skops.io`` without importing PyTorch.

When ``skops.io`` is first imported it computes its default trusted types;
the scikit-learn estimator names come from ``sklearn.utils.all_estimators``,
which walks every scikit-learn package with ``pkgutil.walk_packages``. The
walk imports each package to find its subpackages, vendored ones included,
so it imports ``sklearn.externals.array_api_compat.torch``, which imports
all of PyTorch when it is installed (about 1.2 s and 180 MiB on its own).
That package is skipped by the walk anyway (``externals`` is among the
names ``all_estimators`` ignores) and defines no estimator, so the trusted
types are the same without it.

:func:`skops_io` imports ``skops.io`` with that one package made
unimportable for the importing thread only, and for the duration of the
import only; a walk ignores a package it cannot import. Other threads, and
the same thread afterwards, import it (and PyTorch) as usual. When PyTorch
is already imported, nothing is hidden: there is nothing left to save.
"""

from __future__ import annotations

import sys
import threading
from importlib.abc import MetaPathFinder
from types import ModuleType
from typing import Any

# the vendored array-API wrapper of PyTorch; importing it imports torch
HIDDEN = "sklearn.externals.array_api_compat.torch"

_lock = threading.Lock()


class _HideDuringImport(MetaPathFinder):
    """Refuses :data:`HIDDEN` and its submodules, to the thread that installed it only."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if threading.get_ident() == self.thread and (
            fullname == HIDDEN or fullname.startswith(HIDDEN + ".")
        ):
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


def skops_io() -> ModuleType:
    """``skops.io``, imported (once) without importing PyTorch; its trusted types unchanged."""
    module = sys.modules.get("skops.io")
    if module is not None and not _initializing(module):
        return module
    with _lock:
        if "skops.io" in sys.modules or "torch" in sys.modules:
            import skops.io

            return skops.io
        finder = _HideDuringImport()
        sys.meta_path.insert(0, finder)
        try:
            import skops.io
        finally:
            sys.meta_path.remove(finder)
        return skops.io


def _initializing(module: ModuleType) -> bool:
    """Whether another thread is still executing ``module`` (then the import lock waits for it)."""
    return bool(getattr(getattr(module, "__spec__", None), "_initializing", False))
