"""Object stores through fsspec: which package serves a scheme, listing a folder, naming failures.

fsspec and the store's own package are imported when a URL of that scheme
is first used, never by ``import flavorkit``. A missing package is a
``LocationError`` naming the extra that installs it. Everything a store
library raises (no credentials, access denied, no such bucket, an
unreachable endpoint) becomes one ``LocationError`` naming the URL and what
was found, with the original chained as its cause.

A listing is read as hostile input: every remote name must map to a plain
relative path inside the download folder (no ``..``, no absolute path, no
backslash, no NUL, no name that is both a file and a folder, no two names that
a case-insensitive file system would take for one). A plain HTTP folder is
walked page by page with bounds: each page is read up to ``MAX_PAGE_BYTES``,
folders nest at most ``MAX_DEPTH`` deep, and the walk stops as soon as it has
seen more than ``MAX_FILES`` files.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

from flavorkit.exceptions import LocationError, ManifestError

MAX_FILES = 100_000  # a listing longer than this is refused, not downloaded
MAX_DEPTH = 32  # folders inside a plain HTTP folder
MAX_PAGE_BYTES = 64 << 20  # one page of a plain HTTP folder listing


class _PageTooLarge(Exception):
    """A page of an HTTP folder listing went on past ``MAX_PAGE_BYTES``."""


@dataclass(frozen=True)
class Scheme:
    """How flavorkit reads one URL scheme."""

    protocol: str  # fsspec's name for it
    module: str  # the package implementing it, beyond fsspec itself
    extra: str  # pip install 'flavorkit[<extra>]'
    credentials: str  # how to give credentials, for the message when there are none


_AWS = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE"
_GCS = "set GOOGLE_APPLICATION_CREDENTIALS, or run `gcloud auth application-default login`"
_AZURE = (
    "set AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT_NAME with "
    "AZURE_STORAGE_ACCOUNT_KEY or AZURE_STORAGE_SAS_TOKEN"
)
_HF = "set HF_TOKEN, or run `hf auth login`"

SCHEMES: dict[str, Scheme] = {
    "s3": Scheme("s3", "s3fs", "s3", _AWS),
    "gs": Scheme("gs", "gcsfs", "gcs", _GCS),
    "gcs": Scheme("gcs", "gcsfs", "gcs", _GCS),
    "az": Scheme("az", "adlfs", "azure", _AZURE),
    "abfs": Scheme("abfs", "adlfs", "azure", _AZURE),
    "abfss": Scheme("abfss", "adlfs", "azure", _AZURE),
    "hf": Scheme("hf", "huggingface_hub", "hf", _HF),
    "http": Scheme("http", "aiohttp", "http", "put credentials in the URL's server config"),
    "https": Scheme("https", "aiohttp", "http", "put credentials in the URL's server config"),
}

# fields of a listing that name a file's version or contents, strongest first: a checksum
# or version id where the store keeps one; a modification time only where it keeps nothing else
_VERSION_FIELDS = (
    "ETag",
    "etag",
    "VersionId",
    "version_id",
    "md5Hash",
    "crc32c",
    "generation",
    "lfs",
    "blob_id",
    "xet_hash",
    "Content-MD5",
    "Digest",
)
_TIME_FIELDS = ("LastModified", "last_modified", "Last-Modified", "updated", "mtime")


@dataclass(frozen=True)
class RemoteFile:
    """One file of a remote folder."""

    relative: str  # POSIX path inside the folder, checked
    remote: str  # the store's path, to download
    size: int
    version: str | None  # what the store says identifies this content; None when nothing


def scheme_of(url: str) -> Scheme:
    """The ``Scheme`` of ``url``; ``LocationError`` when flavorkit reads no such store."""
    name = urlparse(url).scheme.lower()
    try:
        return SCHEMES[name]
    except KeyError:
        known = ", ".join(f"{s}://" for s in SCHEMES)
        raise LocationError(
            f"{name}:// is not an object store flavorkit reads ({known})", uri=url
        ) from None


def endpoint(scheme: Scheme) -> str | None:
    """The custom endpoint configured for ``scheme`` (an S3-compatible store, an emulator).

    For S3: ``AWS_ENDPOINT_URL_S3``, then ``AWS_ENDPOINT_URL`` (as boto reads
    them), then MLflow's ``MLFLOW_S3_ENDPOINT_URL``. For the Hub
    ``HF_ENDPOINT``, for Google ``STORAGE_EMULATOR_HOST``.
    """
    names = {
        "s3": ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "MLFLOW_S3_ENDPOINT_URL"),
        "hf": ("HF_ENDPOINT",),
        "gs": ("STORAGE_EMULATOR_HOST",),
        "gcs": ("STORAGE_EMULATOR_HOST",),
        "az": ("AZURE_STORAGE_ACCOUNT_NAME",),
        "abfs": ("AZURE_STORAGE_ACCOUNT_NAME",),
        "abfss": ("AZURE_STORAGE_ACCOUNT_NAME",),
    }.get(scheme.protocol, ())
    return next((os.environ[n] for n in names if os.environ.get(n)), None)


def open_store(url: str) -> tuple[Any, str]:
    """``(filesystem, path)`` for ``url``, importing fsspec and the store's package now.

    Raises ``LocationError`` naming the extra to install when a package is missing.
    """
    scheme = scheme_of(url)
    missing = [m for m in ("fsspec", scheme.module) if importlib.util.find_spec(m) is None]
    if missing:
        raise _missing(url, scheme, missing)
    from fsspec.core import url_to_fs

    options: dict[str, Any] = {}
    custom = endpoint(scheme)
    if scheme.protocol == "s3" and custom:
        options["client_kwargs"] = {"endpoint_url": custom}
    if scheme.protocol == "http":
        options["get_client"] = _bounded_session
    try:
        return url_to_fs(url, **options)
    except ImportError as exc:
        raise _missing(url, scheme, [exc.name or scheme.module]) from exc
    except Exception as exc:
        raise store_error(exc, url, doing="open") from exc


def list_folder(fs: Any, path: str, url: str) -> list[RemoteFile]:
    """The files under ``path``, sorted by relative path, each checked to stay inside the folder.

    Raises ``LocationError`` when the store cannot be read, the bucket or
    the prefix does not exist, the URL names one file rather than a folder,
    or a name would land outside the folder.
    """
    base = _base(fs, path, url)
    fs.invalidate_cache()  # a listing cached by this process could predate a change
    is_http = _protocol(url) in ("http", "https")
    try:
        found: dict[str, dict[str, Any]] = (
            _walk_pages(fs, base, url) if is_http else fs.find(base, withdirs=False, detail=True)
        )
    except LocationError:
        raise
    except FileNotFoundError as exc:  # say which part is missing: the bucket, or the prefix
        raise LocationError(_nothing_there(fs, base, url), uri=url) from exc
    except Exception as exc:
        raise store_error(exc, url) from exc
    if not found:
        raise LocationError(_nothing_there(fs, base, url), uri=url)
    if len(found) > MAX_FILES:
        raise LocationError(
            f"lists {len(found):,} files; the most flavorkit fetches is {MAX_FILES:,}", uri=url
        )
    files = []
    for name, info in sorted(found.items()):
        if info.get("type") == "directory":
            continue
        if name.rstrip("/") == base:
            raise LocationError("names a single file, not a model folder", uri=url)
        if not name.startswith(base + "/"):
            raise LocationError(f"the store listed {name!r}, which is not under {base!r}", uri=url)
        relative = name[len(base) + 1 :]
        if relative.endswith("/"):
            continue  # a folder marker object ("prefix/sub/"), no file
        if is_http:
            if "?" in relative or "#" in relative:
                continue  # a server listing's sort links, not files
            relative = unquote(relative)
            info = {**info, **_http_info(fs, name, url)}
        files.append(
            RemoteFile(safe_relative(relative, name, url), name, *_size_version(info, name, url))
        )
    _check_layout(files, url)
    if not files:
        raise LocationError("holds only folder markers, no files", uri=url)
    return files


def safe_relative(relative: str, name: str, url: str) -> str:
    """``relative`` if it is a plain path inside the folder, else ``LocationError`` naming ``name``.

    The rule of ``flavorkit.folder`` for paths inside a model folder, and
    stricter: no backslash, no empty, ``.`` or ``..`` part, since each would
    write a file elsewhere than its name says.
    """
    from flavorkit.folder._paths import relative_path

    problem = None
    parts = relative.split("/")
    if "\\" in relative:
        problem = "has a backslash"
    elif ".." in parts or "." in parts:
        problem = f"has a {'..' if '..' in parts else '.'!r} part"
    elif "" in parts:
        problem = "has an empty part (a leading or doubled '/')"
    else:
        try:
            relative_path(relative, path=url, key="remote file")
        except ManifestError:
            problem = "is absolute, too long or holds a NUL"
    if problem:
        raise LocationError(
            f"refusing the remote file {name!r}: its path {relative!r} {problem}, "
            "so it could be written outside the download folder",
            uri=url,
        )
    return relative


def store_error(exc: BaseException, url: str, *, doing: str = "list") -> LocationError:
    """One ``LocationError`` saying what went wrong reading ``url``, whatever the library raised."""
    scheme = scheme_of(url)
    names = _names(exc)
    line = _first_line(exc)
    where = endpoint(scheme)
    if names & {
        "NoCredentialsError",
        "PartialCredentialsError",
        "CredentialRetrievalError",
        "DefaultCredentialsError",
        "ClientAuthenticationError",
        "LocalTokenNotFoundError",
    }:
        return LocationError(f"no credentials were found to read it: {scheme.credentials}", uri=url)
    refused = bool(names & {"GatedRepoError", "HttpResponseError", "ClientResponseError"}) and (
        "403" in line or "401" in line
    )
    if isinstance(exc, PermissionError) or refused:
        return LocationError(
            f"access was refused ({line}); check the credentials ({scheme.credentials})", uri=url
        )
    if isinstance(exc, _PageTooLarge):
        return LocationError(str(exc), uri=url)
    if isinstance(exc, FileNotFoundError) or any("NotFound" in n for n in names):
        return LocationError(f"not found: {line}", uri=url)
    if names & {
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ClientConnectorError",
        "ConnectError",
        "ServerDisconnectedError",
        "ConnectionError",
        "TimeoutError",
        "ReadTimeoutError",
        "ServiceRequestError",
    }:
        at = f" at {where}" if where and scheme.protocol in ("s3", "hf") else ""
        return LocationError(f"cannot reach the store{at}: {line}", uri=url)
    return LocationError(f"could not {doing} it: {type(exc).__name__}: {line}", uri=url)


# -- helpers ----------------------------------------------------------------------------


def _base(fs: Any, path: str, url: str) -> str:
    """The folder's path as the store names its files (the Hub spells revisions its own way)."""
    base = path.rstrip("/")
    if _protocol(url) == "hf":
        try:
            return str(fs.resolve_path(base).unresolve())
        except Exception as exc:
            raise store_error(exc, url) from exc
    return base


def _nothing_there(fs: Any, base: str, url: str) -> str:
    """Why a listing came back empty: no such bucket (container), or nothing under the prefix."""
    protocol = _protocol(url)
    if protocol in ("http", "https"):
        try:
            fs.info(base)
        except FileNotFoundError:
            return "not found: the server has no page there"
        except Exception:  # the check itself failed: say only what is certain
            pass
        return "the page lists no files"
    if protocol == "hf":
        return "no files there in the repository"
    word = "container" if protocol in ("az", "abfs", "abfss") else "bucket"
    bucket, _, prefix = base.partition("/")
    try:
        bucket_exists = bool(fs.exists(bucket)) if prefix else True
    except Exception:  # the check itself failed: say only what is certain
        bucket_exists = True
    if not bucket_exists:
        return f"{word} {bucket!r} does not exist (or these credentials cannot see it)"
    if not prefix:
        return f"{word} {bucket!r} is empty"
    return f"no files under {prefix!r} in {word} {bucket!r}"


def _walk_pages(fs: Any, base: str, url: str) -> dict[str, dict[str, Any]]:
    """What ``fs.find`` gives for a plain HTTP folder, walked with bounds.

    fsspec's own walk follows every link of every page, however many and
    however deep, before anything can be counted: a hostile server could
    keep it going forever.
    """
    found: dict[str, dict[str, Any]] = {}
    for root, dirs, files in fs.walk(base, maxdepth=MAX_DEPTH, detail=True):
        # walk keys a folder's files by base name; find keys them by full name, as here
        found.update((info["name"], info) for info in files.values())
        if len(found) > MAX_FILES:
            raise LocationError(
                f"lists more than {MAX_FILES:,} files; the most flavorkit fetches is {MAX_FILES:,}",
                uri=url,
            )
        depth = len([p for p in root[len(base) :].split("/") if p])
        if dirs and depth + 1 >= MAX_DEPTH:
            raise LocationError(
                f"nests folders more than {MAX_DEPTH} deep ({root!r}); no model folder does",
                uri=url,
            )
    if not found and fs.isfile(base):  # as fs.find does: a page with no links is one file
        found[base] = {"name": base, "type": "file"}
    return found


async def _bounded_session(**kwargs: Any) -> Any:
    """fsspec's aiohttp session for http(s), reading whole answers (listing pages) with a bound."""
    import aiohttp

    return aiohttp.ClientSession(response_class=_bounded_response(), **kwargs)


@functools.cache
def _bounded_response() -> type:
    import aiohttp

    class BoundedResponse(aiohttp.ClientResponse):
        """An answer read whole stops at ``MAX_PAGE_BYTES``; streamed downloads are not."""

        async def read(self) -> bytes:
            if self._body is None:
                body = bytearray()
                while chunk := await self.content.read(1 << 20):
                    body += chunk
                    if len(body) > MAX_PAGE_BYTES:
                        self.close()
                        raise _PageTooLarge(
                            f"the page {str(self.url)!r} is more than {MAX_PAGE_BYTES:,} bytes; "
                            "no folder listing is that long"
                        )
                self._body = bytes(body)
            return await super().read()

    return BoundedResponse


def _protocol(url: str) -> str:
    return urlparse(url).scheme.lower()


def _http_info(fs: Any, name: str, url: str) -> dict[str, Any]:
    """A plain HTTP listing gives names only: ask the server for each file's size and version."""
    try:
        return dict(fs.info(name))
    except Exception as exc:
        raise store_error(exc, url) from exc


def _size_version(info: dict[str, Any], name: str, url: str) -> tuple[int, str | None]:
    size = info.get("size", info.get("Size"))
    if not isinstance(size, int) or size < 0:
        raise LocationError(f"the store gives no size for {name!r}", uri=url)
    for fields in (_VERSION_FIELDS, _TIME_FIELDS):
        present = [f"{f}={info[f]}" for f in fields if info.get(f) not in (None, "")]
        if present:
            return size, ";".join(present)
    return size, None


def _check_layout(files: list[RemoteFile], url: str) -> None:
    check_names([f.relative for f in files], url)


def check_names(names: list[str], url: str) -> None:
    """Refuse two files with one name, a name that is both a file and a folder, or two names
    one on a case-insensitive file system (relative POSIX paths, each already checked)."""
    if len(set(names)) != len(names):
        raise LocationError("the listing names one file twice", uri=url)
    folders = {"/".join(n.split("/")[:i]) for n in names for i in range(1, n.count("/") + 1)}
    both = sorted(folders & set(names))
    if both:
        raise LocationError(f"{both[0]!r} is listed both as a file and as a folder", uri=url)
    # on macOS and Windows names differing only in case (or Unicode composition) are one
    # entry: one file would overwrite the other, or a file would land inside a folder
    seen: dict[str, tuple[str, bool]] = {}
    for path, is_file in sorted([(n, True) for n in names] + [(f, False) for f in folders]):
        first, first_is_file = seen.setdefault(_folded(path), (path, is_file))
        if first != path and (is_file or first_is_file):
            raise LocationError(
                f"the listing names {first!r} and {path!r}, which differ only in case or "
                "Unicode form: on a case-insensitive file system (macOS, Windows) they are one "
                "entry, and one would overwrite the other",
                uri=url,
            )


def _folded(path: str) -> str:
    """``path`` as a case-insensitive, normalising file system compares names."""
    return unicodedata.normalize("NFC", path).casefold()


def _missing(url: str, scheme: Scheme, modules: list[str]) -> LocationError:
    return LocationError(
        f"reading {urlparse(url).scheme}:// needs {' and '.join(modules)}, which is not "
        f"installed: pip install 'flavorkit[{scheme.extra}]'",
        uri=url,
    )


def _names(exc: BaseException) -> set[str]:
    """Class names of ``exc``, its bases and the exceptions chained to it (libraries wrap)."""
    names: set[str] = set()
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        names.update(c.__name__ for c in type(current).__mro__)
        current = current.__cause__ or current.__context__
    return names


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
