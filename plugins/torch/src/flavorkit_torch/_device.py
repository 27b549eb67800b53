"""Which device a model runs on, and moving a loaded model there.

Precedence: the ``device`` param of a predict call, then the ``device`` key
of the load-time config (``model_config`` merged over the python_function
``config``), then ``FLAVORKIT_TORCH_DEVICE``, then CPU. ``"auto"`` means CUDA
when available, else CPU. Asking for a device torch cannot use is an error,
never a silent fallback.

A device name can come from a hostile client (the ``device`` param of a
request) or folder (the ``python_function`` config), so only devices that
hold a model's data are accepted: ``cpu``, and ``cuda``, ``mps`` or
``xpu`` where present, with an index below their count; other backends are
refused by name, and ``cpu:<n>`` other than ``cpu:0`` too (a new name per
index would build and keep one exported module per name). ``meta`` (shapes
without data) is for the caller's dry runs only: a predict call may not
name it, since moving a loaded module there in place would wipe its
weights for every later call.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from flavorkit.exceptions import SchemaEnforcementError

if TYPE_CHECKING:
    import torch

DEVICE_ENV = "FLAVORKIT_TORCH_DEVICE"
_EXPECTED = "'cpu', 'cuda', 'cuda:<index>', 'mps', 'xpu' or 'auto'"
# device types a model's weights can live on (the others hold no data or are not built in)
_DATA_TYPES = ("cpu", "cuda", "mps", "xpu")

# The device each loaded model was placed on at load time (from its config or
# the environment), so a predict call without a ``device`` param returns there.
_HOME: weakref.WeakKeyDictionary[Any, torch.device] = weakref.WeakKeyDictionary()

# Models that cannot be moved with ``.to()`` (exported programs bake devices
# into their graphs) register a function that builds the model for a device.
_RELOCATORS: weakref.WeakKeyDictionary[Any, Callable[[torch.device], Any]] = (
    weakref.WeakKeyDictionary()
)


def resolve(requested: Any, source: str = "device", *, request: bool = False) -> torch.device:
    """Turn a requested device name (or ``None``) into a usable ``torch.device``.

    ``None`` or ``""`` falls back to ``FLAVORKIT_TORCH_DEVICE``, then CPU.
    ``source`` names where the request came from, for the error message;
    ``request`` says it is a predict call's param (which may not name ``meta``).
    Raises ``SchemaEnforcementError`` (a ``ValueError``) for a name torch does
    not know or a device that is not available here.
    """
    import torch

    name = requested
    if name is None or name == "":
        name = os.environ.get(DEVICE_ENV, "").strip() or "cpu"
        source = DEVICE_ENV if os.environ.get(DEVICE_ENV, "").strip() else source
    if isinstance(name, torch.device):
        device = name
    else:
        if not isinstance(name, str):
            raise SchemaEnforcementError(
                f"{source}: expected a device name ({_EXPECTED}), got {type(name).__name__}",
                field="device",
                expected=_EXPECTED,
                actual=type(name).__name__,
            )
        if name.strip().lower() == "auto":
            return _normalize(torch.device("cuda" if torch.cuda.is_available() else "cpu"))
        try:
            device = torch.device(name.strip())
        except RuntimeError:
            raise SchemaEnforcementError(
                f"{source}: {_show(name)} is not a torch device; expected {_EXPECTED}",
                field="device",
                expected=_EXPECTED,
                actual=name if len(name) <= 60 else name[:57] + "...",
            ) from None
    _check_available(device, source, request)
    return _normalize(device)


def _check_available(device: torch.device, source: str, request: bool) -> None:
    import torch

    if device.type == "meta" and request:
        raise SchemaEnforcementError(
            f"{source}: 'meta' holds no data (moving the model there would wipe its weights "
            f"for every later call); expected {_EXPECTED}",
            field="device",
            expected=_EXPECTED,
            actual=str(device),
        )
    if device.type not in (*_DATA_TYPES, "meta"):
        raise SchemaEnforcementError(
            f"{source}: {_show(str(device))} is not a device models run on here; "
            f"expected {_EXPECTED}",
            field="device",
            expected=_EXPECTED,
            actual=str(device),
        )
    if device.type in ("cpu", "mps") and device.index not in (None, 0):
        raise SchemaEnforcementError(
            f"{source}: {_show(str(device))} names a {device.type} device other than the one "
            f"there is; expected {device.type!r}",
            field="device",
            expected=repr(device.type),
            actual=str(device),
        )
    if device.type == "xpu":
        xpu = getattr(torch, "xpu", None)
        count = xpu.device_count() if xpu is not None and xpu.is_available() else 0
        if (device.index or 0) >= count:
            raise SchemaEnforcementError(
                f"{source}: {_show(str(device))} was requested but {count} XPU device(s) exist",
                field="device",
                expected="an available device",
                actual=str(device),
            )

    if device.type == "cuda" and not torch.cuda.is_available():
        raise SchemaEnforcementError(
            f"{source}: {str(device)!r} was requested but CUDA is not available "
            f"(torch {torch.__version__}); use 'cpu' or 'auto'",
            field="device",
            expected="an available device",
            actual=str(device),
        )
    if device.type == "cuda" and device.index is not None:
        count = torch.cuda.device_count()
        if device.index >= count:
            raise SchemaEnforcementError(
                f"{source}: {str(device)!r} was requested but only {count} CUDA device(s) exist",
                field="device",
                expected=f"cuda:0 .. cuda:{count - 1}",
                actual=str(device),
            )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise SchemaEnforcementError(
            f"{source}: 'mps' was requested but MPS is not available",
            field="device",
            expected="an available device",
            actual=str(device),
        )


def _normalize(device: torch.device) -> torch.device:
    """``cuda`` -> ``cuda:<current>`` (as a parameter's device reads), ``cpu:0`` -> ``cpu``."""
    import torch

    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    if device.type in ("cpu", "mps"):
        return torch.device(device.type)
    return device


def model_device(model: Any) -> torch.device | None:
    """The device of the model's first parameter or buffer; ``None`` when it has neither."""
    for tensor in iter_tensors(model):
        return tensor.device
    return None


def iter_tensors(model: Any) -> Iterator[torch.Tensor]:
    """The parameters, then the buffers, of ``model`` (nothing for objects without them)."""
    parameters = getattr(model, "parameters", None)
    if callable(parameters):
        yield from parameters()
    buffers = getattr(model, "buffers", None)
    if callable(buffers):
        yield from buffers()


def remember(model: Any, device: torch.device) -> None:
    """Record the device ``model`` was placed on at load time."""
    _HOME[model] = device


def register_relocator(model: Any, relocate: Callable[[torch.device], Any]) -> None:
    """Record how to rebuild ``model`` for another device (used by exported programs)."""
    _RELOCATORS[model] = relocate


def default_device(model: Any) -> torch.device:
    """The device a predict call without a ``device`` param runs on."""
    home = _HOME.get(model)
    return home if home is not None else resolve(None)


def place(model: Any, device: torch.device) -> Any:
    """Return ``model`` on ``device``: moved in place, or rebuilt when it cannot move."""
    relocate = _RELOCATORS.get(model)
    if relocate is not None:
        # an exported graph may hold devices in its nodes, not only in its
        # weights, so compare with where it was built rather than its weights
        return model if _HOME.get(model) == device else relocate(device)
    current = model_device(model)
    if current is None or current == device:
        return model
    return model.to(device)


def _show(name: str) -> str:
    """``repr(name)``, cut short: a device name can come from a hostile ``MLmodel``."""
    text = repr(name)
    return text if len(text) <= 60 else text[:57] + "..."
