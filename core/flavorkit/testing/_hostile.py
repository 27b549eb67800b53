"""Hostile model folders: mutations, a watch on file access, time bounds and the entry-point probe.

A model folder may come from anyone (ARCHITECTURE.md, "Safety policy"). The
pieces here turn a folder a flavor really saved into a hostile one and watch
what loading it does:

- :class:`FolderMutation` is one edit of a folder: a file truncated,
  bit-flipped, given non-UTF-8 bytes, replaced by a symlink (out of the
  folder, or to itself), a FIFO, a folder, or deleted; or a value of
  ``MLmodel`` (or of a JSON file) set to a wrong type, a long, huge or deeply
  nested value, deleted or swapped with another. :func:`plan_mutations`
  draws a few from any :class:`Chooser` (hypothesis through
  ``flavorkit.testing.strategies.folder_mutations``, or ``random.Random``
  through :class:`RandomChooser`), and :func:`fixed_mutations` is the set
  the conformance check applies.
- :class:`AccessWatch` records, through one process-wide ``sys.addaudithook``
  hook, every file a watched call opens, creates, renames or removes, every
  process it starts and every code object it runs from the model folder,
  and reports (and, by default, blocks) those outside what is allowed.
- :func:`time_bound` interrupts a call that runs too long (``SIGALRM`` in
  the main thread, cooperating with a timer already set, e.g. pytest-timeout's).
- :func:`probe` calls one entry point (``load_model``, ``load_native``,
  ``flavorkit validate``, ``flavorkit info``, ``flavorkit serve --check``)
  on a folder and classifies what happened; :func:`contract_problems` says
  which outcomes break the contract: each entry point succeeds or fails
  with a flavorkit error (a one-line error for the CLI), in bounded time,
  and ``validate`` passing means the model loads.

Nothing here imports hypothesis, numpy or a framework.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import shutil
import signal
import stat
import sys
import sysconfig
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
MANIFEST = "MLmodel"
ENTRY_POINTS = ("load_model", "load_native", "validate", "info", "serve_check")
# refusals that say something about the loading environment rather than the folder
ENVIRONMENT_ERRORS = frozenset({"UnsafeFormatError", "PluginError"})
# the file kinds a mutation can turn a file into, and the value-level edits of MLmodel/JSON
FILE_KINDS = (
    "truncate",
    "bit_flip",
    "non_utf8",
    "empty",
    "symlink_out",
    "symlink_loop",
    "fifo",
    "directory",
    "delete",
)
VALUE_KINDS = ("set", "delete_key", "nest", "huge", "swap")
# bytes that are never valid UTF-8: a lone continuation byte, an invalid lead, a truncated pair
NON_UTF8 = b"\x80\xff\xfe\xc3\x28"
NEST_DEPTHS = (150, 5_000, 100_000)
HUGE_SIZES = (5_000, 200_000, 4_000_000)
# values a hostile MLmodel or JSON file may hold where a loader expects something else
HOSTILE_VALUES: tuple[Any, ...] = (
    None,
    True,
    0,
    -1,
    2**64,
    1.5e308,
    "",
    "x",
    "a" * 5_000,
    "../outside",
    "/etc/passwd",
    "MLmodel",
    ".",
    "data",
    "\x00",
    "not: [valid",
    [],
    {},
    [1, "a", None],
    {"a": {"b": [1]}},
    # class paths and factories a hostile folder may name
    "builtins:dict",
    "os:getcwd",
    "json:loads",
    "flavorkit:PythonModel",
    "torch.nn:Linear",
    "xgboost.sklearn.XGBModel",
    # signature JSON a hostile folder may hold
    "not json",
    "null",
    "1e999",
    '{"type": "tensor"}',
    '[{"type": "double", "name": "a"}, {"type": "double", "name": "a"}]',
    '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": "x"}}]',
    '[{"type": "long", "name": 5}]',
)


# -- mutations -----------------------------------------------------------------------


@dataclass(frozen=True)
class FolderMutation:
    """One edit that makes a model folder hostile.

    ``kind`` is one of :data:`FILE_KINDS` (``target`` is a path relative to
    the folder, ``arg`` the offset, length or bit) or :data:`VALUE_KINDS`
    (``target`` is ``MLmodel`` or a JSON file, ``key`` the path of keys and
    list indices to the value, ``arg`` the new value, depth, size or other
    key). ``symlink_out`` points at ``arg`` when it is an absolute path, else
    at the outside file given to :meth:`apply`.
    """

    kind: str
    target: str
    key: tuple[Any, ...] = ()
    arg: Any = None

    def __str__(self) -> str:
        where = self.target + (":" + ".".join(str(k) for k in self.key) if self.key else "")
        if self.kind == "set":
            return f"set {where} to {_short_repr(self.arg)}"
        if self.kind == "swap":
            return f"swap {where} with {'.'.join(str(k) for k in self.arg)}"
        if self.kind in ("nest", "huge"):
            return f"{self.kind} {where} ({self.arg:,})"
        if self.kind in ("truncate", "bit_flip", "non_utf8") and self.arg is not None:
            return f"{self.kind} {where} at {self.arg}"
        if self.kind == "symlink_out" and self.arg:
            return f"symlink {where} -> {self.arg}"
        return f"{self.kind} {where}"

    def apply(self, folder: str | os.PathLike[str], outside: str | os.PathLike[str]) -> bool:
        """Edit ``folder``; ``outside`` is a regular file outside it for ``symlink_out``.

        Returns False (and changes nothing) when the edit no longer applies:
        the file is gone, or is no longer parseable for a value edit, or an
        earlier edit replaced a folder on its path.
        """
        path = Path(folder) / self.target
        try:
            if self.kind in VALUE_KINDS:
                return _apply_value(self, path)
            return self._apply_file(path, outside)
        except OSError:
            return False

    def _apply_file(self, path: Path, outside: str | os.PathLike[str]) -> bool:
        exists = os.path.lexists(path)
        if self.kind in ("truncate", "bit_flip", "non_utf8", "empty"):
            if not exists or path.is_symlink() or not path.is_file():
                return False
            data = path.read_bytes()
            if self.kind == "truncate":
                data = data[: (self.arg or 0) % max(len(data), 1)]
            elif self.kind == "bit_flip":
                if not data:
                    return False
                offset, bit = self.arg
                at = offset % len(data)
                data = data[:at] + bytes([data[at] ^ (1 << (bit % 8))]) + data[at + 1 :]
            elif self.kind == "non_utf8":
                at = (self.arg or 0) % (len(data) + 1)
                data = data[:at] + NON_UTF8 + data[at:]
            else:
                data = b""
            path.write_bytes(data)
            return True
        if not exists and self.kind != "symlink_out":
            return False
        _remove(path)
        if self.kind == "symlink_out":
            target = self.arg if isinstance(self.arg, str) and os.path.isabs(self.arg) else outside
            path.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(os.fspath(target), path)
        elif self.kind == "symlink_loop":
            os.symlink(path.name, path)
        elif self.kind == "fifo":
            os.mkfifo(path)
        elif self.kind == "directory":
            path.mkdir()
        return True


def _short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 20]}...({len(text):,} chars)"


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()


class _Nested:
    """A placeholder for a value written as raw, deeply nested YAML/JSON text."""

    def __init__(self, depth: int) -> None:
        self.depth = depth


def _apply_value(mutation: FolderMutation, path: Path) -> bool:
    is_yaml = path.name == MANIFEST
    data = _parse(path, is_yaml)
    if data is _UNPARSEABLE:
        return False
    try:
        text = _edited(mutation, data, is_yaml)
    except Exception:  # a value an earlier edit nested too deep to write back, say
        return False
    if text is None:
        return False
    path.write_bytes(text)
    return True


def _edited(mutation: FolderMutation, data: Any, is_yaml: bool) -> bytes | None:
    """The file's new bytes, or ``None`` when the edit does not apply to ``data``."""
    value: Any
    if mutation.kind == "nest":
        value = _Nested(int(mutation.arg))
    elif mutation.kind == "huge":
        value = "x" * int(mutation.arg)
    else:
        value = mutation.arg
    if mutation.kind == "swap":
        other = tuple(mutation.arg)
        first, second = _get(data, mutation.key), _get(data, other)
        shorter = min(len(other), len(mutation.key))
        if first is _MISSING or second is _MISSING or other[:shorter] == mutation.key[:shorter]:
            return None  # a key swapped with its own parent or child would make a cycle
        data = _set(data, mutation.key, second)
        data = _set(data, other, first)
    elif mutation.kind == "delete_key":
        if not mutation.key or _get(data, mutation.key) is _MISSING:
            return None
        parent = _get(data, mutation.key[:-1])
        del parent[mutation.key[-1]]
    else:
        data = _set(data, mutation.key, value)
    return _dump(data, is_yaml)


_MISSING = object()
_UNPARSEABLE = object()


def _parse(path: Path, is_yaml: bool) -> Any:
    if path.is_symlink() or not path.is_file() or path.stat().st_size > 32 * 1024 * 1024:
        return _UNPARSEABLE
    try:
        text = path.read_bytes().decode("utf-8")
        if is_yaml:
            import yaml

            return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        return json.loads(text)
    except Exception:  # not UTF-8, not YAML/JSON, nested too deep: nothing to edit
        return _UNPARSEABLE


def _get(data: Any, key: tuple[Any, ...]) -> Any:
    for part in key:
        if (isinstance(data, dict) and part in data) or (
            isinstance(data, list) and isinstance(part, int) and -len(data) <= part < len(data)
        ):
            data = data[part]
        else:
            return _MISSING
    return data


def _set(data: Any, key: tuple[Any, ...], value: Any) -> Any:
    if not key:
        return value
    parent = _get(data, key[:-1])
    last = key[-1]
    if isinstance(parent, dict) or (
        isinstance(parent, list) and isinstance(last, int) and -len(parent) <= last < len(parent)
    ):
        parent[last] = value
    return data


def _dump(data: Any, is_yaml: bool) -> bytes:
    nested: dict[str, int] = {}

    def swap_in(value: Any) -> Any:
        if isinstance(value, _Nested):
            token = f"__flavorkit_nested_{len(nested)}__"
            nested[token] = value.depth
            return token
        if isinstance(value, dict):
            return {k: swap_in(v) for k, v in value.items()}
        if isinstance(value, list):
            return [swap_in(v) for v in value]
        return value

    plain = swap_in(data)
    if is_yaml:
        import yaml

        text = yaml.safe_dump(plain, default_flow_style=False, sort_keys=False, width=1 << 30)
    else:
        text = json.dumps(plain)
    for token, depth in nested.items():
        raw = "[" * depth + "]" * depth
        text = text.replace(f'"{token}"' if not is_yaml else token, raw, 1)
    return text.encode("utf-8")


class Chooser(Protocol):
    """Where :func:`plan_mutations` gets its choices: an integer in ``[low, high]``."""

    def integer(self, low: int, high: int) -> int: ...


class RandomChooser:
    """A :class:`Chooser` backed by ``random.Random`` (the benchmark's, seeded per trial)."""

    def __init__(self, seed: Any = None) -> None:
        self.random = random.Random(seed)

    def integer(self, low: int, high: int) -> int:
        return self.random.randint(low, high)


def _pick(chooser: Chooser, options: Sequence[T]) -> T:
    return options[chooser.integer(0, len(options) - 1)]


@dataclass(frozen=True)
class FolderShape:
    """What :func:`plan_mutations` needs to know of a folder: its files and their keys."""

    files: tuple[tuple[str, int], ...]  # (relative path, size) of files and folders (size -1)
    values: dict[str, tuple[tuple[Any, ...], ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, folder: str | os.PathLike[str]) -> FolderShape:
        """Read the shape of a (pristine) model folder."""
        root = Path(folder)
        files = []
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root).as_posix()
            files.append((rel, path.stat().st_size if path.is_file() else -1))
        values = {}
        for rel, size in files:
            if size >= 0 and (rel == MANIFEST or rel.endswith(".json")):
                data = _parse(root / rel, rel == MANIFEST)
                if data is not _UNPARSEABLE:
                    values[rel] = tuple(_key_paths(data))
        return cls(tuple(files), values)


def _key_paths(
    data: Any, prefix: tuple[Any, ...] = (), depth: int = 6
) -> Iterator[tuple[Any, ...]]:
    if depth == 0:
        return
    items: Iterable[tuple[Any, Any]]
    if isinstance(data, dict):
        items = data.items()
    elif isinstance(data, list):
        items = list(enumerate(data))[:8]
    else:
        return
    for key, value in items:
        path = (*prefix, key)
        yield path
        yield from _key_paths(value, path, depth - 1)


def plan_mutations(
    chooser: Chooser, shape: FolderShape, *, max_mutations: int = 3
) -> tuple[FolderMutation, ...]:
    """Draw one to ``max_mutations`` mutations of a folder of ``shape`` from ``chooser``.

    About half edit files (any kind of :data:`FILE_KINDS`, at drawn offsets),
    half edit values of ``MLmodel`` or a JSON file (:data:`VALUE_KINDS`,
    with values from :data:`HOSTILE_VALUES`).
    """
    plan = []
    for _ in range(chooser.integer(1, max_mutations)):
        if shape.values and chooser.integer(0, 1):
            plan.append(_plan_value(chooser, shape))
        else:
            plan.append(_plan_file(chooser, shape))
    return tuple(plan)


def _plan_file(chooser: Chooser, shape: FolderShape) -> FolderMutation:
    # MLmodel is the file every loader reads first: weight it so the mutator does not starve it
    files = [f for f in shape.files if f[1] >= 0]
    if files and chooser.integer(0, 3) == 0:
        target, size = next((f for f in files if f[0] == MANIFEST), files[0])
    else:
        target, size = _pick(chooser, shape.files)
    kind = _pick(
        chooser, FILE_KINDS if size >= 0 else ("symlink_out", "symlink_loop", "fifo", "delete")
    )
    arg: Any = None
    span = max(size, 1)
    if kind == "truncate":
        arg = chooser.integer(0, span - 1)
    elif kind == "bit_flip":
        arg = (chooser.integer(0, span - 1), chooser.integer(0, 7))
    elif kind == "non_utf8":
        arg = chooser.integer(0, span)
    return FolderMutation(kind, target, (), arg)


def _plan_value(chooser: Chooser, shape: FolderShape) -> FolderMutation:
    targets = sorted(shape.values)
    target = (
        MANIFEST if MANIFEST in shape.values and chooser.integer(0, 2) else _pick(chooser, targets)
    )
    keys = shape.values[target]
    if not keys:
        return FolderMutation("set", target, (), _pick(chooser, HOSTILE_VALUES))
    key = _pick(chooser, keys)
    kind = _pick(chooser, VALUE_KINDS)
    if kind == "set":
        return FolderMutation(kind, target, key, _pick(chooser, HOSTILE_VALUES))
    if kind == "nest":
        return FolderMutation(kind, target, key, _pick(chooser, NEST_DEPTHS))
    if kind == "huge":
        return FolderMutation(kind, target, key, _pick(chooser, HUGE_SIZES))
    if kind == "swap":
        return FolderMutation(kind, target, key, _pick(chooser, keys))
    return FolderMutation(kind, target, key)


def fixed_mutations(folder: str | os.PathLike[str]) -> list[FolderMutation]:
    """The hostile edits the conformance kit applies to a folder a flavor saved.

    Every file is truncated (to half, and to nothing) and bit-flipped (first,
    middle and last byte) and replaced by a symlink to a file outside the
    folder, a symlink to itself, a FIFO and a folder; ``MLmodel`` also gets
    non-UTF-8 bytes and a 5,000-deep nested value. Each applies to a fresh
    copy of the folder.
    """
    shape = FolderShape.of(folder)
    out: list[FolderMutation] = []
    for rel, size in shape.files:
        if size < 0:
            out += [FolderMutation("symlink_out", rel), FolderMutation("symlink_loop", rel)]
            continue
        out += [
            FolderMutation("truncate", rel, (), size // 2),
            FolderMutation("empty", rel),
            FolderMutation("bit_flip", rel, (), (0, 0)),
            FolderMutation("bit_flip", rel, (), (size // 2, 3)),
            FolderMutation("bit_flip", rel, (), (max(size - 1, 0), 7)),
            FolderMutation("symlink_out", rel),
            FolderMutation("symlink_loop", rel),
            FolderMutation("fifo", rel),
            FolderMutation("directory", rel),
        ]
    out.append(FolderMutation("non_utf8", MANIFEST, (), 0))
    out.append(FolderMutation("nest", MANIFEST, ("metadata",), 5_000))
    return out


def copy_folder(source: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """Copy a (pristine) model folder, keeping symlinks as links."""
    shutil.copytree(source, dest, symlinks=True)
    return Path(dest)


# -- watching file access ------------------------------------------------------------


class HostileAccessError(PermissionError):
    """Raised by the audit hook of a blocking :class:`AccessWatch` in place of the operation."""


# always readable: the kernel's views of the process and the system, and the null/random devices
SYSTEM_READABLE = ("/proc", "/sys", os.devnull, "/dev/urandom", "/dev/random")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_SPAWN_EVENTS = frozenset(
    {"os.system", "subprocess.Popen", "os.exec", "os.posix_spawn", "os.spawn", "pty.spawn"}
)
# event -> positions of (path, dir_fd) pairs the event changes
_CHANGE_EVENTS: dict[str, tuple[tuple[int, int | None], ...]] = {
    "os.remove": ((0, 1),),
    "os.rmdir": ((0, 1),),
    "os.mkdir": ((0, 2),),
    "os.rename": ((0, 2), (1, 3)),
    "os.symlink": ((1, 2),),
    "os.link": ((1, 3),),
    "os.truncate": ((0, None),),
    "os.chmod": ((0, 2),),
    "os.chown": ((0, 3),),
    "os.utime": ((0, 4),),
    "shutil.rmtree": ((0, 1),),
    "shutil.copyfile": ((1, None),),
    "shutil.copytree": ((1, None),),
    "shutil.move": ((0, None), (1, None)),
    "tempfile.mkstemp": ((0, None),),
    "tempfile.mkdtemp": ((0, None),),
}


def import_roots() -> list[str]:
    """Where this interpreter's code lives: its prefixes, stdlib, site-packages and ``sys.path``.

    Reads (and ``__pycache__`` writes) there are the import system at work.
    The current directory and ``''`` are left out: a folder of models may
    be the current directory, and code found there is not installed code.
    """
    import site

    cwd = os.path.realpath(os.getcwd())
    paths: list[str] = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    paths += [p for p in sysconfig.get_paths().values() if p]
    with contextlib.suppress(AttributeError):
        paths += site.getsitepackages()
    with contextlib.suppress(AttributeError):
        paths.append(site.getusersitepackages())
    paths += [p for p in sys.path if isinstance(p, str) and p]
    out = []
    for p in paths:
        real = os.path.realpath(p)
        if real != cwd and real != os.sep and os.path.isdir(real):
            out.append(real)
    return sorted(set(out))


def _within(path: str, roots: Iterable[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


class AccessWatch:
    """Watch a call on a model folder through ``sys.addaudithook``; collect what it must not do.

    While active (``with AccessWatch(folder, scratch=[...]) as watch:``) it
    reports, in ``watch.violations``:

    - a file opened for reading outside the model folder, the scratch
      folders, the interpreter's code (:func:`import_roots`) and
      :data:`SYSTEM_READABLE` (paths are compared after following symlinks,
      so a link in the folder pointing out is a read outside);
    - a FIFO or device opened without ``O_NONBLOCK`` (it can block forever);
    - a file created, written, renamed, removed or re-permissioned outside
      the scratch folders (``__pycache__`` under the import roots excepted),
      the model folder included: loading must not change it;
    - a process started (``os.system``, ``subprocess``, ``exec``, spawn);
    - a code object run from a file inside the model folder or directly
      from the current directory.

    With ``block=True`` (the default) each of these also raises
    :class:`HostileAccessError` instead of happening, so a hostile folder
    cannot read a secret, fill memory from ``/dev/zero`` or delete a file
    while it is watched. The hook is installed once per process and costs
    nothing while no watch is active; it follows every thread.
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        *,
        scratch: Iterable[str | os.PathLike[str]] = (),
        block: bool = True,
    ) -> None:
        self.folder = os.path.realpath(folder)
        self.scratch = [os.path.realpath(s) for s in scratch]
        self.block = block
        self.violations: list[str] = []
        self._cwd = ""
        self._code_roots: list[str] = []
        self._read_roots: list[str] = []

    def __enter__(self) -> AccessWatch:
        _install_hook()
        self._cwd = os.path.realpath(os.getcwd())
        # a root holding the model folder would let a link read anything beside it
        self._code_roots = [r for r in import_roots() if not _within(self.folder, [r])]
        self._read_roots = [self.folder, *self.scratch, *self._code_roots, *SYSTEM_READABLE]
        _ACTIVE.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _ACTIVE.remove(self)

    # -- called by the hook (with the hook's guard held) --------------------------------
    def _event(self, event: str, args: tuple[Any, ...]) -> str | None:
        if event == "open":
            return self._open(*args[:3])
        if event in _CHANGE_EVENTS:
            for index, fd_index in _CHANGE_EVENTS[event]:
                dir_fd = args[fd_index] if fd_index is not None and fd_index < len(args) else None
                path = _real(args[index] if index < len(args) else None, dir_fd)
                if path is not None and not self._writable(path):
                    return f"{event} {path}"
            return None
        if event in _SPAWN_EVENTS:
            shown = args[1] if event == "subprocess.Popen" and len(args) > 1 else args[:1]
            return f"{event} {_short_repr(shown, 200)}"
        if event == "exec":
            filename = getattr(args[0], "co_filename", "") if args else ""
            if filename and not filename.startswith("<"):
                real = os.path.realpath(filename)
                if _within(real, [self.folder]) or (
                    _within(real, [self._cwd]) and not _within(real, self._code_roots)
                ):
                    return f"ran code from {real}"
            return None
        if event == "ctypes.dlopen":
            path = _real(args[0] if args else None, None)
            if (
                path is not None
                and os.path.isabs(str(args[0]))
                and not _within(path, self._read_roots)
            ):
                return f"loaded the library {path}"
        return None

    def _open(self, file: Any, mode: Any, flags: Any) -> str | None:
        path = _real(file, None)
        if path is None:
            return None
        flags = flags if isinstance(flags, int) else 0
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool(
            flags & _WRITE_FLAGS
        )
        if writing:
            return None if self._writable(path) else f"opened {path} for writing"
        if not _within(path, self._read_roots):
            return f"read {path}, outside the model folder"
        if _within(path, [self.folder]) and not flags & getattr(os, "O_NONBLOCK", 0):
            try:
                mode_bits = os.stat(path).st_mode
            except OSError:
                return None
            if stat.S_ISFIFO(mode_bits) or stat.S_ISCHR(mode_bits) or stat.S_ISBLK(mode_bits):
                return f"opened {path}, a FIFO or device, without O_NONBLOCK (it can block forever)"
        return None

    def _writable(self, path: str) -> bool:
        if _within(path, self.scratch):
            return True
        return f"{os.sep}__pycache__{os.sep}" in path and _within(path, self._code_roots)


_ACTIVE: list[AccessWatch] = []
_GUARD = threading.local()
_HOOK_INSTALLED = False


def _install_hook() -> None:
    global _HOOK_INSTALLED
    if not _HOOK_INSTALLED:
        sys.addaudithook(_audit)
        _HOOK_INSTALLED = True


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _ACTIVE or getattr(_GUARD, "busy", False):
        return
    if (
        event != "open"
        and event != "exec"
        and event not in _CHANGE_EVENTS
        and event not in _SPAWN_EVENTS
        and event != "ctypes.dlopen"
    ):
        return
    _GUARD.busy = True
    try:
        watch = _ACTIVE[-1]
        problem = watch._event(event, args)
        if problem is None:
            return
        watch.violations.append(problem)
        blocking = watch.block
    except Exception:  # the hook must never break the watched call by its own mistake
        return
    finally:
        _GUARD.busy = False
    if blocking:
        raise HostileAccessError(f"blocked by the flavorkit access watch: {problem}")


def _real(value: Any, dir_fd: Any) -> str | None:
    if isinstance(value, int) or value is None:
        return None
    try:
        text = os.fsdecode(value)
    except TypeError:
        return None
    if isinstance(dir_fd, int) and dir_fd >= 0 and not os.path.isabs(text):
        try:
            base = os.readlink(f"/proc/self/fd/{dir_fd}")
        except OSError:
            return None
        text = os.path.join(base, text)
    try:
        return os.path.realpath(text)
    except (OSError, ValueError):
        return None


# -- time bounds -----------------------------------------------------------------------


class TimeBoundExceeded(BaseException):
    """A call ran past its :func:`time_bound`.

    A ``BaseException``, so that a loader's ``except Exception`` does not swallow it.
    """


@contextlib.contextmanager
def time_bound(seconds: float) -> Iterator[None]:
    """Interrupt the block with :class:`TimeBoundExceeded` after ``seconds``.

    Uses ``SIGALRM``, so only in the main thread on POSIX (elsewhere the
    block runs unbounded; callers measure it). A timer already running
    (pytest-timeout's) is suspended and restarted with what it had left;
    if it would have expired first, its handler runs.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or not hasattr(signal, "setitimer")
        or seconds <= 0
    ):
        yield
        return
    start = time.monotonic()
    outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, 0)
    previous = signal.getsignal(signal.SIGALRM)

    def expire(signum: int, frame: Any) -> None:
        if outer_delay and time.monotonic() - start >= outer_delay and callable(previous):
            previous(signum, frame)
        raise TimeBoundExceeded(f"still running after {seconds:g} s")

    signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, min(seconds, outer_delay) if outer_delay else seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_delay:
            left = outer_delay - (time.monotonic() - start)
            signal.setitimer(signal.ITIMER_REAL, max(left, 0.001), outer_interval)


# -- the entry points ------------------------------------------------------------------


@dataclass
class Outcome:
    """What one entry point did with one folder.

    ``status``: ``ok``; ``refused`` (a flavorkit error, or exit status 1 with
    a well-formed error); ``raised`` (any other exception, ``error_type``
    naming it, ``where`` the innermost frame); ``bad_output`` (the CLI
    failed without a one-line error, or printed a traceback); ``over_time``;
    ``over_memory`` (an allocation failed: ``MemoryError`` or ``std::bad_alloc``,
    under the worker's address-space limit);
    ``crashed`` (the worker process died); ``skipped`` (not run because an
    earlier entry point on the folder ran over its bound or crashed).
    """

    entry: str
    status: str
    error_type: str = ""
    message: str = ""
    where: str = ""
    seconds: float = 0.0
    rc: int | None = None
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def kept_contract(self) -> bool:
        """Succeeded or refused cleanly (``skipped``: not run, reported by the one before)."""
        return self.status in ("ok", "refused", "skipped")

    def describe(self) -> str:
        """One line: the entry point, its status and the error, shortened."""
        text = f"{self.entry}: {self.status}"
        if self.error_type:
            text += f" {self.error_type}"
        if self.message:
            text += f": {_first_line(self.message, 240)}"
        if self.where:
            text += f" (at {self.where})"
        if self.status == "bad_output":
            text += f" [rc {self.rc}; stderr {_short_repr(self.stderr[-300:], 320)}]"
        return text

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))


def _first_line(text: str, limit: int) -> str:
    lines = text.strip().splitlines()
    line = lines[0] if lines else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def flavorkit_error_names() -> frozenset[str]:
    """The names of ``FlavorkitError`` and every subclass defined so far."""
    from flavorkit.exceptions import FlavorkitError

    names, stack = set(), [FlavorkitError]
    while stack:
        cls = stack.pop()
        names.add(cls.__name__)
        stack.extend(cls.__subclasses__())
    return frozenset(names)


def _innermost(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    return f"{_shorten_path(last.filename)}:{last.lineno}"


def _shorten_path(filename: str) -> str:
    for marker in ("site-packages" + os.sep, os.sep + "src" + os.sep, os.sep + "core" + os.sep):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def probe(
    folder: str | os.PathLike[str],
    entry: str,
    *,
    bound_s: float = 30.0,
    allow_unsafe: bool = False,
) -> Outcome:
    """Call one of :data:`ENTRY_POINTS` on ``folder`` and classify what happened.

    Warnings are ignored (a changed version in ``MLmodel`` rightly warns);
    output of the CLI commands is captured. Never raises, except for
    ``KeyboardInterrupt`` and ``SystemExit`` from outside the call.
    """
    import warnings

    import flavorkit
    from flavorkit.exceptions import FlavorkitError

    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    path = os.fspath(folder)
    rc: int | None = None
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
            time_bound(bound_s),
        ):
            warnings.simplefilter("ignore")
            if entry == "load_model":
                flavorkit.load_model(path, allow_unsafe=allow_unsafe, suppress_warnings=True)
            elif entry == "load_native":
                flavorkit.load_native(path, allow_unsafe=allow_unsafe, suppress_warnings=True)
            else:
                from flavorkit import cli

                argv = {
                    "validate": ["validate", path],
                    "info": ["info", path],
                    "serve_check": ["serve", "--check", path]
                    + (["--allow-unsafe"] if allow_unsafe else []),
                }[entry]
                rc = cli.main(argv)
    except TimeBoundExceeded as exc:
        return Outcome(
            entry, "over_time", "", str(exc), _innermost(exc), time.perf_counter() - start
        )
    except (Exception, SystemExit) as exc:
        if _out_of_memory(exc):
            return Outcome(
                entry,
                "over_memory",
                type(exc).__name__,
                str(exc),
                _innermost(exc),
                time.perf_counter() - start,
            )
        if isinstance(exc, FlavorkitError):
            return Outcome(
                entry, "refused", type(exc).__name__, str(exc), "", time.perf_counter() - start
            )
        return Outcome(
            entry,
            "raised",
            type(exc).__name__,
            str(exc),
            _innermost(exc),
            time.perf_counter() - start,
            stdout=out.getvalue()[-2000:],
            stderr=err.getvalue()[-2000:],
        )
    seconds = time.perf_counter() - start
    outcome = Outcome(
        entry, "ok", seconds=seconds, rc=rc, stdout=out.getvalue(), stderr=err.getvalue()
    )
    if seconds > bound_s:
        outcome.status = "over_time"
        outcome.message = f"took {seconds:.1f} s (bound {bound_s:g} s)"
        return outcome
    if rc is not None:
        _classify_cli(outcome, path)
    return outcome


def _out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is an allocation that failed: ``MemoryError``, or a
    C++ ``std::bad_alloc`` a framework turned into its own error."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, MemoryError) or "bad_alloc" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _classify_cli(outcome: Outcome, path: str) -> None:
    """Set the status of a CLI outcome from its exit status and output."""
    lines = [ln for ln in outcome.stderr.splitlines() if ln.strip()]
    if outcome.rc and any(m in outcome.stderr for m in ("MemoryError", "bad_alloc")):
        outcome.status, outcome.message = "over_memory", lines[0] if lines else "MemoryError"
        return
    if "Traceback (most recent call last)" in outcome.stderr + outcome.stdout:
        outcome.status, outcome.message = "bad_output", "printed a traceback"
        return
    if outcome.rc == 0:
        return
    if outcome.rc != 1 or not lines:
        outcome.status, outcome.message = "bad_output", f"exit status {outcome.rc}"
        return
    outcome.message = lines[0]
    if outcome.entry == "info" or lines[0].startswith("flavorkit: error: "):
        well_formed = len(lines) == 1 and lines[0].startswith("flavorkit: error: ")
    elif outcome.entry == "validate":
        well_formed = lines[0].endswith("problem(s)") and all(
            ln.startswith("  - ") for ln in lines[1:]
        )
    else:  # serve --check: "<model>: <ErrorType>: <message>", one line
        well_formed = len(lines) == 1
        kind = lines[0].split(": ", 2)[1] if lines[0].count(": ") >= 2 else ""
        # SelfTestError: the server's own "the model failed to predict on its example"
        deliberate = flavorkit_error_names() | {"SelfTestError"}
        if well_formed and kind and kind not in deliberate:
            outcome.status, outcome.error_type = "raised", kind
            outcome.message = lines[0]
            return
        outcome.error_type = kind
    outcome.status = "refused" if well_formed else "bad_output"
    if not well_formed:
        outcome.message = f"{len(lines)} lines on stderr"


def contract_problems(outcomes: dict[str, Outcome]) -> list[str]:
    """The ways ``outcomes`` (entry point -> :class:`Outcome`) break the contract; empty if none.

    Each entry point succeeds or is refused (a flavorkit error; exit status
    1 with a one-line error), within its bound. ``validate`` passing means
    every other probed entry point succeeds (or is refused for a reason of
    this environment, :data:`ENVIRONMENT_ERRORS`: the unsafe opt-in, which
    ``validate`` does not take, or a missing plugin or package), and
    ``load_model`` succeeding means ``info`` does.
    """
    problems = [o.describe() for o in outcomes.values() if not o.kept_contract]
    validate, load = outcomes.get("validate"), outcomes.get("load_model")
    if validate is not None and validate.ok:
        # refusals that are about this environment, not the folder: the caller's trust (the
        # unsafe opt-in, which validate does not take) and what is installed (PluginError)
        problems += [
            f"validate passed but {o.describe()}"
            for name, o in outcomes.items()
            if name != "validate"
            and o.status == "refused"
            and o.error_type not in ENVIRONMENT_ERRORS
        ]
    info = outcomes.get("info")
    if load is not None and load.ok and info is not None and info.status == "refused":
        problems.append(f"load_model worked but {info.describe()}")
    return problems


def snapshot(*roots: str | os.PathLike[str]) -> dict[str, tuple[int, int, int]]:
    """``{path: (mode, size, mtime_ns)}`` of everything under ``roots`` (links not followed)."""
    out: dict[str, tuple[int, int, int]] = {}
    for root in roots:
        base = os.fspath(root)
        if not os.path.lexists(base):
            out[base] = (0, -1, 0)
            continue
        paths = [base]
        for parent, dirs, files in os.walk(base, followlinks=False):
            paths += [os.path.join(parent, name) for name in dirs + files]
        for path in paths:
            try:
                info = os.lstat(path)
            except OSError:
                continue
            out[path] = (info.st_mode, info.st_size, info.st_mtime_ns)
    return out


def changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What differs between two :func:`snapshot` results: created, removed, changed paths."""
    created = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(p for p in set(before) & set(after) if before[p] != after[p])
    return (
        [f"created {p}" for p in created]
        + [f"removed {p}" for p in removed]
        + [f"changed {p}" for p in changed]
    )


Probe = Callable[[str], Outcome]
