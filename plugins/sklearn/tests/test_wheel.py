"""The plugin as users get it: wheels installed into a fresh virtual environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from flavorkit.testing import install_wheels_in_fresh_venv

PLUGIN_ROOT = Path(__file__).resolve().parents[1]

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


@pytest.mark.slow
def test_wheel_install_registers_flavor_and_uninstall_removes_it(tmp_path: Path) -> None:
    venv = install_wheels_in_fresh_venv([PLUGIN_ROOT], tmp_path)
    assert venv.wheels[0].name.startswith("flavorkit_sklearn-")

    assert "sklearn" in venv.flavors()
    assert "sklearn" in venv.run("flavorkit", "flavors")
    requirements = venv.run("python", "-c", ROUND_TRIP, tmp_path / "model")
    assert "scikit-learn==" in requirements and "skops==" in requirements

    venv.run("python", "-m", "pip", "uninstall", "--yes", "--quiet", "flavorkit-sklearn")
    assert "sklearn" not in venv.flavors()
    assert "flavorkit-sklearn" not in venv.run("flavorkit", "flavors")
