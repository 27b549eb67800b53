"""Reading a ``pytorch`` model folder back (the ``flavorkit_load`` hook's work).

The format comes from the section's ``serialization_format`` key; folders
written by MLflow have none, so it is then read from the files present
(``model.pt2``: export, ``model.pth``: pickle, ``model.safetensors``:
state_dict).

The folder is hostile input: every value of the section is checked for its
type before use, every path it names is resolved with
``flavorkit.folder.model_file``, and every failure of a framework reader on
a damaged file becomes a ``ManifestError`` naming it.
"""

from __future__ import annotations

import importlib
import numbers
import os
import warnings
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flavorkit.exceptions import FlavorkitError, ManifestError, PluginError, UnsafeFormatError
from flavorkit.folder import model_file, open_regular, read_text

from flavorkit_torch import _device
from flavorkit_torch._names import CODE_DIR, DATA_DIR, FILES, FORMATS, PICKLE_INFO_FILE

if TYPE_CHECKING:
    import torch
    from flavorkit.hookspecs import LoadOptions

# MLflow pickles with this module (cloudpickle underneath); its output unpickles
# with the standard library wherever MLflow itself is not installed.
_MLFLOW_PICKLE_MODULE = "mlflow.pytorch.pickle_module"
_SECTION = "flavors.pytorch"
MAX_BATCH_SIZE = 2**31
MAX_PICKLE_INFO_BYTES = 4096


def load(path: Path, conf: dict[str, Any], options: LoadOptions) -> Any:
    """Load the module of the folder ``path`` and place it on the configured device.

    ``options["model_config"]["device"]`` (else ``FLAVORKIT_TORCH_DEVICE``,
    else CPU) picks the device. Raises ``ManifestError`` when the section or
    the files are malformed or damaged, ``UnsafeFormatError`` for pickles
    (and shipped code) without ``options["allow_unsafe"]``.
    """
    allow_unsafe = bool(options.get("allow_unsafe", False))
    config = options.get("model_config") or {}
    if not isinstance(config, dict):
        raise ManifestError(
            f"expected a mapping, got {type(config).__name__}",
            path=path / "MLmodel",
            key="flavors.python_function.config",
        )
    device = _device.resolve(config.get("device"), source="model_config['device']")
    check_section(path, conf)
    fmt, file = locate(path, conf)
    if fmt == "export":
        from flavorkit_torch import _export

        return _export.load(file, device, allow_unsafe)
    if fmt == "state_dict":
        model = _load_state_dict(path, file, conf, device, allow_unsafe)
    else:
        model = _load_pickle(path, file, device, allow_unsafe)
    _device.remember(model, device)
    return model


def check_section(path: Path, conf: Any) -> None:
    """Check the types of the section's values and the paths it names (they must exist)."""
    manifest = path / "MLmodel"
    if not isinstance(conf, dict):
        raise ManifestError(
            f"expected a mapping, got {type(conf).__name__}", path=manifest, key=_SECTION
        )
    for key in ("serialization_format", "factory", "pytorch_version", "code"):
        value = conf.get(key)
        if value is not None and not isinstance(value, str):
            raise ManifestError(
                f"expected a string, got {type(value).__name__}",
                path=manifest,
                key=f"{_SECTION}.{key}",
            )
    batch_size = conf.get("batch_size")
    if batch_size is not None and (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, numbers.Integral)
        or not 1 <= batch_size <= MAX_BATCH_SIZE
    ):
        shown = type(batch_size).__name__ if not isinstance(batch_size, int) else batch_size
        raise ManifestError(
            f"expected a positive integer of at most {MAX_BATCH_SIZE}, got {_short(shown)}",
            path=manifest,
            key=f"{_SECTION}.batch_size",
        )
    extra = conf.get("extra_files")
    if extra is not None:
        # MLflow's layout: [{"path": "extra_files/<name>"}, ...]
        if not isinstance(extra, list):
            raise ManifestError(
                f"expected a list, got {type(extra).__name__}",
                path=manifest,
                key=f"{_SECTION}.extra_files",
            )
        for index, item in enumerate(extra):
            key = f"{_SECTION}.extra_files[{index}].path"
            relative = item.get("path") if isinstance(item, dict) else item
            model_file(path, relative, key=key, kind="any")


def locate(path: Path, conf: dict[str, Any]) -> tuple[str, Path]:
    """Return ``(format, model file)`` for the section ``conf`` of the folder ``path``."""
    manifest = path / "MLmodel"
    relative = conf.get("model_data") or DATA_DIR
    data = model_file(path, relative, key=f"{_SECTION}.model_data", kind="dir")
    fmt = conf.get("serialization_format")
    if fmt is not None:
        if fmt not in FORMATS:
            raise ManifestError(
                f"unknown serialization_format {_short(fmt)}; expected one of {', '.join(FORMATS)}",
                path=manifest,
                key=f"{_SECTION}.serialization_format",
            )
        name = f"{relative.rstrip('/')}/{FILES[fmt]}"
        if not os.path.lexists(path / name):
            raise ManifestError(
                f"serialization_format is {fmt!r} but {name} is missing",
                path=manifest,
                key=f"{_SECTION}.serialization_format",
            )
        return fmt, model_file(path, name, key=f"{_SECTION}.model_data")
    for candidate, file_name in FILES.items():
        if os.path.lexists(data / file_name):
            name = f"{relative.rstrip('/')}/{file_name}"
            return candidate, model_file(path, name, key=f"{_SECTION}.model_data")
    raise ManifestError(
        f"no model file in {relative} (looked for {', '.join(FILES.values())})",
        path=manifest,
        key=f"{_SECTION}.model_data",
    )


def _load_state_dict(
    path: Path, file: Path, conf: dict[str, Any], device: torch.device, allow_unsafe: bool
) -> Any:
    import safetensors.torch

    from flavorkit_torch import _factory

    manifest = path / "MLmodel"
    spec = conf.get("factory")
    if not spec:
        raise ManifestError(
            "a state_dict model needs a 'factory' ('module:callable') to rebuild the module",
            path=manifest,
            key=_factory.KEY,
        )
    code = conf.get("code")
    code_dir = None
    if code:
        code_dir = model_file(path, code, key=f"{_SECTION}.code", kind="dir")
    elif os.path.lexists(path / CODE_DIR):
        code_dir = model_file(path, CODE_DIR, key=f"{_SECTION}.code", kind="dir")
    factory = _factory.resolve(
        spec, folder=path, code_dir=code_dir, allow_unsafe=allow_unsafe, manifest=manifest
    )
    model = _factory.build(spec, factory, manifest=manifest)
    _check_safetensors(file)
    mismatch = dtype_mismatch(model, file)
    if mismatch is not None:
        name, got, want = mismatch
        raise ManifestError(
            f"the weight {_short(name)} is {_short(got)} in the file, expected {want} as in "
            f"the module the factory {spec!r} builds (safetensors names of dtypes)",
            path=file,
            key=f"{_SECTION}.model_data",
        )
    # safetensors reads raw tensors only: nothing in the file can run code
    try:
        safetensors.torch.load_model(model, str(file), strict=True)
    except RuntimeError as exc:
        raise ManifestError(
            f"the module {spec!r} builds does not take the saved weights: {_first_line(exc)}",
            path=file,
            key=_factory.KEY,
        ) from None
    except Exception as exc:  # SafetensorError and the like: a damaged file
        raise ManifestError(_damaged(exc), path=file, key=f"{_SECTION}.model_data") from None
    return model.to(device).eval()


def _check_safetensors(file: Path) -> None:
    """Refuse a safetensors file that is not a regular file or whose header does not parse."""
    from safetensors import safe_open

    with open_regular(file):
        pass  # a regular file (not swapped for a FIFO since it was resolved)
    try:
        with safe_open(str(file), framework="pt") as handle:
            handle.keys()
    except Exception as exc:
        raise ManifestError(_damaged(exc), path=file, key=f"{_SECTION}.model_data") from None


# safetensors' dtype names of the torch dtypes a module's weights have
_SAFETENSORS_DTYPES = {
    "float64": "F64",
    "float32": "F32",
    "float16": "F16",
    "bfloat16": "BF16",
    "int64": "I64",
    "int32": "I32",
    "int16": "I16",
    "int8": "I8",
    "uint8": "U8",
    "uint16": "U16",
    "uint32": "U32",
    "uint64": "U64",
    "bool": "BOOL",
    "float8_e4m3fn": "F8_E4M3",
    "float8_e5m2": "F8_E5M2",
    "complex64": "C64",
}


def dtype_mismatch(model: Any, file: Path) -> tuple[str, str, str] | None:
    """``(weight, its dtype in file, model's dtype)`` of a weight whose dtypes differ, or ``None``.

    ``load_state_dict`` casts silently, so a header that relabels float32
    bytes as int32 would load as garbage weights: the dtypes must agree.
    Reads the safetensors header only.
    """
    from safetensors import safe_open

    expected = {name: tensor.dtype for name, tensor in model.state_dict().items()}
    with safe_open(str(file), framework="pt") as handle:
        names = handle.keys()  # a safe_open handle is not iterable
        for name in names:
            dtype = expected.get(name)
            want = _SAFETENSORS_DTYPES.get(str(dtype).removeprefix("torch."))
            got = handle.get_slice(name).get_dtype()
            if want is not None and got != want:
                return name, got, want
    return None


def _load_pickle(path: Path, file: Path, device: torch.device, allow_unsafe: bool) -> Any:
    import torch

    if not allow_unsafe:
        raise UnsafeFormatError(
            "pickle",
            file,
            detail="a whole-module torch pickle runs code from the file when it is loaded",
        )
    module = _pickle_module(path, file.parent / PICKLE_INFO_FILE)
    try:
        if _is_torchscript(file):
            with warnings.catch_warnings():
                # the folder's writer chose TorchScript; the loader cannot act on its deprecation
                warnings.filterwarnings(
                    "ignore", message=".*torch.jit", category=DeprecationWarning
                )
                return torch.jit.load(str(file), map_location=device).eval()
        model = torch.load(str(file), map_location=device, pickle_module=module, weights_only=False)
    except (FlavorkitError, MemoryError, KeyboardInterrupt):
        raise
    except Exception as exc:
        raise ManifestError(_damaged(exc), path=file, key=f"{_SECTION}.model_data") from exc
    eval_ = getattr(model, "eval", None)
    return eval_() if callable(eval_) else model


def _is_torchscript(file: Path) -> bool:
    # torch.jit.save writes a zip with a code/ folder; torch.save's zips have none
    with open_regular(file) as handle:
        if not zipfile.is_zipfile(handle):
            return False
        handle.seek(0)
        with zipfile.ZipFile(handle) as archive:
            return any(name.split("/")[1:2] == ["code"] for name in archive.namelist())


def _pickle_module(path: Path, info: Path) -> Any:
    import pickle

    name = "pickle"
    if os.path.lexists(info):
        key = f"{_SECTION}.model_data"
        relative = info.relative_to(path.resolve()).as_posix()
        checked = model_file(path, relative, key=key)
        name = read_text(checked, limit=MAX_PICKLE_INFO_BYTES, key=key).strip() or "pickle"
        if not all(part.isidentifier() for part in name.split(".")):
            raise ManifestError(
                f"names the pickle module {_short(name)}, which is not a module name",
                path=checked,
            )
    try:
        return importlib.import_module(name)
    except ImportError:
        if name == _MLFLOW_PICKLE_MODULE:
            return pickle
        raise PluginError(
            f"{info.name} names the pickle module {name!r}, which is not installed"
        ) from None


def _damaged(exc: BaseException) -> str:
    return f"is damaged or not a model file ({type(exc).__name__}: {_first_line(exc)})"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else ""


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
