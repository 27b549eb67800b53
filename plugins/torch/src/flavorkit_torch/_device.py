"""Which device a model runs on, and moving a loaded model there.

Precedence: the ``device`` param of a predict call, then the ``device`` key
of the load-time config (``model_config`` merged over the python_function
``config``), then ``FLAVORKIT_TORCH_DEVICE``, then CPU. ``"auto"`` means CUDA
when available, else CPU. Asking for a device torch cannot use is an error,
never a silent fallback.
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
_EXPECTED = "'cpu', 'cuda', 'cuda:<index>', 'mps', 'auto' or another torch device name"

# The device each loaded model was placed on at load time (from its config or
# the environment), so a predict call without a ``device`` param returns there.
_HOME: weakref.WeakKeyDictionary[Any, torch.device] = weakref.WeakKeyDictionary()

# Models that cannot be moved with ``.to()`` (exported programs bake devices
# into their graphs) register a function that builds the model for a device.
_RELOCATORS: weakref.WeakKeyDictionary[Any, Callable[[torch.device], Any]] = (
    weakref.WeakKeyDictionary()
)


def resolve(requested: Any, source: str = "device") -> torch.device:
    """Turn a requested device name (or ``None``) into a usable ``torch.device``.

    ``None`` or ``""`` falls back to ``FLAVORKIT_TORCH_DEVICE``, then CPU.
    ``source`` names where the request came from, for the error message.
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
    _check_available(device, source)
    return _normalize(device)


def _check_available(device: torch.device, source: str) -> None:
    import torch

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
    """``cuda`` -> ``cuda:<current>`` so it compares equal to a parameter's device."""
    import torch

    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", torch.cuda.current_device())
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
