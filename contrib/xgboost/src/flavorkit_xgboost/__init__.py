"""The ``xgboost`` flavor for flavorkit.

Saves XGBoost models, native Boosters and the scikit-learn interface
(XGBClassifier, XGBRegressor, XGBRanker, XGBRF*), as MLflow-format model
folders in xgboost's own formats, and loads them back as the model itself
(:func:`load_model`, ``flavorkit.load_native``) or behind flavorkit's
generic ``predict(data, params=None)`` contract (``flavorkit.load_model``).
The folders use MLflow's ``xgboost`` section, so MLflow and flavorkit read
each other's. Importing this package does not import xgboost.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flavorkit_xgboost._native import DEFAULT_FORMAT, FLAVOR_NAME, FORMATS

__version__ = "0.1.0"

__all__ = ["DEFAULT_FORMAT", "FLAVOR_NAME", "FORMATS", "__version__", "load_model", "save_model"]


def save_model(
    xgb_model: Any,
    path: str | Path,
    *,
    model_format: str = DEFAULT_FORMAT,
    predict_fn: str | None = None,
    **kwargs: Any,
) -> Any:
    """Save a trained Booster or scikit-learn-interface model as a model folder at ``path``.

    ``model_format`` is ``"ubj"`` (default) or ``"json"``; neither runs code
    when read. ``predict_fn`` (classifiers only) is the method pyfunc's
    ``predict`` calls unless a call's params choose another: ``"predict"``
    (default) or ``"predict_proba"``. Every other keyword (``signature``,
    ``input_example``, ``pip_requirements``, ``overwrite``, ...) goes to
    ``flavorkit.save_model``, whose return value is returned and whose errors
    propagate.
    """
    import flavorkit

    options: dict[str, Any] = {"model_format": model_format}
    if predict_fn is not None:
        options["predict_fn"] = predict_fn
    return flavorkit.save_model(xgb_model, path, flavor=FLAVOR_NAME, **options, **kwargs)


def load_model(model_uri: str | Path, *, allow_unsafe: bool | None = None) -> Any:
    """Load the Booster or XGBModel saved at ``model_uri``, as the class it was saved as.

    ``allow_unsafe`` opts in to rebuilding a ``model_class`` from outside
    xgboost (a subclass in your own module, whose import runs its code);
    ``None`` reads ``FLAVORKIT_ALLOW_UNSAFE``. Raises what
    ``flavorkit.load_native`` raises.
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
