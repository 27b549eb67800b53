"""Acceptance: models saved through flavorkit.save_model predict the same after loading."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import flavorkit
import numpy as np
import pytest
import torch
import torch_models
from conftest import CASES, ROUND_TRIP_FORMATS, Saved, assert_close, reference
from flavorkit import TensorSpec

import flavorkit_torch


@pytest.mark.parametrize("fmt", ROUND_TRIP_FORMATS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_roundtrip_outputs_equal_original(saved: Any, name: str, fmt: str) -> None:
    item: Saved = saved(name, fmt)
    loaded = flavorkit.load_model(item.path)
    out = loaded.predict(item.case.batch)
    assert_close(out, reference(item.model, item.case.batch))


@pytest.mark.parametrize("fmt", ROUND_TRIP_FORMATS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_roundtrip_native_module_equals_original(saved: Any, name: str, fmt: str) -> None:
    item: Saved = saved(name, fmt)
    module = flavorkit_torch.load_model(item.path)
    assert isinstance(module, torch.nn.Module)
    assert_close(reference(module, item.case.batch), reference(item.model, item.case.batch))


@pytest.mark.parametrize("fmt", ROUND_TRIP_FORMATS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_roundtrip_batch_sizes_give_same_rows(saved: Any, name: str, fmt: str) -> None:
    item: Saved = saved(name, fmt)
    loaded = flavorkit.load_model(item.path)
    one = loaded.predict(item.case.batch, params={"batch_size": 1})
    thousand = loaded.predict(item.case.batch, params={"batch_size": 1000})
    odd = loaded.predict(item.case.batch, params={"batch_size": 333})
    assert_close(one, thousand)
    assert_close(odd, thousand)


@pytest.mark.parametrize("name", sorted(CASES))
def test_roundtrip_manifest_has_mlflow_keys_and_format(saved: Any, name: str) -> None:
    item: Saved = saved(name, "export")
    manifest = flavorkit.load_model(item.path).metadata
    section = manifest.flavors["pytorch"]
    assert section["model_data"] == "data"
    assert section["pytorch_version"] == str(torch.__version__)
    assert section["code"] is None
    assert section["serialization_format"] == "export"
    assert manifest.flavors["python_function"]["loader_module"] == "flavorkit_torch"
    assert (item.path / "data" / "model.pt2").is_file()


@pytest.mark.parametrize("name", sorted(CASES))
def test_roundtrip_signature_batch_dim_is_dynamic(saved: Any, name: str) -> None:
    item: Saved = saved(name, "export")
    inputs = flavorkit.load_model(item.path).signature.inputs
    assert inputs.is_tensor_spec()
    for spec in inputs.inputs:
        assert isinstance(spec, TensorSpec) and spec.shape[0] == -1


def test_roundtrip_params_schema_declares_device_and_batch_size(saved: Any) -> None:
    params = flavorkit.load_model(saved("mlp", "export").path).signature.params
    by_name = {p.name: p for p in params.params}
    assert by_name["device"].dtype.name == "string" and by_name["device"].default is None
    assert by_name["batch_size"].dtype.name == "long" and by_name["batch_size"].default == 1024


def test_roundtrip_bad_batch_size_param_is_rejected(saved: Any) -> None:
    loaded = flavorkit.load_model(saved("mlp", "export").path)
    with pytest.raises(ValueError, match="batch_size"):
        loaded.predict(CASES["mlp"].batch, params={"batch_size": 0})


def test_roundtrip_requirements_pin_torch_without_local_label(saved: Any) -> None:
    export = (saved("mlp", "export").path / "requirements.txt").read_text().split()
    state = (saved("mlp", "state_dict").path / "requirements.txt").read_text().split()
    version = str(torch.__version__).split("+")[0]
    assert f"torch=={version}" in export and not any("+" in line for line in export)
    assert not any(line.startswith("safetensors") for line in export)
    assert any(line.startswith("safetensors==") for line in state)


def test_roundtrip_state_dict_section_names_factory(saved: Any) -> None:
    item: Saved = saved("cnn", "state_dict")
    section = flavorkit.load_model(item.path).metadata.flavors["pytorch"]
    assert section["factory"] == "torch_models:CNN"
    assert (item.path / "data" / "model.safetensors").is_file()


def test_roundtrip_dataframe_input_matches_array(tmp_path: Path, mlp: Any, x4: np.ndarray) -> None:
    import pandas as pd

    frame = pd.DataFrame(x4.astype(np.float64), columns=["a", "b", "c", "d"])
    flavorkit.save_model(mlp, tmp_path / "m", input_example=frame)
    loaded = flavorkit.load_model(tmp_path / "m")
    assert not loaded.signature.inputs.is_tensor_spec()
    assert_close(loaded.predict(frame), reference(mlp, x4), atol=1e-6)


def test_roundtrip_tensor_example_gives_numpy_signature(
    tmp_path: Path, mlp: Any, x4: np.ndarray
) -> None:
    flavorkit.save_model(mlp, tmp_path / "m", input_example=torch.from_numpy(x4))
    loaded = flavorkit.load_model(tmp_path / "m")
    (spec,) = loaded.signature.inputs.inputs
    assert spec.shape == (-1, 4) and spec.type == np.dtype("float32")
    assert loaded.metadata.flavors["pytorch"]["serialization_format"] == "export"
    assert_close(loaded.predict(x4), reference(mlp, x4))


def test_roundtrip_single_row_example_still_exports_dynamic_batch(
    tmp_path: Path, mlp: Any, x4: np.ndarray
) -> None:
    flavorkit.save_model(mlp, tmp_path / "m", input_example=x4[:1])
    loaded = flavorkit.load_model(tmp_path / "m")
    assert_close(loaded.predict(x4), reference(mlp, x4))


def test_roundtrip_model_is_left_in_its_training_mode(
    tmp_path: Path, mlp: Any, x4: np.ndarray
) -> None:
    flavorkit.save_model(mlp, tmp_path / "m", input_example=x4)
    assert mlp.training


def test_roundtrip_no_example_defaults_to_state_dict(
    tmp_path: Path, mlp: Any, x4: np.ndarray
) -> None:
    flavorkit.save_model(mlp, tmp_path / "m")
    loaded = flavorkit.load_model(tmp_path / "m")
    assert loaded.metadata.flavors["pytorch"]["serialization_format"] == "state_dict"
    assert_close(loaded.predict(x4), reference(mlp, x4))


def test_roundtrip_manifest_records_shipped_code(tmp_path: Path, mlp: Any, x4: np.ndarray) -> None:
    shipped = tmp_path / "shipped_helpers.py"
    shipped.write_text("SCALE = 2\n")
    flavorkit_torch.save_model(mlp, tmp_path / "m", input_example=x4, code_paths=[shipped])
    section = flavorkit.load_model(tmp_path / "m").metadata.flavors["pytorch"]
    assert section["code"] == "code"
    assert (tmp_path / "m" / "code" / "shipped_helpers.py").is_file()


def test_roundtrip_custom_factory(tmp_path: Path, x4: np.ndarray) -> None:
    model = torch_models.trained(torch_models.build_needs_args())
    flavorkit_torch.save_model(model, tmp_path / "m", factory="torch_models:build_needs_args")
    assert_close(flavorkit.load_model(tmp_path / "m").predict(x4), reference(model, x4))


def test_roundtrip_class_needing_arguments_asks_for_factory(tmp_path: Path) -> None:
    model = torch_models.NeedsArgs(4)
    with pytest.raises(ValueError, match="factory="):
        flavorkit_torch.save_model(model, tmp_path / "m", serialization_format="state_dict")
    assert not (tmp_path / "m").exists()


def test_roundtrip_exported_program_is_saved_as_is(
    tmp_path: Path, mlp: Any, x4: np.ndarray
) -> None:
    program = torch.export.export(mlp.eval(), (torch.from_numpy(x4),))
    flavorkit.save_model(program, tmp_path / "m")
    assert_close(flavorkit.load_model(tmp_path / "m").predict(x4), reference(mlp, x4))


def test_roundtrip_pickle_with_opt_in(tmp_path: Path, mlp: Any, x4: np.ndarray) -> None:
    flavorkit_torch.save_model(mlp, tmp_path / "m", serialization_format="pickle")
    assert (tmp_path / "m" / "data" / "pickle_module_info.txt").read_text() == "pickle"
    loaded = flavorkit.load_model(tmp_path / "m", allow_unsafe=True)
    assert_close(loaded.predict(x4), reference(mlp, x4))


_FRESH_PROCESS = """
import importlib.util, json, sys
import numpy as np
import flavorkit
assert importlib.util.find_spec("torch_models") is None, "the model's class must not be importable"
model = flavorkit.load_model(sys.argv[1])
out = model.predict(np.load(sys.argv[2]))
np.save(sys.argv[3], out)
print(json.dumps(sorted(m for m in ("torch_models",) if m in sys.modules)))
"""


def test_roundtrip_export_loads_where_class_is_not_importable(saved: Any, tmp_path: Path) -> None:
    item: Saved = saved("cnn", "export")
    np.save(tmp_path / "in.npy", item.case.batch)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _FRESH_PROCESS,
            str(item.path),
            str(tmp_path / "in.npy"),
            str(tmp_path / "out.npy"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout) == []
    assert_close(np.load(tmp_path / "out.npy"), reference(item.model, item.case.batch))
