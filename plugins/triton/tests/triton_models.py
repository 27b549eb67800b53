"""Models the Triton tests export; the custom one ships in its folder as code (code_paths)."""

from __future__ import annotations

from typing import Any

import flavorkit
import numpy as np
import pandas as pd


class Scorer(flavorkit.PythonModel):
    """Columns of four types in, a text label and a score out; ``scale`` is a param."""

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        scale = float((params or {}).get("scale", 1.0))
        score = model_input["x"].to_numpy() * scale + model_input["n"].to_numpy()
        score = np.where(model_input["flag"].to_numpy(), -score, score)
        sign = np.where(score > 0, "pos", "neg")
        label = [f"{s}:{name}" for s, name in zip(sign, model_input["name"], strict=True)]
        return pd.DataFrame({"label": label, "score": score.astype(np.float64)})


class Echo(flavorkit.PythonModel):
    """Returns the column ``n`` of its input."""

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        return model_input[["n"]]


def scorer_frame(rows: int, seed: int) -> pd.DataFrame:
    """Input rows for :class:`Scorer` (text with non-ASCII characters)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(size=rows),
            "n": rng.integers(-5, 5, size=rows).astype(np.int64),
            "name": [f"é{i}-{chr(0x4E00 + i)}" for i in range(rows)],
            "flag": rng.random(rows) > 0.5,
        }
    )


def predict(path: Any, data: Any, params: dict[str, Any] | None = None) -> Any:
    """What ``flavorkit.load_model`` predicts: the reference every served answer is held to."""
    return flavorkit.load_model(path, allow_unsafe=True).predict(data, params=params)


def forget_this_module(monkeypatch: Any) -> None:
    """Make this module unimportable, as in Triton's stub: only the folder's code has it.

    Removes the tests folder and the ``code`` folders earlier loads put on
    ``sys.path`` (the core's custom flavor adds them, as MLflow does).
    """
    import sys
    from pathlib import Path

    here = Path(__file__).resolve().parent
    kept = [p for p in sys.path if Path(p).resolve() != here and Path(p).name != "code"]
    monkeypatch.setattr(sys, "path", kept)
    monkeypatch.delitem(sys.modules, __name__, raising=False)
    monkeypatch.delenv("FLAVORKIT_ALLOW_UNSAFE", raising=False)
