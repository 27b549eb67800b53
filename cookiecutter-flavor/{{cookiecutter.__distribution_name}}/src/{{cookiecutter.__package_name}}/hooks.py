"""The hook functions flavorkit calls for the ``{{ cookiecutter.flavor_name }}`` flavor.

Registered through the ``flavorkit`` entry point named ``{{ cookiecutter.flavor_name }}``
(see pyproject.toml). Each hook answers only for this flavor and hands the
work to ``_native``. Nothing here imports {{ cookiecutter.framework_name }}, numpy or pandas at
module import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flavorkit import hookimpl

from {{ cookiecutter.__package_name }} import _native
from {{ cookiecutter.__package_name }}._native import FLAVOR_NAME


@hookimpl
def flavorkit_flavors() -> list[str]:
    """Called once at registration: this plugin owns its flavor's ``MLmodel`` section."""
    return [FLAVOR_NAME]


# tryfirst: a plugin for one framework recognises its own classes before the
# general-purpose ones (a scikit-learn-compatible model is also claimed by the
# sklearn flavor when the caller names no flavor)
@hookimpl(tryfirst=True)
def flavorkit_persist(model: Any, path: Path, flavor: str | None) -> dict[str, Any] | None:
    """Called by ``save_model``: write the model into ``path`` and describe it.

    Returns ``None`` for a model of another framework when the caller named
    no flavor (another plugin may claim it). Raises ``TypeError`` when the
    caller named this flavor for an object that is not a
    ``{{ cookiecutter.model_class.replace(":", ".") }}``.
    """
    if flavor not in (None, FLAVOR_NAME):
        return None
    if not _native.is_native_model(model):
        if flavor is None:
            return None
        cls = type(model)
        raise TypeError(
            f"flavor {FLAVOR_NAME!r} saves {{ cookiecutter.model_class.replace(":", ".") }} objects, "
            f"got {cls.__module__}.{cls.__qualname__}"
        )
    return _native.persist(model, Path(path))


@hookimpl
def flavorkit_load(flavor: str, path: Path, conf: dict[str, Any], options: dict[str, Any]) -> Any:
    """Called by ``load_model`` and ``load_native``: the framework's model object.

    Raises ``ManifestError`` for a section whose keys are wrong (a path
    outside the folder, a FIFO, a class that is not the framework's model
    class) or a file the framework cannot read, and ``UnsafeFormatError``
    without ``options["allow_unsafe"]`` for a class from outside the
    framework{% if cookiecutter.format_runs_code %} and for the format, which runs code when read{% endif %}.
    """
    if flavor != FLAVOR_NAME:
        return None
    return _native.load(Path(path), conf, allow_unsafe=bool(options.get("allow_unsafe")))


@hookimpl
def flavorkit_predict(flavor: str, model: Any, data: Any) -> Any:
    """Called by every ``PyFuncModel.predict``, after the core enforced the signature."""
    if flavor != FLAVOR_NAME:
        return None
    return _native.predict(model, data)


@hookimpl
def flavorkit_detect_environment(flavor: str) -> list[str] | None:
    """Called by ``save_model``: the framework pinned to its installed version.

    ``None`` for other flavors (every plugin is asked).
    """
    if flavor != FLAVOR_NAME:
        return None
    from flavorkit.environment import pins_for_modules

    # add the top-level modules a loaded model needs beyond the framework,
    # such as an optional dependency its classes rely on
    return pins_for_modules([_native.FRAMEWORK_MODULE])
