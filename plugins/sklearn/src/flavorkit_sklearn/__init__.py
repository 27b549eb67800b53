"""The scikit-learn flavor for flavorkit.

Saves fitted estimators, Pipelines and ColumnTransformers (including classes
from the user's own modules) as MLflow-format model folders, and loads them
back as the estimator (:func:`load_model`) or behind flavorkit's generic
predict contract (``flavorkit.load_model``).

Importing this package imports neither scikit-learn nor skops.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flavorkit_sklearn._formats import DEFAULT_FORMAT, FORMATS
from flavorkit_sklearn._predict import DEFAULT_PREDICT_FN, PREDICT_FNS
from flavorkit_sklearn._trust import TypeNames, trust

__version__ = "0.1.0"
FLAVOR_NAME = "sklearn"

__all__ = [
    "DEFAULT_FORMAT",
    "DEFAULT_PREDICT_FN",
    "FLAVOR_NAME",
    "FORMATS",
    "PREDICT_FNS",
    "__version__",
    "load_model",
    "save_model",
    "trust",
]


def save_model(
    sk_model: Any,
    path: str | Path,
    *,
    serialization_format: str = DEFAULT_FORMAT,
    predict_fn: str = DEFAULT_PREDICT_FN,
    **kwargs: Any,
) -> Any:
    """Save a fitted estimator as a model folder at ``path``.

    ``serialization_format`` is ``"skops"`` (default; loads without running
    code), ``"cloudpickle"`` or ``"pickle"`` (both need the loader's
    ``allow_unsafe`` opt-in). ``predict_fn`` is the method pyfunc's
    ``predict`` calls unless a call's ``params`` choose another; the
    estimator must have it. Every other keyword (``signature``,
    ``input_example``, ``pip_requirements``, ``overwrite``, ...) goes to
    ``flavorkit.save_model``, whose return value is returned and whose
    errors propagate.
    """
    import flavorkit

    return flavorkit.save_model(
        sk_model,
        path,
        flavor=FLAVOR_NAME,
        serialization_format=serialization_format,
        predict_fn=predict_fn,
        **kwargs,
    )


def load_model(
    model_uri: str | Path,
    *,
    trusted_types: TypeNames | None = None,
    allow_unsafe: bool | None = None,
) -> Any:
    """Load the estimator saved at ``model_uri``.

    ``trusted_types`` (classes or dotted names) are trusted on top of
    skops's defaults; the model folder's own list is never used.
    ``allow_unsafe`` opts in to pickle formats, and to every type of a skops
    file; ``None`` reads ``FLAVORKIT_ALLOW_UNSAFE``. Raises
    ``flavorkit.exceptions.UnsafeFormatError`` when the format or a type is
    refused.
    """
    import flavorkit

    with trust(trusted_types or ()):
        return flavorkit.load_native(model_uri, FLAVOR_NAME, allow_unsafe=allow_unsafe)


def _load_pyfunc(path: str, model_config: dict[str, Any] | None = None) -> Any:
    """The ``python_function`` loader MLflow calls (``loader_module: flavorkit_sklearn``).

    Returns an object whose ``predict(data, params=None)`` routes to this
    plugin's predict hook.
    """
    from flavorkit import mlflow_loader

    return mlflow_loader.load_pyfunc(FLAVOR_NAME, path, model_config)
