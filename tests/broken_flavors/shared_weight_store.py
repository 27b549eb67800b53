"""Breaks: saving puts the weights in a shared store under HOME and records its absolute path.

"Deduplicates" weights across saves: the folder only points at
``~/.cache/toy-weights/<digest>.npy`` under the flavor's own key, so a
copied or moved folder depends on a file that is not in it.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import flavorkit

from broken_flavors import _toy, good

FLAVOR = "toy_shared_weight_store"
_HOOKS = good.hooks(FLAVOR)
flavorkit_flavors = _HOOKS.flavors
flavorkit_predict = _HOOKS.predict
flavorkit_detect_environment = _HOOKS.detect_environment


@flavorkit.hookimpl
def flavorkit_persist(model: Any, path: Path, flavor: str | None, options: dict[str, Any]) -> Any:
    if flavor not in (None, FLAVOR) or not _toy.is_mine(model):
        return None
    import numpy as np

    result = _toy.persist(FLAVOR, model, path, options)
    (path / _toy.WEIGHTS).unlink()
    buffer = io.BytesIO()
    np.save(buffer, model.weights, allow_pickle=False)
    store = Path.home() / ".cache" / "toy-weights"
    store.mkdir(parents=True, exist_ok=True)
    shared = store / f"{hashlib.sha256(buffer.getvalue()).hexdigest()[:16]}.npy"
    shared.write_bytes(buffer.getvalue())
    result["conf"]["weights_store"] = str(shared)
    del result["conf"]["weights"]
    return result


@flavorkit.hookimpl
def flavorkit_load(flavor: str, path: Path, conf: dict[str, Any], options: dict[str, Any]) -> Any:
    if flavor != FLAVOR:
        return None
    import numpy as np

    weights = np.load(conf["weights_store"], allow_pickle=False)
    return _toy.ToyLinear(weights, conf["bias"], conf.get("columns"))
