"""The pip requirements a saved ``pytorch`` model needs (``flavorkit_detect_environment``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flavorkit_torch._names import DATA_DIR, PICKLE_INFO_FILE


def requirements(path: Path, conf: dict[str, Any]) -> list[str]:
    """``torch==<version>`` (no local label such as ``+cpu``), plus the format's own needs.

    ``state_dict`` adds ``safetensors``; ``pickle`` adds the distribution of
    its pickle module when that is not the standard library's.
    """
    from flavorkit.environment import pins_for_modules

    modules = ["torch"]
    fmt = conf.get("serialization_format")
    if fmt == "state_dict":
        modules.append("safetensors")
    elif fmt == "pickle":
        info = path / (conf.get("model_data") or DATA_DIR) / PICKLE_INFO_FILE
        if info.is_file():
            modules.append(info.read_text(encoding="utf-8").strip())
    return pins_for_modules(modules)
