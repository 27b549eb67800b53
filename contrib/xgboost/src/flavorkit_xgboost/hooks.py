"""The hook functions flavorkit calls for the ``xgboost`` flavor.

Registered through the ``flavorkit`` entry point named ``xgboost`` (see
pyproject.toml). Each hook answers only for this flavor and hands the work
to ``_native`` (the model file), ``_classes`` (which classes) and
``_predict`` (predictions and params). Nothing here imports xgboost, numpy
or pandas at module import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flavorkit import hookimpl

from flavorkit_xgboost import _classes, _native, _predict
from flavorkit_xgboost._native import FLAVOR_NAME


@hookimpl
def flavorkit_flavors() -> list[str]:
    """Called once at registration: this plugin owns the ``xgboost`` section."""
    return [FLAVOR_NAME]


# tryfirst: XGBClassifier and friends derive from scikit-learn's BaseEstimator,
# so the sklearn flavor would claim them too when the caller names no flavor
@hookimpl(tryfirst=True)
def flavorkit_persist(
    model: Any, path: Path, flavor: str | None, options: dict[str, Any]
) -> dict[str, Any] | None:
    """Called by ``save_model``: write the model into ``path`` and describe it.

    Returns ``None`` for a model that is not xgboost's when the caller named
    no flavor. Raises ``TypeError`` when the caller named this flavor for an
    object that is neither an ``xgboost.Booster`` nor an ``xgboost.XGBModel``;
    see ``_native.persist`` for the options and their errors.
    """
    if flavor not in (None, FLAVOR_NAME):
        return None
    if not _classes.is_xgboost_model(model):
        if flavor is None:
            return None
        cls = type(model)
        raise TypeError(
            f"flavor {FLAVOR_NAME!r} saves xgboost.Booster and xgboost.XGBModel objects, "
            f"got {cls.__module__}.{cls.__qualname__}"
        )
    return _native.persist(model, Path(path), options)


@hookimpl
def flavorkit_load(flavor: str, path: Path, conf: dict[str, Any], options: dict[str, Any]) -> Any:
    """Called by ``load_model`` and ``load_native``: the Booster or XGBModel.

    Raises ``ManifestError`` for a section whose ``data`` or ``model_class``
    is wrong, and ``UnsafeFormatError`` for a ``model_class`` outside
    xgboost without ``options["allow_unsafe"]``.
    """
    if flavor != FLAVOR_NAME:
        return None
    return _native.load(Path(path), conf, allow_unsafe=bool(options.get("allow_unsafe")))


@hookimpl
def flavorkit_predict(
    flavor: str, model: Any, data: Any, params: dict[str, Any], pyfunc_conf: dict[str, Any]
) -> Any:
    """Called by every ``PyFuncModel.predict``, after the core enforced the signature."""
    if flavor != FLAVOR_NAME:
        return None
    return _predict.predict(model, data, params or {}, pyfunc_conf or {})


@hookimpl
def flavorkit_detect_environment(flavor: str, model: Any) -> list[str] | None:
    """Called by ``save_model``: the exact pins a freshly saved model needs.

    xgboost; scikit-learn for the scikit-learn interface (xgboost leaves it
    optional, but XGBModel cannot be built without it); and the distribution
    of a subclass's own module, when one is installed. ``None`` for other
    flavors.
    """
    if flavor != FLAVOR_NAME:
        return None
    from flavorkit.environment import pins_for_modules

    modules = [_native.FRAMEWORK_MODULE, type(model).__module__.split(".", 1)[0]]
    if not _classes.is_booster(model):
        modules.append("sklearn")
    return pins_for_modules(dict.fromkeys(modules))
