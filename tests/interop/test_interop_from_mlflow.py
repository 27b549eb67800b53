"""MLflow -> flavorkit: folders MLflow 3.17 saves load, predict and enforce in flavorkit.

One MLflow process (``mlflow_save_folders.py``) saves every folder and records
MLflow's own predictions; flavorkit then loads the folders here, in its own
environment where MLflow is not installed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import flavorkit
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from flavorkit import Model
from flavorkit.environment import mismatches, read_requirements
from flavorkit.exceptions import (
    EnvironmentMismatchWarning,
    PluginError,
    SchemaEnforcementError,
    UnsafeFormatError,
)
from interop_support import load, run_in_mlflow, values

SAFE = ["sklearn_skops", "pytorch_pt2"]
UNSAFE = ["sklearn_cloudpickle", "sklearn_legacy_1x", "pytorch_pickle"]
NATIVE_TYPES = {
    "sklearn_skops": "LogisticRegression",
    "sklearn_cloudpickle": "Pipeline",
    "sklearn_legacy_1x": "Pipeline",
    "pytorch_pt2": "GraphModule",
    "pytorch_pickle": "Sequential",
}


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    root = tmp_path_factory.mktemp("from_mlflow")
    run_in_mlflow("mlflow_save_folders.py", root)
    entries: dict[str, dict[str, Any]] = load(root / "saved.pkl")
    run_in_mlflow(
        "flavorkit_load_mlflow_python_model.py", root / "saved.pkl", root / "python_model.pkl"
    )
    entries["pyfunc_python_model"]["flavorkit_in_mlflow_env"] = load(root / "python_model.pkl")
    return entries


def _load(entry: dict[str, Any], **kwargs: Any) -> flavorkit.PyFuncModel:
    """flavorkit.load_model on an MLflow folder; it warns that the pinned mlflow is missing."""
    with pytest.warns(
        EnvironmentMismatchWarning, match=r"mlflow \(recorded 3\.17\.2, installed none\)"
    ):
        return flavorkit.load_model(entry["path"], **kwargs)


@pytest.mark.parametrize("name", SAFE + UNSAFE)
def test_flavorkit_pyfunc_predicts_like_mlflow(saved: dict[str, Any], name: str) -> None:
    entry = saved[name]
    model = _load(entry, allow_unsafe=name in UNSAFE)
    prediction = model.predict(entry["data"])
    assert type(prediction).__name__ == type(entry["prediction"]).__name__
    np.testing.assert_allclose(values(prediction), values(entry["prediction"]), rtol=1e-6)


@pytest.mark.parametrize("name", SAFE + UNSAFE)
def test_flavorkit_load_native_reads_mlflow_folders(saved: dict[str, Any], name: str) -> None:
    entry = saved[name]
    with pytest.warns(EnvironmentMismatchWarning):
        native = flavorkit.load_native(entry["path"], allow_unsafe=name in UNSAFE)
    assert type(native).__name__ == NATIVE_TYPES[name]
    data = entry["data"]
    if isinstance(native, torch.nn.Module):
        with torch.no_grad():
            out = native(torch.from_numpy(data)).numpy()
    else:
        out = native.predict(data)
    np.testing.assert_allclose(out, values(entry["prediction"]), rtol=1e-6)


@pytest.mark.parametrize("name", UNSAFE)
def test_flavorkit_refuses_mlflow_pickles_without_opt_in(
    saved: dict[str, Any], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLAVORKIT_ALLOW_UNSAFE", raising=False)
    with pytest.raises(UnsafeFormatError, match="allow_unsafe=True"):
        _load(saved[name])


@pytest.mark.parametrize("name", [*SAFE, *UNSAFE, "pyfunc_python_model"])
def test_flavorkit_reads_mlflow_signature_unchanged(saved: dict[str, Any], name: str) -> None:
    path = Path(saved[name]["path"])
    written = yaml.safe_load((path / "MLmodel").read_text())["signature"]
    manifest = Model.load(path)
    assert manifest.signature is not None
    ours = manifest.signature.to_dict()
    for part in ("inputs", "outputs", "params"):
        expected = json.loads(written[part]) if written.get(part) else None
        assert (json.loads(ours[part]) if ours.get(part) else None) == expected, part
    # a re-save keeps MLflow's keys flavorkit does not use (mlflow_version, model_id, ...)
    manifest.save(path / "MLmodel.resaved")
    again = yaml.safe_load((path / "MLmodel.resaved").read_text())
    original = yaml.safe_load((path / "MLmodel").read_text())
    assert set(original) <= set(again)
    assert {k: again[k] for k in original} == original


@pytest.mark.parametrize("name", SAFE + UNSAFE)
def test_flavorkit_reads_mlflow_input_example(saved: dict[str, Any], name: str) -> None:
    entry = saved[name]
    model = _load(entry, allow_unsafe=name in UNSAFE)
    example = model.input_example
    assert type(example).__name__ == type(entry["example"]).__name__
    np.testing.assert_allclose(values(example), values(entry["example"]))
    if isinstance(example, pd.DataFrame):
        assert list(example.columns) == list(entry["example"].columns)
        assert list(example.dtypes) == list(entry["example"].dtypes)
    else:
        assert example.dtype == entry["example"].dtype
    np.testing.assert_allclose(
        values(model.predict(example)), values(entry["example_prediction"]), rtol=1e-6
    )


def test_flavorkit_enforces_mlflow_column_signature(saved: dict[str, Any]) -> None:
    model = _load(saved["sklearn_skops"])
    data = saved["sklearn_skops"]["data"]
    with pytest.raises(SchemaEnforcementError, match="missing inputs") as missing:
        model.predict(data.drop(columns=["petal_width"]))
    assert missing.value.field == "petal_width"
    with pytest.raises(SchemaEnforcementError) as wrong:
        model.predict(data.assign(sepal_length="x"))
    assert wrong.value.field == "sepal_length"


def test_flavorkit_enforces_mlflow_tensor_signature(saved: dict[str, Any]) -> None:
    model = _load(saved["pytorch_pt2"])
    data = saved["pytorch_pt2"]["data"]
    with pytest.raises(SchemaEnforcementError, match="float64") as wrong_dtype:
        model.predict(data.astype("float64"))
    assert wrong_dtype.value.expected == "float32"
    with pytest.raises(SchemaEnforcementError, match="shape"):
        model.predict(data[:, :3])


@pytest.mark.parametrize("name", ["sklearn_skops", "pytorch_pt2", "pyfunc_python_model"])
def test_flavorkit_reads_mlflow_environment_files(saved: dict[str, Any], name: str) -> None:
    path = Path(saved[name]["path"])
    lines = (path / "requirements.txt").read_text().split()
    assert read_requirements(path) == lines
    assert lines[0] == "mlflow==3.17.2"
    # mlflow is the only recorded package flavorkit's environment lacks; torch's +cpu label
    # is ignored
    assert [name for name, _, _ in mismatches(lines)] == ["mlflow"]
    python_env = yaml.safe_load((path / "python_env.yaml").read_text())
    assert python_env["dependencies"] == ["-r requirements.txt"]
    conda = yaml.safe_load((path / "conda.yaml").read_text())
    assert conda["dependencies"][-1] == {"pip": lines}


def test_mlflow_requirement_inference_pins_local_labels(saved: dict[str, Any]) -> None:
    """What MLflow's inference wrote for a LogisticRegression: torch, with its ``+cpu`` label."""
    lines = read_requirements(Path(saved["sklearn_skops"]["path"]))
    assert "torch==2.13.0+cpu" in lines
    assert not mismatches(["torch==2.13.0+cpu"])


def test_flavorkit_loads_mlflow_python_model_where_mlflow_is_installed(
    saved: dict[str, Any],
) -> None:
    entry = saved["pyfunc_python_model"]
    seen = entry["flavorkit_in_mlflow_env"]
    assert seen["refused"] is not None and "allow_unsafe=True" in seen["refused"]
    pd.testing.assert_frame_equal(seen["prediction"], entry["prediction"])
    pd.testing.assert_frame_equal(seen["example"], entry["example"])
    assert seen["example_params"] == entry["example_params"] == {"scale": 2.0}
    pd.testing.assert_frame_equal(seen["example_prediction"], entry["example_prediction"])
    assert seen["bad_param"]["field"] == "scale"
    assert seen["native_type"] == "Doubler"


def test_mlflow_python_models_need_mlflow_installed(saved: dict[str, Any]) -> None:
    """Deliberate difference: an MLflow PythonModel pickle refers to mlflow's own base class."""
    entry = saved["pyfunc_python_model"]
    with pytest.raises(UnsafeFormatError, match="cloudpickle"):
        _load(entry)
    with pytest.raises(
        PluginError, match=r"module 'mlflow', which is not installed.*pip install mlflow"
    ):
        _load(entry, allow_unsafe=True)
