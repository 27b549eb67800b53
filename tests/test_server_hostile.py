"""The scoring server against a hostile client: every bad body is a 400/408/413 alone.

Each hostile body must be answered with MLflow's error shape naming the field,
never with a 500 and never with a traceback in the server log at ERROR; bad
requests never join a micro-batch; decoded rows and cells are bounded before
decoding; errors never echo the payload; half-sent bodies time out.
"""

from __future__ import annotations

import asyncio
import io
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import flavorkit
import httpx
import numpy as np
import pandas as pd
import pytest
from _serving_models import Server, free_port, save_linear, server_env, start_server
from flavorkit.exceptions import PayloadError
from flavorkit.io import Parsed
from flavorkit.server import ServerConfig
from flavorkit.server._app import create_app
from flavorkit.server._scorer import Scorer

CSV = "text/csv"
JSON_TYPE = {"Content-Type": "application/json"}
PARQUET = "application/vnd.apache.parquet"


# -- servers -------------------------------------------------------------------------


class ConfiguredServer(Server):
    """``python -m flavorkit.server`` reading a full ``ServerConfig`` from the environment.

    For settings the command line may not offer (limits, timeouts).
    """

    def __init__(self, model: Path, log_path: Path, **settings: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        config = ServerConfig(model_uri=str(model), port=self.port, **settings)
        env = server_env({"FLAVORKIT_SERVER_CONFIG": config.to_env()})
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "flavorkit.server"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )


def start_configured(model: Path, log_dir: Path, **settings: Any) -> ConfiguredServer:
    server = ConfiguredServer(model, log_dir / f"server-{model.name}-configured.log", **settings)
    try:
        ready = server.wait_ready()
    except TimeoutError:
        server.stop()
        raise
    if not ready:
        raise RuntimeError(f"the server exited with {server.proc.returncode}:\n{server.log()}")
    return server


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_linear(tmp_path_factory.mktemp("hostile") / "linear")


@pytest.fixture(scope="module")
def server(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with today's command-line options only (the default limits)."""
    srv = start_server(model_path, log_dir=tmp_path_factory.mktemp("logs"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c


class Answer:
    """A response and what the server logged while answering it."""

    def __init__(self, response: httpx.Response, log: str) -> None:
        self.response = response
        self.log = log


def post(
    server: Server, client: httpx.Client, body: bytes, content_type: str = "application/json"
) -> Answer:
    start = len(server.log())
    response = client.post("/invocations", content=body, headers={"Content-Type": content_type})
    return Answer(response, server.log()[start:])


def assert_client_error(
    answer: Answer, status: int, codes: tuple[str, ...], *fragments: str
) -> dict[str, Any]:
    """MLflow's error shape, the status, the fragments in the message, no ERROR in the log."""
    response = answer.response
    assert response.status_code == status, response.text[:2000]
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error_code", "message"}, body
    assert body["error_code"] in codes, body
    for fragment in fragments:
        assert fragment in body["message"], body["message"]
    assert "ERROR" not in answer.log and "Traceback" not in answer.log, answer.log[-3000:]
    return body


def split(data: str, columns: str = '["a", "b"]') -> bytes:
    return f'{{"dataframe_split": {{"columns": {columns}, "data": {data}}}}}'.encode()


def parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, compression="zstd")
    return buffer.getvalue()


BAD = ("BAD_REQUEST", "INVALID_PARAMETER_VALUE")

# (body, content type, fragments the message must hold)
CLIENT_ERRORS: dict[str, tuple[bytes, str, tuple[str, ...]]] = {
    "deep-json": (b'{"inputs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "json", ("nest",)),
    "deep-json-cell": (
        split("[[" + "[" * 5000 + "]" * 5000 + ", 1]]"),
        "json",
        ("nest",),
    ),
    "nan": (split("[[1.0, 1], [NaN, 2]]"), "json", ("NaN", "'a'", "row 1")),
    "infinity": (split("[[Infinity, 1]]"), "json", ("Infinity", "'a'", "row 0")),
    "minus-infinity": (split("[[1.0, 1], [-Infinity, 2]]"), "json", ("Infinity", "'a'")),
    "nan-records": (b'{"dataframe_records": [{"a": NaN, "b": 1}]}', "json", ("NaN", "'a'")),
    "overflow-1e400": (split("[[1e400, 1]]"), "json", ("'a'", "too large")),
    "overflow-long-digits": (
        split("[[1" + "0" * 400 + ".5, 1]]"),
        "json",
        ("'a'", "too large"),
    ),
    "overflow-param": (
        b'{"inputs": {"a": [1.0], "b": [1]}, "params": {"scale": 1e400}}',
        "json",
        ("params.scale", "too large"),
    ),
    "huge-int-literal": (split("[[1" + "0" * 5000 + ", 1]]"), "json", ("digits",)),
    "null-required-json": (split("[[1.0, 1], [null, 2]]"), "json", ("'a'", "required", "row 1")),
    "null-required-long": (split("[[1.0, null]]"), "json", ("'b'", "required", "row 0")),
    "null-required-records": (
        b'{"dataframe_records": [{"a": 1.0, "b": 1}, {"a": 2.0}]}',
        "json",
        ("'b'", "required", "row 1"),
    ),
    "null-required-csv": (b"a,b\n1.0,1\n,2\n", CSV, ("'a'", "required", "row 1")),
    "zero-rows-split": (split("[]"), "json", ("no rows",)),
    "zero-rows-records": (b'{"dataframe_records": []}', "json", ("no rows",)),
    "zero-rows-inputs": (b'{"inputs": {"a": [], "b": []}}', "json", ("no rows",)),
    "header-only-csv": (b"a,b\n", CSV, ("no rows",)),
    "zero-rows-parquet": (
        parquet(
            pd.DataFrame({"a": pd.Series([], dtype="float64"), "b": pd.Series([], dtype="int64")})
        ),
        PARQUET,
        ("no rows",),
    ),
    "surrogate-column-name": (
        split("[[1.0, 1]]", columns='["\\ud800", "b"]'),
        "json",
        ("dataframe_split.columns[0]", "surrogate"),
    ),
    "surrogate-record-key": (
        b'{"dataframe_records": [{"a": 1.0, "b": 1, "\\udfff": 2}]}',
        "json",
        ("dataframe_records[0]", "surrogate"),
    ),
    "surrogate-value": (
        b'{"inputs": {"a": [1.0], "b": [1], "c": ["x\\ud83d"]}}',
        "json",
        ("inputs.c[0]", "surrogate"),
    ),
    "duplicate-column": (split("[[1.0, 1, 2]]", '["a", "b", "a"]'), "json", ("'a'", "twice")),
}


@pytest.mark.parametrize("case", list(CLIENT_ERRORS))
def test_server_hostile_body_is_a_clear_400(
    client: httpx.Client, server: Server, case: str
) -> None:
    body, kind, fragments = CLIENT_ERRORS[case]
    content_type = "application/json" if kind == "json" else kind
    assert_client_error(post(server, client, body, content_type), 400, BAD, *fragments)


def test_server_valid_surrogate_pairs_and_finite_numbers_still_pass(client: httpx.Client) -> None:
    # an escaped emoji is a valid surrogate pair; 1e300 is finite: neither is refused
    body = b'{"inputs": {"a": [1e300, 1e-300], "b": [1, 2], "note": ["\\ud83d\\ude00", "e400"]}}'
    response = client.post(
        "/invocations", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": [2e300, 2.0 + 2e-300]}


def test_server_null_in_an_optional_column_is_still_accepted(tmp_path: Path) -> None:
    from _serving_models import Linear
    from flavorkit import ColSpec, ModelSignature, Schema

    signature = ModelSignature(
        inputs=Schema([ColSpec("double", "a"), ColSpec("long", "b", required=False)])
    )
    path = tmp_path / "optional"
    flavorkit.save_model(Linear(), path, signature=signature)
    scorer = Scorer(flavorkit.load_model(path))
    prepared = scorer.prepare(split("[[1.0, null], [2.0, 3]]"), "json")
    frame = scorer._data(prepared)
    assert frame["b"].isna().tolist() == [True, False]


def test_prepare_refuses_an_overflowing_tensor_value(tmp_path: Path) -> None:
    from _serving_models import save_doubler
    from flavorkit.exceptions import SchemaEnforcementError

    scorer = Scorer(flavorkit.load_model(save_doubler(tmp_path / "doubler")))
    with pytest.raises(SchemaEnforcementError, match=r"tensor .*too large.*index \[1, 2\]"):
        scorer.prepare(b'{"inputs": [[1, 2, 3], [4, 5, 1e999]]}', "json")
    with pytest.raises(PayloadError, match=r"inputs\[0\]\[1\]: NaN is not valid JSON"):
        scorer.prepare(b'{"inputs": [[1, NaN, 3]]}', "json")
    with pytest.raises(PayloadError, match="no rows"):
        scorer.prepare(b'{"inputs": []}', "json")


# -- 2. bad requests never join a batch ------------------------------------------------


class CountingScorer(Scorer):
    """Records the rows of every predict call (joined or alone)."""

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        self.calls: list[int] = []

    def predict(self, request: Parsed) -> Any:
        rows = len(request.rows.rows) if request.rows is not None else len(request.data)
        self.calls.append(rows)
        return super().predict(request)


def test_server_bad_requests_are_refused_before_joining_a_batch(model_path: Path) -> None:
    scorer = CountingScorer(flavorkit.load_model(model_path))
    config = ServerConfig(model_uri=str(model_path), max_batch_delay_ms=50.0)
    app = create_app(config, scorer)
    bad_bodies = [
        split("[[1.0, 2.7]]"),  # lossy
        split("[[null, 1]]"),  # null in a required column
        split("[[NaN, 1]]"),  # not JSON
        split("[[1.0, true]]"),  # wrong type
        split("[[1e400, 1]]"),  # overflow
    ]

    async def run() -> list[tuple[bool, httpx.Response]]:
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://test") as client,
        ):
            scorer.calls.clear()  # the self-test predicted too
            jobs = []
            for i in range(40):
                good = i % 4 != 0
                body = split(f"[[{float(i)}, 1]]") if good else bad_bodies[i // 4 % 5]
                jobs.append((good, body))

            async def one(good: bool, body: bytes) -> tuple[bool, httpx.Response]:
                headers = {"Content-Type": "application/json"}
                return good, await client.post("/invocations", content=body, headers=headers)

            return list(await asyncio.gather(*(one(g, b) for g, b in jobs)))

    results = asyncio.run(run())
    good = [r for g, r in results if g]
    bad = [r for g, r in results if not g]
    assert all(r.status_code == 200 for r in good), [r.text for r in good]
    assert all(r.status_code == 400 for r in bad), [r.text for r in bad]
    # every valid row was predicted exactly once, no bad row ever reached predict,
    # and the valid requests were joined (no request-by-request re-prediction)
    assert sum(scorer.calls) == len(good), scorer.calls
    assert max(scorer.calls) > 1, scorer.calls


def test_prepare_refuses_bad_requests_and_keeps_good_ones_batchable(model_path: Path) -> None:
    scorer = Scorer(flavorkit.load_model(model_path))
    good = scorer.prepare(split("[[1.0, 1], [2.5, 2.0]]"), "json")
    assert good.batchable
    with pytest.raises(ValueError, match="'b'"):
        scorer.prepare(split("[[1.0, 2.7]]"), "json")
    # a long beyond 2**53 is valid but could not join a request holding floats: alone
    big = scorer.prepare(split(f"[[1.0, {2**60}]]"), "json")
    assert not big.batchable
    assert json.loads(scorer.score(big)) == {"predictions": [2.0 + 2**60]}


# -- 3. bounded rows and cells ---------------------------------------------------------


def parquet_bomb(rows: int) -> bytes:
    """A few KB of Parquet that decodes to ``rows`` rows of zeros."""
    frame = pd.DataFrame({"a": np.zeros(rows), "b": np.zeros(rows, dtype=np.int64)})
    return parquet(frame)


def test_server_refuses_a_parquet_bomb_before_decoding_it(
    client: httpx.Client, server: Server
) -> None:
    body = parquet_bomb(2_000_001)
    assert len(body) < 200_000
    answer = post(server, client, body, PARQUET)
    assert_client_error(answer, 413, ("PAYLOAD_TOO_LARGE",), "rows", "1000000")


@pytest.fixture(scope="module")
def limited(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Small row and cell limits, a 1 s body timeout, at most 8 connections, debug logs."""
    srv = start_configured(
        model_path,
        tmp_path_factory.mktemp("limited"),
        max_request_rows=100,
        max_request_cells=250,
        body_timeout_s=1.0,
        max_connections=8,
        log_level="debug",
    )
    yield srv
    srv.stop()


@pytest.mark.parametrize(
    ("body", "content_type", "fragment"),
    [
        (split(json.dumps([[1.0, 1]] * 101)), "json", "101 rows"),
        (
            b'{"dataframe_records": ' + json.dumps([{"a": 1.0, "b": 1}] * 101).encode() + b"}",
            "json",
            "101 rows",
        ),
        (split(json.dumps([[1.0, 1, 2]] * 90), '["a", "b", "c"]'), "json", "270 cells"),
        (b"a,b\n" + b"1.0,1\n" * 101, CSV, "more than 100 rows"),
        (b"a,b,c\n" + b"1.0,1,2\n" * 90, CSV, "cells"),
        (b"a," * 300 + b"b\n1.0,1\n", CSV, "columns"),
        (parquet(pd.DataFrame({"a": [1.0] * 101, "b": [1] * 101})), PARQUET, "101 rows"),
        (
            parquet(pd.DataFrame({"a": [1.0] * 90, "b": [1] * 90, "c": [2] * 90})),
            PARQUET,
            "270 cells",
        ),
    ],
    ids=[
        "split-rows",
        "records-rows",
        "split-cells",
        "csv-rows",
        "csv-cells",
        "csv-columns",
        "parquet-rows",
        "parquet-cells",
    ],
)
def test_server_limits_decoded_rows_and_cells(
    limited: Server, body: bytes, content_type: str, fragment: str
) -> None:
    content_type = "application/json" if content_type == "json" else content_type
    response = httpx.post(
        f"{limited.url}/invocations", content=body, headers={"Content-Type": content_type}
    )
    assert response.status_code == 413, response.text
    message = response.json()["message"]
    assert response.json()["error_code"] == "PAYLOAD_TOO_LARGE" and fragment in message, message


def test_server_limits_allow_requests_at_the_limit(limited: Server) -> None:
    response = httpx.post(
        f"{limited.url}/invocations",
        content=split(json.dumps([[1.0, 1]] * 100)),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == 100


# -- 4. errors never echo the payload --------------------------------------------------


def test_server_headerless_csv_error_does_not_echo_the_first_row(
    client: httpx.Client, server: Server
) -> None:
    body = b"12345.678,987654321\n2.5,3\n"
    answer = post(server, client, body, CSV)
    message = assert_client_error(answer, 400, BAD, "header")["message"]
    assert "12345" not in message and "987654321" not in message
    assert "'a'" in message and "'b'" in message  # it names what the header must hold


def test_server_many_column_names_give_a_short_error(client: httpx.Client, server: Server) -> None:
    names = ["x" * 500] + [f"c{i}" for i in range(1, 100_000)]
    body = json.dumps({"dataframe_split": {"columns": names, "data": [[0] * len(names)]}})
    answer = post(server, client, body.encode())
    message = assert_client_error(answer, 400, BAD, "'a'", "99990 more")["message"]
    assert len(answer.response.content) < 2000, len(answer.response.content)
    assert "x" * 100 not in message  # each echoed name is cut short


def test_server_unknown_keys_are_capped_in_errors(client: httpx.Client, server: Server) -> None:
    keys = {f"key_{i}_{'y' * 300}": 1 for i in range(1000)}
    answer = post(server, client, json.dumps(keys).encode())
    assert_client_error(answer, 400, BAD, "990 more")
    assert len(answer.response.content) < 2000 and "y" * 100 not in answer.response.text


# -- 5. slow and vanishing clients -----------------------------------------------------


def raw_request(body_length: int, first_part: bytes) -> bytes:
    return (
        b"POST /invocations HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {body_length}\r\n\r\n".encode()
        + first_part
    )


def test_server_half_sent_body_gets_408_and_the_connection_closes(limited: Server) -> None:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", limited.port), timeout=30) as sock:
        sock.sendall(raw_request(1000, b'{"inputs": '))
        received = b""
        while chunk := sock.recv(65536):  # returns b"" once the server closes
            received += chunk
    assert received.startswith(b"HTTP/1.1 408"), received[:200]
    assert b"REQUEST_TIMEOUT" in received and b"connection: close" in received.lower()
    assert time.monotonic() - started < 20


def test_server_client_disconnects_are_not_errors(limited: Server) -> None:
    with socket.create_connection(("127.0.0.1", limited.port), timeout=30) as sock:
        sock.sendall(raw_request(1000, b'{"inputs": '))
    deadline = time.monotonic() + 20
    while "disconnected" not in limited.log() and time.monotonic() < deadline:
        time.sleep(0.02)  # bounded poll for the server's debug line
    log = limited.log()
    assert "client disconnected" in log
    assert "ERROR" not in log and "Traceback" not in log, log[-3000:]


def test_server_half_sent_body_does_not_hold_back_batches(model_path: Path, tmp_path: Path) -> None:
    # a batch waits up to max_batch_delay_ms only for requests being parsed: a client that
    # never finishes its body must not make every batch wait that long
    srv = start_configured(model_path, tmp_path, max_batch_delay_ms=5000.0, body_timeout_s=30.0)
    try:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as sock:
            sock.sendall(raw_request(1000, b'{"inputs": '))
            assert httpx.get(f"{srv.url}/ping").status_code == 200  # the server has it
            started = time.monotonic()
            response = httpx.post(
                f"{srv.url}/invocations", content=split("[[1.0, 1]]"), headers=JSON_TYPE
            )
            took = time.monotonic() - started
        assert response.json() == {"predictions": [3.0]}
        assert took < 2.5, took  # not the 5 s batch delay
    finally:
        srv.stop()


def test_server_bounds_concurrent_connections(limited: Server) -> None:
    idle = []
    try:
        for _ in range(7):  # seven kept-alive connections; the eighth reaches the limit
            sock = socket.create_connection(("127.0.0.1", limited.port), timeout=30)
            idle.append(sock)
            sock.sendall(b"GET /ping HTTP/1.1\r\nHost: test\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        response = httpx.post(
            f"{limited.url}/invocations", content=split("[[1.0, 1]]"), headers=JSON_TYPE
        )
        assert response.status_code == 503
    finally:
        for sock in idle:
            sock.close()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        response = httpx.post(
            f"{limited.url}/invocations", content=split("[[1.0, 1]]"), headers=JSON_TYPE
        )
        if response.status_code == 200:
            break
        time.sleep(0.02)  # bounded poll while the server notices the closed sockets
    assert response.status_code == 200


def test_server_many_half_sent_bodies_are_all_released(limited: Server) -> None:
    def hold() -> bytes:
        with socket.create_connection(("127.0.0.1", limited.port), timeout=30) as sock:
            sock.sendall(raw_request(10_000, b"{"))
            return sock.recv(65536)

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: hold(), range(6)))
    assert all(a.startswith(b"HTTP/1.1 408") for a in answers), answers
    assert httpx.get(f"{limited.url}/ping").status_code == 200
