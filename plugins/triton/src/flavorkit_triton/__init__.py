"""NVIDIA Triton Inference Server for flavorkit.

- :func:`export` (``flavorkit export triton MODEL REPO``) writes any model
  folder with a signature as a Triton model repository: ``config.pbtxt``
  from the signature, and a Python-backend ``model.py`` serving the copied
  folder through flavorkit (or, for PyTorch tensor models, ``model.onnx``).
- :func:`validate` (``flavorkit validate REPO``) checks a repository without
  a server, with Triton's own protobuf schema and the rules it applies when
  loading.
- The ``triton`` flavor keeps a Triton model folder inside a model folder
  (MLflow's layout): :func:`save_model` validates and saves it,
  ``flavorkit.load_model`` predicts with it in-process where it can.

Importing this package imports neither tritonclient nor protobuf.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flavorkit_triton._export import export
from flavorkit_triton._flavor import UnsupportedBackendError

__version__ = "0.1.0"
FLAVOR_NAME = "triton"

__all__ = [
    "FLAVOR_NAME",
    "UnsupportedBackendError",
    "__version__",
    "export",
    "save_model",
    "validate",
]


def validate(path: str | os.PathLike[str]) -> list[str]:
    """The problems of the Triton model repository (or model folder) at ``path``.

    Empty when it is valid. Raises ``ValueError`` when ``path`` is neither a
    repository nor a model folder (no ``config.pbtxt`` in it or its
    sub-folders).
    """
    from flavorkit_triton._validate import validate_folder

    problems = validate_folder(Path(path))
    if problems is None:
        raise ValueError(f"{path}: not a Triton model repository (no config.pbtxt found)")
    return problems


def save_model(
    triton_model: str | os.PathLike[str], path: str | os.PathLike[str], **kwargs: Any
) -> Any:
    """Save the Triton model folder ``triton_model`` (``REPO/NAME``) as a model folder at ``path``.

    The folder is validated first (``ManifestError`` lists the problems)
    and copied beside ``MLmodel``, whose ``triton`` section names it, as
    MLflow's Triton plugin expects. Without a ``signature`` or
    ``input_example``, the signature is the one of the flavorkit model
    inside (a folder ``export`` wrote) or is read from ``config.pbtxt``
    (an ONNX model). Every other keyword goes to ``flavorkit.save_model``,
    whose return value is returned.
    """
    import flavorkit

    if kwargs.get("signature") is None and kwargs.get("input_example") is None:
        from flavorkit_triton._signature import signature_of

        kwargs["signature"] = signature_of(Path(triton_model))
    return flavorkit.save_model(os.fspath(triton_model), path, flavor=FLAVOR_NAME, **kwargs)


def _load_pyfunc(path: str, model_config: dict[str, Any] | None = None) -> Any:
    """The ``python_function`` loader MLflow calls (``loader_module: flavorkit_triton``)."""
    from flavorkit import mlflow_loader

    return mlflow_loader.load_pyfunc(FLAVOR_NAME, path, model_config)
