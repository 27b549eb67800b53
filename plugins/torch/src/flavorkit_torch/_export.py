"""The ``export`` format: a ``torch.export`` ExportedProgram in ``data/model.pt2``.

The program is a graph of torch operators plus its weights, so it loads
without the model's Python class. Dimensions the signature marks ``-1`` are
exported as dynamic (``Dim.DYNAMIC``: the export fails loudly rather than
silently fixing a size the signature promised to vary).

``torch.export.load`` trusts its archive: it falls back to full unpickling
for some entries (pickled tensor subclasses, custom and opaque objects,
sample inputs that are not plain tensors), evaluates shape expressions with
``sympy.sympify`` and runs guards as Python. ``_archive.inspect`` checks the
whole archive first, so a plain archive loads without running code, one that
needs unpickling needs the caller's unsafe opt-in, and a damaged or tampered
one is a ``ManifestError``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from flavorkit.exceptions import FlavorkitError, ManifestError, SignatureError, UnsafeFormatError
from flavorkit.folder import open_regular

from flavorkit_torch import _device
from flavorkit_torch._inputs import as_inputs, float_dtype
from flavorkit_torch._predict import set_eval

if TYPE_CHECKING:
    import torch

# the size given to a dynamic dimension that the example leaves at 0 or 1:
# torch specialises sizes 0 and 1, so tracing needs at least 2
_TRACE_SIZE = 2


# -- saving -------------------------------------------------------------------


def save(model: Any, file: Path, input_example: Any, signature: Any) -> None:
    """Export ``model`` and write it to ``file``.

    Example tensors come from ``input_example`` (an ndarray, a dict of
    ndarrays, a DataFrame, or torch tensors), else from a tensor
    ``signature`` (zeros of its dtype and shape). Raises ``SignatureError``
    when neither is usable, ``RuntimeError`` (from torch's error) when the
    model cannot be exported.
    """
    import torch

    if isinstance(model, torch.export.ExportedProgram):
        torch.export.save(model, str(file))
        return
    specs = _tensor_specs(signature)
    arrays = _example_arrays(input_example, specs)
    shapes = _dynamic_dims(arrays, specs)
    device = _device.model_device(model) or torch.device("cpu")
    # predict casts floating inputs to the model's dtype, so trace with that dtype too
    args, kwargs, dynamic = _trace_inputs(arrays, shapes, device, float_dtype(model))
    was_training = model.training
    set_eval(model)  # export captures eval behaviour (dropout off, batch norm running stats)
    try:
        program = torch.export.export(model, args, kwargs, dynamic_shapes=dynamic)
    except Exception as exc:
        raise RuntimeError(
            f"torch.export could not export {type(model).__name__} with the dims marked -1 "
            f"({_describe_dims(shapes)}) dynamic ({type(exc).__name__}: {_first_line(exc)}); "
            "fix the model or signature, or save with serialization_format='state_dict'"
        ) from exc
    finally:
        if was_training:
            model.train()
    if device.type != "cpu":
        from torch.export.passes import move_to_device_pass

        # saved programs are device-neutral: they are placed when loaded
        program = move_to_device_pass(program, "cpu")
    torch.export.save(program, str(file))


def _tensor_specs(signature: Any) -> list[Any] | None:
    """The input TensorSpecs of ``signature``, or ``None`` for no/column signatures."""
    inputs = getattr(signature, "inputs", None)
    if inputs is None or not inputs.is_tensor_spec():
        return None
    return list(inputs.inputs)


def _example_arrays(example: Any, specs: list[Any] | None) -> Any:
    import numpy as np

    if example is not None:
        return as_inputs(example)
    if specs is None:
        raise SignatureError(
            "serialization_format='export' needs an input_example or a tensor signature "
            "to trace the model; pass one, or use serialization_format='state_dict'"
        )
    arrays = {
        spec.name: np.zeros([_TRACE_SIZE if d == -1 else d for d in spec.shape], dtype=spec.type)
        for spec in specs
    }
    if len(specs) == 1 and specs[0].name is None:
        return arrays[None]
    return arrays


def _dynamic_dims(arrays: Any, specs: list[Any] | None) -> dict[Any, list[int]]:
    """``{input name (None for one unnamed input): [dynamic dim indices]}``.

    From the signature's ``-1`` dims when there is a tensor signature; else the
    first dim of every input, as inferred signatures mark it.
    """
    names = list(arrays) if isinstance(arrays, dict) else [None]
    by_name = {spec.name: spec for spec in specs} if specs else {}
    if specs and len(specs) == 1 and len(names) == 1:
        by_name = {names[0]: specs[0]}
    dims: dict[Any, list[int]] = {}
    for name in names:
        array = arrays[name] if name is not None else arrays
        spec = by_name.get(name)
        if spec is not None:
            if len(spec.shape) != len(array.shape):
                raise SignatureError(
                    f"input {name or 'input'!r}: the signature has {len(spec.shape)} dims "
                    f"{tuple(spec.shape)}, the example {len(array.shape)} {tuple(array.shape)}"
                )
            dims[name] = [i for i, d in enumerate(spec.shape) if d == -1]
        else:
            dims[name] = [0] if len(array.shape) > 0 else []
    return dims


def _trace_inputs(
    arrays: Any, dims: dict[Any, list[int]], device: torch.device, floating: torch.dtype | None
) -> tuple[tuple[Any, ...], dict[str, Any], Any]:
    """(args, kwargs, dynamic_shapes) for ``torch.export.export``."""
    from torch.export import Dim

    def tensor(name: Any, value: Any) -> torch.Tensor:
        tensor = _as_tensor(value).detach().to(device)
        if floating is not None and tensor.is_floating_point():
            tensor = tensor.to(floating)
        for dim in dims[name]:
            tensor = _grow(tensor, dim, name)
        return tensor

    def spec(name: Any) -> dict[int, Any]:
        return {dim: Dim.DYNAMIC for dim in dims[name]}

    if isinstance(arrays, dict):
        kwargs = {name: tensor(name, value) for name, value in arrays.items()}
        return (), kwargs, {name: spec(name) for name in arrays}
    return (tensor(None, arrays),), {}, (spec(None),)


def _as_tensor(value: Any) -> torch.Tensor:
    import numpy as np
    import torch

    if isinstance(value, torch.Tensor):
        return value
    return torch.from_numpy(np.array(value, copy=True))


def _grow(tensor: torch.Tensor, dim: int, name: Any) -> torch.Tensor:
    """Repeat a size-1 dynamic dim to size 2, since torch would specialise a 1."""
    size = tensor.shape[dim]
    if size >= _TRACE_SIZE:
        return tensor
    if size == 0:
        raise SignatureError(
            f"input {name or 'input'!r}: dim {dim} of the input example is empty; "
            "an export needs at least one row to trace"
        )
    repeats = [1] * tensor.dim()
    repeats[dim] = _TRACE_SIZE
    return tensor.repeat(*repeats)


def _describe_dims(dims: dict[Any, list[int]]) -> str:
    marked = [f"{name or 'input'}[{dim}]" for name, found in dims.items() for dim in found]
    return ", ".join(marked) or "none"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else ""


# -- loading ------------------------------------------------------------------


def load(file: Path, device: torch.device, allow_unsafe: bool) -> Any:
    """Load the exported program in ``file`` as a module placed on ``device``.

    The archive is checked first (``_archive.inspect``). Raises
    ``UnsafeFormatError`` when it holds entries that load by unpickling (or
    compiled code) and the caller did not opt in, and ``ManifestError``
    naming the file when it is damaged, malformed, holds strings torch would
    run as code, or torch cannot load it.
    """
    module = _build(file, device, allow_unsafe)
    _device.remember(module, device)
    _device.register_relocator(module, _Relocator(file, device, allow_unsafe))
    return module


def _build(file: Path, device: torch.device, allow_unsafe: bool) -> Any:
    import torch

    from flavorkit_torch import _archive

    with open_regular(file) as handle:
        problems = _archive.inspect(handle, file, code=not allow_unsafe)
        if problems and not allow_unsafe:
            raise UnsafeFormatError(
                "export",
                file,
                detail="the archive holds entries that torch unpickles or runs when loading ("
                + "; ".join(problems[:3])
                + ")",
            )
        handle.seek(0)
        try:
            # the same open file that was checked: replacing the path now changes nothing
            program = torch.export.load(handle)
            if device.type != "cpu":
                from torch.export.passes import move_to_device_pass

                # devices live in the graph's nodes too, so ``.to()`` on the module would not do
                program = move_to_device_pass(program, str(device))
            return program.module()
        except (FlavorkitError, MemoryError, KeyboardInterrupt):
            raise
        except Exception as exc:
            raise ManifestError(
                f"torch.export could not load it ({type(exc).__name__}: {_first_line(exc)})",
                path=file,
            ) from exc


class _Relocator:
    """Builds (once per device) the module of one exported program for another device."""

    def __init__(self, file: Path, home: torch.device, allow_unsafe: bool) -> None:
        self._file = file
        self._home = home
        self._allow_unsafe = allow_unsafe
        self._modules: dict[str, Any] = {}

    def __call__(self, device: torch.device) -> Any:
        key = str(device)
        module = self._modules.get(key)
        if module is None:
            if not self._file.is_file():
                raise FileNotFoundError(
                    f"cannot move the exported model to {key}: {self._file} is gone "
                    f"(it was loaded on {self._home}); load it again with device={key!r}"
                )
            # checked again: the file may have changed since it was loaded
            module = self._modules[key] = _build(self._file, device, self._allow_unsafe)
        return module


def check_archive(file: Path) -> list[str]:
    """Return why loading ``file`` without the unsafe opt-in is refused (empty: it is not).

    Entries that torch would unpickle are listed one by one; a damaged or
    malformed archive, or one holding strings torch would run as code, is
    one finding that starts with ``"not a readable pt2 archive: "``.
    """
    from flavorkit_torch import _archive

    try:
        with open_regular(file) as handle:
            return _archive.inspect(handle, file)
    except ManifestError as exc:
        return [f"not a readable pt2 archive: {exc}"]
