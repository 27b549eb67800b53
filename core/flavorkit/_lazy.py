"""Lazy public names for a package's ``__init__``: resolved from their modules on first use."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(
    package: str, exports: dict[str, str], namespace: dict[str, Any], *, shown_as: str = ""
) -> Callable[[str], Any]:
    """Return the module ``__getattr__`` that imports ``exports[name]`` when ``name`` is first read.

    ``exports`` maps public names to the modules defining them. Classes from
    the package's private modules (any ``_``-prefixed part of the module
    path) get ``__module__ = package``, so reprs, tracebacks and pickles use
    the import path users write, whichever module defines the class
    (``shown_as`` names another package to show, e.g. the top level). The value is cached in
    ``namespace`` (the package's globals) so later reads cost nothing.
    """
    home = shown_as or package

    def __getattr__(name: str) -> Any:
        try:
            module_name = exports[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(module_name), name)
        if isinstance(value, type) and _private(value.__module__, package):
            value.__module__ = home
        namespace[name] = value
        return value

    return __getattr__


def _private(module: str, package: str) -> bool:
    """Whether ``module`` is a private module of ``package`` (``pkg._x``, ``pkg.sub._x``)."""
    if not module.startswith(package + "."):
        return False
    return any(p.startswith("_") for p in module[len(package) + 1 :].split("."))
