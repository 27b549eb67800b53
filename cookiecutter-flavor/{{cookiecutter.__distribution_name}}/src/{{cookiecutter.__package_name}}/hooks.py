"""The hooks flavorkit calls for the ``{{ cookiecutter.flavor_name }}`` flavor.

Registered by the entry point in pyproject.toml. flavorkit routes load,
predict and environment detection to the plugin that owns the flavor, so no
hook checks the flavor name. Each hands the work to ``_native``. Nothing
here imports the framework, numpy or pandas at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flavorkit import hookimpl
from flavorkit.hookspecs import LoadOptions, Persisted

from {{ cookiecutter.__package_name }} import _native


@hookimpl
def flavorkit_flavors() -> list[str]:
    return [_native.FLAVOR_NAME]


# tryfirst: a plugin for one framework recognises its own classes before the
# general-purpose ones (a scikit-learn-compatible model is also claimed by the
# sklearn flavor when the caller names no flavor)
@hookimpl(tryfirst=True)
def flavorkit_persist(model: Any, path: Path, flavor: str | None) -> Persisted | None:
    """Save the model; ``None`` (not mine) for another framework's when no flavor is named."""
    if not _native.is_native_model(model):
        if flavor is None:
            return None
        raise _native.not_native(model)
    return _native.persist(model, path)


@hookimpl
def flavorkit_load(path: Path, conf: dict[str, Any], options: LoadOptions) -> Any:
    return _native.load(path, conf, allow_unsafe=options["allow_unsafe"])


@hookimpl
def flavorkit_predict(model: Any, data: Any, params: dict[str, Any]) -> Any:
    # a bad param value: raise flavorkit.exceptions.SchemaEnforcementError (a 400), see _native
    return _native.predict(model, data, params)


@hookimpl
def flavorkit_detect_environment() -> list[str]:
    return _native.requirements()
