"""Breaks: loading opens the weights file without checking it, following a link out of the folder.

A folder whose ``weights.npy`` is a symlink to a file elsewhere makes this
flavor read that file (and a FIFO in its place would block it forever).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import flavorkit

from broken_flavors import _toy, good

FLAVOR = "toy_follows_links"
_HOOKS = good.hooks(FLAVOR)
flavorkit_flavors = _HOOKS.flavors
flavorkit_persist = _HOOKS.persist
flavorkit_predict = _HOOKS.predict
flavorkit_detect_environment = _HOOKS.detect_environment


@flavorkit.hookimpl
def flavorkit_load(flavor: str, path: Path, conf: dict[str, Any], options: dict[str, Any]) -> Any:
    if flavor != FLAVOR:
        return None
    import numpy as np

    with open(Path(path) / conf["weights"], "rb") as fh:  # no model_file: links are followed
        return _toy.ToyLinear(np.load(fh, allow_pickle=False), conf["bias"])
