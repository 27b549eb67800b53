"""The hooks flavorkit calls for the ``xgboost`` flavor.

Registered by the entry point in pyproject.toml. flavorkit routes load,
predict and environment detection to the plugin that owns the flavor, so no
hook checks the flavor name. Each hands the work to ``_native`` (the model
file), ``_classes`` (which classes) or ``_predict`` (predictions and params).
Nothing here imports the framework, numpy or pandas at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flavorkit import hookimpl
from flavorkit.hookspecs import LoadOptions, Persisted

from flavorkit_xgboost import _classes, _native, _predict


@hookimpl
def flavorkit_flavors() -> list[str]:
    return [_native.FLAVOR_NAME]


# tryfirst: XGBClassifier and friends derive from scikit-learn's BaseEstimator,
# so the sklearn flavor would claim them too when the caller names no flavor
@hookimpl(tryfirst=True)
def flavorkit_persist(
    model: Any, path: Path, flavor: str | None, options: dict[str, Any]
) -> Persisted | None:
    """Save the model; ``None`` (not mine) for another framework's when no flavor is named.

    See ``_native.persist`` for the options and their errors.
    """
    if not _classes.is_xgboost_model(model):
        if flavor is None:
            return None
        raise _classes.not_native(model)
    return _native.persist(model, path, options)


@hookimpl
def flavorkit_load(path: Path, conf: dict[str, Any], options: LoadOptions) -> Any:
    return _native.load(path, conf, allow_unsafe=options["allow_unsafe"])


@hookimpl
def flavorkit_predict(
    model: Any, data: Any, params: dict[str, Any], pyfunc_conf: dict[str, Any]
) -> Any:
    # a bad param value raises flavorkit.exceptions.SchemaEnforcementError (a 400), see _predict
    return _predict.predict(model, data, params, pyfunc_conf)


@hookimpl
def flavorkit_detect_environment(model: Any) -> list[str]:
    return _native.requirements(model)
