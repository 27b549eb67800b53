"""The scoring server over real HTTP: every payload form, every error, concurrent callers."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flavorkit
import httpx
import pandas as pd
import pytest
from _serving_models import Server, save_linear, start_server

BODY_LIMIT = 4096


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_linear(tmp_path_factory.mktemp("served") / "linear")


@pytest.fixture(scope="module")
def server(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(
        model_path,
        "--max-body-size",
        str(BODY_LIMIT),
        "--max-batch-delay-ms",
        "5",
        log_dir=tmp_path_factory.mktemp("logs"),
    )
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def invoke(
    client: httpx.Client, body: Any, content_type: str = "application/json"
) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/invocations", content=content, headers={"Content-Type": content_type})


@pytest.mark.parametrize("path", ["/ping", "/health"])
def test_server_health_endpoints_answer_ok(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200 and response.text == "\n"
    assert response.headers["content-type"] == "application/json"


def test_server_version_is_the_flavorkit_version(client: httpx.Client) -> None:
    assert client.get("/version").text == flavorkit.__version__


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_split": {"columns": ["a", "b"], "data": [[1.5, 1], [2, 3]]}},
        {"dataframe_records": [{"a": 1.5, "b": 1}, {"a": 2, "b": 3}]},
        {"instances": [{"a": 1.5, "b": 1}, {"a": 2, "b": 3}]},
        {"inputs": {"a": [1.5, 2], "b": [1, 3]}},
        {"inputs": [{"a": 1.5, "b": 1}, {"a": 2, "b": 3}]},
    ],
    ids=["dataframe_split", "dataframe_records", "instances", "inputs-columns", "inputs-records"],
)
def test_server_scores_every_json_form(client: httpx.Client, body: Any) -> None:
    response = invoke(client, body)
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": [4.0, 7.0]}


def test_server_applies_params(client: httpx.Client) -> None:
    response = invoke(client, {"inputs": {"a": [1.0], "b": [1]}, "params": {"scale": 10}})
    assert response.json() == {"predictions": [30.0]}


@pytest.mark.parametrize("content_type", ["text/csv", "text/csv; charset=utf-8"])
def test_server_scores_csv(client: httpx.Client, content_type: str) -> None:
    response = invoke(client, b"a,b\n1.5,1\n2,3\n", content_type)
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": [4.0, 7.0]}


def test_server_scores_parquet(client: httpx.Client) -> None:
    buffer = io.BytesIO()
    pd.DataFrame({"a": [1.5, 2.0], "b": [1, 3]}).to_parquet(buffer)
    response = invoke(client, buffer.getvalue(), "application/vnd.apache.parquet")
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": [4.0, 7.0]}


def assert_error(response: httpx.Response, status: int, code: str, *fragments: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error_code"] == code
    for fragment in fragments:
        assert fragment in body["message"]
    assert "stack_trace" not in body and "Traceback" not in body["message"]


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        (b'{"inputs": [1, ', ["not valid JSON"]),
        ({"inputs": {"a": [1.0], "b": [1]}, "extra": 1}, ["unknown top-level key", "extra"]),
        (
            {"inputs": {"a": [1.0], "b": [1]}, "instances": []},
            ["exactly one", "inputs", "instances"],
        ),
        ({"a": 1}, ["exactly one"]),
        ([{"a": 1.0, "b": 1}], ["JSON object"]),
        ({"dataframe_split": {"columns": ["a", "b"], "data": [[1.0]]}}, ["row 0 has 1 values"]),
    ],
    ids=[
        "malformed-json",
        "unknown-key",
        "two-format-keys",
        "no-format-key",
        "bare-list",
        "ragged-split",
    ],
)
def test_server_rejects_malformed_payloads(
    client: httpx.Client, body: Any, fragments: list[str]
) -> None:
    assert_error(invoke(client, body), 400, "BAD_REQUEST", *fragments)


def test_server_names_a_missing_column(client: httpx.Client) -> None:
    response = invoke(client, {"dataframe_records": [{"a": 1.0}]})
    assert_error(response, 400, "INVALID_PARAMETER_VALUE", "missing inputs ['b']")


def test_server_refuses_a_lossy_cast(client: httpx.Client) -> None:
    response = invoke(
        client, {"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 2], [1.0, 2.7]]}}
    )
    assert_error(
        response, 400, "INVALID_PARAMETER_VALUE", "'b'", "expected long", "not whole (row 1)"
    )


def test_server_refuses_a_lossy_csv_cell(client: httpx.Client) -> None:
    assert_error(
        invoke(client, b"a,b\n1,2.7\n", "text/csv"), 400, "INVALID_PARAMETER_VALUE", "'b'", "long"
    )


def test_server_errors_do_not_echo_the_payload(client: httpx.Client) -> None:
    response = invoke(client, {"inputs": {"a": ["SECRET-VALUE-42"], "b": [1]}})
    assert_error(response, 400, "INVALID_PARAMETER_VALUE", "'a'", "double")
    assert "SECRET-VALUE-42" not in response.text


def test_server_rejects_a_wrong_params_type(client: httpx.Client) -> None:
    response = invoke(client, {"inputs": {"a": [1.0], "b": [1]}, "params": {"scale": "big"}})
    assert_error(response, 400, "INVALID_PARAMETER_VALUE", "scale", "double")


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/xml", "application/json; charset=latin-1", "application/json; v=2"],
)
def test_server_rejects_unsupported_content_types(client: httpx.Client, content_type: str) -> None:
    assert_error(
        invoke(client, {"inputs": {"a": [1.0], "b": [1]}}, content_type),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    )


def test_server_rejects_a_body_over_the_limit(client: httpx.Client) -> None:
    rows = [[1.0, 1]] * (BODY_LIMIT // 8)
    response = invoke(client, {"dataframe_split": {"columns": ["a", "b"], "data": rows}})
    assert_error(response, 413, "PAYLOAD_TOO_LARGE", str(BODY_LIMIT))


def test_server_rejects_a_chunked_body_over_the_limit(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is enforced while reading
        yield b'{"inputs": {"a": ['
        for _ in range(BODY_LIMIT // 4):
            yield b"1.0,"
        yield b'1.0], "b": [1]}}'

    response = client.post(
        "/invocations", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


def test_server_model_failure_is_a_500_without_details(client: httpx.Client) -> None:
    response = invoke(client, {"inputs": {"a": [-1.0], "b": [1]}})
    assert_error(response, 500, "INTERNAL_ERROR", "RuntimeError")
    assert "negative input" not in response.text  # the model's own message stays in the server log


def test_server_unknown_route_is_json(client: httpx.Client) -> None:
    assert_error(client.get("/nope"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert client.get("/invocations").status_code == 405


def test_server_concurrent_requests_each_get_their_own_answer(server: Server) -> None:
    async def one(client: httpx.AsyncClient, i: int) -> tuple[int, Any]:
        body = {"dataframe_split": {"columns": ["a", "b"], "data": [[float(i), i % 7]]}}
        response = await client.post("/invocations", json=body)
        return i, response.json()

    async def many() -> list[tuple[int, Any]]:
        limits = httpx.Limits(max_connections=32)
        async with httpx.AsyncClient(base_url=server.url, timeout=30, limits=limits) as client:
            return list(await asyncio.gather(*(one(client, i) for i in range(200))))

    for i, body in asyncio.run(many()):
        assert body == {"predictions": [2.0 * i + i % 7]}


def test_server_concurrent_mixed_good_and_bad_requests(server: Server) -> None:
    async def one(client: httpx.AsyncClient, i: int) -> tuple[int, httpx.Response]:
        b = 2.5 if i % 5 == 0 else i  # every fifth request is lossy
        body = {"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, b]]}}
        return i, await client.post("/invocations", json=body)

    async def many() -> list[tuple[int, httpx.Response]]:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            return list(await asyncio.gather(*(one(client, i) for i in range(60))))

    for i, response in asyncio.run(many()):
        if i % 5 == 0:
            assert response.status_code == 400 and "'b'" in response.json()["message"]
        else:
            assert response.status_code == 200 and response.json() == {"predictions": [2.0 + i]}


def test_server_openapi_document_describes_the_signature(
    client: httpx.Client, model_path: Path
) -> None:
    doc = client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    schemas = doc["components"]["schemas"]
    forms = {
        "DataframeSplitRequest",
        "DataframeRecordsRequest",
        "InstancesRequest",
        "InputsRequest",
    }
    assert forms <= set(schemas)
    record = schemas["DataframeRecordsRequest"]["properties"]["dataframe_records"]["items"]
    assert record["properties"] == {
        "a": {"type": "number", "format": "double"},
        "b": {"type": "integer", "format": "int64"},
    }
    assert set(schemas["InputsRequest"]["properties"]["params"]["properties"]) == {"scale", "hold"}
    body = doc["paths"]["/invocations"]["post"]["requestBody"]["content"]
    example = json.loads((model_path / "serving_input_example.json").read_text())
    assert body["application/json"]["example"] == example
    assert {"text/csv", "application/vnd.apache.parquet"} <= set(body)


def test_server_docs_page_serves_swagger_ui_offline(client: httpx.Client) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text
    asset = client.get("/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.content) > 100_000


def test_uvicorn_options_carry_the_config_and_round_trip_to_workers() -> None:
    from flavorkit.server._config import CONFIG_ENV, ServerConfig
    from flavorkit.server._run import uvicorn_options

    config = ServerConfig("m", port=8123, workers=2, loop="asyncio", http="h11")
    options = uvicorn_options(config)
    assert (options["loop"], options["http"]) == ("asyncio", "h11")
    assert (options["port"], options["workers"], options["lifespan"]) == (8123, 2, "on")
    assert options["limit_concurrency"] == config.max_connections
    assert uvicorn_options(ServerConfig("m"))["loop"] == "auto"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(CONFIG_ENV, config.to_env())
        assert ServerConfig.from_env() == config
