"""The files of a Triton model folder, read as hostile input.

A Triton model folder may come from anyone (a download, a registry). The
questions every part of the plugin asks about it have their answers here:

- ``version_number``: which sub-folders are versions, by Triton's rule
  (ASCII digits, no leading zero, a positive 64-bit number);
- ``file_name_problem``: whether a name read from the folder
  (``default_model_filename``, the plan's ``model``) stays a plain name in
  its version folder;
- ``check_tree``: whether a folder can be copied as it is (regular files and
  folders only, no link out of it or to a folder, which a copy would follow
  and could loop through);
- ``read_onnx`` and ``external_data_problems``: an ONNX file read with a
  bound, and the external data files its tensors name, which onnxruntime
  reads by path: each must be a regular file inside the ONNX file's folder.

Nothing here imports onnx, protobuf or numpy until a function needs it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from flavorkit.exceptions import ManifestError

MAX_INT64 = 2**63 - 1
MAX_VERSION = MAX_INT64  # Triton's versions are int64
# protobuf cannot parse a larger message; larger models keep their weights as external data
MAX_ONNX_BYTES = 2**31
MAX_NAME_CHARS = 255


def version_number(name: str) -> int | None:
    """The version a sub-folder named ``name`` holds for Triton, or ``None`` when it is none.

    Triton loads folders named by a number from 1 to 2**63-1 and ignores
    names that start with 0; ``isdigit`` alone would accept superscripts
    and digits of other scripts, which are not ASCII digits.
    """
    if not (name.isascii() and name.isdigit()) or name.startswith("0") or len(name) > 19:
        return None
    number = int(name)
    return number if number <= MAX_VERSION else None


def file_name_problem(value: Any) -> str | None:
    """Why ``value`` cannot name a file of a version folder, or ``None`` when it can.

    A plain name: a non-empty string without ``/``, ``\\`` or NUL, neither
    ``.`` nor ``..``, of at most 255 characters.
    """
    if not isinstance(value, str):
        return f"expected a file name, got {type(value).__name__}"
    bad = (
        not value
        or value in (".", "..")
        or any(c in value for c in "/\\\0")
        or len(value) > MAX_NAME_CHARS
    )
    if bad:
        return (
            "expected a plain file name inside the version folder (no '/', '\\' or '..'), "
            f"got {short(value)}"
        )
    return None


def short(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut to about ``limit`` characters (a hostile value can be huge)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 5]}...{text[-1]}"


def plain(text: str, limit: int = 200) -> str:
    """``text`` as it is when printable and short, else ``short(text)`` (quoted and cut)."""
    return text if text.isprintable() and len(text) <= limit else short(text, limit)


def check_tree(source: Path) -> None:
    """Refuse a folder that cannot be copied as it is; raises ``ManifestError`` naming the entry.

    Every entry must be a regular file or a folder, or a link to a regular
    file inside ``source``. A link to a folder is refused too: a copy goes
    through it, and two links to ``.`` make the copy grow without end.
    """
    root = source.resolve()

    def refuse(error: OSError) -> None:
        raise ManifestError(f"cannot be read ({error.strerror})", path=error.filename)

    for top, dirs, files in os.walk(source, onerror=refuse):
        for name in sorted(dirs) + sorted(files):
            item = Path(top) / name
            relative = item.relative_to(source)
            mode = item.lstat().st_mode
            if stat.S_ISLNK(mode):
                try:
                    target = item.resolve(strict=True)
                except (OSError, RuntimeError):
                    raise ManifestError(
                        f"{relative} is a broken link or a link loop", path=source
                    ) from None
                if target != root and not target.is_relative_to(root):
                    raise ManifestError(
                        f"{relative} links outside the folder; a copy must be self-contained: "
                        "copy the file in instead of linking it",
                        path=source,
                    )
                mode = target.stat().st_mode
                if stat.S_ISDIR(mode):
                    raise ManifestError(
                        f"{relative} links to a folder; expected regular files and folders "
                        "(a copy would go through the link, and links can loop)",
                        path=source,
                    )
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise ManifestError(
                    f"{relative} is {_describe(mode)}; expected regular files and folders",
                    path=source,
                )


def read_onnx(path: Path) -> Any:
    """The ``onnx.ModelProto`` in the regular file ``path`` (at most 2 GiB, external data not read).

    Raises ``ManifestError`` naming the file when it is not a regular file,
    too large, or not ONNX.
    """
    import onnx
    from flavorkit.folder import read_bytes

    data = read_bytes(path, limit=MAX_ONNX_BYTES)
    try:
        return onnx.load_model_from_string(data)
    except Exception as exc:  # protobuf's DecodeError and onnx's own errors
        raise ManifestError(
            f"not a readable ONNX model ({type(exc).__name__})", path=path
        ) from None


def external_data_problems(model: Any, folder: Path) -> list[str]:
    """Problems of the external data files the ONNX ``model`` (in ``folder``) names.

    onnxruntime opens each by path, relative to the ONNX file's folder:
    each must be a relative path that stays in ``folder`` (links followed)
    and names a regular file, never a FIFO or a device.
    """
    problems = []
    for name, location in external_data(model):
        why = _location_problem(location, folder)
        if why is not None:
            problems.append(
                f"tensor {short(name)} keeps its data in external file {short(location)}: {why}"
            )
    return problems


def external_data(model: Any) -> Iterator[tuple[str, Any]]:
    """``(tensor name, location)`` of every tensor of ``model`` whose data is in another file.

    Covers initializers, sparse initializers, tensors in node attributes and
    the subgraphs and functions below them (walked without recursion).
    ``location`` is ``None`` when the tensor names none.
    """
    from onnx import TensorProto

    graphs = [model.graph]
    for info in model.training_info:
        graphs += [getattr(info, k) for k in ("initialization", "algorithm") if info.HasField(k)]
    nodes = [node for function in model.functions for node in function.node]
    tensors: list[Any] = []
    while graphs or nodes:
        while graphs:
            graph = graphs.pop()
            tensors += graph.initializer
            tensors += [t for s in graph.sparse_initializer for t in (s.values, s.indices)]
            nodes += graph.node
        while nodes:
            for attribute in nodes.pop().attribute:
                if attribute.HasField("t"):
                    tensors.append(attribute.t)
                tensors += attribute.tensors
                sparse = list(attribute.sparse_tensors)
                if attribute.HasField("sparse_tensor"):
                    sparse.append(attribute.sparse_tensor)
                tensors += [t for s in sparse for t in (s.values, s.indices)]
                if attribute.HasField("g"):
                    graphs.append(attribute.g)
                graphs += attribute.graphs
    for tensor in tensors:
        if tensor.data_location == TensorProto.EXTERNAL:
            yield tensor.name, {e.key: e.value for e in tensor.external_data}.get("location")


def _location_problem(location: Any, folder: Path) -> str | None:
    if not isinstance(location, str) or not location:
        return "it names no location"
    pure = PurePosixPath(location.replace("\\", "/"))
    if "\0" in location or pure.is_absolute() or ".." in pure.parts or location[1:2] == ":":
        return "expected a relative path inside the ONNX file's folder"
    base = folder.resolve()
    try:
        target = (folder / location).resolve(strict=True)
    except FileNotFoundError:
        return "no such file beside the ONNX file"
    except (OSError, RuntimeError):
        return "it cannot be resolved (a link loop or a name too long)"
    if base not in target.parents:
        return "it is a link that leads outside the ONNX file's folder"
    mode = target.stat().st_mode
    if not stat.S_ISREG(mode):
        return f"it is {_describe(mode)}, expected a regular file"
    return None


def _describe(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"
