"""Pristine model folders, really saved by each flavor, for the adversarial suite to spoil.

``save_pristine(root)`` saves one small model per kind into ``root/<kind>``:
scikit-learn (skops), PyTorch (a ``torch.export`` program, and a
safetensors state_dict with an importable factory), the custom-model flavor
(``python_model.json`` by reference) and XGBoost (UBJ). The suite's tests
and ``benchmarks/fuzz_folders.py`` copy these and edit the copies.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from flavorkit.testing._hostile_worker import Worker, worker_env

HERE = Path(__file__).resolve().parent
PROFILE = "flavorkit-adversarial"  # the hypothesis profile conftest.py registers
KINDS = ("sklearn", "pytorch_export", "pytorch_state_dict", "custom", "xgboost")
# the file (or folder) holding each kind's model
ARTIFACT = {
    "sklearn": "model.skops",
    "pytorch_export": "data/model.pt2",
    "pytorch_state_dict": "data/model.safetensors",
    "custom": "python_model.json",
    "xgboost": "model.ubj",
}
# the MLmodel keys holding a path to the model (what a hostile folder points elsewhere)
PATH_KEYS: dict[str, tuple[tuple[str, ...], ...]] = {
    "sklearn": (
        ("flavors", "sklearn", "pickled_model"),
        ("flavors", "python_function", "model_path"),
    ),
    "pytorch_export": (
        ("flavors", "pytorch", "model_data"),
        ("flavors", "python_function", "data"),
    ),
    "pytorch_state_dict": (
        ("flavors", "pytorch", "model_data"),
        ("flavors", "python_function", "data"),
    ),
    "custom": (("flavors", "python_function", "python_model"),),
    "xgboost": (("flavors", "xgboost", "data"), ("flavors", "python_function", "data")),
}
# the flavor section each kind writes besides python_function
SECTION = {
    "sklearn": "sklearn",
    "pytorch_export": "pytorch",
    "pytorch_state_dict": "pytorch",
    "custom": "python_function",
    "xgboost": "xgboost",
}


def _rows(n: int = 6) -> Any:
    import numpy as np

    return np.random.default_rng(0).normal(size=(n, 3))


def _frame(n: int = 6) -> Any:
    import pandas as pd

    return pd.DataFrame(_rows(n), columns=["a", "b", "c"])


def _sklearn(path: Path) -> None:
    import flavorkit
    from sklearn.linear_model import LogisticRegression

    frame = _frame(20)
    model = LogisticRegression().fit(frame, (frame["a"] > 0).astype(int))
    flavorkit.save_model(model, path, input_example=frame.head(4))


def _torch(path: Path, fmt: str) -> None:
    import adversarial_torch
    import flavorkit

    flavorkit.save_model(
        adversarial_torch.Net(),
        path,
        input_example=_rows(4).astype("float32"),
        serialization_format=fmt,
    )


def _custom(path: Path) -> None:
    import adversarial_models
    import flavorkit

    flavorkit.save_model(adversarial_models.Scale(2.0), path, input_example=_frame(4))


def _xgboost(path: Path) -> None:
    import flavorkit
    import xgboost

    rows = _rows(40)
    model = xgboost.XGBRegressor(n_estimators=4, max_depth=2).fit(rows, rows[:, 0])
    flavorkit.save_model(model, path, input_example=rows[:4])


SAVERS: dict[str, Callable[[Path], None]] = {
    "sklearn": _sklearn,
    "pytorch_export": lambda p: _torch(p, "export"),
    "pytorch_state_dict": lambda p: _torch(p, "state_dict"),
    "custom": _custom,
    "xgboost": _xgboost,
}
# what a worker imports before its first probe, per kind (so the first probe is not charged)
PRELOAD = {
    "sklearn": ("flavorkit", "flavorkit.cli", "pandas", "sklearn", "skops.io"),
    "pytorch_export": ("flavorkit", "flavorkit.cli", "pandas", "torch"),
    "pytorch_state_dict": ("flavorkit", "flavorkit.cli", "pandas", "torch", "safetensors.torch"),
    "custom": ("flavorkit", "flavorkit.cli", "pandas"),
    "xgboost": ("flavorkit", "flavorkit.cli", "pandas", "xgboost"),
}


def save_pristine(root: str | Path, kinds: Iterable[str] = KINDS) -> dict[str, Path]:
    """Save one model of each kind under ``root``; return ``{kind: folder}``."""
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # frameworks' own deprecation notes are not the point here
        for kind in kinds:
            path = Path(root) / kind
            if path.exists():
                shutil.rmtree(path)
            SAVERS[kind](path)
            out[kind] = path
    return out


class Workers:
    """One warm probe worker per flavor kind, started on first use (a crash restarts it)."""

    def __init__(self, cwd: Path, tmpdir: Path) -> None:
        self.cwd = cwd
        self.tmpdir = tmpdir
        self._workers: dict[str, Worker] = {}

    def __getitem__(self, kind: str) -> Worker:
        if kind not in self._workers:
            self._workers[kind] = Worker(
                cwd=self.cwd, env=worker_env([HERE]), preload=PRELOAD[kind], tmpdir=self.tmpdir
            )
        return self._workers[kind]

    def close(self) -> None:
        for worker in self._workers.values():
            worker.close()
