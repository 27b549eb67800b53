"""Breaks: reads a string column into a fixed-width numpy dtype, truncating longer strings.

The toy predicts its linear value plus the length of the ``tag`` column;
the flavor converts ``tag`` to ``<U8``, as wide as the example's tags need.
"""

from __future__ import annotations

from typing import Any

import flavorkit

from broken_flavors import _toy, good

FLAVOR = "toy_truncates_strings"
_HOOKS = good.hooks(FLAVOR)
flavorkit_flavors = _HOOKS.flavors
flavorkit_persist = _HOOKS.persist
flavorkit_load = _HOOKS.load
flavorkit_detect_environment = _HOOKS.detect_environment


def tagged_example() -> Any:
    """The zoo's example frame with a string column of short tags."""
    from broken_flavors import example_frame

    frame = example_frame()
    frame["tag"] = ["red", "green", "blue", "teal", "pink", "amber"]
    return frame


def predict_tagged(model: Any, data: Any, params: Any) -> Any:
    """What the model means: the linear value plus each tag's length."""
    import numpy as np

    lengths = np.array([len(t) for t in data["tag"]], dtype=model.weights.dtype)
    return _toy.predict(model, data[["a", "b", "c"]], dict(params or {})) + lengths


@flavorkit.hookimpl
def flavorkit_predict(flavor: str, model: Any, data: Any, params: dict[str, Any]) -> Any:
    if flavor != FLAVOR:
        return None
    import numpy as np

    tags = np.asarray(data["tag"], dtype="<U8")  # wide enough for the example's tags
    lengths = np.char.str_len(tags).astype(model.weights.dtype)
    return _toy.predict(model, data[["a", "b", "c"]], params) + lengths


CASE_FIELDS = {"example": tagged_example, "predict_original": predict_tagged}
