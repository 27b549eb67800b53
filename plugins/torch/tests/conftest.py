"""Shared models, data and saved folders for the pytorch flavor's tests.

Exporting is the slow part, so every (model, format) folder is saved once per
session and shared by the tests that only read it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import flavorkit
import numpy as np
import pytest
import torch
import torch_models
from torch import nn


@dataclass(frozen=True)
class Case:
    """One model the acceptance tests round-trip, with an example and a larger batch."""

    name: str
    build: Callable[[], nn.Module]
    example: Any  # what save_model gets as input_example
    batch: Any  # 1,000 rows of the same structure, for prediction


def _rows(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


CASES = {
    "mlp": Case("mlp", torch_models.MLP, _rows((3, 4), 1), _rows((1000, 4), 2)),
    "cnn": Case("cnn", torch_models.CNN, _rows((2, 1, 8, 8), 3), _rows((1000, 1, 8, 8), 4)),
    "two_inputs": Case(
        "two_inputs",
        torch_models.TwoInputs,
        {"numeric": _rows((2, 3), 5), "extra": _rows((2, 5), 6)},
        {"numeric": _rows((1000, 3), 7), "extra": _rows((1000, 5), 8)},
    ),
    "dict_out": Case("dict_out", torch_models.DictOut, _rows((2, 4), 9), _rows((1000, 4), 10)),
}
ROUND_TRIP_FORMATS = ("export", "state_dict")


def copy_folder(source: Path, tmp_path: Path, name: str = "m") -> Path:
    """A copy of the saved folder ``source`` at ``tmp_path / name``, for a test to damage."""
    target = tmp_path / name
    shutil.copytree(source, target)
    return target


def reference(model: nn.Module, data: Any) -> Any:
    """What the in-memory model predicts for ``data``, as numpy (eval mode, no grad)."""
    from flavorkit_torch._predict import set_eval, to_numpy

    set_eval(model)
    with torch.no_grad():
        if isinstance(data, dict):
            out = model(**{k: torch.from_numpy(v) for k, v in data.items()})
        else:
            out = model(torch.from_numpy(data))
    return to_numpy(out)


def assert_close(actual: Any, expected: Any, atol: float = 1e-6) -> None:
    """Equal structure, and every array within ``atol`` of the expected one."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and sorted(actual) == sorted(expected)
        for key in expected:
            assert_close(actual[key], expected[key], atol)
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected)
        for got, want in zip(actual, expected, strict=True):
            assert_close(got, want, atol)
    else:
        assert isinstance(actual, np.ndarray)
        assert actual.shape == expected.shape and actual.dtype == expected.dtype
        np.testing.assert_allclose(actual, expected, rtol=0, atol=atol)


@dataclass
class Saved:
    """A model saved once for the session, with the in-memory original."""

    case: Case
    fmt: str
    model: nn.Module
    path: Path


@pytest.fixture(scope="session")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], Saved]:
    """``saved(case_name, format)``: the folder of that model in that format (saved once)."""
    cache: dict[tuple[str, str], Saved] = {}

    def get(name: str, fmt: str) -> Saved:
        key = (name, fmt)
        if key not in cache:
            case = CASES[name]
            model = torch_models.trained(case.build(), seed=len(cache))
            path = tmp_path_factory.mktemp("saved") / f"{name}-{fmt}"
            flavorkit.save_model(model, path, input_example=case.example, serialization_format=fmt)
            cache[key] = Saved(case, fmt, model, path)
        return cache[key]

    return get


@pytest.fixture
def mlp() -> nn.Module:
    """A freshly seeded MLP in train mode."""
    return torch_models.trained(torch_models.MLP())


@pytest.fixture
def x4() -> np.ndarray:
    """Five rows of four float32 features."""
    return _rows((5, 4), 11)
