"""The download cache: folders fetched once, placed atomically, pruned least recently used first.

Layout under ``cache_root() / "downloads"``::

    <key>/entry.json    what the entry is: source, size, file count, when made
    <key>/files/        the folder itself (what ``cached`` returns)
    .tmp/<key>.<rand>   a folder being filled, beside its lock file <key>.<rand>.lock
    .locks/<key>.lock   held while one process fills <key>, so others wait instead of
                        downloading the same thing again

An entry is complete exactly when ``<key>/files`` exists: it is filled in
``.tmp`` and renamed into place in one step, with its ``entry.json``, so a
process killed while filling leaves only a folder in ``.tmp`` that nothing
reads; the next prune removes it once no live process holds its lock. When
two processes fill the same key anyway (a platform without ``flock``), the
second rename fails and that copy is discarded. The mtime of
``entry.json`` is the entry's last use; ``prune`` removes the least
recently used entries until the cache fits ``FLAVORKIT_CACHE_MAX_BYTES``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import shutil
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from flavorkit.exceptions import LocationError
from flavorkit.stores._digests import regular_files

try:  # POSIX: locks released by the kernel when their process dies, even by SIGKILL
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

CACHE_DIR_ENV = "FLAVORKIT_CACHE_DIR"
MAX_BYTES_ENV = "FLAVORKIT_CACHE_MAX_BYTES"
DEFAULT_MAX_BYTES = 20 * 1024**3

_FILES = "files"
_ENTRY = "entry.json"
_TMP = ".tmp"
_LOCKS = ".locks"
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
# without flock, a folder in .tmp this old is taken for a dead process's
_STALE_WITHOUT_LOCKS_S = 24 * 3600
# a lock file in .tmp with no folder beside it is removed only after this long, so a
# process between creating its lock and making its folder is never disturbed
_ORPHAN_LOCK_S = 3600
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def cache_root() -> Path:
    """flavorkit's cache folder: ``FLAVORKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/flavorkit``.

    ``XDG_CACHE_HOME`` defaults to ``~/.cache``. Fetched folders live in its
    ``downloads`` subfolder.
    """
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "flavorkit"


def downloads_root() -> Path:
    """The folder holding the download cache's entries."""
    return cache_root() / "downloads"


def parse_size(text: str) -> int:
    """Bytes from ``"1048576"``, ``"500M"``, ``"20G"`` or ``"20GiB"`` (binary; ``"20GB"`` decimal).

    Raises ``ValueError`` naming the text when it is not a size.
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)(b?)\s*", text.strip().lower())
    if not match:
        raise ValueError(f"{text!r} is not a size (bytes, or a number with K, M, G or T)")
    number, unit, binary, has_b = match.groups()
    if not unit and binary:
        raise ValueError(f"{text!r} is not a size (bytes, or a number with K, M, G or T)")
    decimal = unit and has_b and not binary  # "20GB": powers of 1000, as disks are sold
    factor = 1000 ** ("kmgt".index(unit) + 1) if decimal else _UNITS[unit]
    return int(float(number) * factor)


def max_bytes() -> int:
    """The cache's size limit: ``FLAVORKIT_CACHE_MAX_BYTES`` (e.g. ``20G``), else 20 GiB.

    Raises ``LocationError`` when the variable is set to something that is not a size.
    """
    text = os.environ.get(MAX_BYTES_ENV)
    if not text:
        return DEFAULT_MAX_BYTES
    try:
        return parse_size(text)
    except ValueError as exc:
        raise LocationError(f"{MAX_BYTES_ENV}: {exc}") from None


def check_key(key: str) -> str:
    """Refuse a key that is not one plain file name (letters, digits, ``.``, ``_``, ``-``)."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise ValueError(
            f"cache key {key!r} must be 1-200 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return key


@dataclass(frozen=True)
class CacheEntry:
    """One complete entry of the download cache."""

    key: str
    path: Path  # the cached folder itself
    size: int  # bytes of its files
    files: int
    created: float  # seconds since the epoch
    last_used: float
    source: str | None  # where it was fetched from, when the filler said


def cached(
    key: str,
    populate: Callable[[Path], None],
    *,
    source: str | None = None,
    size: int | None = None,
) -> Path:
    """The cached folder for ``key``, filled by ``populate(folder)`` the first time.

    ``populate`` gets an empty folder inside the cache and writes the files
    into it; the folder becomes the entry only when ``populate`` returns and
    the result checks out (regular files only, within the size limit).
    Concurrent callers for one key wait for the first instead of filling it
    again. ``source`` is recorded for ``flavorkit cache list``; ``size``,
    when known beforehand, lets a folder larger than the limit be refused
    before anything is written. Errors from ``populate`` propagate, with
    nothing left behind. After a new entry, the least recently used others
    are pruned to fit ``FLAVORKIT_CACHE_MAX_BYTES``.
    """
    check_key(key)
    root = downloads_root()
    entry = root / key
    if _complete(entry):
        _touch(entry)
        return entry / _FILES
    limit = max_bytes()
    if size is not None and size > limit:
        raise _too_large(source or key, size, limit)
    _make_dirs(root)
    with _locked(root / _LOCKS / f"{key}.lock"):
        if not _complete(entry):
            with _scratch(root, key) as scratch:
                populate(scratch / _FILES)
                _seal(scratch, key, source, limit)
                _install(scratch, entry)
    _touch(entry)
    with contextlib.suppress(OSError, LocationError):  # pruning never fails a fetch that worked
        prune(max_bytes=limit, keep={key}, wait=False)
    return entry / _FILES


def cached_by_content(
    prefix: str,
    populate: Callable[[Path], None],
    key_of: Callable[[Path], str],
    *,
    source: str | None = None,
    size: int | None = None,
) -> Path:
    """Fill a folder, then file it under ``prefix-key_of(folder)``: for stores naming no versions.

    Where a store gives no checksum or version of its files, the key can
    only be computed from the files themselves, so they are downloaded each
    time; an entry already holding the same contents is reused and the new
    copy discarded.
    """
    root = downloads_root()
    limit = max_bytes()
    if size is not None and size > limit:
        raise _too_large(source or prefix, size, limit)
    _make_dirs(root)
    with _scratch(root, check_key(prefix)) as scratch:
        populate(scratch / _FILES)
        key = check_key(f"{prefix}-{key_of(scratch / _FILES)}")
        entry = root / key
        if not _complete(entry):
            _seal(scratch, key, source, limit)
            _install(scratch, entry)
    _touch(entry)
    with contextlib.suppress(OSError, LocationError):
        prune(max_bytes=limit, keep={key}, wait=False)
    return entry / _FILES


def cache_entries() -> list[CacheEntry]:
    """Every complete entry of the download cache, least recently used first."""
    root = downloads_root()
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        if child.name.startswith(".") or not _complete(child):
            continue
        with contextlib.suppress(OSError):  # pruned by another process meanwhile
            found.append(_read_entry(child))
    found.sort(key=lambda e: (e.last_used, e.key))
    return found


@dataclass(frozen=True)
class PruneResult:
    """What ``prune`` removed and what it kept."""

    removed: list[CacheEntry]
    kept: list[CacheEntry]
    scratch_removed: int  # folders left in .tmp by processes that died


def prune(
    *,
    max_bytes: int | None = None,
    older_than: float | None = None,
    remove_all: bool = False,
    keep: Iterable[str] = (),
    wait: bool = True,
) -> PruneResult:
    """Remove entries unused for ``older_than`` seconds, all, or the least used over ``max_bytes``.

    Also removes what processes killed while filling left in ``.tmp``.
    Entries named in ``keep`` stay whatever their age. With ``wait=False``
    it returns at once (removing nothing) when another process is pruning.
    """
    root = downloads_root()
    if not root.is_dir():
        return PruneResult([], [], 0)
    _make_dirs(root)
    # keys never start with ".", so this lock is no entry's
    with _locked(root / _LOCKS / ".prune.lock", wait=wait) as held:
        if not held:
            return PruneResult([], cache_entries(), 0)
        swept = _sweep_scratch(root)
        entries = cache_entries()
        keep_keys = set(keep)
        now = time.time()
        doomed = {
            e.key
            for e in entries
            if e.key not in keep_keys
            and (remove_all or (older_than is not None and now - e.last_used > older_than))
        }
        if max_bytes is not None:
            total = sum(e.size for e in entries if e.key not in doomed)
            for e in entries:  # least recently used first
                if total <= max_bytes:
                    break
                if e.key not in doomed and e.key not in keep_keys:
                    doomed.add(e.key)
                    total -= e.size
        removed = [e for e in entries if e.key in doomed and _remove_entry(root, e.key)]
        gone = {e.key for e in removed}
        return PruneResult(removed, [e for e in entries if e.key not in gone], swept)


# -- filling an entry -------------------------------------------------------------------


@contextlib.contextmanager
def _scratch(root: Path, key: str) -> Iterator[Path]:
    """A new folder in ``.tmp`` (with an empty ``files`` inside), removed on the way out.

    Its lock file is created and held before the folder exists and until
    the folder is gone, so ``prune`` can tell a live filler's folder from a
    dead one's. Whatever is left on the way out (an error, an interrupt, a
    lost rename race) is removed.
    """
    name = f"{key}.{secrets.token_hex(6)}"
    tmp = root / _TMP
    with _locked(tmp / f"{name}.lock"):
        folder = tmp / name
        try:
            (folder / _FILES).mkdir(parents=True)
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            with contextlib.suppress(OSError):
                (tmp / f"{name}.lock").unlink()


def _seal(scratch: Path, key: str, source: str | None, limit: int) -> None:
    """Check the filled folder (regular files only, within ``limit``) and write ``entry.json``."""
    files = regular_files(scratch / _FILES)
    size = sum(path.stat().st_size for _, path in files)
    if size > limit:
        raise _too_large(source or key, size, limit)
    record = {
        "key": key,
        "source": source,
        "size": size,
        "files": len(files),
        "created": time.time(),
    }
    (scratch / _ENTRY).write_text(json.dumps(record, indent=1), encoding="utf-8")


def _install(scratch: Path, entry: Path) -> None:
    """Rename the filled folder to ``entry`` in one step; a complete entry already there wins."""
    for _ in range(2):
        try:
            os.rename(scratch, entry)
            return
        except OSError as exc:
            # ENOTDIR: a file or a link sits there (a folder cannot replace either)
            if exc.errno not in (
                errno.EEXIST,
                errno.ENOTEMPTY,
                errno.EACCES,
                errno.EPERM,
                errno.ENOTDIR,
            ):
                raise
            if _complete(entry):
                return  # another process placed the same entry first: keep theirs
            # something that is not a complete entry sits there (a damaged cache): move it away
            _trash(entry.parent, entry)
    os.rename(scratch, entry)


def _complete(entry: Path) -> bool:
    """Whether ``entry`` is a complete entry: a real folder holding a real ``files`` folder.

    Links are not followed: a link put in an entry's place (or in place of
    its ``files``) would hand a folder outside the cache to whoever asks for
    the key, so it counts as damage, replaced on the next fill.
    """
    try:
        return stat.S_ISDIR(entry.lstat().st_mode) and stat.S_ISDIR(
            (entry / _FILES).lstat().st_mode
        )
    except OSError:
        return False


def _too_large(what: str, size: int, limit: int) -> LocationError:
    return LocationError(
        f"is {human_size(size)} ({size:,} bytes), more than the download cache may hold "
        f"({human_size(limit)}); raise {MAX_BYTES_ENV} (e.g. {MAX_BYTES_ENV}=100G) to fetch it",
        uri=what,
    )


# -- reading and removing entries ---------------------------------------------------------


def _read_entry(folder: Path) -> CacheEntry:
    """The entry in ``folder``; a missing or damaged ``entry.json`` is recomputed from the files."""
    record: dict[str, object] = {}
    try:
        stat = (folder / _ENTRY).stat()
        loaded = json.loads((folder / _ENTRY).read_text(encoding="utf-8"))
        record = loaded if isinstance(loaded, dict) else {}
        last_used = stat.st_mtime
    except (OSError, ValueError):
        last_used = folder.stat().st_mtime
    size, count = record.get("size"), record.get("files")
    if not isinstance(size, int) or not isinstance(count, int):
        sizes = [f.stat().st_size for f in (folder / _FILES).rglob("*") if f.is_file()]
        size, count = sum(sizes), len(sizes)
    created = record.get("created")
    source = record.get("source")
    return CacheEntry(
        key=folder.name,
        path=folder / _FILES,
        size=size,
        files=count,
        created=float(created) if isinstance(created, (int, float)) else last_used,
        last_used=last_used,
        source=source if isinstance(source, str) else None,
    )


def _remove_entry(root: Path, key: str) -> bool:
    """Take an entry out of use in one rename, then delete it; ``False`` if it was already gone."""
    try:
        _trash(root, root / key)
    except FileNotFoundError:
        return False
    # its fill lock goes too, unless a process is filling the key again right now; at worst
    # a process that opened the old lock file fills beside a new one, and one rename wins
    lock = root / _LOCKS / f"{key}.lock"
    with _locked(lock, wait=False, create=False) as held:
        if held:
            lock.unlink(missing_ok=True)
    return True


def _trash(root: Path, folder: Path) -> None:
    """Rename ``folder`` into ``.tmp`` (readers stop finding it at once), then delete it there."""
    target = root / _TMP / f"{folder.name}.{secrets.token_hex(6)}.removed"
    os.rename(folder, target)
    if target.is_symlink() or not target.is_dir():
        target.unlink(missing_ok=True)  # a link or a file: never follow it to delete elsewhere
    else:
        shutil.rmtree(target, ignore_errors=True)


def _sweep_scratch(root: Path) -> int:
    """Remove folders in ``.tmp`` whose filler died (its lock is free); returns how many."""
    tmp = root / _TMP
    removed = 0
    now = time.time()
    for child in list(tmp.iterdir()) if tmp.is_dir() else []:
        if child.suffix == ".lock":
            if not child.with_suffix("").exists() and now - _mtime(child) > _ORPHAN_LOCK_S:
                with _locked(child, wait=False, create=False) as held:
                    if held:
                        child.unlink(missing_ok=True)
            continue
        lock = child.with_name(child.name + ".lock")
        if fcntl is None and now - _mtime(child) < _STALE_WITHOUT_LOCKS_S:
            continue
        with _locked(lock, wait=False, create=False) as held:
            if held is False:
                continue  # a live process is filling it
            shutil.rmtree(child, ignore_errors=True)
            lock.unlink(missing_ok=True)
            removed += 1
    return removed


# -- small helpers ------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(path: Path, *, wait: bool = True, create: bool = True) -> Iterator[bool | None]:
    """Hold an exclusive ``flock`` on ``path`` for the block.

    Yields ``True`` when held, ``False`` when another process holds it and
    ``wait`` is false, ``None`` when there is no such file (``create=False``)
    or no ``flock`` on this platform (then nothing is excluded, and the
    rename race decides).
    """
    if fcntl is None:
        yield None
        return
    try:
        fd = os.open(path, os.O_RDWR | (os.O_CREAT if create else 0), 0o644)
    except FileNotFoundError:
        if create:
            raise
        yield None
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing releases the lock


def _make_dirs(root: Path) -> None:
    try:
        for sub in (_TMP, _LOCKS):
            (root / sub).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LocationError(
            f"cannot write the download cache at {root} ({exc.strerror}); "
            f"point {CACHE_DIR_ENV} at a writable folder"
        ) from exc


def _touch(entry: Path) -> None:
    """Record a use of ``entry`` (its ``entry.json`` mtime); a read-only cache is used as it is."""
    with contextlib.suppress(OSError):
        os.utime(entry / _ENTRY)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def human_size(size: float) -> str:
    """``1.5 GiB``-style sizes for messages and ``flavorkit cache list``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")
