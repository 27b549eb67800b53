"""Starting and stopping the server: self-test, --check, SIGTERM, workers, other model kinds."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flavorkit
import httpx
import numpy as np
import pandas as pd
import pytest
from _serving_models import Server, save_doubler, save_labels, save_linear, save_total, start_server
from flavorkit.cli import main


def break_example(path: Path) -> Path:
    """Make the saved serving example lossy for column ``b``, so the self-test fails."""
    (path / "serving_input_example.json").write_text(
        json.dumps({"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 2.7]]}})
    )
    return path


def test_serve_check_passes_for_a_working_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = save_linear(tmp_path / "linear")
    assert main(["serve", "--check", str(path)]) == 0
    assert "self-test passed on the saved input example (2 rows)" in capsys.readouterr().out


def test_serve_check_fails_when_the_example_does_not_predict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = break_example(save_linear(tmp_path / "linear"))
    assert main(["serve", "--check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "failed to predict on its saved input example" in err and "'b'" in err


def test_serve_check_fails_for_a_missing_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--check", str(tmp_path / "nothing")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_server_does_not_start_when_the_self_test_fails(tmp_path: Path) -> None:
    path = break_example(save_linear(tmp_path / "linear"))
    server = Server(path, (), tmp_path / "server.log")
    try:
        assert server.wait_ready() is False  # it exited instead of answering /ping
        assert server.proc.returncode != 0
        assert "failed to predict on its saved input example" in server.log()
    finally:
        server.stop()


def test_server_finishes_in_flight_requests_on_sigterm(tmp_path: Path) -> None:
    server = start_server(save_linear(tmp_path / "linear"), log_dir=tmp_path)
    hold = tmp_path / "release"
    result: dict[str, Any] = {}

    def call() -> None:
        body = {"inputs": {"a": [1.0], "b": [1]}, "params": {"hold": str(hold)}}
        result["response"] = httpx.post(f"{server.url}/invocations", json=body, timeout=60)

    caller = threading.Thread(target=call)
    caller.start()
    try:
        started = hold.with_suffix(".started")
        deadline = time.monotonic() + 30
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.01)  # bounded poll: the model signals that it is predicting
        assert started.exists()
        server.proc.send_signal(signal.SIGTERM)
        hold.touch()  # let the in-flight prediction finish after the signal
        caller.join(timeout=60)
        # uvicorn re-raises the signal after its graceful shutdown
        assert server.proc.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        hold.touch()
        caller.join(timeout=60)
        server.stop()
    response = result["response"]
    assert response.status_code == 200 and response.json() == {"predictions": [3.0]}
    assert "Shutting down" in server.log()


def test_server_answers_504_when_a_prediction_outlives_the_timeout(tmp_path: Path) -> None:
    server = start_server(save_linear(tmp_path / "linear"), "--timeout", "1", log_dir=tmp_path)
    hold = tmp_path / "release"
    try:
        body = {"inputs": {"a": [1.0], "b": [1]}, "params": {"hold": str(hold)}}
        response = httpx.post(f"{server.url}/invocations", json=body, timeout=60)
        assert response.status_code == 504
        assert response.json()["error_code"] == "DEADLINE_EXCEEDED"
        hold.touch()  # the held prediction finishes; the server serves on
        after = httpx.post(f"{server.url}/invocations", json={"inputs": {"a": [1.0], "b": [2]}})
        assert after.json() == {"predictions": [4.0]}
    finally:
        hold.touch()
        server.stop()


def test_server_with_two_workers(tmp_path: Path) -> None:
    server = start_server(save_linear(tmp_path / "linear"), "--workers", "2", log_dir=tmp_path)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for i in range(20):
                body = {"dataframe_records": [{"a": float(i), "b": 1}]}
                assert client.post("/invocations", json=body).json() == {
                    "predictions": [2.0 * i + 1]
                }
    finally:
        assert server.stop() in (0, -signal.SIGTERM)
    assert server.log().count("self-test passed") >= 2  # each worker tested its own copy


@pytest.fixture(scope="module")
def other_models(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    root = tmp_path_factory.mktemp("models")
    servers: dict[str, Server] = {}
    try:
        servers["labels"] = start_server(save_labels(root / "labels"), "--debug", log_dir=root)
        servers["total"] = start_server(save_total(root / "total"), log_dir=root)
        servers["doubler"] = start_server(save_doubler(root / "doubler"), log_dir=root)
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def test_server_returns_dataframe_predictions_as_records(other_models: dict[str, Server]) -> None:
    body = {"dataframe_split": {"columns": ["name"], "data": [["ab"], ["xyz"]]}}
    response = httpx.post(f"{other_models['labels'].url}/invocations", json=body)
    assert response.json() == {
        "predictions": [{"upper": "AB", "length": 2}, {"upper": "XYZ", "length": 3}]
    }


def test_server_debug_flag_sends_stack_traces(other_models: dict[str, Server]) -> None:
    response = httpx.post(
        f"{other_models['labels'].url}/invocations", json={"inputs": {"name": [1]}}
    )
    assert response.status_code == 400
    assert "Traceback" in response.json()["stack_trace"]


def test_server_does_not_join_requests_of_a_model_that_is_not_row_aligned(
    other_models: dict[str, Server],
) -> None:
    url = f"{other_models['total'].url}/invocations"
    assert "micro-batching off" in other_models["total"].log()

    def call(i: int) -> Any:
        return httpx.post(url, json={"inputs": {"a": [float(i), 1.0]}}, timeout=30).json()

    results: dict[int, Any] = {}
    threads = [
        threading.Thread(target=lambda i=i: results.__setitem__(i, call(i))) for i in range(12)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: {"predictions": [i + 1.0]} for i in range(12)}


def test_server_scores_tensor_models(other_models: dict[str, Server]) -> None:
    url = f"{other_models['doubler'].url}/invocations"
    assert httpx.post(url, json={"inputs": [[1, 2.5, 3]]}).json() == {
        "predictions": [[2.0, 5.0, 6.0]]
    }
    assert httpx.post(url, json={"instances": [[0, 0, 1]]}).json() == {
        "predictions": [[0.0, 0.0, 2.0]]
    }
    csv = httpx.post(url, content=b"x,y,z\n1,2.5,3\n", headers={"Content-Type": "text/csv"})
    assert csv.json() == {"predictions": [[2.0, 5.0, 6.0]]}
    schemas = httpx.get(f"{other_models['doubler'].url}/openapi.json").json()["components"][
        "schemas"
    ]
    tensor = schemas["InputsRequest"]["properties"]["inputs"]
    assert tensor["items"] == {
        "type": "array",
        "items": {"type": "number"},
        "minItems": 3,
        "maxItems": 3,
    }
    assert "DataframeSplitRequest" not in schemas  # tensor models take instances/inputs
    wrong = httpx.post(url, json={"inputs": [[1, 2]]})
    assert wrong.status_code == 400 and "shape" in wrong.json()["message"]


def test_server_scores_a_scikit_learn_model(tmp_path: Path) -> None:
    pytest.importorskip("flavorkit_sklearn")
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(60, 3)), columns=["x0", "x1", "x2"])
    estimator = LogisticRegression().fit(X, (X["x0"] > 0).astype(int))
    path = tmp_path / "sk"
    flavorkit.save_model(estimator, path, input_example=X.head(3))
    server = start_server(path, log_dir=tmp_path)
    try:
        rows = X.head(5)
        body = {
            "dataframe_split": {"columns": list(rows.columns), "data": rows.to_numpy().tolist()}
        }
        got = httpx.post(f"{server.url}/invocations", json=body).json()
        assert got == {"predictions": estimator.predict(rows).tolist()}
        proba = httpx.post(
            f"{server.url}/invocations", json={**body, "params": {"predict_fn": "predict_proba"}}
        ).json()
        assert np.allclose(proba["predictions"], estimator.predict_proba(rows))
    finally:
        server.stop()


def _mapped(pid: int, name: str) -> bool:
    """Whether the process has a shared library whose path holds ``name`` loaded."""
    return name in Path(f"/proc/{pid}/maps").read_text()


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads /proc/<pid>/maps")
@pytest.mark.parametrize(
    ("args", "uvloop"), [((), True), (("--loop", "asyncio", "--http", "h11"), False)]
)
def test_serve_runs_on_the_event_loop_and_parser_asked_for(
    tmp_path: Path, args: tuple[str, ...], uvloop: bool
) -> None:
    pytest.importorskip("uvloop")
    server = start_server(save_linear(tmp_path / "linear"), *args, log_dir=tmp_path)
    try:
        body = {"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 2]]}}
        answer = httpx.post(f"{server.url}/invocations", json=body, timeout=30)
        assert answer.status_code == 200, answer.text
        assert _mapped(server.proc.pid, "uvloop") is uvloop
        assert _mapped(server.proc.pid, "httptools") is uvloop
    finally:
        server.stop()
