"""Files a model folder names, read as hostile input.

A model folder may come from anyone. Every path read from it goes through
``model_file``: a relative path, inside the folder once symlinks are
followed, and a regular file (or a folder where one is asked for), never a
FIFO, a device or a link out. Reads are bounded (``read_bytes``,
``read_text``) and decoded strictly, and parsed data is checked for depth
(``check_depth``) before anything recursive walks it. Each refusal is a
``ManifestError`` naming the file and the ``MLmodel`` key that named it.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Literal

from flavorkit.exceptions import ManifestError

# Bounds on what a folder may make a loader do. Generous for real models (a
# 50,000-column signature is about 3 MB), small enough that a hostile file is
# refused in milliseconds instead of read for seconds.
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
MAX_TEXT_BYTES = 1024 * 1024  # requirements.txt, python_env.yaml, conda.yaml, small JSON
MAX_JSON_BYTES = 64 * 1024 * 1024  # input examples, a custom model's JSON state
MAX_REQUIREMENT_LINES = 10_000
MAX_DEPTH = 100  # nesting of YAML/JSON containers; real manifests use fewer than 10
MAX_YAML_VALUES = 5_000_000  # values met walking parsed YAML, aliases counted each time
MAX_PATH_CHARS = 1024

Kind = Literal["file", "dir", "any"]


def relative_path(value: Any, *, path: Any, key: str) -> str:
    """Check that ``value`` is a relative path that stays inside the model folder, as written.

    This is the lexical check (no file system access): absolute paths, ``..``,
    drive letters, NUL bytes and over-long values are refused. Returns
    ``value`` unchanged; raises ``ManifestError`` naming ``key``.
    """
    if not isinstance(value, str) or not value:
        raise ManifestError(
            f"expected a relative path, got {type(value).__name__}", path=path, key=key
        )
    if len(value) > MAX_PATH_CHARS:
        raise ManifestError(
            f"expected a path of at most {MAX_PATH_CHARS} characters, got {len(value)}",
            path=path,
            key=key,
        )
    if "\x00" in value:
        raise ManifestError("path contains a NUL character", path=path, key=key)
    pure = PurePosixPath(value.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or (len(value) > 1 and value[1] == ":"):
        raise ManifestError(f"path {value!r} points outside the model folder", path=path, key=key)
    return value


def model_file(
    folder: str | os.PathLike[str], relative: Any, *, key: str, kind: Kind = "file"
) -> Path:
    """Resolve a path named in ``MLmodel`` (under ``key``) to a file of the model folder.

    The path must be relative, stay inside ``folder`` after every symlink is
    followed, and be a regular file (``kind="file"``), a folder
    (``kind="dir"``) or either (``kind="any"``). Returns the resolved path.
    Raises ``ManifestError`` naming ``key`` when it is missing, escapes the
    folder, is a symlink loop, or is something else (a FIFO, a device).
    Plugins call this for every file their section names.
    """
    root = Path(folder)
    manifest = root / "MLmodel"
    relative_path(relative, path=manifest, key=key)
    try:
        base = root.resolve(strict=True)
        target = (root / relative).resolve(strict=True)
    except FileNotFoundError:
        raise ManifestError(
            f"{relative!r} does not exist in the model folder", path=manifest, key=key
        ) from None
    except (OSError, RuntimeError) as exc:  # a symlink loop, a name too long
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ManifestError(
            f"{relative!r} cannot be resolved ({reason})", path=manifest, key=key
        ) from None
    if target != base and base not in target.parents:
        raise ManifestError(
            f"{relative!r} is a link that leads outside the model folder", path=manifest, key=key
        )
    try:
        mode = target.stat().st_mode
    except OSError as exc:
        raise ManifestError(
            f"{relative!r} cannot be read ({exc.strerror})", path=manifest, key=key
        ) from None
    is_file, is_dir = stat.S_ISREG(mode), stat.S_ISDIR(mode)
    wanted = {"file": is_file, "dir": is_dir, "any": is_file or is_dir}[kind]
    if not wanted:
        expected = {"file": "a regular file", "dir": "a folder", "any": "a file or a folder"}[kind]
        raise ManifestError(
            f"{relative!r} is {_describe(mode)}, expected {expected}", path=manifest, key=key
        )
    return target


@contextlib.contextmanager
def open_regular(file: str | os.PathLike[str], *, key: str | None = None) -> Iterator[BinaryIO]:
    """Open ``file`` for binary reading only if it is a regular file.

    Opened without blocking and checked after opening, so a FIFO or device
    put in place of a checked file is refused instead of read forever. For
    handing a checked file to a framework's reader without reading it into
    memory. Raises ``ManifestError`` naming the file (and ``key``).
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(file, flags)
    except OSError as exc:
        raise ManifestError(f"cannot be read ({exc.strerror})", path=file, key=key) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ManifestError(
                f"is {_describe(mode)}, expected a regular file", path=file, key=key
            )
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        yield handle


def read_bytes(file: str | os.PathLike[str], *, limit: int, key: str | None = None) -> bytes:
    """Read a regular file of at most ``limit`` bytes (``open_regular``, then a bounded read).

    Raises ``ManifestError`` naming the file (and ``key``).
    """
    with open_regular(file, key=key) as fh:
        try:
            size = os.fstat(fh.fileno()).st_size
            if size > limit:
                raise ManifestError(_too_large(size, limit), path=file, key=key)
            data = fh.read(size + 1)  # not limit + 1: read() reserves what it is asked for
        except OSError as exc:
            raise ManifestError(f"cannot be read ({exc.strerror})", path=file, key=key) from None
    if len(data) > size:
        raise ManifestError("grew while it was being read", path=file, key=key)
    return data


def read_text(
    file: str | os.PathLike[str], *, limit: int = MAX_TEXT_BYTES, key: str | None = None
) -> str:
    """``read_bytes`` decoded as UTF-8; bad bytes are a ``ManifestError`` naming the offset."""
    data = read_bytes(file, limit=limit, key=key)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(
            f"is not UTF-8 text (byte {exc.start} is invalid)", path=file, key=key
        ) from None


def load_yaml(text: str, *, path: Any, key: str | None = None) -> Any:
    """Parse YAML safely: no tags that build objects, nesting bounded, errors named."""
    import yaml

    try:
        data = yaml.load(text, Loader=_loader())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ManifestError(f"is not valid YAML{where}", path=path, key=key) from None
    except RecursionError:
        raise ManifestError(f"nests deeper than {MAX_DEPTH} levels", path=path, key=key) from None
    check_depth(data, path=path, key=key, max_values=MAX_YAML_VALUES)
    return data


def load_json(text: str | bytes, *, path: Any, key: str | None = None) -> Any:
    """Parse strict JSON (no ``NaN`` tokens), nesting bounded, errors named."""
    import json

    def refuse(token: str) -> Any:
        raise ValueError(f"{token} is not JSON")

    try:
        data = json.loads(text, parse_constant=refuse)
    except RecursionError:
        raise ManifestError(f"nests deeper than {MAX_DEPTH} levels", path=path, key=key) from None
    except (ValueError, TypeError) as exc:
        raise ManifestError(f"is not valid JSON ({_first_line(exc)})", path=path, key=key) from None
    check_depth(data, path=path, key=key)
    return data


def check_depth(
    data: Any,
    *,
    path: Any = None,
    key: str | None = None,
    limit: int = MAX_DEPTH,
    max_values: int | None = None,
) -> None:
    """Refuse containers nested deeper than ``limit``, or expanding to over ``max_values``.

    Walked without recursion. YAML aliases make a small file expand to a
    huge tree (each alias is the same object again), so for YAML values are
    counted as a reader walking the data would meet them; JSON has no
    aliases and is bounded by its size.
    """
    from flavorkit.signature import nesting_problem

    problem = nesting_problem(data, limit, max_values)
    if problem is not None:
        raise ManifestError(problem, path=path, key=key)


def _loader() -> Any:
    import yaml

    # the C loader when PyYAML has it: several times faster on large manifests
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _describe(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISREG, "a regular file"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _too_large(size: int, limit: int) -> str:
    return f"is {size:,} bytes; the limit is {limit:,}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
