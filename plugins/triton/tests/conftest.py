"""Saved models, exported repositories, the backend's Python environment and a real tritonserver.

Saving and exporting are the slow parts, so each model folder is saved once
per session and shared by the tests that only read it.

The real server comes from the ``nvidia-pytriton`` wheel (see
``flavorkit_triton.testing``): downloaded once into the cache, never
installed. Its Python backend stub (Triton 2.51) was built against NumPy 1.x,
so the environment the exported ``model.py`` runs in is a separate virtual
environment with ``numpy<2``, flavorkit and the sklearn and torch plugins
(``.venvs/triton``, or ``FLAVORKIT_TRITON_ENV``: see ``backend_env.py``);
the session builds it when ``make triton-env`` has not.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import flavorkit
import numpy as np
import pandas as pd
import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
# the V2 client shared with flavorkit serve's tests (tests/_v2_client.py)
if str(ROOT / "tests") not in sys.path:
    sys.path.append(str(ROOT / "tests"))


@pytest.fixture(scope="session")
def backend_env() -> Path:
    """The Python environment the exported models run in under tritonserver (numpy < 2)."""
    import backend_env as builder

    try:
        return builder.ensure()
    except RuntimeError as exc:
        pytest.fail(f"building the backend environment failed: {exc}")


# -- models -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def sklearn_model(models: Path) -> tuple[Path, np.ndarray]:
    """A LogisticRegression on a float64 ndarray: a tensor signature, one int64 1-D output."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 4))
    model = LogisticRegression().fit(X, (X[:, 0] + X[:, 1] > 0).astype(np.int64))
    path = models / "iris"
    flavorkit.save_model(model, path, input_example=X[:3])
    return path, rng.normal(size=(7, 4))


@pytest.fixture(scope="session")
def frame_model(models: Path) -> tuple[Path, pd.DataFrame]:
    """A scikit-learn Pipeline on a DataFrame with a text column: columns in, one column out."""
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 90, size=60).astype(np.int64),
            "income": rng.normal(50_000, 10_000, size=60),
            "city": rng.choice(["paris", "lima", "oslo"], size=60),
        }
    )
    y = ((frame["income"] > 50_000) | (frame["city"] == "oslo")).to_numpy().astype(np.int64)
    model = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["city"]), remainder="passthrough"),
        LogisticRegression(max_iter=500),
    ).fit(frame, y)
    path = models / "churn"
    flavorkit.save_model(model, path, input_example=frame.head(3))
    return path, frame.sample(9, random_state=2).reset_index(drop=True)


@pytest.fixture(scope="session")
def torch_model(models: Path) -> tuple[Path, np.ndarray]:
    """A PyTorch MLP: a float32 (-1, 4) tensor in, a (-1, 2) tensor out."""
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    rng = np.random.default_rng(3)
    path = models / "mlp"
    flavorkit.save_model(net.eval(), path, input_example=rng.normal(size=(3, 4)).astype("float32"))
    return path, rng.normal(size=(6, 4)).astype("float32")


@pytest.fixture(scope="session")
def custom_model(models: Path) -> tuple[Path, pd.DataFrame]:
    """A custom PythonModel shipped as code (needs the unsafe opt-in): four column types in,
    text and double columns out, a ``scale`` param."""
    import triton_models

    path = models / "scorer"
    flavorkit.save_model(
        triton_models.Scorer(),
        path,
        input_example=(triton_models.scorer_frame(4, 0), {"scale": 1.0}),
        code_paths=[str(HERE / "triton_models.py")],
    )
    return path, triton_models.scorer_frame(8, 1)


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty embedded registry named by ``FLAVORKIT_REGISTRY_URI``."""
    from flavorkit.registry._resolve import forget_registries

    folder = tmp_path / "registry"
    monkeypatch.setenv("FLAVORKIT_REGISTRY_URI", str(folder))
    monkeypatch.setenv("FLAVORKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("FLAVORKIT_USER", "tester")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    yield folder
    forget_registries()
