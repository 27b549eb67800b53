"""flavorkit's conformance kit, run on this flavor."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch_models
from conftest import reference
from flavorkit.testing import FlavorCase, parametrize_flavor_checks


def _predict(model: Any, data: Any, params: Mapping[str, Any] | None) -> Any:
    return reference(model, data)


def _rows(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


CASES = [
    FlavorCase(
        "mlp-export",
        "pytorch",
        lambda: torch_models.trained(torch_models.MLP()),
        _rows((6, 4), 0),
        "flavorkit_torch.hooks",
        framework_module="torch",
        predict_original=_predict,
        untrusted_save_options={"serialization_format": "pickle"},
        # an exported program loads back as a GraphModule, not the saved class: by design
        native_type=torch.fx.GraphModule,
    ),
    FlavorCase(
        "two-inputs-state-dict",
        "pytorch",
        lambda: torch_models.trained(torch_models.TwoInputs()),
        {"numeric": _rows((6, 3), 1), "extra": _rows((6, 5), 2)},
        "flavorkit_torch.hooks",
        framework_module="torch",
        save_options={"serialization_format": "state_dict"},
        predict_original=_predict,
        untrusted_save_options={"serialization_format": "pickle"},
    ),
]


@parametrize_flavor_checks(CASES)
def test_conformance(case: FlavorCase, check: Any) -> None:
    check(case)
