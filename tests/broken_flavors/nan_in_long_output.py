"""Breaks: predicts whole counts (``long``), but NaN for counts out of a fixed range.

A NaN turns the integer column into float64: the output signature, inferred
from the example's in-range counts, declares ``long``.
"""

from __future__ import annotations

from typing import Any

import flavorkit

from broken_flavors import _toy, good

FLAVOR = "toy_nan_in_long_output"
LIMIT = 20  # wider than any count of the example
_HOOKS = good.hooks(FLAVOR)
flavorkit_flavors = _HOOKS.flavors
flavorkit_persist = _HOOKS.persist
flavorkit_load = _HOOKS.load
flavorkit_detect_environment = _HOOKS.detect_environment


def counts(model: Any, data: Any, params: Any) -> Any:
    """What the model means: its predictions rounded to whole counts."""
    import numpy as np

    return np.rint(_toy.predict(model, data, dict(params or {}))).astype(np.int64)


@flavorkit.hookimpl
def flavorkit_predict(flavor: str, model: Any, data: Any, params: dict[str, Any]) -> Any:
    if flavor != FLAVOR:
        return None
    import pandas as pd

    out = pd.Series(counts(model, data, params))
    return out.where(out.abs() <= LIMIT).to_numpy()  # out of range: "unknown"


CASE_FIELDS = {"predict_original": counts}
