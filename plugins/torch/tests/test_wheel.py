"""The plugin as users get it: wheels installed into a fresh virtual environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from flavorkit.testing import install_wheels_in_fresh_venv

PLUGIN_ROOT = Path(__file__).resolve().parents[1]
# the CPU build that lies on local disk; an unpinned torch would pull a multi-GB CUDA build
TORCH = "torch==2.13.0"

ROUND_TRIP = """
import sys
import numpy as np, torch, flavorkit, flavorkit_torch
torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
x = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
flavorkit_torch.save_model(net, sys.argv[1], input_example=x[:2])
out = flavorkit.load_model(sys.argv[1]).predict(x, params={"batch_size": 7})
with torch.no_grad():
    expected = net.eval()(torch.from_numpy(x)).numpy()
assert np.abs(out - expected).max() < 1e-6, np.abs(out - expected).max()
print(open(sys.argv[1] + "/requirements.txt").read())
"""


@pytest.mark.slow
def test_wheel_install_registers_flavor_and_round_trips(tmp_path: Path) -> None:
    # TORCH first and pinned, so the plugin's "torch>=2.4" is already met
    venv = install_wheels_in_fresh_venv([PLUGIN_ROOT], tmp_path, pip_args=[TORCH])
    assert venv.wheels[0].name.startswith("flavorkit_torch-0.1.0-")

    assert "pytorch" in venv.flavors()
    requirements = venv.run("python", "-c", ROUND_TRIP, tmp_path / "model").split()
    assert "torch==2.13.0" in requirements
    assert any(line.startswith("flavorkit-torch==0.1.0") for line in requirements)

    venv.run("python", "-m", "pip", "uninstall", "--yes", "--quiet", "flavorkit-torch")
    assert "pytorch" not in venv.flavors()
