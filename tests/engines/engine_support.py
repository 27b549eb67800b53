"""What the engine tests share besides fixtures: the saved models' record and small helpers.

A module of its own (not ``conftest``): other test folders have a ``conftest`` too, and
``from conftest import ...`` would find whichever was imported first.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

# rows per Arrow batch in the Spark tests: a partition of a few hundred rows is several batches
ARROW_BATCH = 64
# pyspark 4.3 warns on import that it does not fully support pandas 3; the tests run pandas 3
PYSPARK_PANDAS_WARNING = "ignore:PySpark does not yet fully support pandas:FutureWarning"


@dataclass(frozen=True)
class Models:
    """Folders saved once per session, and data of their signature's shape."""

    regressor: Path  # scikit-learn LinearRegression on a, b, c (double) -> double
    classifier: Path  # LogisticRegression on a, b, c -> long; params predict_fn
    torch: Path  # a torch Linear(4 -> 2), unnamed tensor (-1, 4) float32 -> (-1, 2)
    two_outputs: Path  # custom (code in the folder): a, b -> score double, label string; scale
    counts: Path  # custom (code in the folder): x -> 2x, logs loads and batches
    whole: Path  # custom (code in the folder): n long -> n + 1
    frame: pd.DataFrame  # 300 rows of a, b, c (double)


def frame_of(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(size=(rows, 3)), columns=["a", "b", "c"])


def copy_with_requirement(models: Models, tmp_path: Path, line: str) -> Path:
    """A copy of the regressor whose requirements.txt also demands ``line``."""
    folder = tmp_path / "demanding"
    shutil.copytree(models.regressor, folder)
    with (folder / "requirements.txt").open("a") as fh:
        fh.write(f"{line}\n")
    return folder
