"""Writing a torch model into a model folder (the ``flavorkit_persist`` hook's work).

Options (``save_model(..., **options)``):

- ``serialization_format``: ``"export"`` (default when an input example or a
  tensor signature is given), ``"state_dict"`` (the default otherwise) or
  ``"pickle"`` (whole-module ``torch.save``; loads only with the unsafe opt-in).
- ``factory``: what rebuilds the module (``state_dict`` only, and implies
  it): ``"module:Name"``, or the object itself, naming a ``torch.nn.Module``
  subclass or a function marked with ``@flavorkit_torch.factory``; default:
  the model's class, when it builds with no arguments.
- ``batch_size``: the most rows one forward pass gets at predict time.
- ``pickle_module``: the module ``torch.save`` pickles with (``pickle`` only,
  and implies it).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flavorkit_torch._names import (
    DATA_DIR,
    DEFAULT_BATCH_SIZE,
    EXPORT_FILE,
    FLAVOR_NAME,
    FORMATS,
    LOADER_MODULE,
    PICKLE_FILE,
    PICKLE_INFO_FILE,
    STATE_DICT_FILE,
)
from flavorkit_torch._params import check_batch_size, param_specs

if TYPE_CHECKING:
    from flavorkit.hookspecs import Persisted


def persist(
    model: Any, path: Path, options: dict[str, Any], input_example: Any, signature: Any
) -> Persisted:
    """Write ``model`` under ``path/data`` and return what the persist hook returns.

    Pops the options it understands from ``options``. Raises ``ValueError``
    for a bad option value or a class a state dict cannot be rebuilt from,
    ``SignatureError`` when ``export`` has nothing to trace with,
    ``RuntimeError`` when torch cannot export the model.
    """
    import torch

    factory = options.pop("factory", None)
    pickle_module = options.pop("pickle_module", None)
    requested = options.pop("serialization_format", None)
    if requested is None and factory is not None:
        requested = "state_dict"  # a factory only means something to state_dict
    elif requested is None and pickle_module is not None:
        requested = "pickle"
    fmt = _format(requested, model, input_example, signature)
    batch_size = check_batch_size(options.pop("batch_size", DEFAULT_BATCH_SIZE), "batch_size")
    if factory is not None and fmt != "state_dict":
        raise ValueError(f"factory= applies to serialization_format='state_dict', not {fmt!r}")
    if pickle_module is not None and fmt != "pickle":
        raise ValueError(f"pickle_module= applies to serialization_format='pickle', not {fmt!r}")

    data = path / DATA_DIR
    data.mkdir()
    conf: dict[str, Any] = {
        "model_data": DATA_DIR,
        "pytorch_version": str(torch.__version__),  # TorchVersion is a str subclass YAML rejects
        "serialization_format": fmt,
        "batch_size": batch_size,
    }
    pyfunc: dict[str, Any] = {
        "loader_module": LOADER_MODULE,
        "data": DATA_DIR,
        "config": {"device": None},
    }
    if fmt == "export":
        from flavorkit_torch import _export

        _export.save(model, data / EXPORT_FILE, input_example, signature)
    elif fmt == "state_dict":
        conf["factory"] = _save_state_dict(model, data / STATE_DICT_FILE, factory)
    else:
        pyfunc["pickle_module_name"] = _save_pickle(model, data, pickle_module)
    return {
        "flavor": FLAVOR_NAME,
        "conf": conf,
        "pyfunc": pyfunc,
        "params": param_specs(batch_size),
    }


def _format(requested: Any, model: Any, input_example: Any, signature: Any) -> str:
    import torch

    exported = isinstance(model, torch.export.ExportedProgram)
    if requested is None:
        if exported or input_example is not None or _has_tensor_inputs(signature):
            return "export"
        return "state_dict"
    if requested not in FORMATS:
        expected = ", ".join(map(repr, FORMATS))
        raise ValueError(f"serialization_format: expected one of {expected}, got {requested!r}")
    if exported and requested != "export":
        raise ValueError(
            f"serialization_format={requested!r}: an ExportedProgram is saved as 'export' only"
        )
    return str(requested)


def _has_tensor_inputs(signature: Any) -> bool:
    inputs = getattr(signature, "inputs", None)
    return inputs is not None and bool(inputs.is_tensor_spec())


def _save_state_dict(model: Any, file: Path, factory: Any) -> str:
    """Write the weights with safetensors and check ``factory`` rebuilds the module.

    Returns the factory spec. The check builds a fresh module and loads the
    weights into it, so a factory that builds the wrong architecture fails
    now rather than at load time.
    """
    import safetensors.torch

    from flavorkit_torch import _factory
    from flavorkit_torch._load import dtype_mismatch

    spec = _factory.default_for(model) if factory is None else _factory.spec_of(factory)
    # the check a load makes (a Module subclass or a marked function), before calling it
    fresh = _factory.build(
        spec, _factory.resolve(spec, folder=None, code_dir=None, allow_unsafe=True)
    )
    safetensors.torch.save_model(model, str(file))
    mismatch = dtype_mismatch(fresh, file)
    if mismatch is not None:
        name, got, want = mismatch
        # loading would cast the weights to the rebuilt module's dtype without a word
        raise ValueError(
            f"factory {spec!r} builds a module whose weight {name!r} is {want}, but the "
            f"model's is {got} (safetensors names of dtypes); make the factory build the "
            "model's dtypes, or save with serialization_format='export'"
        )
    try:
        safetensors.torch.load_model(fresh, str(file), strict=True)
    except RuntimeError as exc:
        raise ValueError(
            f"factory {spec!r} builds a module whose weights do not match the model's: "
            f"{str(exc).strip().splitlines()[0][:300]}"
        ) from None
    return str(spec)


def _save_pickle(model: Any, data: Path, pickle_module: Any) -> str:
    """Write MLflow's pickle layout; return the pickle module's name."""
    import torch

    name = (
        "pickle"
        if pickle_module is None
        else (pickle_module if isinstance(pickle_module, str) else pickle_module.__name__)
    )
    module = importlib.import_module(name)
    if isinstance(model, torch.jit.ScriptModule):
        torch.jit.save(model, str(data / PICKLE_FILE))
    else:
        torch.save(model, str(data / PICKLE_FILE), pickle_module=module)
    (data / PICKLE_INFO_FILE).write_text(name, encoding="utf-8")
    return name
