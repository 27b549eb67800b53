"""The models and ``flavorkit serve`` servers of the V2 tests, and their request helpers.

Shared by ``test_server_v2.py`` (the protocol) and
``adversarial/test_adv_v2.py`` (hostile clients); a test module imports the
fixtures it uses by name. The models are importable: the servers load them
by reference.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flavorkit
import httpx
import numpy as np
import pandas as pd
import pytest
from _serving_models import Server, save_linear, start_server
from flavorkit import ColSpec, ModelSignature, Schema

# -- models (importable: the servers load them by reference) ------------------------


class Kinds(flavorkit.PythonModel):
    """One output per input type: text, bytes, datetime, boolean, int32 + float32, arrays."""

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> Any:
        df = model_input
        return pd.DataFrame(
            {
                "upper": df["name"].str.upper().astype(object),
                "size": df["blob"].map(len).astype("int64"),
                "year": df["when"].dt.year.astype("int64"),
                "flip": ~df["flag"].astype(bool),
                "total": df["count"].astype("float64") + df["ratio"].astype("float64"),
                "tags": df["tags"].map(len).astype("int64"),
            }
        )


KINDS_SIGNATURE = ModelSignature(
    inputs=Schema(
        [
            ColSpec("string", "name"),
            ColSpec("binary", "blob"),
            ColSpec("datetime", "when"),
            ColSpec("boolean", "flag"),
            ColSpec("integer", "count"),
            ColSpec("float", "ratio"),
            ColSpec(flavorkit.Array("string"), "tags"),
        ]
    ),
    outputs=Schema(
        [
            ColSpec("string", "upper"),
            ColSpec("long", "size"),
            ColSpec("long", "year"),
            ColSpec("boolean", "flip"),
            ColSpec("double", "total"),
            ColSpec("long", "tags"),
        ]
    ),
)


def kinds_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": ["ab", "Zé"],
            "blob": [b"\x00\xffraw", b"xy"],
            "when": pd.to_datetime(["2021-03-04T05:06:07", "1999-12-31T23:59:59"]),
            "flag": [True, False],
            "count": np.array([3, -7], dtype=np.int32),
            "ratio": np.array([0.5, 1.25], dtype=np.float32),
            "tags": [["a", "b"], ["c"]],
        }
    )


class Echo(flavorkit.PythonModel):
    """No signature: says what the model was given (type, dtypes, shapes, values) and params."""

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        def describe(value: Any) -> str:
            if isinstance(value, np.ndarray):
                return f"ndarray {value.dtype} {list(value.shape)} {value.tolist()!r}"
            return f"{type(value).__name__} {value!r}"

        if isinstance(model_input, pd.DataFrame):
            parts = [
                f"{c}: {model_input[c].dtype} {model_input[c].tolist()!r}" for c in model_input
            ]
            kind = "DataFrame"
        elif isinstance(model_input, dict):
            parts = [f"{k}: {describe(v)}" for k, v in model_input.items()]
            kind = "dict"
        else:
            parts = [describe(model_input)]
            kind = type(model_input).__name__
        return {
            "kind": np.array([kind], dtype=object),
            "parts": np.array(parts, dtype=object),
            "params": np.array([json.dumps(params, sort_keys=True)], dtype=object),
        }


class Sum(flavorkit.PythonModel):
    """Named tensors in, a dict out: ``s = x.sum(axis=1) + k``."""

    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        return {"s": model_input["x"].sum(axis=1) + model_input["k"]}


# -- servers ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("v2-models")


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("v2-logs")


def _serve(model: Path | str, logs: Path, *args: str, **kw: Any) -> Iterator[Server]:
    server = start_server(model, *args, log_dir=logs, **kw)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def linear_path(folders: Path) -> Path:
    return save_linear(folders / "linear")


@pytest.fixture(scope="module")
def linear(linear_path: Path, logs: Path) -> Iterator[Server]:
    yield from _serve(linear_path, logs, "--max-body-size", "65536", "--max-request-rows", "1000")


@pytest.fixture(scope="module")
def kinds_path(folders: Path) -> Path:
    path = folders / "kinds"
    flavorkit.save_model(Kinds(), path, signature=KINDS_SIGNATURE, input_example=kinds_frame())
    return path


@pytest.fixture(scope="module")
def kinds(kinds_path: Path, logs: Path) -> Iterator[Server]:
    yield from _serve(kinds_path, logs)


@pytest.fixture(scope="module")
def echo(folders: Path, logs: Path) -> Iterator[Server]:
    path = folders / "echo-folder"
    flavorkit.save_model(Echo(), path)
    yield from _serve(path, logs, "--name", "echo")


@pytest.fixture(scope="module")
def sklearn_model(folders: Path) -> tuple[Path, pd.DataFrame]:
    pytest.importorskip("sklearn")
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(7)
    X = pd.DataFrame(rng.normal(size=(200, 4)), columns=["f0", "f1", "f2", "f3"])
    y = (X["f0"] + X["f1"] * 2 > X["f2"]).astype(int)
    path = folders / "iris-like"
    flavorkit.save_model(LogisticRegression().fit(X, y), path, input_example=X.head(3))
    return path, X.tail(25).reset_index(drop=True)


@pytest.fixture(scope="module")
def sklearn_server(sklearn_model: tuple[Path, pd.DataFrame], logs: Path) -> Iterator[Server]:
    yield from _serve(sklearn_model[0], logs)


@pytest.fixture(scope="module")
def torch_model(folders: Path) -> tuple[Path, np.ndarray]:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh()).eval()
    path = folders / "torch-tensors"
    example = np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32)
    flavorkit.save_model(module, path, input_example=example)
    batch = np.random.default_rng(2).normal(size=(9, 3)).astype(np.float32)
    return path, batch


@pytest.fixture(scope="module")
def torch_server(torch_model: tuple[Path, np.ndarray], logs: Path) -> Iterator[Server]:
    yield from _serve(torch_model[0], logs)


def post(
    server: Server, path: str, body: Any, headers: dict[str, str] | None = None
) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(f"{server.url}{path}", content=content, headers=headers, timeout=30)


def column(name: str, datatype: str, data: list[Any], **parameters: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"name": name, "shape": [len(data), 1], "datatype": datatype}
    item["data"] = data
    if parameters:
        item["parameters"] = parameters
    return item


def linear_inputs(a: list[float], b: list[int]) -> list[dict[str, Any]]:
    return [column("a", "FP64", a), column("b", "INT64", b)]
