"""Reading a ``.pt2`` archive (``torch.export``'s zip) as hostile input, before torch does.

``inspect`` checks, with bounded reads and nothing evaluated:

- the zip itself: readable, one root folder (top-level entries in the
  layout of older torch releases), plain entry names unique even when case
  is ignored (torch's zip reader looks names up without case, Python's
  with it: two names that differ in case only would let torch read an
  entry other than the one checked), no encryption, no zip comment,
  stored or deflated entries that do not inflate more than ``MAX_RATIO``
  times, one by one and all together, and at most ``MAX_ENTRIES`` of them;
  damage (truncation, a wrong CRC) is a ``ManifestError`` naming the file;
- ``archive_format`` says ``pt2`` and every ``models/<name>.json`` is strict
  JSON within ``MAX_GRAPH_BYTES`` that matches torch's schema, with only
  shape expressions, guards, operators and names torch writes
  (``_program``);
- the weight and constant configs match torch's schema too, and each raw
  tensor they describe fits its data (sizes, strides and offset inside the
  record, a dtype torch has, a device that holds data), with all of them
  together no more than ``MAX_RATIO`` times the archive's size, so no
  tensor of a few bytes stands for gigabytes when the model runs.

It returns what would make torch unpickle objects rather than read tensors
(pickled weights that are not plain tensor data, custom and opaque objects,
sample inputs that are not tensors, AOTInductor shared libraries): loading
those runs code, so they need the caller's unsafe opt-in.

The caller opens the file once (``flavorkit.folder.open_regular``: a regular
file, never a FIFO) and gives torch the same open file after the check.
"""

from __future__ import annotations

import io
import json
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any, BinaryIO

from flavorkit.exceptions import ManifestError
from flavorkit.folder import load_json

from flavorkit_torch import _program

MAX_ENTRIES = 100_000
MAX_GRAPH_BYTES = 256 * 1024 * 1024  # models/<name>.json: the graph, its metadata and stack traces
MAX_CONFIG_BYTES = 64 * 1024 * 1024  # weight and constant configs, extra files
MAX_SMALL_BYTES = 4096  # archive_format, archive_version, byteorder ...
MAX_PICKLE_BYTES = 1024 * 1024 * 1024  # sample inputs and pickled tensors, checked before torch
MAX_PICKLE_ITEMS = 1_000_000  # containers and values in one unpickled entry
MAX_RATIO = 100  # how many times a deflated entry may inflate
_SLACK = 1024 * 1024
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/")
_LEGACY_PROGRAM = "serialized_exported_program.json"
# serialized JSON state of the oldest releases: torch unpickles these bytes too
_LEGACY_PICKLES = ("serialized_state_dict.json", "serialized_constants.json")
_LEGACY_ENTRIES = frozenset(
    {
        "version",
        _LEGACY_PROGRAM,
        *_LEGACY_PICKLES,
        "serialized_state_dict.pt",
        "serialized_constants.pt",
        "serialized_example_inputs.pt",
    }
)
# devices a tensor read from the archive may be placed on: they hold data ("meta" does not)
_DATA_DEVICES = frozenset({"cpu", "cuda", "mps", "xpu"})
_SMALL_ENTRIES = ("archive_format", "archive_version", "byteorder", ".data/version")
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    OSError,
    EOFError,
    ValueError,  # includes UnicodeDecodeError from names and struct errors
    NotImplementedError,
    RuntimeError,  # encrypted entries
    zlib.error,
    KeyError,
    IndexError,
    OverflowError,
)


def inspect(fh: BinaryIO, file: Path, *, code: bool = True) -> list[str]:
    """Check the archive open as ``fh``; return the entries that would need unpickling.

    ``code=False`` skips the checks for strings torch runs as code (the
    caller trusts the folder). Raises ``ManifestError`` naming ``file`` for a
    damaged or malformed archive.
    """
    fh.seek(0)
    if fh.read(4) != b"PK\x03\x04":
        raise ManifestError("is not a .pt2 archive (it does not start as a zip file)", path=file)
    fh.seek(0)
    try:
        archive = zipfile.ZipFile(fh)
    except _ZIP_ERRORS as exc:
        raise ManifestError(f"is not a readable .pt2 archive ({_reason(exc)})", path=file) from None
    size = fh.seek(0, io.SEEK_END)
    with archive:
        return _Inspection(archive, file, code, size).run()


class _Inspection:
    def __init__(self, archive: zipfile.ZipFile, file: Path, code: bool, size: int) -> None:
        self.archive = archive
        self.file = file
        self.code = code
        self.entries: dict[str, zipfile.ZipInfo] = {}
        self.root = ""
        # what the archive may expand to: its entries inflated, its tensors materialised
        self.budget = MAX_RATIO * size + _SLACK
        self.tensor_bytes = 0

    def fail(self, message: str, key: str | None = None) -> ManifestError:
        return ManifestError(message, path=self.file, key=key)

    def run(self) -> list[str]:
        if _LEGACY_PROGRAM in self.archive.namelist():
            return self.legacy()
        self.structure()
        format_ = self.read(f"{self.root}/archive_format", MAX_SMALL_BYTES, required=True)
        if format_ != b"pt2":
            raise self.fail("archive_format is not 'pt2'; this is not a torch.export archive")
        for name in _SMALL_ENTRIES[1:]:
            self.read(f"{self.root}/{name}", MAX_SMALL_BYTES)
        problems: list[str] = []
        models = [n for n in self.entries if n.startswith(f"{self.root}/models/")]
        if not models:
            raise self.fail("holds no program (no models/<name>.json entry)")
        for entry in models:
            problems += self.model(entry)
        for entry in self.entries:
            relative = entry[len(self.root) + 1 :]
            if relative.startswith("data/aotinductor/"):
                problems.append(
                    f"{entry} is AOTInductor compiled code (a shared library torch would load)"
                )
            elif relative.startswith("extra/"):
                self.text(entry, MAX_CONFIG_BYTES)
            elif entry.endswith(".pt"):
                problems += self.pickled(entry)
        return list(dict.fromkeys(problems))

    def legacy(self) -> list[str]:
        """The layout older torch releases wrote: top-level entries, no archive_format.

        torch reads it only after its reader of the current layout fails, which
        it does when the first entry is not in a folder; then it loads each
        ``serialized_*`` entry, unpickling fully what does not load as plain
        tensor data, so those are checked like the current layout's pickles.
        """
        self.structure(legacy=True)
        first = self.archive.infolist()[0].filename
        if "/" in first:
            raise self.fail(f"starts with the entry {_show(first)}, which torch never writes first")
        self.text("version", MAX_SMALL_BYTES)
        program = self.json(_LEGACY_PROGRAM, MAX_GRAPH_BYTES)
        _program.check_document(
            program, "ExportedProgram", file=self.file, entry=_LEGACY_PROGRAM, code=self.code
        )
        problems: list[str] = []
        for entry in self.entries:
            if entry.startswith("extra_files/"):
                self.text(entry, MAX_CONFIG_BYTES)
            elif entry not in _LEGACY_ENTRIES:
                raise self.fail(f"has the entry {_show(entry)}, which torch never writes")
            elif entry.endswith(".pt") or entry in _LEGACY_PICKLES:
                problems += self.pickled(entry)
        return problems

    # -- the zip ------------------------------------------------------------------

    def structure(self, *, legacy: bool = False) -> None:
        archive = self.archive
        if archive.comment:
            raise self.fail("has a zip comment; torch.export never writes one")
        infos = archive.infolist()
        if len(infos) > MAX_ENTRIES:
            raise self.fail(f"has {len(infos):,} entries; the limit is {MAX_ENTRIES:,}")
        roots = set()
        folded: dict[str, str] = {}
        total = 0
        for info in infos:
            name = info.filename
            if name in self.entries:
                raise self.fail(f"holds the entry {_show(name)} twice")
            other = folded.setdefault(name.lower(), name)
            if other != name:
                # torch's reader (miniz) finds names without regard to case and may
                # return either entry: the one checked here would not be the one loaded
                raise self.fail(
                    f"holds the entries {_show(other)} and {_show(name)}, whose names differ "
                    "only in case; torch's zip reader cannot tell them apart"
                )
            if not set(name) <= _NAME_CHARS or len(name) > 1024:
                raise self.fail(f"has an entry named {_show(name)}, which torch never writes")
            folder = name.endswith("/")
            parts = name[:-1].split("/") if folder else name.split("/")
            if (
                (len(parts) < 2 and not folder and not legacy)
                or any(part in ("", ".", "..") for part in parts)
                or (folder and info.file_size)
            ):
                raise self.fail(f"has an entry named {_show(name)}, which torch never writes")
            if info.flag_bits & 0x1:
                raise self.fail(f"entry {_show(name)} is encrypted")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise self.fail(
                    f"entry {_show(name)} uses compression method {info.compress_type}; "
                    "torch.export stores entries uncompressed"
                )
            if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
                raise self.fail(f"entry {_show(name)} is damaged (its sizes disagree)")
            if info.file_size > MAX_RATIO * info.compress_size + _SLACK:
                raise self.fail(
                    f"entry {_show(name)} inflates from {info.compress_size:,} to "
                    f"{info.file_size:,} bytes (more than {MAX_RATIO} times): a zip bomb"
                )
            total += info.file_size
            if total > self.budget:
                raise self.fail(
                    f"entries up to {_show(name)} inflate to {total:,} bytes, more than "
                    f"{MAX_RATIO} times the archive's size (the limit is {self.budget:,}): "
                    "a zip bomb"
                )
            roots.add(parts[0])
            self.entries[name] = info
        if len(roots) != 1 and not legacy:
            raise self.fail("is not a torch.export archive (its entries are not in one folder)")
        self.root = "" if legacy else next(iter(roots))
        if min((info.header_offset for info in infos), default=0) != 0:
            raise self.fail("has data before its first entry")

    def read(self, entry: str, limit: int, *, required: bool = False) -> bytes | None:
        info = self.entries.get(entry)
        if info is None:
            if required:
                raise self.fail(f"has no entry {_show(entry)}; this is not a torch.export archive")
            return None
        if info.file_size > limit:
            raise self.fail(
                f"entry {_show(entry)} is {info.file_size:,} bytes; the limit is {limit:,}"
            )
        try:
            with self.archive.open(info) as handle:
                data = handle.read(limit + 1)
        except _ZIP_ERRORS as exc:
            raise self.fail(f"entry {_show(entry)} is damaged ({_reason(exc)})") from None
        if len(data) != info.file_size:
            raise self.fail(f"entry {_show(entry)} is damaged (it is not as long as recorded)")
        return data

    def text(self, entry: str, limit: int) -> str:
        data = self.read(entry, limit, required=True)
        assert data is not None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self.fail(
                f"entry {_show(entry)} is not UTF-8 text (byte {exc.start} is invalid)"
            ) from None

    def json(self, entry: str, limit: int) -> Any:
        where = f"{self.file} (entry {entry})"
        return load_json(self.text(entry, limit), path=where)

    # -- the program --------------------------------------------------------------

    def model(self, entry: str) -> list[str]:
        prefix = f"{self.root}/models/"
        name = entry[len(prefix) : -len(".json")] if entry.endswith(".json") else ""
        if not name or "/" in name:
            raise self.fail(f"has the entry {_show(entry)}; models/ holds <name>.json only")
        program = self.json(entry, MAX_GRAPH_BYTES)
        _program.check_document(
            program, "ExportedProgram", file=self.file, entry=entry, code=self.code
        )
        problems = []
        samples = f"{self.root}/data/sample_inputs/{name}.pt"
        if samples not in self.entries:
            raise self.fail(f"has no entry {_show(samples)} for the program {name!r}")
        for kind in ("weights", "constants"):
            legacy = f"{self.root}/data/{kind}/{name}.pt"
            config = f"{self.root}/data/{kind}/{name}_{kind}_config.json"
            if legacy in self.entries:
                continue  # a .pt entry: checked with the others
            if config not in self.entries:
                raise self.fail(f"has no entry {_show(config)} for the program {name!r}")
            problems += self.payload(config, kind)
        return problems

    def payload(self, entry: str, kind: str) -> list[str]:
        from torch.export.pt2_archive.constants import (
            CUSTOM_OBJ_FILENAME_PREFIX,
            OPAQUE_OBJ_FILENAME_PREFIX,
        )

        document = self.json(entry, MAX_CONFIG_BYTES)
        _program.check_document(
            document, "PayloadConfig", file=self.file, entry=entry, code=self.code
        )
        folder = entry.rsplit("/", 1)[0]
        problems = []
        dtypes: dict[str, tuple[str, Any]] = {}  # path_name -> (first fqn, its dtype)
        for fqn, meta in (document.get("config") or {}).items():
            path_name = meta.get("path_name", "")
            payload = f"{folder}/{path_name}"
            if path_name.startswith((CUSTOM_OBJ_FILENAME_PREFIX, OPAQUE_OBJ_FILENAME_PREFIX)):
                problems.append(f"{fqn!r} is a pickled Python object")
            elif meta.get("use_pickle"):
                if payload not in self.entries or self.pickled(payload):
                    problems.append(f"{fqn!r} is not plain tensor data")
            elif payload not in self.entries:
                raise self.fail(f"{entry} names {_show(path_name)}, which the archive lacks")
            else:
                nbytes = self.entries[payload].file_size
                dtype = self.check_tensor(entry, fqn, meta.get("tensor_meta"), nbytes)
                first, shared = dtypes.setdefault(path_name, (fqn, dtype))
                if shared != dtype:
                    # torch reads a record once, with the dtype of its first tensor
                    raise self.fail(
                        f"{entry}: {fqn!r} shares the record {_show(path_name)} with {first!r} "
                        f"but has the dtype {dtype}, not {shared}",
                        f"config[{_show(fqn)}].tensor_meta.dtype",
                    )
        return problems

    def check_tensor(self, entry: str, fqn: str, meta: Any, nbytes: int) -> Any:
        """Check the raw tensor ``fqn`` of the config ``entry``; return its dtype.

        torch views the record of ``nbytes`` through the recorded sizes,
        strides and offset (``torch.as_strided``), allocates zeros of those
        sizes for an empty record, and moves it to the recorded device: each
        is checked first, and the error's key names the field.
        """
        where = f"{entry}: {fqn!r}"
        field = f"config[{_show(fqn)}].tensor_meta"
        if not isinstance(meta, dict):
            raise self.fail(f"{where} has no tensor_meta; raw tensor data needs one", field)
        device = (meta.get("device") or {}).get("type")
        if device not in _DATA_DEVICES:
            raise self.fail(
                f"{where} is on the device {_show(str(device))}; expected one of "
                f"{', '.join(sorted(_DATA_DEVICES))}",
                f"{field}.device",
            )
        dtype = _dtype(meta.get("dtype"))
        if dtype is None:
            raise self.fail(
                f"{where} has the dtype code {meta.get('dtype')!r}, which is no torch dtype",
                f"{field}.dtype",
            )
        if meta.get("requires_grad") and not (dtype.is_floating_point or dtype.is_complex):
            raise self.fail(
                f"{where} requires grad, which a {dtype} tensor cannot; expected a floating "
                "point dtype or requires_grad false",
                f"{field}.requires_grad",
            )
        sizes = self.ints(where, f"{field}.sizes", meta.get("sizes"))
        strides = self.ints(where, f"{field}.strides", meta.get("strides"))
        (offset,) = self.ints(where, f"{field}.storage_offset", [meta.get("storage_offset")])
        elements = 1
        for size in sizes:
            elements *= size
        if nbytes == 0 and elements:
            raise self.fail(
                f"{where} claims {_count(elements)} elements but its data is empty", field
            )
        if len(sizes) != len(strides):
            raise self.fail(
                f"{where} has {len(sizes)} sizes but {len(strides)} strides; expected as many",
                f"{field}.strides",
            )
        if nbytes % dtype.itemsize:
            raise self.fail(
                f"{where}: its record of {nbytes:,} bytes is not a whole number of "
                f"{dtype} elements ({dtype.itemsize} bytes each)",
                f"{field}.dtype",
            )
        reach = (
            offset + sum((s - 1) * t for s, t in zip(sizes, strides, strict=True)) + 1
            if elements
            else 0
        )
        if reach * dtype.itemsize > nbytes:
            raise self.fail(
                f"{where}: its sizes, strides and storage_offset reach "
                f"{_count(reach)} {dtype} elements; expected at most the "
                f"{nbytes // dtype.itemsize:,} its record holds",
                field,
            )
        self.tensor_bytes += elements * dtype.itemsize
        if self.tensor_bytes > self.budget:
            raise self.fail(
                f"{where} has {_count(elements)} elements: with the tensors before it that is "
                f"{_count(self.tensor_bytes)} bytes, more than {MAX_RATIO} times the archive's "
                f"size (the limit is {self.budget:,})",
                f"{field}.sizes",
            )
        return dtype

    def ints(self, where: str, field: str, values: Any) -> list[int]:
        """The whole numbers of a list of ``{"as_int": n}`` (sizes, strides, offsets)."""
        out = []
        for value in values if isinstance(values, list) else [None]:
            number = value.get("as_int") if isinstance(value, dict) else None
            if type(number) is not int or number < 0:
                got = json.dumps(value)
                raise self.fail(
                    f"{where} has {_show(got)} in {field.rsplit('.', 1)[-1]}; "
                    'expected {"as_int": n} with a whole number n >= 0',
                    field,
                )
            out.append(number)
        return out

    def pickled(self, entry: str) -> list[str]:
        """Problems of a pickled entry: empty when it loads with ``weights_only=True``."""
        data = self.read(entry, MAX_PICKLE_BYTES, required=True)
        assert data is not None
        loaded, value = _load_weights_only(data)
        tensors = _tensors(value) if loaded else None
        if tensors is None:
            return [f"{entry} is not plain tensor data"]
        for tensor in tensors:
            # a tensor of the pickle can repeat its data (stride 0) as often as it claims
            self.tensor_bytes += tensor.numel() * tensor.element_size()
            if self.tensor_bytes > self.budget:
                raise self.fail(
                    f"entry {_show(entry)} holds a tensor of shape {list(tensor.shape)}: with the "
                    f"tensors before it that is {self.tensor_bytes:,} bytes, more than "
                    f"{MAX_RATIO} times the archive's size (the limit is {self.budget:,})"
                )
        return []


def _load_weights_only(payload: bytes) -> tuple[bool, Any]:
    """``(True, value)`` when ``payload`` unpickles with torch's restricted unpickler."""
    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a check: torch's notes on the pickle are noise here
            return True, torch.load(io.BytesIO(payload), weights_only=True)
    except Exception:  # any refusal or damage: not plain tensor data
        return False, None


def _tensors(value: Any) -> list[Any] | None:
    """The tensors in ``value``; ``None`` when it has more than MAX_PICKLE_ITEMS parts.

    Shared parts count each time: a pickle can share one list many times
    over (a few bytes that expand into an exponential structure when torch
    walks it).
    """
    import torch

    stack = [value]
    seen = 0
    found = []
    while stack:
        item = stack.pop()
        seen += 1
        if seen > MAX_PICKLE_ITEMS:
            return None
        if isinstance(item, torch.Tensor):
            found.append(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
    return found


def _dtype(code: Any) -> Any:
    """The torch dtype of a ``ScalarType`` code of torch's schema; ``None`` when it has none."""
    from torch._export.serde.serialize import _SERIALIZE_TO_TORCH_DTYPE

    return next((dtype for st, dtype in _SERIALIZE_TO_TORCH_DTYPE.items() if int(st) == code), None)


def _count(number: int) -> str:
    """``number`` with thousands separators, or its order of magnitude when that is long."""
    text = f"{number:,}"
    return text if len(text) <= 27 else f"about 2**{number.bit_length() - 1}"


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    detail = text[0][:200] if text else ""
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


def _show(name: str) -> str:
    return repr(name) if len(name) <= 80 else repr(name[:77]) + "..."
