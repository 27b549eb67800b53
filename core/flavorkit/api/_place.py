"""Placing a written model folder at its path atomically, and cleaning up after killed saves.

A save writes into a work folder beside its target and renames it into
place at the end; these functions do the renaming, decide races between
saves, and undo what a killed save left behind.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from flavorkit.exceptions import ModelExistsError


def check_target(target: Path, overwrite: bool) -> None:
    if target.is_file() or (target.is_dir() and any(target.iterdir())):
        if not overwrite:
            raise ModelExistsError(
                f"{target} already exists and is not empty; pass overwrite=True to replace it"
            )
        if target.is_file():
            raise ModelExistsError(
                f"{target} is a file, not a model folder; refusing to replace it"
            )


# A save works in folders beside its target, named ``.<target>.<host>-<pid>.<random>.<kind>``:
# ``partial`` (the model being written), ``old`` (the folder an overwrite moved aside) and
# ``trash`` (a leftover being deleted). The host and pid name the process that owns one, so a
# later save tells the leftovers of a killed save (its owner is dead) from a save in progress.
_MOVE_ATTEMPTS = 5


def move_into_place(tmp: Path, target: Path, overwrite: bool) -> None:
    """Rename the written folder ``tmp`` to ``target``; replace a model there only on ``overwrite``.

    Renaming a folder onto a folder that is not empty fails (POSIX), so the
    rename itself decides a race: of several saves without ``overwrite``
    exactly one places its folder, the others raise ``ModelExistsError``.
    An overwrite moves the old folder aside first, so an error keeps one of
    the two whole; a kill between the two renames is undone by the next save
    (``recover``).
    """
    for _ in range(_MOVE_ATTEMPTS):
        try:
            os.rename(tmp, target)  # onto a missing or empty folder only
            return
        except OSError as exc:
            if not _occupied(exc):
                raise
        check_target(target, overwrite)  # raises unless this save may replace what is there
        if not overwrite:
            continue  # the folder there went away or is empty: try again
        old = _work_name(target, "old")
        try:
            os.rename(target, old)
        except FileNotFoundError:
            continue  # another save moved it meanwhile
        try:
            os.rename(tmp, target)
        except BaseException as exc:
            _put_back(old, target)
            if isinstance(exc, OSError) and _occupied(exc):
                continue  # another save placed a folder in between: replace that one
            raise
        _discard(old, target)
        return
    raise ModelExistsError(
        f"{target} was replaced by other saves {_MOVE_ATTEMPTS} times while this one tried to "
        "place its model; save again"
    )


def _occupied(exc: OSError) -> bool:
    """Whether a rename failed because something is at the destination."""
    import errno

    return exc.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR)


def _put_back(old: Path, target: Path) -> None:
    try:
        os.rename(old, target)
    except OSError as exc:
        if _occupied(exc):
            _discard(old, target)  # a model saved meanwhile holds the place
        # otherwise it stays beside the target, and the next save puts it back


def _work_name(target: Path, kind: str) -> Path:
    import secrets

    return target.with_name(
        f".{target.name}.{_host_tag()}-{os.getpid()}.{secrets.token_hex(4)}.{kind}"
    )


def work_folder(target: Path) -> Path:
    """Create the empty folder a save writes into, with the mode a plain ``mkdir`` gives."""
    for _ in range(100):
        tmp = _work_name(target, "partial")
        try:
            tmp.mkdir()  # 0o777 less the umask; tempfile.mkdtemp would make it 0o700
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"could not create a work folder beside {target}")


def _host_tag() -> str:
    import hashlib
    import socket

    name = socket.gethostname().encode("utf-8", "surrogateescape")
    return hashlib.sha256(name).hexdigest()[:8]


def recover(target: Path) -> None:
    """Clean up after saves to ``target`` whose process died, before this save starts.

    A folder an overwrite moved aside goes back to ``target`` when nothing is
    there (the overwrite was killed between its two renames), else it is
    deleted; work folders are deleted. Folders of live processes (or of other
    hosts) are left alone.
    """
    for kind, path in _leftovers(target):
        if kind == "old":
            try:
                os.rename(path, target)  # onto a missing or empty folder only
                continue
            except FileNotFoundError:
                continue  # another save recovered it meanwhile
            except OSError as exc:
                if not _occupied(exc):
                    raise
        _discard(path, target)


def _leftovers(target: Path) -> list[tuple[str, Path]]:
    """``(kind, path)`` of the work folders beside ``target`` whose owner is dead; ``old`` first."""
    import re

    name = re.escape(target.name)
    pattern = re.compile(rf"\.{name}\.([0-9a-f]{{8}})-([0-9]+)\.[0-9a-f]{{8}}\.(partial|old|trash)")
    legacy = re.compile(rf"\.{name}\.([0-9]+)\.old")  # named by earlier versions
    host = _host_tag()
    found: list[tuple[str, Path]] = []
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return found  # a folder we may not list: nothing to clean up that we could see
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is not None:
            if match[1] == host and not _alive(int(match[2])):
                found.append((match[3], Path(entry.path)))
            continue
        match = legacy.fullmatch(entry.name)
        if match is not None and not _alive(int(match[1])):
            found.append(("old", Path(entry.path)))
    return sorted(found, key=lambda item: (item[0] != "old", item[1].name))


def _alive(pid: int) -> bool:
    """Whether process ``pid`` may still be running; when unsure, yes (its folder is kept)."""
    if os.name != "posix" or pid <= 0 or pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):
        return True  # EPERM: it runs as another user
    return True


def _discard(path: Path, target: Path) -> None:
    """Delete a leftover; renamed to a ``trash`` name of this process first, so only we touch it."""
    trash = _work_name(target, "trash")
    try:
        os.rename(path, trash)
    except FileNotFoundError:
        return  # another save took it
    except OSError:
        trash = path
    if trash.is_dir() and not trash.is_symlink():
        shutil.rmtree(trash, ignore_errors=True)
    else:
        import contextlib

        with contextlib.suppress(OSError):
            trash.unlink()
