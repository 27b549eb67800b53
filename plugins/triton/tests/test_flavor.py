"""The ``triton`` flavor: a Triton model folder inside a model folder, as MLflow lays it out."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import flavorkit
import numpy as np
import pytest
import yaml
from flavorkit.exceptions import ManifestError
from triton_models import forget_this_module, predict

from flavorkit_triton import UnsupportedBackendError, export, save_model


@pytest.fixture(scope="module")
def repo(
    tmp_path_factory: pytest.TempPathFactory,
    sklearn_model: tuple[Path, Any],
    torch_model: tuple[Path, Any],
    custom_model: tuple[Path, Any],
) -> Path:
    repo = tmp_path_factory.mktemp("flavor") / "repo"
    export(sklearn_model[0], repo)
    export(torch_model[0], repo, name="mlp-onnx", onnx=True)
    export(custom_model[0], repo, allow_unsafe=True)
    return repo


def test_saved_python_backend_model_keeps_mlflows_layout_and_predicts(
    tmp_path: Path, repo: Path, sklearn_model: tuple[Path, np.ndarray]
) -> None:
    path, X = sklearn_model
    save_model(repo / "iris", tmp_path / "saved")
    manifest = yaml.safe_load((tmp_path / "saved" / "MLmodel").read_text())
    section = manifest["flavors"]["triton"]
    assert section["data"] == "iris" and section["backend"] == "python"
    assert (tmp_path / "saved" / "iris" / "config.pbtxt").is_file()
    assert (tmp_path / "saved" / "iris" / "1" / "model.py").is_file()
    assert manifest["flavors"]["python_function"]["loader_module"] == "flavorkit_triton"
    loaded = flavorkit.load_model(tmp_path / "saved")
    assert loaded.signature == flavorkit.load_model(path).signature  # taken from the folder inside
    np.testing.assert_array_equal(loaded.predict(X), predict(path, X))


def test_saved_custom_model_passes_params_and_needs_the_callers_opt_in(
    tmp_path: Path, repo: Path, custom_model: tuple[Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:

    from flavorkit.exceptions import UnsafeFormatError

    path, frame = custom_model
    save_model(repo / "scorer", tmp_path / "saved")
    params = flavorkit.load_model(tmp_path / "saved", allow_unsafe=True).signature.params
    assert [p.name for p in params.params] == ["scale"]  # the folder inside gave its signature
    # the exporter's recorded opt-in is for Triton; a flavorkit caller decides for itself
    forget_this_module(monkeypatch)
    with pytest.raises(UnsafeFormatError):
        flavorkit.load_model(tmp_path / "saved")
    loaded = flavorkit.load_model(tmp_path / "saved", allow_unsafe=True)
    got = loaded.predict(frame, params={"scale": 3.0})
    np.testing.assert_array_equal(got["score"], predict(path, frame, {"scale": 3.0})["score"])


def test_saved_onnx_model_predicts_through_onnxruntime(
    tmp_path: Path, repo: Path, torch_model: tuple[Path, np.ndarray]
) -> None:
    import onnxruntime

    path, X = torch_model
    save_model(repo / "mlp-onnx", tmp_path / "saved")
    loaded = flavorkit.load_model(tmp_path / "saved")
    spec = loaded.signature.inputs.inputs[0]
    assert (spec.name, spec.type, spec.shape) == ("input-0", np.dtype("float32"), (-1, 4))
    np.testing.assert_allclose(loaded.predict(X), predict(path, X), rtol=1e-5, atol=1e-6)
    assert isinstance(flavorkit.load_native(tmp_path / "saved"), onnxruntime.InferenceSession)
    assert "onnxruntime==" in (tmp_path / "saved" / "requirements.txt").read_text()


def test_a_backend_flavorkit_cannot_run_is_saved_but_refused_at_load_by_name(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "engine"
    (folder / "1").mkdir(parents=True)
    (folder / "1" / "model.plan").write_bytes(b"serialized engine")
    (folder / "config.pbtxt").write_text(
        'name: "engine"\nbackend: "tensorrt"\nmax_batch_size: 4\n'
        'input { name: "x" data_type: TYPE_FP32 dims: [ 3 ] }\n'
        'output { name: "y" data_type: TYPE_FP32 dims: [ 1 ] }\n'
    )
    save_model(folder, tmp_path / "saved")
    with pytest.raises(UnsupportedBackendError, match="uses backend 'tensorrt'") as err:
        flavorkit.load_model(tmp_path / "saved")
    assert err.value.backend == "tensorrt"
    assert "Serve this one with tritonserver" in str(err.value)


def test_saving_an_invalid_triton_folder_lists_its_problems(tmp_path: Path, repo: Path) -> None:
    broken = tmp_path / "iris"
    shutil.copytree(repo / "iris", broken)
    (broken / "1" / "model.py").unlink()
    with pytest.raises(ManifestError, match="not a valid Triton model folder") as err:
        save_model(broken, tmp_path / "saved")
    assert "iris/1: no model.py; backend 'python' loads model.py" in str(err.value)
    assert not (tmp_path / "saved").exists()


def test_the_flavor_claims_triton_folders_and_nothing_else(tmp_path: Path, repo: Path) -> None:
    flavorkit.save_model(str(repo / "iris"), tmp_path / "found")  # recognised without flavor=
    assert "triton" in yaml.safe_load((tmp_path / "found" / "MLmodel").read_text())["flavors"]
    with pytest.raises(TypeError, match="flavor 'triton' saves a Triton model folder"):
        flavorkit.save_model(tmp_path, tmp_path / "other", flavor="triton")
    with pytest.raises(TypeError, match=r"got a builtins\.dict"):
        flavorkit.save_model({"a": 1}, tmp_path / "dict", flavor="triton")


def test_a_saved_triton_model_registers_and_loads_by_name(
    tmp_path: Path, registry: Path, repo: Path, sklearn_model: tuple[Path, np.ndarray]
) -> None:
    path, X = sklearn_model
    save_model(repo / "iris", tmp_path / "saved")
    version = flavorkit.register_model(tmp_path / "saved", "iris-triton")
    assert version.version == 1
    loaded = flavorkit.load_model("models:/iris-triton/1")
    assert loaded.flavor == "triton"
    np.testing.assert_array_equal(loaded.predict(X), predict(path, X))
