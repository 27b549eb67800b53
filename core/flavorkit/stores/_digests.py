"""Content digests of a folder: the sha256 of every regular file, checked file by file.

A registered version records these digests; the files served later are
checked against them, so a file changed, removed or added after
registration (in the artifact store, or in the download cache) is refused
by name. The walk refuses symbolic links and special files: a model folder
holds regular files only, and a link could point a digest at a file outside
the folder.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from flavorkit.exceptions import DigestMismatchError, LocationError

_CHUNK = 1 << 20


def regular_files(root: str | os.PathLike[str]) -> list[tuple[str, Path]]:
    """Every file under ``root`` as ``(relative POSIX path, path)``, sorted by relative path.

    Raises ``LocationError`` when ``root`` is not a folder or holds a
    symbolic link or anything that is neither a folder nor a regular file.
    """
    base = Path(root)
    found: list[tuple[str, Path]] = []
    for relative, file, kind in _walk(base):
        if kind != "file":
            raise LocationError(
                f"{relative!r} is {kind}; a model folder holds regular files only", uri=str(base)
            )
        found.append((relative, file))
    found.sort()
    return found


def file_digest(path: str | os.PathLike[str]) -> str:
    """The sha256 hex digest of one file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def folder_digests(path: str | os.PathLike[str]) -> dict[str, str]:
    """Relative POSIX path -> sha256 hex of every regular file under ``path``, sorted by path.

    Called when a version is registered, to record what its files are.
    Raises ``LocationError`` for a symbolic link or a special file.
    """
    return {relative: file_digest(file) for relative, file in regular_files(path)}


def verify_digests(
    path: str | os.PathLike[str], digests: Mapping[str, str], *, uri: str | None = None
) -> None:
    """Check that the files under ``path`` are exactly those ``digests`` records.

    Raises ``DigestMismatchError`` naming the first file (in path order)
    that is missing, extra, not a regular file, or has other contents;
    missing and extra files are reported before any file is hashed. ``uri``
    is what the caller asked for, used in the message.
    """
    root = Path(path)
    present: dict[str, Path] = {}
    odd: dict[str, str] = {}  # relative path -> what it is instead of a regular file
    for relative, file, kind in _walk(root):
        if kind == "file":
            present[relative] = file
        else:
            odd[relative] = kind
    for relative in sorted(digests):
        if relative in odd:
            raise _mismatch(
                relative, digests[relative], None, uri, f"is {odd[relative]}, not a regular file"
            )
        if relative not in present:
            raise DigestMismatchError(relative, digests[relative], None, uri=uri)
    extra = sorted(set(present) - set(digests)) + sorted(set(odd) - set(digests))
    if extra:
        first = extra[0]
        found = file_digest(present[first]) if first in present else None
        what = f"sha256 {found}" if found else odd[first]
        raise _mismatch(first, None, found, uri, f"is not a file of the version (found {what})")
    for relative in sorted(digests):
        found = file_digest(present[relative])
        if found != digests[relative]:
            raise DigestMismatchError(relative, digests[relative], found, uri=uri)


def _walk(root: Path) -> list[tuple[str, Path, str]]:
    """``(relative path, path, kind)`` of all but folders under ``root``; links are not followed."""
    if not root.is_dir() or root.is_symlink():
        raise LocationError(f"{str(root)!r} is not a folder")
    out: list[tuple[str, Path, str]] = []
    pending = [(root, "")]
    while pending:
        folder, prefix = pending.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                kind = _kind(entry)
                if kind == "dir":
                    pending.append((Path(entry.path), prefix + entry.name + "/"))
                else:
                    out.append((prefix + entry.name, Path(entry.path), kind))
    return out


def _kind(entry: os.DirEntry[str]) -> str:
    """``"dir"``, ``"file"`` or a description of anything else; links are never followed."""
    mode = entry.stat(follow_symlinks=False).st_mode
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "a special file (FIFO, socket or device)"


def _mismatch(
    file: str, expected: str | None, found: str | None, uri: str | None, detail: str
) -> DigestMismatchError:
    """A ``DigestMismatchError`` whose message says ``detail`` (an extra file, a link) instead.

    ``DigestMismatchError`` words its message for a file whose contents
    changed or that is missing; the other cases keep the type and the
    attributes callers read (``file``, ``expected``, ``found``) with a
    message that says what was found.
    """
    error = DigestMismatchError(file, expected or "", found, uri=uri)
    message = f"file {file!r} {detail}"
    error.args = (f"{uri}: {message}" if uri else message,)
    error.expected = expected  # type: ignore[assignment]  # None: the version has no such file
    return error
