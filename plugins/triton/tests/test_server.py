"""Exported repositories on a real tritonserver, asked with tritonclient like flavorkit serve.

One server (from the ``nvidia-pytriton`` wheel, see ``flavorkit_triton.testing``)
serves the sklearn, PyTorch and custom models this module exports, with
explicit model control so that a test can load one more model and read
Triton's answer. Every prediction is held to ``flavorkit.load_model(...)
.predict`` on the same input, and the same ``_v2_client`` call gets the same
answer from ``flavorkit serve``'s V2 endpoints.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import _v2_client as v2
import numpy as np
import pandas as pd
import pytest
from triton_models import predict, scorer_frame

from flavorkit_triton import export, testing

pytestmark = pytest.mark.server
PYTHON = "3.11"  # the backend environment's Python, and so the stub placed for it


@pytest.fixture(scope="module")
def home(backend_env: Path) -> Path:
    python = next(backend_env.glob("lib/python*/site-packages")).parent.name[len("python") :]
    try:
        found = testing.server_home(python)
    except (RuntimeError, LookupError) as exc:
        pytest.skip(f"no tritonserver for this machine: {exc}")
    reason = testing.runnable(found)
    if reason:
        pytest.skip(f"tritonserver cannot run here: {reason}")
    return found


@pytest.fixture(scope="module")
def repo(
    tmp_path_factory: pytest.TempPathFactory,
    backend_env: Path,
    sklearn_model: tuple[Path, Any],
    frame_model: tuple[Path, Any],
    torch_model: tuple[Path, Any],
    custom_model: tuple[Path, Any],
) -> Path:
    repo = tmp_path_factory.mktemp("served") / "repo"
    export(sklearn_model[0], repo, python_env=backend_env)
    export(frame_model[0], repo, python_env=backend_env, max_batch_size=16)
    export(torch_model[0], repo, python_env=backend_env, instances=2)
    export(custom_model[0], repo, python_env=backend_env, allow_unsafe=True)
    return repo


@pytest.fixture(scope="module")
def triton(home: Path, repo: Path) -> Iterator[testing.TritonServer]:
    server = testing.TritonServer(
        repo,
        home=home,
        log=repo.parent / "tritonserver.log",
        args=["--model-control-mode=explicit", "--load-model=*"],
    )
    with server:
        yield server


def _assert_same(served: np.ndarray, expected: Any) -> None:
    expected = np.asarray(expected)
    assert served.shape == (len(expected), *(expected.shape[1:] or (1,)))
    np.testing.assert_array_equal(served.reshape(expected.shape), expected)


# -- predictions ----------------------------------------------------------------------


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_triton_sklearn_predictions_equal_load_model(
    triton: testing.TritonServer, sklearn_model: tuple[Path, np.ndarray], binary: bool
) -> None:
    path, X = sklearn_model
    out = v2.infer(triton.url, "iris", {"input-0": X}, binary=binary)
    assert list(out) == ["output-0"] and out["output-0"].dtype == np.int64
    _assert_same(out["output-0"], predict(path, X))


def test_triton_dataframe_with_text_equals_load_model(
    triton: testing.TritonServer, frame_model: tuple[Path, pd.DataFrame]
) -> None:
    path, frame = frame_model
    out = v2.infer(triton.url, "churn", v2.frame_inputs(frame))
    _assert_same(out["output-0"], predict(path, frame))


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_triton_torch_predictions_equal_load_model(
    triton: testing.TritonServer, torch_model: tuple[Path, np.ndarray], binary: bool
) -> None:
    path, X = torch_model
    out = v2.infer(triton.url, "mlp", {"input-0": X}, binary=binary)
    assert out["output-0"].shape == (6, 2) and out["output-0"].dtype == np.float32
    np.testing.assert_allclose(out["output-0"], predict(path, X), rtol=1e-6, atol=1e-7)


def test_triton_custom_model_with_params_equals_load_model(
    triton: testing.TritonServer, custom_model: tuple[Path, pd.DataFrame]
) -> None:
    path, frame = custom_model
    expected = predict(path, frame, {"scale": 2.5})
    out = v2.infer(triton.url, "scorer", v2.frame_inputs(frame), params={"scale": 2.5})
    labels = [b.decode("utf-8") for b in out["label"].ravel()]
    assert labels == list(expected["label"])
    np.testing.assert_allclose(out["score"].ravel(), expected["score"].to_numpy(), rtol=1e-12)
    # the param reached the model: the default scale answers differently
    default = v2.infer(triton.url, "scorer", v2.frame_inputs(frame))
    assert not np.array_equal(default["score"], out["score"])


def test_triton_answers_a_param_the_signature_refuses_with_400_naming_it(
    triton: testing.TritonServer, custom_model: tuple[Path, pd.DataFrame]
) -> None:
    from tritonclient.utils import InferenceServerException

    with pytest.raises(InferenceServerException) as err:
        v2.infer(triton.url, "scorer", v2.frame_inputs(custom_model[1]), params={"scale": "big"})
    assert err.value.status() == "400"
    assert "SchemaEnforcementError" in err.value.message()
    assert "'scale'" in err.value.message()


def test_triton_batched_requests_each_get_their_own_answer(
    triton: testing.TritonServer, custom_model: tuple[Path, pd.DataFrame]
) -> None:
    from tritonclient.utils import InferenceServerException

    path = custom_model[0]
    jobs = []
    for i in range(24):
        frame = scorer_frame(1 + i % 3, 100 + i)
        params = {"scale": "nope"} if i == 7 else {"scale": float(i % 2 + 1)}
        jobs.append((frame, params))

    def ask(job: tuple[pd.DataFrame, dict[str, Any]]) -> Any:
        try:
            return v2.infer(triton.url, "scorer", v2.frame_inputs(job[0]), params=job[1])
        except InferenceServerException as exc:
            return exc

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, jobs))
    for i, ((frame, params), answer) in enumerate(zip(jobs, answers, strict=True)):
        if i == 7:
            assert isinstance(answer, InferenceServerException) and "'scale'" in answer.message()
            continue
        assert not isinstance(answer, Exception), answer
        expected = predict(path, frame, params)
        # the backend runs numpy 1.x: floating results may differ in the last bit
        want = expected["score"].to_numpy()
        np.testing.assert_allclose(answer["score"].ravel(), want, rtol=1e-12)
        assert [b.decode() for b in answer["label"].ravel()] == list(expected["label"])


# -- what Triton reports --------------------------------------------------------------


def test_triton_model_config_is_the_exported_one(triton: testing.TritonServer, repo: Path) -> None:
    from flavorkit_triton._config import read

    with v2.client(triton.url) as conn:
        served = conn.get_model_config("churn")
    written = read(repo / "churn" / "config.pbtxt")
    assert served["max_batch_size"] == written.max_batch_size == 16
    assert [(i["name"], i["data_type"], [int(d) for d in i["dims"]]) for i in served["input"]] == [
        ("age", "TYPE_INT64", [1]),
        ("income", "TYPE_FP64", [1]),
        ("city", "TYPE_STRING", [1]),
    ]
    assert served["instance_group"][0]["kind"] == "KIND_CPU"
    assert "dynamic_batching" in served
    with v2.client(triton.url) as conn:
        assert conn.get_model_config("mlp")["instance_group"][0]["count"] == 2


def test_triton_loading_a_model_for_another_python_names_both_versions(
    triton: testing.TritonServer, repo: Path
) -> None:
    from tritonclient.utils import InferenceServerException

    broken = repo / "other-python"
    shutil.copytree(repo / "iris", broken)
    (broken / "config.pbtxt").write_text(
        (broken / "config.pbtxt").read_text().replace('name: "iris"', 'name: "other-python"')
    )
    plan_file = broken / "1" / "flavorkit_backend.json"
    plan = json.loads(plan_file.read_text())
    plan["environment"]["python"] = "3.99"
    plan_file.write_text(json.dumps(plan))
    try:
        with v2.client(triton.url) as conn, pytest.raises(InferenceServerException) as err:
            conn.load_model("other-python")
        assert "names a Python 3.99 environment" in err.value.message()
        assert f"stub runs Python {PYTHON}" in err.value.message()
    finally:
        shutil.rmtree(broken)


def test_triton_onnx_repository_runs_where_the_server_has_onnxruntime(
    triton: testing.TritonServer, repo: Path, torch_model: tuple[Path, np.ndarray]
) -> None:
    from tritonclient.utils import InferenceServerException

    path, X = torch_model
    export(path, repo, name="mlp-onnx", onnx=True)
    with v2.client(triton.url) as conn:
        if not (triton.home / "backends" / "onnxruntime").is_dir():
            # the pytriton wheel ships only the Python backend: Triton refuses by name, after
            # reading the exported config (ONNX predictions are checked in-process instead)
            with pytest.raises(InferenceServerException) as err:
                conn.load_model("mlp-onnx")
            assert "backend 'onnxruntime'" in err.value.message()
            return
        conn.load_model("mlp-onnx")
    out = v2.infer(triton.url, "mlp-onnx", {"input-0": X})
    np.testing.assert_allclose(out["output-0"], predict(path, X), rtol=1e-5, atol=1e-6)


# -- the same client against flavorkit serve ------------------------------------------


def test_flavorkit_serve_v2_and_triton_give_the_same_answer_to_the_same_call(
    triton: testing.TritonServer,
    custom_model: tuple[Path, pd.DataFrame],
    tmp_path: Path,
) -> None:
    from _serving_models import start_server

    path, frame = custom_model
    server = start_server(path, log_dir=tmp_path, env={"FLAVORKIT_ALLOW_UNSAFE": "1"})
    try:
        answers = [
            v2.infer(url, "scorer", v2.frame_inputs(frame), params={"scale": 0.5})
            for url in (triton.url, server.url)
        ]
        served_meta = v2.model_metadata(server.url, "scorer")
    finally:
        server.stop()
    from_triton, from_flavorkit = answers
    assert sorted(from_triton) == sorted(from_flavorkit) == ["label", "score"]
    # Triton answers text in binary (tritonclient asks for binary outputs): bytes there,
    # str from flavorkit serve's JSON answers; the text itself must be the same
    assert [_text(v) for v in from_triton["label"].ravel()] == [
        _text(v) for v in from_flavorkit["label"].ravel()
    ]
    np.testing.assert_allclose(from_triton["score"], from_flavorkit["score"], rtol=1e-12)
    triton_meta = v2.model_metadata(triton.url, "scorer")

    def shape(meta: dict[str, Any]) -> list[tuple[str, str, list[int]]]:
        return [(t["name"], t["datatype"], [int(d) for d in t["shape"]]) for t in meta["inputs"]]

    assert shape(triton_meta) == shape(served_meta)


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
