"""A skops file as hostile input: the zip and ``schema.json`` checked before skops builds anything.

skops reads ``schema.json`` whole, reads every array a node names into
memory while it builds its tree (before any type is checked), and checks
the types by walking that tree once per path that reaches a node. A file
written to exhaust the loader, rather than to run code, gets through all of
that; these checks refuse it first, with :class:`SkopsFileError`:

- the zip: no entry twice, none encrypted or compressed with a method zip
  readers may not bound, ``schema.json`` within :data:`MAX_SCHEMA_BYTES`,
  and the entries together inflating at most :data:`MAX_RATIO` times (a zip
  bomb does more);
- the schema: no archive entry named by two objects (skops reads it again
  for each, so one small entry would fill memory many times over; one
  object written twice, with its ``__id__``, is read once);
- the tree (:func:`check_walk`): the number of steps skops's type check
  takes is bounded by a multiple of the objects in the file (shared objects
  nested inside shared objects make it exponential).

skops does not write such files (short of a ``schema.json`` over the limit,
or an archive recompressed by hand), and no option loads one: the refusal is
a ``ManifestError`` naming the file, with or without the unsafe opt-in.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from typing import Any

SCHEMA = "schema.json"
MAX_SCHEMA_BYTES = 512 * 1024 * 1024
MAX_RATIO = 100  # how many times the entries together may inflate
_SLACK = 16 * 1024 * 1024  # what small, highly compressible files may inflate beyond that
# zipfile bounds what it inflates to the size an entry records for these methods
_METHODS = frozenset(
    {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
)
WALK_STEPS_BASE = 200_000
WALK_STEPS_PER_OBJECT = 20  # legitimate files take under 15 (a pipeline sharing one estimator)
_SHOWN = 120


class SkopsFileError(ValueError):
    """A skops file refused before skops reads it: built to exhaust the loader, not to run code."""


def show(text: str) -> str:
    """``text`` quoted for an error message (it comes from the file).

    ASCII-escaped, so a look-alike letter or a control character shows as
    its code, and cut when long.
    """
    if len(text) <= _SHOWN:
        return ascii(text)
    return f"{text[:_SHOWN]!a} (cut; {len(text):,} characters)"


def check_archive(archive: zipfile.ZipFile) -> None:
    """Refuse a zip with an entry repeated, encrypted or of another method, or a zip bomb."""
    names: set[str] = set()
    packed = unpacked = 0
    for info in archive.infolist():
        name = info.filename
        if name in names:
            raise SkopsFileError(
                f"the archive holds the entry {show(name)} twice; skops never writes that, "
                "and readers disagree on which one counts"
            )
        names.add(name)
        if info.flag_bits & 0x1:
            raise SkopsFileError(f"the archive entry {show(name)} is encrypted")
        if info.compress_type not in _METHODS:
            raise SkopsFileError(
                f"the archive entry {show(name)} uses compression method {info.compress_type}; "
                "expected stored, deflate, bzip2 or lzma"
            )
        if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
            raise SkopsFileError(f"the archive entry {show(name)} is damaged (its sizes disagree)")
        packed += info.compress_size
        unpacked += info.file_size
    if unpacked > MAX_RATIO * packed + _SLACK:
        raise SkopsFileError(
            f"the archive inflates from {packed:,} to {unpacked:,} bytes (more than {MAX_RATIO} "
            "times): a zip bomb"
        )
    schema = archive.getinfo(SCHEMA) if SCHEMA in names else None
    if schema is not None and schema.file_size > MAX_SCHEMA_BYTES:
        raise SkopsFileError(
            f"its {SCHEMA} is {schema.file_size:,} bytes; the limit is {MAX_SCHEMA_BYTES:,}"
        )


@dataclass
class Scan:
    """What ``schema.json`` names, read from the JSON alone (nothing imported or built)."""

    modules: set[str] = field(default_factory=set)  # every module named: what loading imports
    objects: set[str] = field(default_factory=set)  # ``module.Class`` of every ObjectNode
    nodes: int = 0  # object descriptions (dicts with a ``__loader__``)


def scan(schema: Any) -> Scan:
    """Read ``schema`` (parsed ``schema.json``) iteratively; refuse an entry two objects name."""
    found = Scan()
    files: dict[str, Any] = {}  # entry: the ``__id__`` of the object that names it
    stack: list[Any] = [schema]
    while stack:  # iterative: the schema nests as deeply as the estimator
        node = stack.pop()
        if isinstance(node, dict):
            module = node.get("__module__")
            if isinstance(module, str):
                found.modules.add(module)
            loader = node.get("__loader__")
            if loader is not None:
                found.nodes += 1
                name = node.get("__class__")
                if loader == "ObjectNode" and isinstance(module, str) and isinstance(name, str):
                    found.objects.add(f"{module}.{name}")
                file = node.get("file")
                if isinstance(file, str):
                    # skops reads the entry for each object; a repeated ``__id__`` is the
                    # same object (skops writes a shared array so), built and read once
                    ident = node.get("__id__")
                    shared = isinstance(ident, (int, str)) and bool(ident)
                    if file in files and not (shared and files[file] == ident):
                        raise SkopsFileError(
                            f"the archive entry {show(file)} is named by two objects; skops "
                            "never writes that, and reads the entry again for each of them"
                        )
                    files[file] = ident if shared else None
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def check_walk(tree: Any, node_type: type, objects: int) -> None:
    """Refuse a tree that skops's type check would walk more than a multiple of ``objects`` times.

    skops's ``Node.get_unsafe_set`` visits a node once per path that
    reaches it (it only skips the nodes on the current path), so a file
    whose shared objects hold shared objects twice over makes it take
    ``2**depth`` steps: a few kilobytes that never finish loading. This
    walks the same paths, with the same skip, and stops counting at the
    limit. ``node_type`` is skops's ``Node``.
    """
    limit = WALK_STEPS_BASE + WALK_STEPS_PER_OBJECT * objects
    steps = 0
    on_path: set[int] = set()
    stack: list[tuple[Any, bool]] = [(tree, False)]
    while stack:
        node, leaving = stack.pop()
        if leaving:
            on_path.discard(id(node))
            continue
        steps += 1
        if steps > limit:
            raise SkopsFileError(
                f"checking the types of its {objects:,} objects would take more than {limit:,} "
                "steps (shared objects nested inside shared objects: the check grows "
                "exponentially with their depth); skops would not finish loading it"
            )
        if id(node) in on_path:
            continue
        on_path.add(id(node))
        stack.append((node, True))
        for child in getattr(node, "children", {}).values():
            items = (
                child
                if isinstance(child, list)
                else (child.values() if isinstance(child, dict) else [child])
            )
            stack.extend((item, False) for item in items if isinstance(item, node_type))
