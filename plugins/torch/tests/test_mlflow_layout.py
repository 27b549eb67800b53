"""Folders laid out as MLflow 3.17 writes them (no serialization_format key) load too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import flavorkit
import numpy as np
import pytest
import torch
import yaml
from conftest import assert_close, reference
from flavorkit.exceptions import UnsafeFormatError

import flavorkit_torch


def _mlflow_folder(path: Path, signature: dict[str, Any] | None = None) -> Path:
    """The MLmodel MLflow writes for a pytorch model (FORMAT.md §3), around ``path/data``."""
    manifest: dict[str, Any] = {
        "flavors": {
            "python_function": {
                "config": {"device": None},
                "data": "data",
                "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
                "loader_module": "mlflow.pytorch",
                "pickle_module_name": "mlflow.pytorch.pickle_module",
                "python_version": "3.11.7",
            },
            "pytorch": {"code": None, "model_data": "data", "pytorch_version": "2.13.0+cpu"},
        },
        "mlflow_version": "3.17.2",
        "model_id": None,
        "model_uuid": "2c50c322c564430bae347898c13e510b",
        "prompts": None,
        "utc_time_created": "2026-11-25 22:29:16.249164",
    }
    if signature:
        manifest["signature"] = signature
    (path / "MLmodel").write_text(yaml.safe_dump(manifest, default_flow_style=False))
    (path / "requirements.txt").write_text("mlflow==3.17.2\ntorch==2.13.0\ncloudpickle==3.1.1\n")
    return path


def test_mlflow_pickle_folder_loads_with_opt_in(tmp_path: Path, mlp: Any, x4: np.ndarray) -> None:
    (tmp_path / "data").mkdir()
    torch.save(mlp, tmp_path / "data" / "model.pth")
    (tmp_path / "data" / "pickle_module_info.txt").write_text("mlflow.pytorch.pickle_module")
    _mlflow_folder(tmp_path)
    with pytest.raises(UnsafeFormatError, match="'pickle'"):
        flavorkit.load_model(tmp_path, allow_unsafe=False, suppress_warnings=True)
    loaded = flavorkit.load_model(tmp_path, allow_unsafe=True, suppress_warnings=True)
    assert_close(loaded.predict(x4), reference(mlp, x4))


def test_mlflow_scripted_pickle_folder_loads_with_opt_in(
    tmp_path: Path, mlp: Any, x4: np.ndarray
) -> None:
    (tmp_path / "data").mkdir()
    # TorchScript is deprecated in torch 2.13, but older MLflow folders hold it
    with pytest.warns(DeprecationWarning, match="torch.jit"):
        torch.jit.save(torch.jit.script(mlp.eval()), str(tmp_path / "data" / "model.pth"))
    (tmp_path / "data" / "pickle_module_info.txt").write_text("mlflow.pytorch.pickle_module")
    _mlflow_folder(tmp_path)
    module = flavorkit_torch.load_model(tmp_path, allow_unsafe=True, suppress_warnings=True)
    assert isinstance(module, torch.jit.ScriptModule)
    assert_close(reference(module, x4), reference(mlp, x4))


def test_mlflow_pt2_folder_loads_without_opt_in(tmp_path: Path, mlp: Any, x4: np.ndarray) -> None:
    from torch.export import Dim

    (tmp_path / "data").mkdir()
    program = torch.export.export(
        mlp.eval(), (torch.from_numpy(x4),), dynamic_shapes=({0: Dim.AUTO},)
    )
    torch.export.save(program, str(tmp_path / "data" / "model.pt2"))
    inputs = '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}]'
    _mlflow_folder(tmp_path, {"inputs": inputs, "outputs": None, "params": None})
    loaded = flavorkit.load_model(tmp_path, allow_unsafe=False, suppress_warnings=True)
    assert_close(loaded.predict(x4), reference(mlp, x4))
    assert_close(loaded.predict(x4[:1]), reference(mlp, x4[:1]))


def test_mlflow_loader_module_entry_point(saved: Any) -> None:
    item = saved("dict_out", "export")
    # MLflow calls _load_pyfunc(<dir>/<data>) and then predict(data, params=...)
    impl = flavorkit_torch._load_pyfunc(str(item.path / "data"), {"device": "cpu"})
    out = impl.predict(item.case.batch, params={"batch_size": 10})
    assert_close(out, reference(item.model, item.case.batch))
    assert isinstance(impl.get_raw_model(), torch.nn.Module)
