"""The hook functions flavorkit calls for the ``pytorch`` flavor.

Registered through the ``flavorkit`` entry point named ``torch``. Each hook is
a thin dispatcher; the work lives in one module per concern. Nothing here
imports torch at module import time.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from flavorkit import hookimpl
from flavorkit.hookspecs import LoadOptions, Persisted

from flavorkit_torch._names import FLAVOR_NAME


@hookimpl
def flavorkit_flavors() -> list[str]:
    """Called once at registration: this plugin owns the ``pytorch`` section."""
    return [FLAVOR_NAME]


def _is_torch_model(model: Any) -> bool:
    # torch cannot have made the object unless it is already imported, so a
    # save of some other framework's model never pays for importing torch.
    torch = sys.modules.get("torch")
    if torch is None:
        return False
    return isinstance(model, (torch.nn.Module, torch.export.ExportedProgram))


@hookimpl
def flavorkit_persist(
    model: Any,
    path: Path,
    flavor: str | None,
    options: dict[str, Any],
    input_example: Any,
    signature: Any,
) -> Persisted | None:
    """Called by ``save_model``: write the model under ``path/data``.

    Returns ``None`` for objects that are not torch models (unless the caller
    named this flavor, in which case a ``TypeError`` says what came instead).
    See ``flavorkit_torch._persist.persist`` for the options and errors.
    """
    if not _is_torch_model(model):
        if flavor is None:
            return None
        raise TypeError(
            f"flavor {FLAVOR_NAME!r} saves a torch.nn.Module or torch.export.ExportedProgram, "
            f"got {type(model).__module__}.{type(model).__qualname__}"
        )
    from flavorkit_torch._persist import persist

    return persist(model, Path(path), options, input_example, signature)


@hookimpl
def flavorkit_load(path: Path, conf: dict[str, Any], options: LoadOptions) -> Any:
    """Called by ``load_model``/``load_native``: return the ``torch.nn.Module``.

    Raises ``UnsafeFormatError`` for a pickle (or code shipped in the folder)
    without ``options["allow_unsafe"]``; ``ManifestError`` for a folder whose
    files do not match its ``pytorch`` section, or are damaged or tampered
    with (see ``flavorkit_torch._load``).
    """
    from flavorkit_torch._load import load

    return load(Path(path), conf, options)


@hookimpl
def flavorkit_predict(model: Any, data: Any, params: dict[str, Any], conf: dict[str, Any]) -> Any:
    """Called by every ``PyFuncModel.predict``: run the module and return numpy data.

    See ``flavorkit_torch._predict.predict`` for the accepted inputs, params
    and outputs.
    """
    from flavorkit_torch._predict import predict

    return predict(model, data, params, conf)


@hookimpl
def flavorkit_detect_environment(path: Path, conf: dict[str, Any]) -> list[str]:
    """Called by ``save_model``: pin torch, plus what the chosen format needs to load."""
    from flavorkit_torch._environment import requirements

    return requirements(Path(path), conf)
