"""Reading a ``pytorch`` model folder back (the ``flavorkit_load`` hook's work).

The format comes from the section's ``serialization_format`` key; folders
written by MLflow have none, so it is then read from the files present
(``model.pt2``: export, ``model.pth``: pickle, ``model.safetensors``:
state_dict).
"""

from __future__ import annotations

import importlib
import warnings
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flavorkit.exceptions import ManifestError, UnsafeFormatError

from flavorkit_torch import _device
from flavorkit_torch._names import CODE_DIR, DATA_DIR, FILES, FORMATS, PICKLE_INFO_FILE

if TYPE_CHECKING:
    import torch

# MLflow pickles with this module (cloudpickle underneath); its output unpickles
# with the standard library wherever MLflow itself is not installed.
_MLFLOW_PICKLE_MODULE = "mlflow.pytorch.pickle_module"


def load(path: Path, conf: dict[str, Any], options: dict[str, Any]) -> Any:
    """Load the module of the folder ``path`` and place it on the configured device.

    ``options["model_config"]["device"]`` (else ``FLAVORKIT_TORCH_DEVICE``,
    else CPU) picks the device. Raises ``ManifestError`` when the files do not
    match the section, ``UnsafeFormatError`` for pickles (and shipped code)
    without ``options["allow_unsafe"]``.
    """
    allow_unsafe = bool(options.get("allow_unsafe", False))
    config = options.get("model_config") or {}
    device = _device.resolve(config.get("device"), source="model_config['device']")
    fmt, file = locate(path, conf)
    if fmt == "export":
        from flavorkit_torch import _export

        return _export.load(file, device, allow_unsafe)
    if fmt == "state_dict":
        model = _load_state_dict(path, file, conf, device, allow_unsafe)
    else:
        model = _load_pickle(file, device, allow_unsafe)
    _device.remember(model, device)
    return model


def locate(path: Path, conf: dict[str, Any]) -> tuple[str, Path]:
    """Return ``(format, model file)`` for the section ``conf`` of the folder ``path``."""
    data = _inside(path, conf.get("model_data") or DATA_DIR, "model_data")
    fmt = conf.get("serialization_format")
    if fmt is not None:
        if fmt not in FORMATS:
            raise ManifestError(
                f"unknown serialization_format {fmt!r}; expected one of {', '.join(FORMATS)}",
                path=path / "MLmodel",
                key="flavors.pytorch.serialization_format",
            )
        file = data / FILES[fmt]
        if not file.is_file():
            raise ManifestError(
                f"serialization_format is {fmt!r} but {file.relative_to(path)} is missing",
                path=path / "MLmodel",
                key="flavors.pytorch.serialization_format",
            )
        return fmt, file
    for candidate, name in FILES.items():
        if (data / name).is_file():
            return candidate, data / name
    raise ManifestError(
        f"no model file in {data.relative_to(path)} (looked for {', '.join(FILES.values())})",
        path=path / "MLmodel",
        key="flavors.pytorch.model_data",
    )


def _inside(path: Path, relative: Any, key: str) -> Path:
    """``path / relative``, refusing paths that leave the model folder."""
    if not isinstance(relative, str):
        raise ManifestError(
            f"expected a relative path, got {type(relative).__name__}",
            path=path / "MLmodel",
            key=f"flavors.pytorch.{key}",
        )
    target = (path / relative).resolve()
    try:
        target.relative_to(path.resolve())
    except ValueError:
        raise ManifestError(
            f"{relative!r} points outside the model folder",
            path=path / "MLmodel",
            key=f"flavors.pytorch.{key}",
        ) from None
    return target


def _load_state_dict(
    path: Path, file: Path, conf: dict[str, Any], device: torch.device, allow_unsafe: bool
) -> Any:
    import safetensors.torch

    from flavorkit_torch import _factory

    spec = conf.get("factory")
    if not spec:
        raise ManifestError(
            "a state_dict model needs a 'factory' ('module:callable') to rebuild the module",
            path=path / "MLmodel",
            key="flavors.pytorch.factory",
        )
    code = conf.get("code")
    code_dir = _inside(path, code, "code") if code else None
    if code_dir is None and (path / CODE_DIR).is_dir():
        code_dir = (path / CODE_DIR).resolve()
    factory = _factory.resolve(spec, folder=path, code_dir=code_dir, allow_unsafe=allow_unsafe)
    model = _factory.build(spec, factory)
    # safetensors reads raw tensors only: nothing in the file can run code
    try:
        safetensors.torch.load_model(model, str(file), strict=True)
    except RuntimeError as exc:
        raise ManifestError(
            f"the module {spec!r} builds does not take the saved weights: "
            + str(exc).strip().splitlines()[0][:300],
            path=path / "MLmodel",
            key="flavors.pytorch.factory",
        ) from None
    return model.to(device).eval()


def _load_pickle(file: Path, device: torch.device, allow_unsafe: bool) -> Any:
    import torch

    if not allow_unsafe:
        raise UnsafeFormatError(
            "pickle",
            file,
            detail="a whole-module torch pickle runs code from the file when it is loaded",
        )
    if _is_torchscript(file):
        with warnings.catch_warnings():
            # the folder's writer chose TorchScript; the loader cannot act on its deprecation
            warnings.filterwarnings("ignore", message=".*torch.jit", category=DeprecationWarning)
            return torch.jit.load(str(file), map_location=device).eval()
    module = _pickle_module(file.parent / PICKLE_INFO_FILE)
    model = torch.load(str(file), map_location=device, pickle_module=module, weights_only=False)
    eval_ = getattr(model, "eval", None)
    return eval_() if callable(eval_) else model


def _is_torchscript(file: Path) -> bool:
    # torch.jit.save writes a zip with a code/ folder; torch.save's zips have none
    if not zipfile.is_zipfile(file):
        return False
    with zipfile.ZipFile(file) as archive:
        return any(name.split("/")[1:2] == ["code"] for name in archive.namelist())


def _pickle_module(info: Path) -> Any:
    import pickle

    name = info.read_text(encoding="utf-8").strip() if info.is_file() else "pickle"
    try:
        return importlib.import_module(name or "pickle")
    except ImportError:
        if name == _MLFLOW_PICKLE_MODULE:
            return pickle
        raise ImportError(
            f"{info.name} names the pickle module {name!r}, which is not installed"
        ) from None
