"""The hook implementations flavorkit calls for the ``triton`` plugin.

Registered through the ``flavorkit`` entry-point group (name ``triton``). It
owns the ``triton`` flavor (a Triton model folder inside a model folder),
adds ``flavorkit export triton`` to the CLI, and lets ``flavorkit validate``
check Triton model repositories. Each hook is a thin dispatcher; nothing
here imports tritonclient, protobuf, onnxruntime or numpy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flavorkit import hookimpl
from flavorkit.hookspecs import LoadOptions, Persisted

FLAVOR = "triton"


@hookimpl
def flavorkit_flavors() -> list[str]:
    """The one flavor this plugin owns."""
    return [FLAVOR]


@hookimpl
def flavorkit_persist(model: Any, path: Path, flavor: str | None) -> Persisted | None:
    """Copy a validated Triton model folder under ``path``; ``None`` for anything else."""
    from flavorkit_triton import _flavor

    if not _flavor.claims(model, flavor):
        return None
    return _flavor.persist(model, path)  # type: ignore[return-value]


@hookimpl
def flavorkit_load(path: Path, conf: dict[str, Any], options: LoadOptions) -> Any:
    """Load the Triton model for in-process prediction (ONNX, or flavorkit's Python backend)."""
    from flavorkit_triton import _flavor

    return _flavor.load(path, conf, bool(options["allow_unsafe"]))


@hookimpl
def flavorkit_predict(model: Any, data: Any, params: dict[str, Any]) -> Any:
    """Predict through onnxruntime or the flavorkit model inside the version folder."""
    from flavorkit_triton import _flavor

    return _flavor.predict(model, data, params)


@hookimpl
def flavorkit_native(model: Any) -> Any:
    """The onnxruntime session, or the inner flavorkit model."""
    from flavorkit_triton import _flavor

    return _flavor.native(model)


@hookimpl
def flavorkit_detect_environment(path: Path, conf: dict[str, Any]) -> list[str]:
    """onnxruntime for ONNX models; the inner model's requirements for Python-backend ones."""
    from flavorkit_triton import _flavor

    return _flavor.environment(path, conf)


@hookimpl
def flavorkit_cli_commands(subparsers: Any) -> None:
    """``flavorkit export triton``."""
    from flavorkit_triton._cli import add_commands

    add_commands(subparsers)


@hookimpl
def flavorkit_validate_folder(path: Path) -> list[str] | None:
    """Problems of a Triton model repository (or model folder); ``None`` for other folders."""
    from flavorkit_triton._validate import is_repository, validate_folder

    if not is_repository(path):
        return None
    return validate_folder(path)
