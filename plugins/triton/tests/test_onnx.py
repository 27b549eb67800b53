"""``export --onnx``: PyTorch tensor models as model.onnx, checked against the pyfunc.

The pytriton server has no onnxruntime backend (see test_server.py), so the
ONNX repositories are checked here: onnxruntime runs the file in-process,
``validate`` compares the config with the graph, and the config round-trips.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import flavorkit
import numpy as np
import onnxruntime
import pytest
import torch
from triton_models import predict

from flavorkit_triton import export, validate
from flavorkit_triton._config import parse, read, to_text


def _session(model_dir: Path) -> onnxruntime.InferenceSession:
    return onnxruntime.InferenceSession(
        str(model_dir / "1" / "model.onnx"), providers=["CPUExecutionProvider"]
    )


def test_onnx_export_predicts_what_the_model_does(
    tmp_path: Path, torch_model: tuple[Path, np.ndarray]
) -> None:
    path = torch_model[0]
    written = export(path, tmp_path / "repo", name="mlp", onnx=True)
    assert sorted(p.name for p in (written / "1").iterdir()) == ["model.onnx"]
    config = read(written / "config.pbtxt")
    assert (config.backend, config.max_batch_size) == ("onnxruntime", 8)
    assert [(t.name, list(t.dims)) for t in config.input] == [("input-0", [4])]
    assert [(t.name, list(t.dims)) for t in config.output] == [("output-0", [2])]
    assert parse(to_text(config)) == config
    assert validate(tmp_path / "repo") == []
    batch = np.random.default_rng(9).normal(size=(33, 4)).astype(np.float32)
    (got,) = _session(written).run(None, {"input-0": batch})
    np.testing.assert_allclose(got, predict(path, batch), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("mbs", "dims", "reshape"), [(8, [1], []), (0, [-1, 1], [-1])])
def test_onnx_1d_outputs_reach_the_wire_as_n_by_1_through_reshape(
    tmp_path: Path, mbs: int, dims: list[int], reshape: list[int]
) -> None:
    from torch_modules import RowSum

    torch.manual_seed(1)
    X = np.random.default_rng(2).normal(size=(5, 4)).astype(np.float32)
    flavorkit.save_model(RowSum().eval(), tmp_path / "rowsum", input_example=X[:3])
    written = export(tmp_path / "rowsum", tmp_path / "repo", onnx=True, max_batch_size=mbs)
    (output,) = read(written / "config.pbtxt").output
    assert list(output.dims) == dims and list(output.reshape.shape) == reshape
    assert validate(tmp_path / "repo") == []
    (got,) = _session(written).run(None, {"input-0": X})
    assert got.shape == (5,)
    np.testing.assert_allclose(got, predict(tmp_path / "rowsum", X), rtol=1e-5, atol=1e-6)


def test_onnx_named_inputs_keep_their_names(tmp_path: Path) -> None:
    from torch_modules import TwoInputs

    rng = np.random.default_rng(3)
    example = {k: rng.normal(size=(3, 3)).astype(np.float32) for k in ("a", "b")}
    flavorkit.save_model(TwoInputs().eval(), tmp_path / "two", input_example=example)
    written = export(tmp_path / "two", tmp_path / "repo", onnx=True)
    assert [t.name for t in read(written / "config.pbtxt").input] == ["a", "b"]
    data = {k: rng.normal(size=(4, 3)).astype(np.float32) for k in ("a", "b")}
    (got,) = _session(written).run(None, data)
    np.testing.assert_allclose(got, predict(tmp_path / "two", data), rtol=1e-6)


def test_onnx_is_only_for_pytorch_tensor_models(
    tmp_path: Path, sklearn_model: tuple[Path, Any]
) -> None:
    with pytest.raises(ValueError, match="this model's flavor is 'sklearn'"):
        export(sklearn_model[0], tmp_path / "repo", onnx=True)
    assert not (tmp_path / "repo" / "iris").exists()


def test_the_export_check_refuses_a_file_that_predicts_otherwise(
    tmp_path: Path, torch_model: tuple[Path, np.ndarray]
) -> None:
    from flavorkit_triton import _onnx
    from flavorkit_triton._datatypes import wire_tensors

    path, X = torch_model
    other = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    flavorkit.save_model(other.eval(), tmp_path / "other", input_example=X[:3])
    foreign = export(tmp_path / "other", tmp_path / "repo", onnx=True) / "1" / "model.onnx"
    model = flavorkit.load_model(path)
    inputs = wire_tensors(model.signature.inputs, "input-", "input")
    outputs = wire_tensors(model.signature.outputs, "output-", "output")
    with pytest.raises(ValueError, match="output 'output-0' differs by up to"):
        _onnx._check(model, {"input-0": X}, inputs, outputs, foreign)


_LOAD_AND_PREDICT = """
import os, sys
import numpy as np
import flavorkit
model = flavorkit.load_model(sys.argv[1])
model.predict(np.zeros((2, 4), dtype=np.float32))
print(os.environ.get("ORT_DISABLE_TELEMETRY"))
"""


@pytest.mark.parametrize(("given", "kept"), [(None, "1"), ("0", "0")])
def test_loading_an_onnx_folder_writes_nothing_into_home_and_keeps_a_callers_choice(
    tmp_path: Path, torch_model: tuple[Path, np.ndarray], given: str | None, kept: str
) -> None:
    # onnxruntime writes a telemetry device id under the cache folder when imported
    repo = export(torch_model[0], tmp_path / "repo", name="mlp", onnx=True)
    folder = tmp_path / "saved"
    flavorkit.save_model(repo, folder)
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"))
    if given is not None:
        env["ORT_DISABLE_TELEMETRY"] = given
    run = [sys.executable, "-c", _LOAD_AND_PREDICT, str(folder)]
    done = subprocess.run(run, env=env, capture_output=True, text=True, check=True)
    assert done.stdout.split() == [kept]
    if given is None:
        written = sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file())
        assert written == []
    # whether onnxruntime then writes its device id depends on the machine, so a
    # caller's own choice is checked by the value it keeps, not by the files
