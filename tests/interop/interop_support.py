"""Running MLflow's interpreter from the interop tests, and comparing what comes back.

Data crosses between the two environments as pickle files (both hold the
same numpy and pandas), model folders as paths.
"""

from __future__ import annotations

import os
import pickle
import subprocess
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
MLFLOW_VENV = ROOT / ".venvs" / "mlflow"
MLFLOW_PYTHON = MLFLOW_VENV / "bin" / "python"
MLFLOW_CLI = MLFLOW_VENV / "bin" / "mlflow"


def mlflow_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment MLflow's processes run with: this one minus flavorkit's venv, offline."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    }
    env["PATH"] = f"{MLFLOW_VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    # no telemetry or update checks: the tests run offline
    env.update({"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"})
    env.pop("FLAVORKIT_ALLOW_UNSAFE", None)
    env.update(extra or {})
    return env


def run_in_mlflow(script: str, *args: str | Path, timeout: float = 240) -> None:
    """Run ``tests/interop/<script>`` with MLflow's interpreter.

    The script's folder comes first on its ``sys.path``, so it imports the
    shared model and case modules here. Raises ``AssertionError`` with the
    tail of its output when it exits non-zero.
    """
    proc = subprocess.run(
        [str(MLFLOW_PYTHON), str(HERE / script), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=mlflow_env(),
        cwd=HERE,
        check=False,
    )
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-6000:]
        raise AssertionError(
            f"{script} exited with {proc.returncode} in MLflow's environment:\n{tail}"
        )


def dump(obj: Any, path: Path) -> Path:
    """Pickle ``obj`` to ``path`` for the other environment; returns ``path``."""
    path.write_bytes(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
    return path


def load(path: Path) -> Any:
    """Read what the other environment pickled (written by these tests' own scripts)."""
    return pickle.loads(path.read_bytes())  # our own scripts' output, in a temp dir we made


def values(prediction: Any) -> Any:
    """A prediction as a plain ndarray, whatever container the tool returned."""
    import numpy as np
    import pandas as pd

    if isinstance(prediction, (pd.DataFrame, pd.Series)):
        return prediction.to_numpy()
    return np.asarray(prediction)
