"""Check that pytorch-flavor models predict the same on CUDA as on the CPU.

Saves a small MLP on the CPU in the ``export`` and ``state_dict`` formats,
loads each with ``device="cuda"`` (through the load-time config and through
the ``device`` param), and compares with CPU predictions. Prints one line:
``OK: ...``, ``FAIL: ...`` or ``SKIP: no CUDA``. Exits 0 on OK and SKIP,
1 on FAIL.

Run from anywhere with the flavorkit and flavorkit-torch environment:
``python plugins/torch/scripts/cuda_check.py``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import flavorkit
import numpy as np
import torch

TOLERANCE = 1e-5


def build_mlp() -> torch.nn.Module:
    """The factory the state_dict folder names (``cuda_check:build_mlp``)."""
    return torch.nn.Sequential(
        torch.nn.Linear(16, 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 3),
    )


def _max_diff(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, a.dtype, b.shape, b.dtype)
    return float(np.abs(a - b).max())


def main() -> int:
    """Run the comparison; return the exit status."""
    if not torch.cuda.is_available():
        print("SKIP: no CUDA")
        return 0
    # the state_dict factory is imported by name: make this file importable as cuda_check
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    torch.manual_seed(0)
    model = build_mlp()
    x = np.random.default_rng(0).normal(size=(300, 16)).astype(np.float32)
    diffs: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("export", "state_dict"):
            path = Path(tmp) / fmt
            options = {"factory": "cuda_check:build_mlp"} if fmt == "state_dict" else {}
            flavorkit.save_model(
                model, path, input_example=x[:2], serialization_format=fmt, **options
            )
            cpu = flavorkit.load_model(path, model_config={"device": "cpu"}).predict(x)
            on_cuda = flavorkit.load_model(path, model_config={"device": "cuda"})
            native = on_cuda.unwrap()
            device = next(native.parameters()).device
            assert device.type == "cuda", f"{fmt}: module loaded on {device}, not cuda"
            diffs[f"{fmt}/config"] = _max_diff(on_cuda.predict(x, params={"batch_size": 64}), cpu)
            # a CPU-loaded model asked for cuda per call
            cpu_loaded = flavorkit.load_model(path)
            diffs[f"{fmt}/param"] = _max_diff(cpu_loaded.predict(x, params={"device": "cuda"}), cpu)
            diffs[f"{fmt}/back"] = _max_diff(cpu_loaded.predict(x), cpu)
    worst = max(diffs, key=diffs.__getitem__)
    name = torch.cuda.get_device_name(0)
    if diffs[worst] > TOLERANCE:
        print(f"FAIL: {worst} differs from CPU by {diffs[worst]:.2e} > {TOLERANCE:g} on {name}")
        return 1
    print(
        f"OK: export and state_dict on cuda ({name}, torch {torch.__version__}) match CPU "
        f"within {TOLERANCE:g} (max diff {diffs[worst]:.2e} at {worst})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
