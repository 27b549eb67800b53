"""``export --onnx``: a PyTorch model as ``model.onnx`` for Triton's onnxruntime backend.

The module flavorkit loads (``flavorkit.load_native``) goes through
``torch.onnx.export`` with a dynamic batch dimension and the wire names of
the signature's tensors. Before anything is written into the repository,
onnxruntime runs the file on the model's input example (or data drawn from
the signature) and its outputs must match the pyfunc's predictions.
"""

from __future__ import annotations

import io
import logging
import warnings
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

from flavorkit_triton._datatypes import WireTensor

RTOL = 1e-4
ATOL = 1e-5


def write_onnx(
    model: Any,
    inputs: list[WireTensor],
    outputs: list[WireTensor],
    target: Path,
    *,
    allow_unsafe: bool | None = None,
) -> None:
    """Export ``model`` (a ``PyFuncModel``) to ``target`` and check it.

    Raises ``ValueError`` for a model that is not PyTorch with a tensor
    signature, and when onnxruntime's outputs differ from the pyfunc's
    (naming the output and the largest difference).
    """
    import flavorkit

    if model.flavor != "pytorch" or any(t.column for t in inputs):
        raise ValueError(
            "--onnx exports PyTorch models with a tensor signature; this model's flavor is "
            f"{model.flavor!r}" + (" with a column signature" if inputs[0].column else "")
        )
    if any(t.data_type == "TYPE_STRING" for t in inputs + outputs):
        raise ValueError("--onnx cannot export text tensors; export the Python backend instead")
    example = _example(model, inputs)
    module = flavorkit.load_native(model.path, allow_unsafe=allow_unsafe)
    _export(module, example, inputs, outputs, target)
    _check(model, example, inputs, outputs, target)


def _example(model: Any, inputs: list[WireTensor]) -> dict[str, Any]:
    """Input arrays by wire name: the saved example, else zeros shaped by the signature.

    At least two rows, so that the exporter keeps the batch dimension dynamic.
    """
    import numpy as np

    saved = model.input_example
    arrays: dict[str, Any] = {}
    for tensor in inputs:
        value = None
        if isinstance(saved, dict):
            value = saved.get(tensor.key)
        elif saved is not None and len(inputs) == 1:
            value = saved
        if value is None:
            shape = tuple(2 if d == -1 else d for d in tensor.shape)
            value = np.zeros(shape[:-1] if tensor.squeeze else shape, dtype=_dtype(tensor))
        value = np.asarray(value, dtype=_dtype(tensor))
        if value.shape[0] < 2:
            value = np.concatenate([value, value])
        arrays[tensor.name] = value
    return arrays


def _dtype(tensor: WireTensor) -> Any:
    from flavorkit_triton._datatypes import NUMPY_OF

    return NUMPY_OF[tensor.data_type]


def _export(
    module: Any,
    example: dict[str, Any],
    inputs: list[WireTensor],
    outputs: list[WireTensor],
    target: Path,
) -> None:
    import torch

    tensors = {t.name: torch.from_numpy(example[t.name]) for t in inputs}
    batch = torch.export.Dim("batch")
    if len(inputs) == 1 and inputs[0].key is None:
        args: tuple[Any, ...] = (tensors[inputs[0].name],)
        kwargs: dict[str, Any] = {}
        dynamic: Any = ({0: batch},)
    else:
        args = ()
        kwargs = {t.key: tensors[t.name] for t in inputs}
        dynamic = {t.key: {0: batch} for t in inputs}
    # torch.onnx prints its progress and logs what it skips (torchvision's ops); the
    # exporter's caller wants the file, not the log
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                args,
                str(target),
                kwargs=kwargs,
                input_names=[t.name for t in inputs],
                output_names=[t.name for t in outputs],
                dynamic_shapes=dynamic,
                dynamo=True,
                external_data=False,
            )
    finally:
        logger.setLevel(level)


def _check(
    model: Any,
    example: dict[str, Any],
    inputs: list[WireTensor],
    outputs: list[WireTensor],
    target: Path,
) -> None:
    import numpy as np

    from flavorkit_triton._ort import onnxruntime

    session = onnxruntime().InferenceSession(str(target), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    got = dict(zip(names, session.run(None, example), strict=True))
    data = (
        example[inputs[0].name]
        if len(inputs) == 1 and inputs[0].key is None
        else {t.key: example[t.name] for t in inputs}
    )
    expected = model.predict(data)
    for i, tensor in enumerate(outputs):
        if tensor.name not in got:
            raise ValueError(f"the ONNX export has no output {tensor.name!r}; it has {list(got)}")
        want = _pick(expected, tensor, i, len(outputs))
        have = np.asarray(got[tensor.name]).reshape(np.shape(want))
        if not np.allclose(have, want, rtol=RTOL, atol=ATOL, equal_nan=True):
            diff = float(np.nanmax(np.abs(have.astype(float) - np.asarray(want, dtype=float))))
            raise ValueError(
                f"the ONNX export does not predict what the model does: output "
                f"{tensor.name!r} differs by up to {diff:.3g} (rtol {RTOL}, atol {ATOL}); "
                "export the Python backend instead (without --onnx)"
            )


def _pick(prediction: Any, tensor: WireTensor, position: int, count: int) -> Any:
    import numpy as np

    if isinstance(prediction, dict):
        if tensor.key is not None and tensor.key in prediction:
            return np.asarray(prediction[tensor.key])
        return np.asarray(list(prediction.values())[position])
    array = np.asarray(prediction)
    return array if count == 1 else array[:, position]
