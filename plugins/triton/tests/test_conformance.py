"""flavorkit's conformance kit, run on the ``triton`` flavor (an ONNX model folder).

The case's "model" is a Triton model folder ``export --onnx`` wrote for a
small PyTorch MLP; the original predicts with onnxruntime on its
``model.onnx``, the saved folder through the flavor's load and predict hooks.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
from flavorkit.testing import FlavorCase, parametrize_flavor_checks


@functools.cache
def _onnx_folder() -> str:
    import flavorkit
    import torch

    from flavorkit_triton import export

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    work = Path(tempfile.mkdtemp(prefix="triton-conformance-"))
    flavorkit.save_model(net.eval(), work / "mlp", input_example=_rows((3, 4), 1))
    return str(export(work / "mlp", work / "repo", onnx=True))


def _predict(model: Any, data: Any, params: Mapping[str, Any] | None) -> Any:
    """The original (a Triton folder) or what load_native gives (its InferenceSession)."""
    session = model
    if not isinstance(model, onnxruntime.InferenceSession):
        session = onnxruntime.InferenceSession(
            str(Path(model) / "1" / "model.onnx"), providers=["CPUExecutionProvider"]
        )
    return session.run(None, {"input-0": np.asarray(data, dtype=np.float32)})[0]


def _rows(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


CASES = [
    FlavorCase(
        "onnx-mlp",
        "triton",
        _onnx_folder,
        _rows((6, 4), 0),
        "flavorkit_triton.hooks",
        framework_module="onnxruntime",
        predict_original=_predict,
        untrusted_save_options=None,  # ONNX runs no code when loaded
        native_type=onnxruntime.InferenceSession,
        tolerance=(1e-5, 1e-6),
    ),
]


@parametrize_flavor_checks(CASES)
def test_conformance(case: FlavorCase, check: Any) -> None:
    check(case)
