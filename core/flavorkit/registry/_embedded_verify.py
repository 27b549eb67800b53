"""A registered version's folder, checked against the digests recorded when it was registered.

Hashing every file on every load would make a registered model slower to load
than the same local folder; so a verification is remembered per process, keyed
by the folder and a stat signature of every entry in it (name, type, size,
mtime, ctime, inode). Any write to a file changes its ctime, which no user can
set back, so a file changed after it was verified is hashed again on the next load.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlparse

from flavorkit.exceptions import LocationError

Signature = tuple[tuple[str, int, int, int, int, int], ...]
# folder -> (signature when verified, the digests it was verified against)
_verified: dict[str, tuple[Signature, Mapping[str, str]]] = {}
_lock = threading.Lock()


def is_local(location: str) -> bool:
    """Whether ``location`` is a local path or ``file://`` URI (a one-letter scheme is a drive)."""
    scheme = urlparse(location).scheme
    return len(scheme) <= 1 or scheme.lower() == "file"


def local_path(location: str) -> Path:
    """The path of a local ``location`` (a path or a ``file://`` URI)."""
    if location.lower().startswith("file://"):
        return Path(unquote(urlparse(location).path))
    return Path(location)


def signature(folder: Path) -> Signature:
    """Every entry under ``folder`` with what changes when it is written, in a stable order."""
    entries = []
    pending = [(str(folder), "")]
    while pending:
        directory, prefix = pending.pop()
        with os.scandir(directory) as found:
            for entry in found:
                st = entry.stat(follow_symlinks=False)
                relative = prefix + entry.name
                if entry.is_dir(follow_symlinks=False):
                    pending.append((entry.path, relative + "/"))
                entries.append(
                    (relative, st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
                )
    entries.sort()
    return tuple(entries)


def verified_folder(source: str, digests: Mapping[str, str] | None, *, uri: str) -> Path:
    """The local folder with ``source``'s files, each matching ``digests``.

    A local ``source`` is returned as it is (never copied); a remote one is
    fetched into the download cache first. Raises ``DigestMismatchError``
    naming the first file that differs, is missing or is extra, and
    ``LocationError`` when a local folder is gone.
    """
    from flavorkit import stores

    if is_local(source):
        path = local_path(source)
        if not path.is_dir():
            raise LocationError(
                f"the files of this version are missing: {path} does not exist "
                "(removed from the registry's artifact root?)",
                uri=uri,
            )
    else:
        path = stores.fetch(source)
    if digests is None:  # a store that records none (MLflow's)
        return path
    key = str(path)
    try:
        before = signature(path)
    except OSError as exc:
        raise LocationError(
            f"cannot read the files of this version at {path}: {exc}", uri=uri
        ) from exc
    with _lock:
        known = _verified.get(key)
    if known is not None and known[0] == before and known[1] == digests:
        return path
    stores.verify_digests(path, digests, uri=uri)
    # a file written while it was being hashed changes the signature: then verify again next time
    if signature(path) == before:
        with _lock:
            _verified[key] = (before, dict(digests))
    return path


def forget() -> None:
    """Drop every remembered verification (tests; a process that distrusts its own cache)."""
    with _lock:
        _verified.clear()
