"""Custom models: subclass ``PythonModel``, save it, load it behind the predict contract.

The built-in ``python_function`` flavor that saves and loads them
(``_plugin``) is a default plugin: it uses exactly the hooks third-party
plugins use, and the core knows nothing of its internals.
"""

from __future__ import annotations

from flavorkit.custom._model import PythonModel, PythonModelContext

__all__ = ["PythonModel", "PythonModelContext"]
