"""Predicting with a loaded module (the ``flavorkit_predict`` hook's work).

The module runs in eval mode under ``torch.inference_mode()`` on the device
the params, the load-time config or ``FLAVORKIT_TORCH_DEVICE`` name (CPU by
default), at most ``batch_size`` rows per forward pass. Outputs come back as
numpy: a Tensor as an ndarray, a tuple/list as a list, a dict as a dict.
"""

from __future__ import annotations

import contextlib
from typing import Any

from flavorkit_torch import _device
from flavorkit_torch._inputs import as_inputs, float_dtype, row_count, slice_rows, to_tensors
from flavorkit_torch._names import DEFAULT_BATCH_SIZE
from flavorkit_torch._params import check_batch_size


def predict(model: Any, data: Any, params: dict[str, Any], conf: dict[str, Any]) -> Any:
    """Run ``model`` on ``data`` in batches and return numpy outputs.

    ``params``: ``device`` (a torch device name, ``"auto"``, or ``None`` for
    the model's default) and ``batch_size`` (rows per forward pass; the
    section's ``batch_size`` when absent). Inputs whose rows cannot be split
    (scalars, named inputs of different lengths) run in one pass. Raises
    ``SchemaEnforcementError`` for a bad param or an input torch cannot take.
    """
    import torch

    requested = params.get("device")
    device = (
        _device.resolve(requested, source="params['device']", request=True)
        if requested not in (None, "")
        else _device.default_device(model)
    )
    batch = params.get("batch_size")
    batch_size = check_batch_size(
        batch if batch is not None else conf.get("batch_size") or DEFAULT_BATCH_SIZE,
        "params['batch_size']",
    )
    runner = _device.place(model, device)
    if getattr(runner, "training", False):  # eval() walks every submodule: only when needed
        set_eval(runner)
    inputs = as_inputs(data)
    floating = float_dtype(runner)
    rows = row_count(inputs)
    if rows is None or rows <= batch_size:
        chunks = [inputs]
    else:
        chunks = [
            slice_rows(inputs, start, start + batch_size) for start in range(0, rows, batch_size)
        ]
    outputs = []
    with torch.inference_mode():
        for chunk in chunks:
            tensors = to_tensors(chunk, device, floating)
            result = runner(**tensors) if isinstance(tensors, dict) else runner(tensors)
            outputs.append(to_numpy(result))
    return outputs[0] if len(outputs) == 1 else concatenate(outputs)


def set_eval(model: Any) -> None:
    """Put ``model`` in eval mode (modules of exported programs already are)."""
    # modules of exported programs refuse eval(); they were exported in eval mode
    with contextlib.suppress(NotImplementedError):
        model.eval()


def to_numpy(value: Any) -> Any:
    """Tensors -> ndarrays, through tuples, lists and dicts; other values unchanged."""
    import torch

    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu()
        if tensor.dtype in (torch.bfloat16, torch.float8_e4m3fn, torch.float8_e5m2):
            tensor = tensor.to(torch.float32)  # numpy has no such dtypes
        return tensor.numpy()
    if isinstance(value, dict):
        return {key: to_numpy(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_numpy(item) for item in value]
    return value


def concatenate(parts: list[Any]) -> Any:
    """Join per-batch outputs of one structure along the first dimension."""
    import numpy as np

    first = parts[0]
    if isinstance(first, np.ndarray):
        if first.ndim == 0:
            raise ValueError(
                "the model returns a scalar, which cannot be joined across batches; "
                "pass a batch_size of at least the number of rows"
            )
        return np.concatenate(parts, axis=0)
    if isinstance(first, dict):
        return {key: concatenate([part[key] for part in parts]) for key in first}
    if isinstance(first, list):
        return [concatenate([part[i] for part in parts]) for i in range(len(first))]
    raise TypeError(
        f"the model returns {type(first).__name__}, which cannot be joined across batches; "
        "pass a batch_size of at least the number of rows"
    )
