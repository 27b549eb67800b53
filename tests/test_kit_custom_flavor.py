"""The conformance kit on the core's custom-model flavor (``python_function``, ``PythonModel``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from _models import AddConstant
from flavorkit.testing import FlavorCase, parametrize_flavor_checks


def frame() -> tuple[pd.DataFrame, dict[str, float]]:
    """Five distinct rows of two double columns, with the ``scale`` param at its default."""
    rng = np.random.default_rng(7)
    return pd.DataFrame(rng.normal(size=(5, 2)), columns=["a", "b"]), {"scale": 1.0}


def tensor() -> tuple[np.ndarray, dict[str, float]]:
    """A float32 batch of four rows of three values, with the ``scale`` param."""
    return np.random.default_rng(8).normal(size=(4, 3)).astype(np.float32), {"scale": 1.0}


COMMON = dict(
    flavor="python_function",
    model_factory=lambda: AddConstant(2.0),
    plugin_module="flavorkit.custom._plugin",
    params={"scale": 3.0},
    # the reference format is the default; cloudpickle needs the opt-in
    untrusted_save_options={"serialization_format": "cloudpickle"},
)

CASES = [
    FlavorCase(name="custom-frame", example=frame, **COMMON),
    FlavorCase(name="custom-tensor", example=tensor, **COMMON),
]


@parametrize_flavor_checks(CASES)
def test_custom_flavor_conforms(case: FlavorCase, check: object) -> None:
    check(case)  # type: ignore[operator]
