"""``load_model`` and ``load_native``: a model folder loaded through the plugin that owns it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flavorkit.api._plugins import Registry, get_registry
from flavorkit.api._pyfunc import PyFuncModel
from flavorkit.exceptions import ManifestError, PluginError
from flavorkit.folder._manifest import MLMODEL, Model
from flavorkit.folder._uri import resolve_uri
from flavorkit.hookspecs import LoadOptions

PYFUNC = "python_function"
UNSAFE_ENV = "FLAVORKIT_ALLOW_UNSAFE"


def allow_unsafe_from(value: bool | None) -> bool:
    """The caller's unsafe opt-in: the argument when given, else ``FLAVORKIT_ALLOW_UNSAFE``."""
    if value is not None:
        return bool(value)
    return os.environ.get(UNSAFE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _pyfunc_flavor(manifest: Model, registry: Registry) -> str:
    if PYFUNC not in manifest.flavors:
        raise PluginError(
            f"model {manifest._path} has no {PYFUNC!r} flavor, so it cannot be loaded "
            "through pyfunc; load it with load_native(uri, flavor=...) "
            f"(flavors: {', '.join(sorted(manifest.flavors))})"
        )
    for name in manifest.flavors:
        if name != PYFUNC and registry.owns(name):
            return name
    return PYFUNC


def load_model(
    uri: str | os.PathLike[str],
    *,
    allow_unsafe: bool | None = None,
    model_config: dict[str, Any] | None = None,
    suppress_warnings: bool = False,
    **load_options: Any,
) -> PyFuncModel:
    """Load the model folder at ``uri`` behind the generic predict contract.

    ``allow_unsafe`` opts in to formats that run code when loaded (pickles,
    code shipped in the folder); ``None`` reads ``FLAVORKIT_ALLOW_UNSAFE``.
    Extra keyword arguments reach the flavor's load hook as options (e.g.
    ``trusted_types`` for scikit-learn's skops format).
    Warns once, naming every recorded package whose installed version
    differs (unless ``suppress_warnings``). Raises ``ManifestError`` for a
    bad ``MLmodel``, ``PluginError`` when no plugin owns the model's flavor,
    ``UnsafeFormatError`` for an unsafe format without the opt-in.
    """
    path, manifest = _open(uri, suppress_warnings)
    registry = get_registry()
    flavor = _pyfunc_flavor(manifest, registry)
    native = load_folder(registry, flavor, path, manifest, allow_unsafe, model_config, load_options)
    return PyFuncModel(manifest, path, flavor, native, registry)


def load_native(
    uri: str | os.PathLike[str],
    flavor: str | None = None,
    *,
    allow_unsafe: bool | None = None,
    model_config: dict[str, Any] | None = None,
    suppress_warnings: bool = False,
    **load_options: Any,
) -> Any:
    """Load the framework's own model object (an estimator, an ``nn.Module`` ...).

    ``flavor`` picks the section when a folder has several; by default the
    first flavor other than ``python_function`` that an installed plugin owns.
    """
    path, manifest = _open(uri, suppress_warnings)
    registry = get_registry()
    if flavor is None:
        owned = [n for n in manifest.flavors if n != PYFUNC and registry.owns(n)]
        if owned:
            flavor = owned[0]
        elif PYFUNC in manifest.flavors and len(manifest.flavors) == 1:
            flavor = PYFUNC
        else:
            others = [n for n in manifest.flavors if n != PYFUNC]
            registry.owner(others[0] if others else PYFUNC)  # raises with the reason
            flavor = PYFUNC
    elif flavor not in manifest.flavors:
        raise ManifestError(
            f"has no flavor {flavor!r} (it has: {', '.join(sorted(manifest.flavors))})",
            path=path / MLMODEL,
            key="flavors",
        )
    native = load_folder(registry, flavor, path, manifest, allow_unsafe, model_config, load_options)
    return registry.native(flavor, native)


def _open(uri: str | os.PathLike[str], suppress_warnings: bool) -> tuple[Path, Model]:
    from flavorkit.environment import read_requirements, warn_mismatches

    path = resolve_uri(uri)
    manifest = Model.load(path)
    requirements = read_requirements(path)  # checked even when no warning is wanted
    if not suppress_warnings:
        warn_mismatches(path, manifest.flavors.get(PYFUNC), requirements)
    return path, manifest


def load_folder(
    registry: Registry,
    flavor: str,
    path: Path,
    manifest: Model,
    allow_unsafe: bool | None,
    model_config: dict[str, Any] | None,
    load_options: dict[str, Any] | None = None,
) -> Any:
    conf = manifest.flavors[flavor]
    pyfunc_conf = manifest.flavors.get(PYFUNC) or {}
    if model_config is not None and not isinstance(model_config, dict):
        raise TypeError(f"model_config must be a dict, got {type(model_config).__name__}")
    config = dict(pyfunc_conf.get("config") or {})
    config.update(model_config or {})
    options: LoadOptions = {
        **(load_options or {}),  # type: ignore[typeddict-item]
        "allow_unsafe": allow_unsafe_from(allow_unsafe),
        "model_config": config,
    }
    return registry.load(flavor, path, conf, options, pyfunc_conf)
