"""The Open Inference Protocol (V2) on ``flavorkit serve``: tritonclient against real servers.

Each model is served once per module by a ``flavorkit serve`` subprocess;
predictions over V2 must equal ``flavorkit.load_model(...).predict`` on the
same input. The request and content-type rules that need no server are
checked in-process against the ``Scorer`` the server uses.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import _v2_client as v2
import flavorkit
import httpx
import numpy as np
import pandas as pd
import pytest
from _serving_models import Server, linear_example, start_server
from flavorkit import ModelSignature, Schema, TensorSpec

pytest.importorskip("tritonclient.http", reason="tritonclient[http] is not installed")

from _v2_servers import (  # the fixtures are used by name
    Sum,
    column,
    echo,
    folders,
    kinds,
    kinds_frame,
    kinds_path,
    linear,
    linear_inputs,
    linear_path,
    logs,
    post,
    sklearn_model,
    sklearn_server,
    torch_model,
    torch_server,
)
from tritonclient.utils import InferenceServerException

__all__ = [
    "echo",
    "folders",
    "kinds",
    "kinds_path",
    "linear",
    "linear_path",
    "logs",
    "sklearn_model",
    "sklearn_server",
    "torch_model",
    "torch_server",
]

# -- server metadata and health -------------------------------------------------------


def test_v2_server_metadata_health_and_readiness(linear: Server) -> None:
    meta = v2.server_metadata(linear.url)
    assert meta == {"name": "flavorkit", "version": flavorkit.__version__, "extensions": []}
    assert v2.is_live(linear.url) and v2.is_ready(linear.url)
    assert v2.is_ready(linear.url, "linear") and v2.is_ready(linear.url, "linear", "1")
    assert not v2.is_ready(linear.url, "other")
    assert not v2.is_ready(linear.url, "linear", "2")
    for path in ("/v2/health/live", "/v2/health/ready", "/v2/models/linear/ready"):
        answer = httpx.get(f"{linear.url}{path}", timeout=10)
        assert answer.status_code == 200 and answer.content == b""


def test_v2_model_metadata_describes_columns(kinds: Server) -> None:
    meta = v2.model_metadata(kinds.url, "kinds")
    assert meta["name"] == "kinds" and meta["versions"] == ["1"]
    assert meta["platform"] == "flavorkit_python_function"
    assert meta["parameters"] == {"content_type": "pd"}
    got = {
        i["name"]: (i["datatype"], i["shape"], i["parameters"]["content_type"])
        for i in meta["inputs"]
    }
    assert got == {
        "name": ("BYTES", [-1, 1], "str"),
        "blob": ("BYTES", [-1, 1], "base64"),
        "when": ("BYTES", [-1, 1], "datetime"),
        "flag": ("BOOL", [-1, 1], "np"),
        "count": ("INT32", [-1, 1], "np"),
        "ratio": ("FP32", [-1, 1], "np"),
        "tags": ("BYTES", [-1, 1], "pd_json"),
    }
    outputs = {o["name"]: o["datatype"] for o in meta["outputs"]}
    assert outputs == {
        "upper": "BYTES",
        "size": "INT64",
        "year": "INT64",
        "flip": "BOOL",
        "total": "FP64",
        "tags": "INT64",
    }
    assert v2.model_metadata(kinds.url, "kinds", "1") == meta


def test_v2_model_metadata_describes_tensors(torch_server: Server) -> None:
    meta = v2.model_metadata(torch_server.url, "torch-tensors")
    assert meta["parameters"] == {"content_type": "np"}
    assert [(i["name"], i["datatype"], i["shape"]) for i in meta["inputs"]] == [
        ("input-0", "FP32", [-1, 3])
    ]
    assert [(o["name"], o["datatype"], o["shape"]) for o in meta["outputs"]] == [
        ("output-0", "FP32", [-1, 2])
    ]


def test_v2_metadata_of_an_unknown_model_or_version_is_a_404(linear: Server) -> None:
    with pytest.raises(InferenceServerException) as err:
        v2.model_metadata(linear.url, "nope")
    assert err.value.status() == "404"
    assert err.value.message() == "unknown model 'nope': this server serves the model 'linear'"
    answer = httpx.get(f"{linear.url}/v2/models/linear/versions/7", timeout=10)
    assert answer.status_code == 404
    assert answer.json() == {
        "error": "model 'linear' has no version '7': this server serves version '1'"
    }


# -- predictions equal the model's own ------------------------------------------------


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_v2_sklearn_predictions_equal_load_model(
    sklearn_server: Server, sklearn_model: tuple[Path, pd.DataFrame], binary: bool
) -> None:
    path, X = sklearn_model
    expected = flavorkit.load_model(path).predict(X)
    out = v2.infer(sklearn_server.url, "iris-like", v2.frame_inputs(X), binary=binary)
    assert list(out) == ["output-0"]
    assert out["output-0"].shape == (len(X), 1)
    np.testing.assert_array_equal(out["output-0"].ravel(), np.asarray(expected))
    assert out["output-0"].dtype == np.asarray(expected).dtype


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_v2_torch_tensor_predictions_equal_load_model(
    torch_server: Server, torch_model: tuple[Path, np.ndarray], binary: bool
) -> None:
    path, batch = torch_model
    expected = flavorkit.load_model(path).predict(batch)
    out = v2.infer(torch_server.url, "torch-tensors", {"input-0": batch}, binary=binary)
    assert out["output-0"].dtype == np.float32 and out["output-0"].shape == (9, 2)
    np.testing.assert_array_equal(out["output-0"], expected)


def test_v2_torch_refuses_a_tensor_of_the_wrong_width(torch_server: Server) -> None:
    with pytest.raises(InferenceServerException) as err:
        v2.infer(torch_server.url, "torch-tensors", {"input-0": np.zeros((2, 4), np.float32)})
    assert err.value.status() == "400"
    assert "[0]" in err.value.message() and "(-1, 3)" in err.value.message()


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_v2_custom_model_of_every_column_type_equals_load_model(
    kinds: Server, kinds_path: Path, binary: bool
) -> None:
    frame = kinds_frame()
    expected = flavorkit.load_model(kinds_path).predict(frame)
    inputs = v2.frame_inputs(frame)
    inputs["when"] = frame["when"].dt.strftime("%Y-%m-%dT%H:%M:%S").to_numpy(object).reshape(-1, 1)
    inputs["tags"] = np.array([[json.dumps(t)] for t in frame["tags"]], dtype=object)
    if not binary:  # JSON carries text: bytes go as base64, as the metadata says
        inputs["blob"] = np.array([[base64.b64encode(b).decode()] for b in frame["blob"]], object)
    # every output as binary data (tritonclient's default, as Triton answers it), then the
    # outputs by name: as binary data when the inputs went so, else as JSON
    for outputs in (None, list(expected.columns)):
        out = v2.infer(kinds.url, "kinds", inputs, binary=binary, outputs=outputs)
        assert list(out) == list(expected.columns)
        for name in expected.columns:
            want = expected[name].to_numpy()
            got = out[name].ravel()
            if want.dtype == object:  # text: bytes as binary data, str as JSON
                as_binary = outputs is None or binary
                assert {type(g) for g in got} == {bytes if as_binary else str}
                assert [g.decode() if as_binary else g for g in got] == want.tolist()
            else:
                np.testing.assert_array_equal(got.astype(want.dtype), want)


def test_v2_and_invocations_give_the_same_predictions(linear: Server) -> None:
    frame = linear_example()
    split = post(
        linear,
        "/invocations",
        {"dataframe_split": frame.to_dict(orient="split")},
        {"Content-Type": "application/json"},
    )
    assert split.status_code == 200, split.text
    out = v2.infer(linear.url, "linear", v2.frame_inputs(frame))
    assert out["output-0"].ravel().tolist() == split.json()["predictions"]


# -- the request: id, params, versions, outputs --------------------------------------------


def test_v2_response_echoes_the_id_name_and_version(linear: Server) -> None:
    response = v2.infer_response(
        linear.url,
        "linear",
        v2.frame_inputs(linear_example()),
        outputs=["output-0"],
        request_id="req-42",
    )
    assert response["id"] == "req-42"
    assert response["model_name"] == "linear" and response["model_version"] == "1"
    assert response["outputs"] == [
        {"name": "output-0", "datatype": "FP64", "shape": [2, 1], "data": [3.0, 7.0]}
    ]


def test_v2_request_parameters_are_the_models_params(linear: Server) -> None:
    inputs = v2.frame_inputs(linear_example())
    out = v2.infer(linear.url, "linear", inputs, {"scale": 10.0})
    assert out["output-0"].ravel().tolist() == [30.0, 70.0]
    with pytest.raises(InferenceServerException) as err:
        v2.infer(linear.url, "linear", inputs, {"scale": "big"})
    assert err.value.status() == "400"
    assert "scale" in err.value.message() and "double" in err.value.message()


def test_v2_versioned_infer_path_serves_the_same_model(linear: Server) -> None:
    inputs = v2.frame_inputs(linear_example())
    assert v2.infer(linear.url, "linear", inputs, version="1")["output-0"].ravel().tolist() == [
        3.0,
        7.0,
    ]
    with pytest.raises(InferenceServerException) as err:
        v2.infer(linear.url, "linear", inputs, version="3")
    assert err.value.status() == "404"
    assert "has no version '3'" in err.value.message()


def test_v2_requested_outputs_choose_and_order_the_answer(kinds: Server) -> None:
    inputs = [
        column("name", "BYTES", ["q"]),
        column("blob", "BYTES", ["AA=="]),
        column("when", "BYTES", ["2020-01-01T00:00:00"]),
        column("flag", "BOOL", [True]),
        column("count", "INT32", [1]),
        column("ratio", "FP32", [0.25]),
        column("tags", "BYTES", ["[]"]),
    ]
    body = {"inputs": inputs, "outputs": [{"name": "total"}, {"name": "upper"}]}
    answer = post(kinds, "/v2/models/kinds/infer", body)
    assert answer.status_code == 200, answer.text
    assert [(o["name"], o["data"]) for o in answer.json()["outputs"]] == [
        ("total", [1.25]),
        ("upper", ["Q"]),
    ]
    body["outputs"] = [{"name": "nope"}]
    answer = post(kinds, "/v2/models/kinds/infer", body)
    assert answer.status_code == 400
    assert answer.json()["error"] == (
        "the request asks for output(s) ['nope'], which the model does not give; "
        "it gives ['upper', 'size', 'year', 'flip', 'total', 'tags']"
    )


def test_v2_binary_data_output_answers_with_triton_binary_tensors(kinds: Server) -> None:
    inputs = [
        column("name", "BYTES", ["hé", "b"]),
        column("blob", "BYTES", ["AAE=", ""]),
        column("when", "BYTES", ["2020-01-01T00:00:00", "2021-06-01T00:00:00"]),
        column("flag", "BOOL", [True, False]),
        column("count", "INT32", [1, 2]),
        column("ratio", "FP32", [0.25, 0.5]),
        column("tags", "BYTES", ["[]", '["x"]']),
    ]
    body = {
        "inputs": inputs,
        "parameters": {"binary_data_output": True},
        "outputs": [
            {"name": "upper"},
            {"name": "total"},
            {"name": "flip", "parameters": {"binary_data": False}},
        ],
    }
    answer = post(kinds, "/v2/models/kinds/infer", body)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/octet-stream"
    length = int(answer.headers["inference-header-content-length"])
    header = json.loads(answer.content[:length])
    upper, total, flip = header["outputs"]
    assert flip == {"name": "flip", "datatype": "BOOL", "shape": [2, 1], "data": [False, True]}
    assert "data" not in upper and "data" not in total
    size = upper["parameters"]["binary_data_size"]
    assert upper["parameters"]["content_type"] == "str"
    raw = answer.content[length:]
    texts, at = [], 0
    while at < size:
        n = int.from_bytes(raw[at : at + 4], "little")
        texts.append(raw[at + 4 : at + 4 + n].decode())
        at += 4 + n
    assert texts == ["HÉ", "B"]
    assert total["parameters"] == {"binary_data_size": 16}
    assert np.frombuffer(raw[size:], "<f8").tolist() == [1.25, 2.5]


def test_v2_model_name_comes_from_the_name_option(echo: Server) -> None:
    assert v2.model_metadata(echo.url, "echo")["name"] == "echo"
    with pytest.raises(InferenceServerException) as err:
        v2.model_metadata(echo.url, "echo-folder")
    assert err.value.status() == "404"


def test_v2_serves_a_registered_model_under_its_name_and_version(
    linear_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flavorkit.registry as registry
    from flavorkit.registry._resolve import forget_registries

    env = {
        "FLAVORKIT_REGISTRY_URI": str(tmp_path / "registry"),
        "FLAVORKIT_CACHE_DIR": str(tmp_path / "cache"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    try:
        registry.register_model(linear_path, "pricing")
        registry.register_model(linear_path, "pricing")
        registry.set_alias("pricing", "live", 2)
    finally:
        forget_registries()
    server = start_server("models:/pricing@live", log_dir=tmp_path, env=env)
    try:
        meta = v2.model_metadata(server.url, "pricing")
        assert meta["versions"] == ["2"]
        out = v2.infer(server.url, "pricing", v2.frame_inputs(linear_example()), version="2")
        assert out["output-0"].ravel().tolist() == [3.0, 7.0]
    finally:
        server.stop()


# -- content types (MLServer's codecs) -------------------------------------------------------


def echo_infer(echo: Server, body: dict[str, Any]) -> dict[str, list[Any]]:
    answer = post(echo, "/v2/models/echo/infer", body)
    assert answer.status_code == 200, answer.text
    return {o["name"]: o["data"] for o in answer.json()["outputs"]}


def test_v2_content_type_np_gives_one_ndarray_of_the_datatype(echo: Server) -> None:
    body = {
        "parameters": {"content_type": "np"},
        "inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [1, 2.5, 3, 4]}],
    }
    out = echo_infer(echo, body)
    assert out["kind"] == ["ndarray"]
    assert out["parts"] == ["ndarray float32 [2, 2] [[1.0, 2.5], [3.0, 4.0]]"]


def test_v2_one_input_without_signature_is_an_ndarray_and_nested_data_is_read(
    echo: Server,
) -> None:
    body = {
        "inputs": [{"name": "x", "shape": [2, 2], "datatype": "INT32", "data": [[1, 2], [3, 4]]}]
    }
    assert echo_infer(echo, body)["parts"] == ["ndarray int32 [2, 2] [[1, 2], [3, 4]]"]


def test_v2_content_type_dict_gives_a_dict_of_ndarrays(echo: Server) -> None:
    body = {
        "parameters": {"content_type": "dict"},
        "inputs": [
            {"name": "x", "shape": [2], "datatype": "INT64", "data": [1, 2]},
            {"name": "ok", "shape": [1, 2], "datatype": "BOOL", "data": [True, False]},
        ],
    }
    out = echo_infer(echo, body)
    assert out["kind"] == ["dict"]
    assert out["parts"] == [
        "x: ndarray int64 [2] [1, 2]",
        "ok: ndarray bool [1, 2] [[True, False]]",
    ]


def test_v2_content_type_str_gives_a_list_of_str(echo: Server) -> None:
    body = {
        "parameters": {"content_type": "str"},
        "inputs": [{"name": "t", "shape": [2], "datatype": "BYTES", "data": ["hé", "b"]}],
    }
    out = echo_infer(echo, body)
    assert out["kind"] == ["list"] and out["parts"] == ["list ['hé', 'b']"]


def test_v2_content_type_pd_gives_a_dataframe_and_input_codecs_decode(echo: Server) -> None:
    body = {
        "parameters": {"content_type": "pd", "k": 3},
        "inputs": [
            {"name": "n", "shape": [2, 1], "datatype": "INT64", "data": [1, 2]},
            {"name": "s", "shape": [2], "datatype": "BYTES", "data": ["x", "y"]},
            {
                "name": "raw",
                "shape": [2],
                "datatype": "BYTES",
                "data": [base64.b64encode(b"\x00\x01").decode(), "eQ=="],
                "parameters": {"content_type": "base64"},
            },
            {
                "name": "obj",
                "shape": [2],
                "datatype": "BYTES",
                "data": ['{"a": [1]}', "null"],
                "parameters": {"content_type": "pd_json"},
            },
        ],
    }
    out = echo_infer(echo, body)
    assert out["kind"] == ["DataFrame"]
    assert out["parts"] == [
        "n: int64 [1, 2]",
        f"s: {pd.DataFrame({'s': ['x']})['s'].dtype} ['x', 'y']",  # as pandas types text
        "raw: object [b'\\x00\\x01', b'y']",
        "obj: object [{'a': [1]}, None]",
    ]


def test_v2_datetime_input_codec_gives_datetimes(echo: Server) -> None:
    body = {
        "inputs": [
            {
                "name": "at",
                "shape": [2],
                "datatype": "BYTES",
                "data": ["2024-02-29T12:00:00", "1970-01-01T00:00:01"],
                "parameters": {"content_type": "datetime"},
            }
        ]
    }
    (part,) = echo_infer(echo, body)["parts"]
    assert part.startswith("ndarray datetime64[") and "[2] [" in part
    assert "datetime.datetime(2024, 2, 29, 12, 0)" in part
    assert "datetime.datetime(1970, 1, 1, 0, 0, 1)" in part


def test_v2_params_are_the_request_parameters_but_the_protocols_own(linear_scorer: Any) -> None:
    # tritonclient adds binary_data_output; content_type and triton_* belong to the protocol
    parameters = {
        "scale": 2.0,
        "content_type": "pd",
        "binary_data_output": True,
        "triton_enable_empty_final_response": True,
        "priority": 1,
    }
    body = {"inputs": linear_inputs([1.0], [1]), "parameters": parameters}
    request = linear_scorer.prepare_v2(json.dumps(body).encode(), None, v2_model(linear_scorer))
    assert request.params == {"scale": 2.0, "hold": ""}  # enforced: the declared defaults too
    del parameters["scale"]
    request = linear_scorer.prepare_v2(json.dumps(body).encode(), None, v2_model(linear_scorer))
    assert request.params is None and request.batchable  # joins micro-batches


def test_v2_content_types_that_do_not_fit_are_refused(kinds: Server) -> None:
    def refused(body: dict[str, Any]) -> str:
        answer = post(kinds, "/v2/models/kinds/infer", body)
        assert answer.status_code == 400, answer.text
        return answer.json()["error"]

    one = [column("name", "BYTES", ["a"], content_type="datetime")]
    assert refused({"inputs": one}) == (
        "input 'name': content_type 'datetime' does not fit column 'name' of type string; "
        "send content_type 'str' (or none)"
    )
    assert refused({"inputs": [column("count", "INT32", [1], content_type="str")]}) == (
        "input 'count': content_type 'str' reads text, but the datatype is INT32; "
        "send BYTES, or content_type 'np' (or none)"
    )
    assert refused({"inputs": one, "parameters": {"content_type": "xml"}}) == (
        "'parameters.content_type' 'xml' is not a request content type; "
        "use one of pd, np, dict, str"
    )
    assert refused({"inputs": [column("blob", "BYTES", ["not base64!"])]}) == (
        "input 'blob': element 0 is not base64 text (content_type 'base64')"
    )


# -- errors ------------------------------------------------------------------------------------


ERRORS = [
    (b"not json", 400, r"^the input is not valid JSON"),
    (
        {"inputs": []},
        400,
        r"^'inputs' must be a non-empty list of input tensors, got an empty list$",
    ),
    (
        {"input": []},
        400,
        r"^the V2 request has unknown key\(s\) \['input'\]; allowed: id, parameters",
    ),
    (
        {"inputs": [{"name": "a", "shape": [1], "datatype": "FLOAT", "data": [1]}]},
        400,
        r"^input 'a': 'datatype' 'FLOAT' is not a V2 datatype this server reads; use one of BOOL",
    ),
    (
        {"inputs": [{"name": "a", "shape": [2, 1], "datatype": "FP64", "data": [1.0]}]},
        400,
        r"^input 'a': 'data' has 1 elements, its shape \[2, 1\] needs 2$",
    ),
    (
        {"inputs": [{"name": "a", "shape": [1], "datatype": "INT64", "data": [1.5]}]},
        400,
        r"^input 'a': datatype INT64 holds integers, but element 0 of 'data' is a JSON number$",
    ),
    (
        {"inputs": [{"name": "b", "shape": [1], "datatype": "INT32", "data": [2**40]}]},
        400,
        r"^input 'b': element 0 of 'data' is outside the range of INT32$",
    ),
    (
        {"inputs": [*linear_inputs([1.0], [1]), column("a", "FP64", [2.0])]},
        400,
        r"^input 'a' is given twice; send each input once$",
    ),
    (
        {"inputs": [column("a", "FP64", [1.0, 2.0]), column("b", "INT64", [1])]},
        400,
        r"^input 'b' has 1 rows, input 'a' has 2; every column needs the same number of rows$",
    ),
    (
        {"inputs": [{"name": "a", "shape": [1, 2], "datatype": "FP64", "data": [1.0, 2.0]}]},
        400,
        r"^input 'a': shape \[1, 2\] is not a column; with content type 'pd' every input is",
    ),
    (
        {"inputs": [column("a", "FP64", [1.0])]},
        400,
        r"'b'",  # the missing column is named
    ),
    (
        {"inputs": [column("a", "FP64", [1.0]), column("b", "FP64", [2.5])]},
        400,
        r"^column 'b': expected long, got a number that is not whole \(row 0\)",
    ),
    (
        {"inputs": linear_inputs([1.0], [1]), "parameters": {"scale": [1]}},
        400,
        r"scale",
    ),
    (
        {"inputs": linear_inputs([-1.0], [1])},
        500,
        r"^the model failed to predict \(RuntimeError\); the server log has the details$",
    ),
    (
        {"inputs": linear_inputs([1.0] * 1001, [1] * 1001)},
        413,
        r"^the request has 1001 rows, more than the server's limit of 1000 rows per request",
    ),
    (
        {"id": 5, "inputs": linear_inputs([1.0], [1])},
        400,
        r"^'id' must be a string, got a JSON number$",
    ),
]


@pytest.mark.parametrize(("body", "status", "message"), ERRORS)
def test_v2_errors_name_what_is_wrong(linear: Server, body: Any, status: int, message: str) -> None:
    answer = post(linear, "/v2/models/linear/infer", body)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert list(answer.json()) == ["error"]  # the body is exactly {"error": ...}
    assert re.search(message, answer.json()["error"]), answer.json()["error"]


def test_v2_body_over_the_size_limit_is_a_413(linear: Server) -> None:
    answer = post(linear, "/v2/models/linear/infer", b"{" + b" " * 70000 + b"}")
    assert answer.status_code == 413
    assert answer.json() == {"error": "the body is larger than the server's limit of 65536 bytes"}


def test_v2_wrong_method_and_unknown_paths_answer_in_v2_form(linear: Server) -> None:
    answer = httpx.get(f"{linear.url}/v2/models/linear/infer", timeout=10)
    assert answer.status_code == 405
    assert answer.json() == {"error": "GET /v2/models/linear/infer: Method Not Allowed"}
    answer = post(linear, "/v2/models/nope/infer", {"inputs": linear_inputs([1.0], [1])})
    assert answer.status_code == 404
    assert answer.json() == {"error": "unknown model 'nope': this server serves the model 'linear'"}


def test_v2_errors_reach_tritonclient_with_status_and_message(linear: Server) -> None:
    with pytest.raises(InferenceServerException) as err:
        v2.infer(linear.url, "linear", {"a": np.array([[1.0]]), "b": np.array([[2.5]])})
    assert err.value.status() == "400"
    assert err.value.message().startswith(
        "column 'b': expected long, got a number that is not whole"
    )


def test_v2_binary_data_that_does_not_add_up_is_refused(linear: Server) -> None:
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "a",
                    "shape": [2, 1],
                    "datatype": "FP64",
                    "parameters": {"binary_data_size": 8},
                }
            ]
        }
    ).encode()
    answer = post(
        linear,
        "/v2/models/linear/infer",
        header + np.array([1.0]).tobytes(),
        headers={"Inference-Header-Content-Length": str(len(header))},
    )
    assert answer.status_code == 400
    assert answer.json() == {
        "error": "input 'a': 8 bytes of binary data, its shape and FP64 need 16"
    }
    answer = post(
        linear,
        "/v2/models/linear/infer",
        header,
        headers={"Inference-Header-Content-Length": "x1"},
    )
    assert answer.status_code == 400
    assert "Inference-Header-Content-Length".lower() in answer.json()["error"]


# -- in-process: the parsing rules and micro-batching --------------------------------------------


@pytest.fixture(scope="module")
def linear_scorer(linear_path: Path) -> Any:
    from flavorkit.server._scorer import Scorer

    scorer = Scorer(flavorkit.load_model(linear_path))
    scorer.self_test()
    return scorer


def v2_model(scorer: Any, name: str = "linear") -> Any:
    from flavorkit.server._v2 import V2Model

    return V2Model.of(scorer.model, name, "1")


def test_v2_table_requests_join_a_micro_batch_with_dataframe_split(linear_scorer: Any) -> None:
    from flavorkit.server._scorer import JSON

    model = v2_model(linear_scorer)
    calls: list[int] = []
    predict = linear_scorer.model.predict

    def counted(data: Any, params: Any = None) -> Any:
        calls.append(len(data))
        return predict(data, params=params)

    body = json.dumps({"inputs": linear_inputs([1.0, 2.0], [1, 2])}).encode()
    first = linear_scorer.prepare_v2(body, None, model)
    split = linear_scorer.prepare(
        json.dumps({"dataframe_split": {"columns": ["a", "b"], "data": [[3.0, 3]]}}).encode(), JSON
    )
    second = linear_scorer.prepare_v2(
        json.dumps({"id": "2", "inputs": linear_inputs([0.5], [0])}).encode(), None, model
    )
    assert first.batchable and split.batchable and second.batchable
    linear_scorer.model.predict = counted
    try:
        answers = linear_scorer.score_batch([first, split, second])
    finally:
        del linear_scorer.model.predict
    assert calls == [4]  # one predict call for the three requests
    assert json.loads(answers[0])["outputs"][0]["data"] == [3.0, 6.0]
    assert json.loads(answers[1]) == {"predictions": [9.0]}
    assert json.loads(answers[2]) == {
        "model_name": "linear",
        "model_version": "1",
        "id": "2",
        "outputs": [{"name": "output-0", "datatype": "FP64", "shape": [1, 1], "data": [1.0]}],
    }


def test_v2_request_asking_for_a_missing_output_fails_alone_in_a_batch(linear_scorer: Any) -> None:
    from flavorkit.exceptions import PayloadError

    model = v2_model(linear_scorer)
    good = linear_scorer.prepare_v2(
        json.dumps({"inputs": linear_inputs([1.0], [1])}).encode(), None, model
    )
    bad = linear_scorer.prepare_v2(
        json.dumps({"inputs": linear_inputs([1.0], [1]), "outputs": [{"name": "x"}]}).encode(),
        None,
        model,
    )
    answers = linear_scorer.score_batch([good, bad])
    assert json.loads(answers[0])["outputs"][0]["data"] == [3.0]
    assert isinstance(answers[1], PayloadError) and "'x'" in str(answers[1])


def test_v2_named_tensor_signature_reads_a_dict_and_converts_exactly(tmp_path: Path) -> None:
    from flavorkit.exceptions import SchemaEnforcementError
    from flavorkit.server._scorer import Scorer

    signature = ModelSignature(
        inputs=Schema(
            [
                TensorSpec(np.dtype("float32"), (-1, 2), "x"),
                TensorSpec(np.dtype("int64"), (-1,), "k"),
            ]
        ),
        outputs=Schema([TensorSpec(np.dtype("float64"), (-1,), "s")]),
    )
    flavorkit.save_model(Sum(), tmp_path / "sum", signature=signature)
    scorer = Scorer(flavorkit.load_model(tmp_path / "sum"))
    model = v2_model(scorer, "sum")
    assert model.metadata()["parameters"] == {"content_type": "dict"}
    assert [(i["name"], i["datatype"], i["shape"]) for i in model.metadata()["inputs"]] == [
        ("x", "FP32", [-1, 2]),
        ("k", "INT64", [-1]),
    ]
    body = {
        "inputs": [
            {"name": "x", "shape": [2, 2], "datatype": "FP64", "data": [0.5, 1, 2, 3]},
            {"name": "k", "shape": [2], "datatype": "INT32", "data": [10, 20]},
        ]
    }
    request = scorer.prepare_v2(json.dumps(body).encode(), None, model)
    assert request.data["x"].dtype == np.float32 and request.data["k"].dtype == np.int64
    answer = json.loads(scorer.score(request))
    assert answer["outputs"] == [
        {"name": "s", "datatype": "FP64", "shape": [2, 1], "data": [11.5, 25.0]}
    ]
    body["inputs"][1]["data"] = [10, 2**60]  # INT32 says it fits; it does not
    with pytest.raises(Exception, match="outside the range of INT32"):
        scorer.prepare_v2(json.dumps(body).encode(), None, model)
    body["inputs"][1] = {"name": "k", "shape": [2], "datatype": "FP64", "data": [1.5, 2]}
    with pytest.raises(SchemaEnforcementError, match="'k'"):
        scorer.prepare_v2(json.dumps(body).encode(), None, model)


def test_v2_overflowing_json_numbers_are_refused(linear_scorer: Any) -> None:
    from flavorkit.exceptions import SchemaEnforcementError

    model = v2_model(linear_scorer)
    body = b'{"inputs": [{"name": "a", "shape": [1], "datatype": "FP64", "data": [1e400]}, ' + (
        b'{"name": "b", "shape": [1], "datatype": "INT64", "data": [1]}]}'
    )
    with pytest.raises(SchemaEnforcementError, match="too large for a 64-bit float"):
        linear_scorer.prepare_v2(body, None, model)


def test_v2_openapi_document_covers_the_v2_paths(linear: Server) -> None:
    doc = httpx.get(f"{linear.url}/openapi.json", timeout=10).json()
    for path in (
        "/v2",
        "/v2/health/live",
        "/v2/health/ready",
        "/v2/models/{model_name}",
        "/v2/models/{model_name}/versions/{version}",
        "/v2/models/{model_name}/ready",
        "/v2/models/{model_name}/infer",
        "/v2/models/{model_name}/versions/{version}/infer",
        "/metrics",
    ):
        assert path in doc["paths"], path
    infer = doc["paths"]["/v2/models/{model_name}/infer"]["post"]
    assert infer["parameters"][0]["schema"]["default"] == "linear"
    example = infer["requestBody"]["content"]["application/json"]["example"]
    # the saved input example as a V2 request, and it scores
    assert [i["name"] for i in example["inputs"]] == ["a", "b"]
    answer = post(linear, "/v2/models/linear/infer", example)
    assert answer.status_code == 200 and answer.json()["outputs"][0]["data"] == [3.0, 7.0]


def test_v2_openapi_document_is_valid_openapi(kinds: Server, torch_server: Server) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    for server in (kinds, torch_server):
        validator.validate(httpx.get(f"{server.url}/openapi.json", timeout=10).json())


@pytest.mark.parametrize("name", ["", "a/b", " padded", "tab\there", "x" * 201])
def test_v2_model_names_must_be_one_path_segment(name: str) -> None:
    from flavorkit.server import ServerConfig

    with pytest.raises(ValueError, match="cannot be a V2 model name"):
        ServerConfig(model_uri="model", name=name)
    assert ServerConfig(model_uri="model", name="churn-v2.1").name == "churn-v2.1"
