"""Registries: where ``models:/`` and ``runs:/`` URIs lead.

The embedded registry (an SQLite database and an artifact root, no server) is
the default; an MLflow tracking database (``sqlite:///...``) or server
(``http(s)://...``) is read the same way. ``flavorkit.load_model("models:/churn@champion")``
resolves through ``resolve_models_uri``; the functions below register and
curate models in the embedded registry. Nothing here is imported by
``import flavorkit``; each name is loaded on first use.
"""

from __future__ import annotations

from flavorkit._lazy import lazy_exports

_API = "flavorkit.registry._embedded_api"
_RESOLVE = "flavorkit.registry._resolve"
_TYPES = "flavorkit.registry._embedded_types"

# public name -> the module that defines it
_EXPORTS: dict[str, str] = {
    "AliasChange": _TYPES,
    "Backend": "flavorkit.registry._backend",
    "EmbeddedRegistry": "flavorkit.registry._embedded",
    "ModelVersion": "flavorkit.registry._backend",
    "RegisteredModel": _TYPES,
    "RegisteredVersion": _TYPES,
    "alias_history": _API,
    "default_registry_path": _RESOLVE,
    "delete_alias": _API,
    "delete_model": _API,
    "delete_tag": _API,
    "delete_version": _API,
    "get_model": _API,
    "list_versions": _API,
    "open_registry": _RESOLVE,
    "parse_models_uri": "flavorkit.registry._uris",
    "parse_runs_uri": "flavorkit.registry._uris",
    "register_model": _API,
    "resolve_models_uri": _RESOLVE,
    "resolve_models_version": _RESOLVE,
    "resolve_runs_uri": _RESOLVE,
    "search_models": _API,
    "search_versions": _API,
    "set_alias": _API,
    "set_description": _API,
    "set_tag": _API,
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports("flavorkit.registry", _EXPORTS, globals())


def __dir__() -> list[str]:
    return __all__
