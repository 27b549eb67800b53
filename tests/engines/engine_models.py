"""Custom models the engine tests save; shipped inside their folders (``code_paths``).

The Spark executors and Dask worker processes import this module from the
model folder's ``code`` directory, not from the tests' ``sys.path``, so
loading them there proves the folder reached the worker.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import flavorkit


class TwoOutputs(flavorkit.PythonModel):
    """``score`` = a + 2b (times ``scale``), ``label`` = "high" where the score exceeds 1."""

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        import pandas as pd

        scale = (params or {}).get("scale", 1.0)
        score = (model_input["a"] + 2 * model_input["b"]) * scale
        return pd.DataFrame({"score": score, "label": ["high" if s > 1 else "low" for s in score]})


class CountsCalls(flavorkit.PythonModel):
    """Doubles ``x``; appends ``load <pid>`` and ``predict <pid> <rows>`` to the file
    ``model_config["log"]``, so a test can count loads and batches per worker process."""

    def load_context(self, context: Any) -> None:
        self.log = Path(context.model_config["log"])
        with self.log.open("a") as fh:
            fh.write(f"load {os.getpid()}\n")

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        with self.log.open("a") as fh:
            fh.write(f"predict {os.getpid()} {len(model_input)}\n")
        return model_input["x"] * 2


class Whole(flavorkit.PythonModel):
    """Returns ``n`` + 1 for a ``long`` column ``n`` (enforcement refuses what is not whole)."""

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        return model_input["n"] + 1
