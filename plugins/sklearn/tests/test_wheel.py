"""The plugin as users get it: wheels installed into a fresh virtual environment."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN_ROOT = Path(__file__).resolve().parents[1]
REPO_ROOT = PLUGIN_ROOT.parents[1]
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
import numpy as np, flavorkit, flavorkit_sklearn
from sklearn.linear_model import LogisticRegression
X = np.arange(20, dtype=float).reshape(10, 2); y = (X[:, 0] > 8).astype(int)
clf = LogisticRegression().fit(X, y)
flavorkit_sklearn.save_model(clf, sys.argv[1], input_example=X[:3])
out = flavorkit.load_model(sys.argv[1]).predict(X)
assert (out == clf.predict(X)).all(), out
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
def test_wheel_install_registers_flavor_and_uninstall_removes_it(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    core_wheel = _build_wheel(_copy_core(tmp_path / "core-src"), wheels)
    plugin_src = tmp_path / "plugin-src"
    shutil.copytree(PLUGIN_ROOT, plugin_src, ignore=IGNORE)
    plugin_wheel = _build_wheel(plugin_src, wheels)
    assert plugin_wheel.name.startswith("flavorkit_sklearn-")

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    _run(
        python,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        core_wheel,
        plugin_wheel,
    )

    assert "sklearn" in _run(python, "-c", LIST_FLAVORS).split()
    assert "sklearn" in _run(venv / "bin" / "flavorkit", "flavors")
    requirements = _run(python, "-c", ROUND_TRIP, tmp_path / "model")
    assert "scikit-learn==" in requirements and "skops==" in requirements

    _run(python, "-m", "pip", "uninstall", "--yes", "--quiet", "flavorkit-sklearn")
    assert "sklearn" not in _run(python, "-c", LIST_FLAVORS).split()
    assert "flavorkit-sklearn" not in _run(venv / "bin" / "flavorkit", "flavors")
