"""flavorkit -> MLflow: folders flavorkit saves load and predict in MLflow 3.17.

One module fixture saves every folder here and runs one MLflow process
(``mlflow_load_flavorkit.py``) that loads them all with MLflow's API; the
tests compare what it saw with what flavorkit itself predicts and wrote.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import flavorkit
import flavorkit_sklearn
import httpx
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from flavorkit.exceptions import UnsafeFormatError
from interop_models import (
    Affine,
    iris_frame,
    logistic_regression,
    make_mlp,
    scaled_pipeline,
    small_forest,
    tensor_batch,
)
from interop_support import MLFLOW_CLI, dump, load, mlflow_env, run_in_mlflow, values

# name -> (model factory, save options, prediction data, predict params, MLflow checks)
FOLDERS: dict[str, tuple[Any, dict[str, Any], Any, dict[str, Any] | None, list[str]]] = {
    "sklearn_skops": (
        logistic_regression,
        {"input_example": lambda: iris_frame()[0].head(3)},
        lambda: iris_frame()[0].head(12),
        None,
        ["pyfunc", "sklearn", "manifest", "serving"],
    ),
    "sklearn_skops_proba": (
        scaled_pipeline,
        {"input_example": lambda: iris_frame()[0].head(3), "predict_fn": "predict_proba"},
        lambda: iris_frame()[0].head(12),
        None,
        ["pyfunc", "sklearn", "manifest"],
    ),
    "sklearn_forest_skops": (
        small_forest,
        {"input_example": lambda: iris_frame()[0].head(3)},
        lambda: iris_frame()[0].head(12),
        None,
        ["pyfunc", "sklearn"],
    ),
    "sklearn_cloudpickle": (
        scaled_pipeline,
        {"input_example": lambda: iris_frame()[0].head(3), "serialization_format": "cloudpickle"},
        lambda: iris_frame()[0].head(12),
        None,
        ["pyfunc", "pyfunc_unsafe", "sklearn"],
    ),
    "pytorch_export": (
        make_mlp,
        {"input_example": lambda: tensor_batch(3)},
        lambda: tensor_batch(9),
        None,
        ["pyfunc", "pytorch", "manifest", "serving"],
    ),
    "pytorch_state_dict": (
        make_mlp,
        {
            "input_example": lambda: tensor_batch(3),
            "serialization_format": "state_dict",
            "factory": "interop_models:make_mlp",
        },
        lambda: tensor_batch(9),
        None,
        ["pyfunc", "pytorch", "manifest"],
    ),
    "custom": (
        Affine,
        {
            "input_example": lambda: (iris_frame()[0].head(3), {"scale": 2.0}),
            "signature": lambda: flavorkit.infer_signature(
                iris_frame()[0].head(3),
                Affine().predict(None, iris_frame()[0].head(3)),
                {"scale": 2.0},
            ),
        },
        lambda: iris_frame()[0].head(12),
        {"scale": 3.0},
        ["pyfunc", "manifest", "serving"],
    ),
}
PYFUNC_FOLDERS = [
    "sklearn_skops",
    "sklearn_skops_proba",
    "pytorch_export",
    "pytorch_state_dict",
    "custom",
]


class Saved:
    """What the fixture produced: folder paths, flavorkit's predictions, MLflow's results."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.paths: dict[str, Path] = {}
        self.data: dict[str, Any] = {}
        self.params: dict[str, Any] = {}
        self.ours: dict[str, Any] = {}
        self.mlflow: dict[str, dict[str, Any]] = {}

    def result(self, name: str, check: str) -> dict[str, Any]:
        """MLflow's outcome of ``check`` on folder ``name`` (``ok``, and ``value`` or the error)."""
        return self.mlflow[name][check]

    def value(self, name: str, check: str) -> Any:
        """What MLflow's ``check`` returned; fails the test with MLflow's traceback if it raised."""
        res = self.result(name, check)
        assert res["ok"], f"MLflow {check} on {name} failed: {res['error']}: {res['traceback']}"
        return res["value"]


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Saved:
    out = Saved(tmp_path_factory.mktemp("to_mlflow"))
    job = []
    for name, (factory, options, data, params, checks) in FOLDERS.items():
        opts = {k: v() if callable(v) else v for k, v in options.items()}
        path = out.root / name
        flavorkit.save_model(factory(), path, **opts)
        out.paths[name], out.data[name], out.params[name] = path, data(), params
        model = flavorkit.load_model(path, allow_unsafe=True)
        out.ours[name] = model.predict(out.data[name], params=params)
        job.append(
            {
                "name": name,
                "path": str(path),
                "data": out.data[name],
                "params": params,
                "checks": checks,
            }
        )
    run_in_mlflow(
        "mlflow_load_flavorkit.py", dump(job, out.root / "job.pkl"), out.root / "result.pkl"
    )
    out.mlflow = load(out.root / "result.pkl")
    return out


def _same_prediction(theirs: Any, ours: Any) -> None:
    assert type(theirs).__name__ == type(ours).__name__
    np.testing.assert_allclose(values(theirs), values(ours), rtol=1e-6)
    if isinstance(ours, pd.DataFrame):
        assert list(theirs.columns) == list(ours.columns)


@pytest.mark.parametrize("name", PYFUNC_FOLDERS)
def test_mlflow_pyfunc_predicts_like_flavorkit(saved: Saved, name: str) -> None:
    _same_prediction(saved.value(name, "pyfunc"), saved.ours[name])


@pytest.mark.parametrize("name", ["sklearn_skops", "sklearn_skops_proba"])
def test_mlflow_sklearn_load_model_reads_skops_folders(saved: Saved, name: str) -> None:
    native = saved.value(name, "sklearn")
    estimator = flavorkit.load_native(saved.paths[name])
    assert native["type"] == type(estimator).__name__
    np.testing.assert_array_equal(native["predict"], estimator.predict(saved.data[name]))


@pytest.mark.parametrize(
    "name", ["sklearn_skops", "sklearn_skops_proba", "pytorch_export", "custom"]
)
def test_mlflow_reads_flavorkit_signature_unchanged(saved: Saved, name: str) -> None:
    written = yaml.safe_load((saved.paths[name] / "MLmodel").read_text())["signature"]
    seen = saved.value(name, "manifest")["signature"]
    for part in ("inputs", "outputs", "params"):
        ours = json.loads(written[part]) if written.get(part) else None
        theirs = json.loads(seen[part]) if seen.get(part) else None
        assert theirs == ours, part
    assert written["inputs"] is not None


@pytest.mark.parametrize("name", ["sklearn_skops", "pytorch_export", "custom"])
def test_mlflow_reads_flavorkit_input_example(saved: Saved, name: str) -> None:
    manifest = saved.value(name, "manifest")
    ours = flavorkit.load_model(saved.paths[name], allow_unsafe=True)
    theirs = manifest["input_example"]
    np.testing.assert_allclose(values(theirs), values(ours.input_example))
    if isinstance(ours.input_example, pd.DataFrame):
        assert list(theirs.columns) == list(ours.input_example.columns)
    assert manifest["input_example_params"] == ours.input_example_params
    np.testing.assert_allclose(values(manifest["pyfunc_input_example"]), values(ours.input_example))


@pytest.mark.parametrize("name", ["sklearn_skops", "pytorch_export", "custom"])
def test_mlflow_validates_flavorkit_serving_example(saved: Saved, name: str) -> None:
    model = flavorkit.load_model(saved.paths[name], allow_unsafe=True)
    expected = model.predict(model.input_example, params=model.input_example_params)
    np.testing.assert_allclose(values(saved.value(name, "serving")), values(expected), rtol=1e-6)


def test_mlflow_pyfunc_keeps_flavorkit_unsafe_gate(saved: Saved) -> None:
    """Deliberate difference: flavorkit's loader refuses pickles inside MLflow too, unless opted in.

    MLflow's own sklearn loader reads the same folder.
    """
    refused = saved.result("sklearn_cloudpickle", "pyfunc")
    assert not refused["ok"] and refused["error"] == "UnsafeFormatError"
    assert "FLAVORKIT_ALLOW_UNSAFE" in refused["message"]
    _same_prediction(
        saved.value("sklearn_cloudpickle", "pyfunc_unsafe"), saved.ours["sklearn_cloudpickle"]
    )
    # MLflow's own sklearn loader has no such gate (MLFLOW_ALLOW_PICKLE_DESERIALIZATION
    # defaults to true)
    native = saved.value("sklearn_cloudpickle", "sklearn")
    assert native["type"] == "Pipeline"


def test_skops_trust_comes_from_the_caller_not_the_folder(saved: Saved) -> None:
    """Deliberate difference: MLflow trusts the types a folder lists; flavorkit never does."""
    path = saved.paths["sklearn_forest_skops"]
    tree = "sklearn.tree._tree.Tree"
    assert yaml.safe_load((path / "MLmodel").read_text())["flavors"]["sklearn"][
        "skops_trusted_types"
    ] == [tree]
    native = saved.value("sklearn_forest_skops", "sklearn")
    assert native["type"] == "RandomForestClassifier"
    refused = saved.result("sklearn_forest_skops", "pyfunc")
    assert (
        not refused["ok"] and refused["error"] == "UnsafeFormatError" and tree in refused["message"]
    )
    with pytest.raises(UnsafeFormatError, match=tree.replace(".", r"\.")):
        flavorkit.load_model(path)
    with flavorkit_sklearn.trust([tree]):
        model = flavorkit.load_model(path)
    np.testing.assert_array_equal(
        model.predict(saved.data["sklearn_forest_skops"]), native["predict"]
    )


def test_mlflow_pytorch_load_model_reads_export_folders(saved: Saved) -> None:
    module = flavorkit.load_native(saved.paths["pytorch_export"])
    with torch.no_grad():
        expected = module(torch.from_numpy(saved.data["pytorch_export"])).numpy()
    np.testing.assert_allclose(saved.value("pytorch_export", "pytorch"), expected, rtol=1e-6)


def test_mlflow_pytorch_load_model_cannot_read_state_dict_folders(saved: Saved) -> None:
    """Deliberate difference: the ``state_dict`` format loads in MLflow through pyfunc only."""
    res = saved.result("pytorch_state_dict", "pytorch")
    assert not res["ok"]
    assert (saved.paths["pytorch_state_dict"] / "data" / "model.safetensors").is_file()
    assert saved.value("pytorch_state_dict", "pyfunc") is not None


# -- mlflow models serve --------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_ping(proc: subprocess.Popen[bytes], url: str, deadline: float) -> list[str]:
    """Poll ``url``/ping until it answers 200, paced by the server's output; return the output."""
    output: list[str] = []
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/ping", timeout=2).status_code == 200:
                    return output
            except httpx.TransportError:
                pass
            # block until the server says something (or half a second passes), then ask again
            for _key, _ in sel.select(timeout=0.5):
                line = proc.stdout.readline().decode(errors="replace")
                if line:
                    output.append(line)
            if proc.poll() is not None:
                rest = proc.stdout.read().decode(errors="replace")
                raise AssertionError(
                    f"mlflow models serve exited with {proc.returncode}:\n{''.join(output)}{rest}"
                )
    raise AssertionError(
        "mlflow models serve did not answer /ping in time:\n" + "".join(output)[-4000:]
    )


def test_mlflow_models_serve_serves_flavorkit_folder(saved: Saved) -> None:
    path = saved.paths["sklearn_skops"]
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            str(MLFLOW_CLI),
            "models",
            "serve",
            "-m",
            str(path),
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-w",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=mlflow_env(),
        start_new_session=True,
    )
    try:
        _wait_for_ping(proc, url, time.monotonic() + 90)
        payload = (path / "serving_input_example.json").read_bytes()
        response = httpx.post(
            f"{url}/invocations",
            content=payload,
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
    finally:
        # the CLI starts uvicorn as a child: stop the whole session this test started
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert response.status_code == 200, response.text[:2000]
    model = flavorkit.load_model(path)
    expected = model.predict(model.input_example)
    assert response.json() == {"predictions": expected.tolist()}
