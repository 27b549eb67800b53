"""The plugin as users get it: wheels installed into a fresh virtual environment."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN_ROOT = Path(__file__).resolve().parents[1]
REPO_ROOT = PLUGIN_ROOT.parents[1]
# the CPU build that lies on local disk; an unpinned torch would pull a multi-GB CUDA build
TORCH = "torch==2.13.0"
# build outputs and caches that must not travel into the copied source trees
IGNORE = shutil.ignore_patterns(
    "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".venv*", ".git", ".ruff_cache"
)

LIST_FLAVORS = (
    "import flavorkit; "
    "print(' '.join(sorted(f.name for f in flavorkit.list_flavors() if f.status == 'ok')))"
)
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


def _run(*args: str | Path, cwd: Path | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, cwd=cwd, timeout=900
    )
    assert result.returncode == 0, (
        f"{args[:3]} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout


def _copy_core(dest: Path) -> Path:
    # the files at the repository root (pyproject.toml, README, LICENSE ...) and the package
    dest.mkdir()
    for item in REPO_ROOT.iterdir():
        if item.is_file():
            shutil.copy2(item, dest / item.name)
    shutil.copytree(REPO_ROOT / "core", dest / "core", ignore=IGNORE)
    return dest


def _build_wheel(source: Path, out: Path) -> Path:
    # --no-isolation: build with this interpreter's setuptools, no download needed;
    # copies of the sources keep build/ and *.egg-info out of the working tree
    before = set(out.glob("*.whl"))
    _run(sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", out, source)
    (wheel,) = set(out.glob("*.whl")) - before
    return wheel


@pytest.mark.slow
def test_wheel_install_registers_flavor_and_round_trips(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    core_wheel = _build_wheel(_copy_core(tmp_path / "core-src"), wheels)
    plugin_src = tmp_path / "plugin-src"
    shutil.copytree(PLUGIN_ROOT, plugin_src, ignore=IGNORE)
    plugin_wheel = _build_wheel(plugin_src, wheels)
    assert plugin_wheel.name.startswith("flavorkit_torch-0.1.0-")

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    pip = (python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check")
    _run(*pip, TORCH)  # first and pinned, so the plugin's "torch>=2.4" is already met
    _run(*pip, core_wheel, plugin_wheel)

    assert "pytorch" in _run(python, "-c", LIST_FLAVORS).split()
    requirements = _run(python, "-c", ROUND_TRIP, tmp_path / "model").split()
    assert "torch==2.13.0" in requirements
    assert any(line.startswith("flavorkit-torch==0.1.0") for line in requirements)

    _run(python, "-m", "pip", "uninstall", "--yes", "--quiet", "flavorkit-torch")
    assert "pytorch" not in _run(python, "-c", LIST_FLAVORS).split()
