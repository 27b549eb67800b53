"""Resolve a model URI to a local folder.

One function does it for every caller; schemes beyond local paths and
``file://`` are added with ``register_resolver`` (a registry, an object store).
The built-in remote schemes are named here as ``"module:function"`` and
imported on first use, so resolving a local path never imports a store client.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlparse

from flavorkit.exceptions import FlavorkitError

Resolver = Callable[[str], Path]
_resolvers: dict[str, Resolver | str] = {}


def register_resolver(scheme: str, resolver: Resolver | str) -> None:
    """Route URIs of ``scheme`` (e.g. ``"s3"``) to ``resolver``, which returns a local folder.

    ``resolver`` is a callable or a ``"module:function"`` string imported the
    first time a URI of that scheme is resolved.
    """
    _resolvers[scheme.lower()] = resolver


def _resolver(scheme: str) -> Resolver:
    resolver = _resolvers[scheme]
    if isinstance(resolver, str):
        module, _, name = resolver.partition(":")
        resolver = getattr(importlib.import_module(module), name)
        _resolvers[scheme] = resolver
    return resolver


def _file_uri(uri: str) -> Path:
    parsed = urlparse(uri)
    if parsed.netloc not in ("", "localhost"):
        raise FlavorkitError(
            f"file URI {uri!r} names host {parsed.netloc!r}; only local files are supported"
        )
    return Path(unquote(parsed.path))


register_resolver("file", _file_uri)
# a registry (embedded, or MLflow's) and a job's outputs
for _scheme in ("models", "runs"):
    register_resolver(_scheme, f"flavorkit.registry:resolve_{_scheme}_uri")
# object stores through fsspec, fetched into the download cache
for _scheme in ("s3", "gs", "gcs", "az", "abfs", "abfss", "hf", "http", "https"):
    register_resolver(_scheme, "flavorkit.stores:fetch")


def resolve_uri(uri: str | os.PathLike[str]) -> Path:
    """Return the local folder ``uri`` names.

    Accepts paths (``str`` or ``PathLike``), ``file://`` URIs and any scheme
    given to ``register_resolver``. Raises ``FlavorkitError`` for an unknown
    scheme and ``FileNotFoundError`` when the folder does not exist.
    """
    if isinstance(uri, os.PathLike):
        path = Path(uri)
    else:
        scheme = urlparse(uri).scheme.lower()
        # one letter is a Windows drive, not a scheme
        if len(scheme) > 1:
            try:
                resolver = _resolver(scheme)
            except KeyError:
                known = ", ".join(sorted(_resolvers))
                raise FlavorkitError(
                    f"unsupported model URI scheme {scheme!r} in {uri!r} "
                    f"(supported: local paths, {known})"
                ) from None
            path = resolver(uri)
        else:
            path = Path(uri)
    path = path.expanduser()
    if not path.exists():
        raise FileNotFoundError(f"model folder {str(path)!r} does not exist")
    return path
