"""Folders between object stores and this machine: ``fetch`` into the cache, ``upload`` out.

``fetch`` lists the remote folder and keys the cache entry by that listing
(each file's path, size and the checksum or version id the store keeps),
so an unchanged folder is downloaded once and a changed one gets a new
entry. The listing is taken again after the download; a folder that
changed meanwhile is downloaded again rather than cached under the old key.
The source is only ever read.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from flavorkit.exceptions import LocationError
from flavorkit.stores._cache import cached, cached_by_content
from flavorkit.stores._digests import folder_digests, regular_files
from flavorkit.stores._fsspec import (
    RemoteFile,
    endpoint,
    list_folder,
    open_store,
    scheme_of,
    store_error,
)

_KEY_FORMAT = 1  # bump when what goes into a key changes, so old entries are not reused
_ATTEMPTS = 2


class _Changed(LocationError):
    """The remote folder changed while it was being downloaded: ``reason`` says how."""

    def __init__(self, reason: str, *, uri: str) -> None:
        super().__init__(f"changed while it was being downloaded: {reason}", uri=uri)
        self.reason = reason


def fetch(url: str, *, require_model: bool = True) -> Path:
    """A local copy of the remote folder ``url``, from the download cache (downloaded once).

    ``url`` is ``s3://``, ``gs://``, ``az://``/``abfs(s)://``, ``hf://`` (a
    Hugging Face repository, ``hf://org/repo@revision/sub``) or
    ``http(s)://`` (a plain folder listing). With ``require_model`` the
    folder must hold an ``MLmodel`` file. Raises ``LocationError`` naming
    the URL and what was found: a missing package (with the extra to
    install), no credentials, access refused, an unreachable store, no such
    bucket or prefix, no ``MLmodel``, a hostile name in the listing, or a
    folder larger than the cache may hold.
    """
    fs, path = open_store(url)
    scheme = scheme_of(url)
    reason = ""
    for _ in range(_ATTEMPTS):
        files = list_folder(fs, path, url)
        if require_model:
            _check_model(files, url)
        total = sum(f.size for f in files)

        def populate(target: Path, files: list[RemoteFile] = files) -> None:
            _download(fs, files, target, url)
            if _listing_key(url, list_folder(fs, path, url)) != _listing_key(url, files):
                raise _Changed("its listing is not the same afterwards", uri=url)

        if any(f.version is None for f in files):
            # nothing in the listing identifies the contents: key the entry by the files
            return cached_by_content(
                scheme.protocol,
                lambda target, files=files: _download(fs, files, target, url),
                _content_key,
                source=url,
                size=total,
            )
        key = f"{scheme.protocol}-{_listing_key(url, files)}"
        try:
            return cached(key, populate, source=url, size=total)
        except _Changed as exc:
            reason = exc.reason
    raise LocationError(
        f"changed while it was being downloaded, {_ATTEMPTS} times; try again when it is "
        f"settled (the last time: {reason})",
        uri=url,
    )


def upload(
    local: str | os.PathLike[str], url: str | os.PathLike[str], *, overwrite: bool = False
) -> None:
    """Copy the folder ``local`` to ``url``: a local path, a ``file://`` URI or an object store.

    A local destination is filled beside itself and renamed into place, so
    it appears whole or not at all. In an object store, ``MLmodel`` is
    written last, so a reader never finds a model folder half uploaded.
    Refuses a destination that already holds files unless ``overwrite``
    (versions are written once), and a source holding links or special
    files. Raises ``LocationError``.
    """
    source = Path(local)
    files = regular_files(source)
    if not files:
        raise LocationError("is empty; there is nothing to upload", uri=str(source))
    target = _local_target(url)
    if target is not None:
        _upload_local(files, target.expanduser(), str(url), overwrite)
    else:
        _upload_remote(files, str(url), overwrite)


# -- fetch ----------------------------------------------------------------------------------


def _check_model(files: list[RemoteFile], url: str) -> None:
    names = [f.relative for f in files]
    if "MLmodel" in names:
        return
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    nested = [n.rsplit("/", 1)[0] for n in names if n.endswith("/MLmodel")]
    hint = f"; a model folder is at {url.rstrip('/')}/{nested[0]}" if nested else ""
    raise LocationError(
        f"holds no MLmodel file, so it is not a model folder (found {len(names)} "
        f"file{'s' if len(names) != 1 else ''}: {shown}){hint}",
        uri=url,
    )


def _listing_key(url: str, files: list[RemoteFile]) -> str:
    """sha256 over the URL, the store's endpoint and each file's path, size and version."""
    record = {
        "format": _KEY_FORMAT,
        "url": url.rstrip("/"),
        "endpoint": endpoint(scheme_of(url)),
        "files": [[f.relative, f.size, f.version] for f in files],
    }
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _content_key(folder: Path) -> str:
    text = json.dumps(folder_digests(folder), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _download(fs: Any, files: list[RemoteFile], target: Path, url: str) -> None:
    """Download ``files`` into ``target`` (in the cache's scratch area) and check their sizes.

    A store may send more than it listed (a hostile one, endlessly): each
    file's download is cut off once it passes its listed size, so the disk
    never takes more than the listing promised, give or take one chunk.
    """
    for f in files:
        (target / f.relative).parent.mkdir(parents=True, exist_ok=True)
    locals_ = [str(target / f.relative) for f in files]
    try:
        fs.get(
            [f.remote for f in files],
            locals_,
            callback=_as_listed()(dict(zip(locals_, files, strict=True)), url),
        )
    except _Changed:
        raise
    except Exception as exc:
        raise store_error(exc, url, doing="download") from exc
    for f in files:
        local = target / f.relative
        got = f"{local.stat().st_size:,} bytes" if local.is_file() else "nothing"
        if got != f"{f.size:,} bytes":
            raise _Changed(
                f"{f.relative!r} was listed with {f.size:,} bytes and {got} arrived",
                uri=url,
            )


@functools.cache
def _as_listed() -> type:
    """fsspec's progress hooks, used to stop each file's download past its listed size.

    Built on first use: fsspec is imported only when a store URL is.
    """
    from fsspec.callbacks import Callback

    class AsListed(Callback):
        def __init__(self, listed: dict[str, RemoteFile], url: str) -> None:
            super().__init__()
            self._listed, self._url = listed, url

        def branched(self, path_1: str, path_2: str, **kwargs: Any) -> Callback:
            f = self._listed.get(str(path_2))
            return FileAsListed(f, self._url) if f is not None else Callback()

    class FileAsListed(Callback):
        def __init__(self, file: RemoteFile, url: str) -> None:
            super().__init__()
            self._file, self._url = file, url

        def set_size(self, size: int | None) -> None:
            if isinstance(size, int) and size > self._file.size:
                raise self._more(f"{size:,} bytes were announced")
            self.size = size

        def absolute_update(self, value: int) -> None:
            self.value = value
            if value > self._file.size:
                raise self._more("more arrived")

        def relative_update(self, inc: int = 1) -> None:
            self.absolute_update(self.value + inc)

        def _more(self, what: str) -> _Changed:
            return _Changed(
                f"{self._file.relative!r} was listed with {self._file.size:,} bytes and "
                f"{what}; the download was stopped",
                uri=self._url,
            )

    return AsListed


# -- upload ---------------------------------------------------------------------------------


def _local_target(url: str | os.PathLike[str]) -> Path | None:
    """The local folder ``url`` names, or ``None`` for an object store."""
    if isinstance(url, os.PathLike):
        return Path(url)
    parsed = urlparse(url)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise LocationError(
                f"names host {parsed.netloc!r}; only local files are supported", uri=url
            )
        return Path(unquote(parsed.path))
    if len(parsed.scheme) <= 1:  # no scheme, or a Windows drive letter
        return Path(url)
    return None


def _upload_local(files: list[tuple[str, Path]], target: Path, url: str, overwrite: bool) -> None:
    occupied = target.exists() and (not target.is_dir() or any(target.iterdir()))
    if occupied and not overwrite:
        raise LocationError("already exists; a folder is uploaded once", uri=url)
    token = secrets.token_hex(6)
    scratch = target.parent / f".{target.name}.upload-{token}"
    old = target.parent / f".{target.name}.replaced-{token}"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        for relative, path in files:
            (scratch / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, scratch / relative)
        if target.exists():
            os.rename(target, old)
        os.rename(scratch, target)
    except OSError as exc:
        if old.exists() and not target.exists():
            os.rename(old, target)  # put back what was there
        raise LocationError(f"cannot write it: {exc.strerror or exc}", uri=url) from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def _upload_remote(files: list[tuple[str, Path]], url: str, overwrite: bool) -> None:
    if urlparse(url).scheme.lower() in ("http", "https"):
        raise LocationError(
            "http(s):// locations are read-only; upload to an object store", uri=url
        )
    fs, path = open_store(url)
    base = path.rstrip("/")
    try:
        existing = list(fs.find(base))
    except FileNotFoundError:
        existing = []  # no such bucket: the upload itself says so
    except Exception as exc:
        raise store_error(exc, url) from exc
    if existing and not overwrite:
        raise LocationError(
            f"already holds {len(existing)} file(s); a folder is uploaded once", uri=url
        )
    body = [(r, p) for r, p in files if r != "MLmodel"]
    last = [(r, p) for r, p in files if r == "MLmodel"]
    try:
        if existing:
            fs.rm(existing)
        for batch in (body, last):
            if batch:
                fs.put([str(p) for _, p in batch], [f"{base}/{r}" for r, _ in batch])
    except Exception as exc:
        raise store_error(exc, url, doing="upload") from exc
