"""The Python environment exported models run in under the test tritonserver (numpy < 2).

The ``nvidia-pytriton`` 0.7.0 server (Triton 2.51) has a Python backend stub
built against NumPy 1.x: with numpy 2 in the model's environment its tensors
come out corrupted (Triton 2.51/2.52 list it as a known issue). So the tests
export with ``--python-env`` naming this virtual environment: numpy<2, the
torch and scikit-learn versions of the running environment, and this
checkout's flavorkit with the sklearn and torch plugins (editable).

``python plugins/triton/tests/backend_env.py [PATH]`` builds it (``make
triton-env``); the tests' session fixture does the same when it is missing
or out of date. A stamp file records what it was built with.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
STAMP = ".installed-triton"


def default_path() -> Path:
    """``FLAVORKIT_TRITON_ENV``, else ``.venvs/triton`` in the checkout."""
    return Path(os.environ.get("FLAVORKIT_TRITON_ENV") or ROOT / ".venvs" / "triton")


def requirements() -> list[str]:
    """pip arguments: numpy 1.x, this environment's torch and scikit-learn, the checkout."""
    from importlib.metadata import version

    return [
        "numpy<2",
        f"torch=={version('torch').split('+')[0]}",
        f"scikit-learn=={version('scikit-learn')}",
        *("-e", str(ROOT)),
        *("-e", str(ROOT / "plugins" / "sklearn")),
        *("-e", str(ROOT / "plugins" / "torch")),
    ]


def ensure(path: Path | None = None) -> Path:
    """Build the environment at ``path`` unless its stamp says it is current; returns ``path``.

    Raises ``RuntimeError`` with pip's output when a step fails.
    """
    path = path or default_path()
    wanted = "\n".join(requirements())
    stamp = path / STAMP
    if stamp.is_file() and stamp.read_text() == wanted:
        return path
    python = path / "bin" / "python"
    for step in (
        [sys.executable, "-m", "venv", str(path)],
        [str(python), "-m", "pip", "install", "--quiet", *requirements()],
    ):
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"{' '.join(step[:4])} ... failed:\n{done.stderr[-3000:]}")
    stamp.write_text(wanted)
    return path


if __name__ == "__main__":
    print(ensure(Path(sys.argv[1]) if len(sys.argv) > 1 else None))
