"""The ``{{ cookiecutter.flavor_name }}`` flavor for flavorkit.

Saves {{ cookiecutter.framework_name }} models as MLflow-format model folders.
Save with :func:`save_model` (or ``flavorkit.save_model``), load the model
itself with :func:`load_model` (or ``flavorkit.load_native``), or load it
behind flavorkit's generic ``predict(data, params=None)`` contract with
``flavorkit.load_model``. Importing this package does not import the
framework.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from {{ cookiecutter.__package_name }}._native import FLAVOR_NAME, MODEL_FILE, MODEL_FORMAT

__version__ = "0.1.0"

__all__ = ["FLAVOR_NAME", "MODEL_FILE", "MODEL_FORMAT", "__version__", "load_model", "save_model"]


def save_model(model: Any, path: str | Path, **kwargs: Any) -> Any:
    """Save a fitted {{ cookiecutter.framework_name }} model as a model folder at ``path``.

    Every keyword (``input_example``, ``signature``, ``pip_requirements``,
    ``overwrite``, ...) goes to ``flavorkit.save_model``, whose return value
    is returned and whose errors propagate.
    """
    import flavorkit

    return flavorkit.save_model(model, path, flavor=FLAVOR_NAME, **kwargs)


def load_model(model_uri: str | Path, *, allow_unsafe: bool | None = None) -> Any:
    """Load the {{ cookiecutter.framework_name }} model saved at ``model_uri``.

    ``allow_unsafe`` opts in to formats that run code when read (``None``
    reads ``FLAVORKIT_ALLOW_UNSAFE``). Raises what ``flavorkit.load_native``
    raises.
    """
    import flavorkit

    return flavorkit.load_native(model_uri, FLAVOR_NAME, allow_unsafe=allow_unsafe)


def _load_pyfunc(path: str, model_config: dict[str, Any] | None = None) -> Any:
    """The ``python_function`` loader MLflow calls (``loader_module`` names this package).

    Returns an object whose ``predict(data, params=None)`` routes to this
    plugin's predict hook.
    """
    from flavorkit import mlflow_loader

    return mlflow_loader.load_pyfunc(FLAVOR_NAME, path, model_config)
