"""Model folders in object stores, the download cache, and content digests.

- ``fetch(url)``: a remote folder (``s3://``, ``gs://``, ``az://``,
  ``abfs(s)://``, ``hf://``, ``http(s)://``) as a local folder in the
  download cache, downloaded once per content; ``resolve_uri`` routes those
  schemes here, so every command and function that takes a model accepts them;
- ``cached(key, populate)``: the cache's atomic entry, for anything else that
  downloads a folder (the registries);
- ``upload(local, url)``: a folder copied to a local path or an object store;
- ``folder_digests`` / ``verify_digests``: sha256 of every file, recorded at
  registration and checked when a version is loaded;
- ``cache_root``, ``cache_entries``, ``prune``: where the cache is, what it
  holds, making it smaller (``flavorkit cache list|prune``).

Each store's package (s3fs, gcsfs, adlfs, huggingface_hub; aiohttp for
http) is an optional extra, imported when a URL of its scheme is first
used: importing this package imports none of them.
"""

from __future__ import annotations

from flavorkit.stores._cache import (
    CacheEntry,
    PruneResult,
    cache_entries,
    cache_root,
    cached,
    max_bytes,
    prune,
)
from flavorkit.stores._digests import folder_digests, verify_digests
from flavorkit.stores._fetch import fetch, upload

# tracebacks and reprs say flavorkit.stores.CacheEntry, the name users import
CacheEntry.__module__ = PruneResult.__module__ = __name__

__all__ = [
    "CacheEntry",
    "PruneResult",
    "cache_entries",
    "cache_root",
    "cached",
    "fetch",
    "folder_digests",
    "max_bytes",
    "prune",
    "upload",
    "verify_digests",
]
