"""Device selection: params, then load-time config, then FLAVORKIT_TORCH_DEVICE, then CPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import flavorkit
import numpy as np
import pytest
import torch
from conftest import assert_close, reference
from flavorkit.exceptions import SchemaEnforcementError

import flavorkit_torch
from flavorkit_torch import _device

CUDA = torch.cuda.is_available()


def test_device_resolve_defaults_to_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(_device.DEVICE_ENV, raising=False)
    assert _device.resolve(None) == torch.device("cpu")
    assert _device.resolve("") == torch.device("cpu")


def test_device_resolve_reads_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_device.DEVICE_ENV, "meta")
    assert _device.resolve(None) == torch.device("meta")
    assert _device.resolve("cpu") == torch.device("cpu")  # an explicit request wins


def test_device_resolve_auto_picks_what_exists() -> None:
    assert _device.resolve("auto").type == ("cuda" if CUDA else "cpu")


def test_device_resolve_rejects_unknown_name() -> None:
    with pytest.raises(SchemaEnforcementError, match="'gpu0' is not a torch device") as info:
        _device.resolve("gpu0", source="params['device']")
    assert info.value.field == "device" and info.value.actual == "gpu0"


def test_device_resolve_rejects_non_string() -> None:
    with pytest.raises(SchemaEnforcementError, match="got int"):
        _device.resolve(3)


@pytest.mark.skipif(CUDA, reason="checks the refusal on machines without CUDA")
def test_device_resolve_refuses_cuda_without_cuda() -> None:
    with pytest.raises(SchemaEnforcementError, match="CUDA is not available"):
        _device.resolve("cuda")


@pytest.mark.skipif(CUDA, reason="checks the refusal on machines without CUDA")
def test_device_param_cuda_without_cuda_is_refused(saved: Any) -> None:
    loaded = flavorkit.load_model(saved("mlp", "export").path)
    with pytest.raises(SchemaEnforcementError, match="params\\['device'\\]"):
        loaded.predict(np.zeros((2, 4), np.float32), params={"device": "cuda"})


@pytest.mark.skipif(CUDA, reason="checks the refusal on machines without CUDA")
def test_device_config_cuda_without_cuda_is_refused_at_load(saved: Any) -> None:
    with pytest.raises(SchemaEnforcementError, match="model_config"):
        flavorkit.load_model(saved("mlp", "state_dict").path, model_config={"device": "cuda"})


@pytest.mark.parametrize("fmt", ["export", "state_dict"])
def test_device_explicit_cpu_param_predicts(saved: Any, fmt: str) -> None:
    item = saved("mlp", fmt)
    out = flavorkit.load_model(item.path).predict(item.case.batch, params={"device": "cpu"})
    assert_close(out, reference(item.model, item.case.batch))


@pytest.mark.parametrize("fmt", ["export", "state_dict"])
def test_device_config_places_native_module(saved: Any, fmt: str) -> None:
    # "meta" stands in for an accelerator: a real device other than the CPU, present everywhere
    module = flavorkit_torch.load_model(saved("mlp", fmt).path, device="meta")
    assert next(module.parameters()).device.type == "meta"


def test_device_environment_places_native_module(
    saved: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(_device.DEVICE_ENV, "meta")
    module = flavorkit_torch.load_model(saved("mlp", "state_dict").path)
    assert next(module.parameters()).device.type == "meta"


def test_device_param_moves_exported_module_and_back(saved: Any, tmp_path: Path) -> None:
    item = saved("mlp", "export")
    module = flavorkit_torch.load_model(item.path)
    on_meta = _device.place(module, torch.device("meta"))
    assert on_meta is not module and next(on_meta.parameters()).device.type == "meta"
    with torch.inference_mode():
        assert on_meta(torch.zeros(3, 4, device="meta")).device.type == "meta"
    assert _device.place(module, torch.device("cpu")) is module
    assert _device.place(module, torch.device("meta")) is on_meta  # built once per device


def test_device_param_moves_plain_module(mlp: Any) -> None:
    moved = _device.place(mlp, torch.device("meta"))
    assert moved is mlp and next(mlp.parameters()).device.type == "meta"
