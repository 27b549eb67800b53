"""Which registry a URI goes to, and ``models:/`` / ``runs:/`` resolved to a local folder.

``open_registry`` picks the backend from the registry URI:

=========================================  ==============================================
``None``                                   ``FLAVORKIT_REGISTRY_URI``, else the per-user
                                           embedded registry (``$XDG_DATA_HOME`` or
                                           ``~/.local/share``)/flavorkit/registry
a path or ``file://`` URI                  the embedded registry kept in that folder
``sqlite:///path/mlflow.db``               an MLflow tracking database, read-only
``http(s)://host[:port]``                  an MLflow tracking server, over its REST API
=========================================  ==============================================

Backends are kept per process (one open SQLite connection each), so resolving a
registered version costs a parsed-URI cache hit, one or two indexed queries and
a stat of the version's files.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from flavorkit.exceptions import LocationError
from flavorkit.registry._backend import Backend, ModelVersion, find_version, inside
from flavorkit.registry._uris import parse_models_uri, parse_runs_uri

REGISTRY_ENV = "FLAVORKIT_REGISTRY_URI"
MLFLOW_TRACKING_ENV = "MLFLOW_TRACKING_URI"
MLFLOW_SCHEMES = ("sqlite", "http", "https")

_backends: dict[tuple[str, str | None], Backend] = {}
_lock = threading.Lock()


def default_registry_path() -> Path:
    """The per-user registry: ``$XDG_DATA_HOME`` (``~/.local/share``)/flavorkit/registry."""
    data = os.environ.get("XDG_DATA_HOME", "").strip()
    base = Path(data) if data and Path(data).is_absolute() else Path.home() / ".local" / "share"
    return base / "flavorkit" / "registry"


def registry_uri(uri: str | os.PathLike[str] | None = None) -> str:
    """The registry ``uri`` names: itself, else ``FLAVORKIT_REGISTRY_URI``, else the default."""
    if uri is not None and str(uri).strip():
        return os.fspath(uri)
    return os.environ.get(REGISTRY_ENV, "").strip() or str(default_registry_path())


def _scheme(uri: str) -> str:
    scheme = urlparse(uri).scheme.lower()
    return "" if len(scheme) <= 1 else scheme  # one letter is a Windows drive


def is_mlflow_uri(uri: str) -> bool:
    """Whether ``uri`` names an MLflow tracking store flavorkit reads (SQLite or a server)."""
    return _scheme(uri) in MLFLOW_SCHEMES


def open_registry(
    uri: str | os.PathLike[str] | None = None, *, artifact_root: str | None = None
) -> Backend:
    """The registry at ``uri`` (see the module's table); the same object for the same URI.

    ``artifact_root`` applies to an embedded registry that does not exist yet
    (a folder or an fsspec URL for its versions' files). Raises
    ``LocationError`` for a URI no backend reads.
    """
    text = registry_uri(uri)
    scheme = _scheme(text)
    if scheme == "file" and urlparse(text).netloc not in ("", "localhost"):
        named = "" if uri is not None and str(uri).strip() else f" ({REGISTRY_ENV})"
        raise LocationError(
            f"names host {urlparse(text).netloc!r}{named}; an embedded registry is a folder on "
            "this machine (a path or file:///path)",
            uri=text,
        )
    if scheme in ("", "file"):
        path = unquote(urlparse(text).path) if scheme == "file" else text
        key = (str(Path(path).expanduser().absolute()), artifact_root)
    else:
        key = (text, artifact_root)
    backend = _backends.get(key)
    if backend is None:
        with _lock:
            backend = _backends.get(key) or _open(key[0], scheme, artifact_root)
            _backends[key] = backend
    return backend


def _open(uri: str, scheme: str, artifact_root: str | None) -> Backend:
    if scheme in ("", "file"):
        from flavorkit.registry._embedded import EmbeddedRegistry

        return EmbeddedRegistry(uri, artifact_root=artifact_root)
    if artifact_root is not None:
        raise LocationError("artifact_root applies to the embedded registry only", uri=uri)
    if scheme == "sqlite":
        from flavorkit.registry._mlflow_sql import MlflowSqlBackend

        return MlflowSqlBackend(uri)
    if scheme in ("http", "https"):
        from flavorkit.registry._mlflow_rest import MlflowRestBackend

        return MlflowRestBackend(uri)
    raise LocationError(
        f"no registry backend reads {scheme!r} URIs; a registry is a folder (the embedded "
        "registry), sqlite:///path/mlflow.db (an MLflow database) or http(s)://host "
        "(an MLflow tracking server)",
        uri=uri,
    )


def embedded_registry(uri: str | os.PathLike[str] | None = None, **options: Any) -> Any:
    """The embedded registry at ``uri``; ``LocationError`` when ``uri`` names an MLflow store.

    Writing (registering, aliases, tags, deleting) is the embedded registry's;
    MLflow's database is read-only here and its server is MLflow's to change.
    """
    from flavorkit.registry._embedded import EmbeddedRegistry

    backend = open_registry(uri, **options)
    if not isinstance(backend, EmbeddedRegistry):
        raise LocationError(
            "this is an MLflow registry, which flavorkit reads but does not change; "
            "use MLflow's client to register or edit models there",
            uri=backend.uri,
        )
    return backend


def resolve_models_uri(uri: str) -> Path:
    """The local folder ``models:/...`` names, in the registry ``open_registry()`` opens.

    Raises ``LocationError`` naming the URI for an unknown name, version or
    alias, a deleted version, a bad URI, and ``DigestMismatchError`` for a
    registered file that changed.
    """
    return resolve_models_version(uri)[0]


def resolve_models_version(uri: str) -> tuple[Path, ModelVersion | None]:
    """``resolve_models_uri``, with the version it found (``None`` for a logged model).

    For a server that reports which version it serves: the folder and the
    version come from one lookup, so an alias moving meanwhile cannot pair
    one version's files with another's number.
    """
    parsed = parse_models_uri(uri)
    backend = open_registry()
    version = None
    try:
        if parsed.model_id is not None:
            folder = backend.logged_model(parsed.model_id)
        else:
            version = find_version(backend, parsed)
            folder = backend.download(version)
    except LocationError as exc:
        if exc.uri is None:  # say what was asked; a digest error already names its version
            raise LocationError(str(exc), uri=uri) from exc
        raise
    return inside(folder, parsed.subpath, uri=uri, what="the version"), version


def resolve_runs_uri(uri: str) -> Path:
    """The local folder ``runs:/<run_id>/<path>`` names, in an MLflow tracking store.

    The store is ``FLAVORKIT_REGISTRY_URI`` when it names an MLflow one,
    else ``MLFLOW_TRACKING_URI``; runs exist only there.
    """
    parsed = parse_runs_uri(uri)
    store = os.environ.get(REGISTRY_ENV, "").strip()
    if not is_mlflow_uri(store):
        store = os.environ.get(MLFLOW_TRACKING_ENV, "").strip()
    if not is_mlflow_uri(store):
        found = f" ({MLFLOW_TRACKING_ENV}={store!r} is not one)" if store else ""
        raise LocationError(
            "runs:/ URIs name a job's outputs in an MLflow tracking store; set "
            f"{MLFLOW_TRACKING_ENV} (or {REGISTRY_ENV}) to sqlite:///path/mlflow.db or "
            f"http(s)://host:port{found}",
            uri=uri,
        )
    backend = open_registry(store)
    try:
        return backend.run_artifact(parsed.run_id, parsed.path)
    except LocationError as exc:
        if exc.uri is None:
            raise LocationError(str(exc), uri=uri) from exc
        raise


def forget_registries() -> None:
    """Close and drop every registry opened in this process (tests that change the environment)."""
    with _lock:
        for backend in _backends.values():
            close = getattr(backend, "close", None)
            if close is not None:
                close()
        _backends.clear()
