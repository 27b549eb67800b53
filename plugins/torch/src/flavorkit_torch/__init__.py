"""The PyTorch flavor for flavorkit.

Saves a ``torch.nn.Module`` (or a ``torch.export.ExportedProgram``) as an
MLflow-format model folder whose ``MLmodel`` section is ``pytorch``, in one of
three formats: ``export`` (a ``torch.export`` program, loads without the
model's class), ``state_dict`` (safetensors weights plus an importable
factory: a ``torch.nn.Module`` subclass or a function marked with
:func:`factory`) and ``pickle`` (whole-module ``torch.save``; needs the loader's
unsafe opt-in). Load the module back with :func:`load_model`, or behind
flavorkit's generic predict contract with ``flavorkit.load_model``.

This module is also the ``loader_module`` written into ``MLmodel``, so MLflow
can load the folders through :func:`_load_pyfunc`.

Importing this package does not import torch, numpy or pandas.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flavorkit_torch._factory import factory
from flavorkit_torch._names import DEFAULT_BATCH_SIZE, FLAVOR_NAME, FORMATS

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "FLAVOR_NAME",
    "FORMATS",
    "__version__",
    "factory",
    "load_model",
    "save_model",
]


def save_model(model: Any, path: str | os.PathLike[str], **kwargs: Any) -> Any:
    """Save ``model`` (an ``nn.Module`` or ``ExportedProgram``) as a model folder at ``path``.

    Keywords of this flavor: ``serialization_format`` (``"export"`` by default
    when ``input_example`` or a tensor ``signature`` is given, else
    ``"state_dict"``; or ``"pickle"``), ``factory`` (``"module:Name"``, a
    ``torch.nn.Module`` subclass or a function marked with :func:`factory`;
    ``state_dict`` only), ``batch_size`` (rows per forward pass at predict
    time, default 1024) and ``pickle_module`` (``pickle`` only). Every other
    keyword (``signature``, ``input_example``, ``code_paths``,
    ``pip_requirements``, ``overwrite`` ...) goes to ``flavorkit.save_model``,
    whose return value (the ``MLmodel`` manifest) is returned and whose
    errors propagate.
    """
    import flavorkit

    return flavorkit.save_model(model, path, flavor=FLAVOR_NAME, **kwargs)


def load_model(
    model_uri: str | os.PathLike[str],
    *,
    device: str | None = None,
    allow_unsafe: bool | None = None,
    suppress_warnings: bool = False,
) -> Any:
    """Load the ``torch.nn.Module`` saved at ``model_uri``, placed on ``device``.

    ``device`` defaults to ``FLAVORKIT_TORCH_DEVICE``, then CPU.
    ``allow_unsafe`` opts in to the pickle format and to factory code shipped
    inside the folder; ``None`` reads ``FLAVORKIT_ALLOW_UNSAFE``.
    ``suppress_warnings`` silences the warning about recorded requirements
    that differ from the installed packages. Raises
    ``flavorkit.exceptions.UnsafeFormatError`` for those formats without the
    opt-in.
    """
    import flavorkit

    config = {"device": device} if device is not None else None
    return flavorkit.load_native(
        model_uri,
        FLAVOR_NAME,
        allow_unsafe=allow_unsafe,
        model_config=config,
        suppress_warnings=suppress_warnings,
    )


def _load_pyfunc(path: str | Path, model_config: dict[str, Any] | None = None) -> Any:
    """MLflow's entry point: load the folder holding ``path`` for pyfunc prediction.

    Called by ``mlflow.pyfunc.load_model`` (with ``<dir>/data`` as ``path``)
    and by anything else that follows MLflow's ``loader_module`` protocol.
    Returns an object whose ``predict(data, params=None)`` routes to this
    plugin. Raises what ``flavorkit.load_model`` raises.
    """
    from flavorkit.mlflow_loader import load_pyfunc

    return load_pyfunc(FLAVOR_NAME, path, model_config)
