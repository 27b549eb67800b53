"""Real-time serving: ``flavorkit serve`` next to the HTTP ceiling of its own stack and MLflow.

One scikit-learn LogisticRegression (10 float features), saved once by
flavorkit. Served on 127.0.0.1 by:

- flavorkit with its defaults (micro-batching on), at 1 and 2 workers, and
  once more with micro-batching off; and on the Open Inference Protocol's
  ``/v2/models/model/infer`` with the same row (the body MLServer's V2 gets);
- the bare endpoint: a Starlette app on the same uvicorn configuration (the
  options ``flavorkit serve`` passes, same event loop and HTTP parser) whose
  ``/invocations`` reads the body and returns a constant JSON answer. It is
  the ceiling of the stack: flavorkit / bare is the share of it reached;
- ``mlflow models serve --env-manager local`` when MLflow's environment exists;
- Seldon MLServer with its MLflow runtime when its environment exists
  (``make mlserver-env``), on ``/invocations`` and on V2 with adaptive
  batching (``_mlserver.py``).

One load generator keeps 16 connections busy with single-row
``dataframe_split`` requests for a fixed time per server: wrk when
installed, else a client of this module (raw sockets, keep-alive, one
request in flight per connection, spread over processes). Reported:
requests/s, p50 and p99 latency. Figures are printed, never asserted.
``BENCH_SERVE_SECONDS`` sets the duration per run (default 10);
``BENCH_SERVE_CLIENT=sockets`` uses the socket client even where wrk is
installed. On 2 cores the socket client reaches about 94% of wrk's rate
against the bare endpoint on asyncio + h11, and about 80% on uvloop +
httptools: there it understates the ceiling, so the ratio reads high.

``python benchmarks/bench_serve.py`` prints the table; ``--loops`` also runs
flavorkit and the bare endpoint on asyncio + h11 and on uvloop + httptools
(when installed) to show what they change.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import MLFLOW_PYTHON, mlflow_available, row  # noqa: E402
from _mlserver import measure_mlserver, mlserver_available, mlserver_rows, v2_body  # noqa: E402

CONNECTIONS = 16
DURATION_S = float(os.environ.get("BENCH_SERVE_SECONDS", "10"))
FEATURES = [f"f{i}" for i in range(10)]
BENCH = "serve sklearn, 1-row requests, 16 connections"
BARE_ANSWER = b'{"predictions": [1]}'


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _model(folder: Path) -> tuple[Path, Any, Any]:
    """Fit and save the model; returns (path, estimator, one-row frame)."""
    import flavorkit
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(500, len(FEATURES))), columns=FEATURES)
    estimator = LogisticRegression().fit(X, (X.sum(axis=1) > 0).astype(int))
    path = folder / "model"
    flavorkit.save_model(estimator, path, input_example=X.head(3))
    return path, estimator, X.head(1)


def _body(one: Any) -> str:
    return json.dumps({"dataframe_split": {"columns": FEATURES, "data": one.to_numpy().tolist()}})


# the Open Inference Protocol on flavorkit: the model's name is its folder's
V2_PATH = "/v2/models/model/infer"


# -- the servers -------------------------------------------------------------------------


def bare_app() -> Any:
    """The ceiling: reads the body, answers a constant JSON document (uvicorn factory)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def invocations(request: Request) -> Response:
        await request.body()
        return Response(BARE_ANSWER, media_type="application/json")

    async def ping(request: Request) -> Response:
        return Response("\n", media_type="application/json")

    return Starlette(
        routes=[
            Route("/invocations", invocations, methods=["POST"]),
            Route("/ping", ping, methods=["GET"]),
        ]
    )


def _config(model: str, port: int, workers: int, stack: str, *extra: str) -> dict[str, Any]:
    config: dict[str, Any] = {"model_uri": model, "port": port, "workers": workers}
    if stack != "auto":
        config["loop"], config["http"] = stack.split("+")
    if "--max-batch-size" in extra:
        config["max_batch_size"] = int(extra[extra.index("--max-batch-size") + 1])
    return config


_SERVE = """
import json, sys
sys.path.insert(0, {here!r})
from flavorkit.server._config import ServerConfig
from flavorkit.server._run import serve, uvicorn_options
config = ServerConfig(**json.loads({config!r}))
if {bare!r}:
    import uvicorn
    uvicorn.run("bench_serve:bare_app", factory=True, **uvicorn_options(config))
else:
    sys.exit(serve(config))
"""


class _Process:
    """A server subprocess whose output goes to a log file; stopped with SIGTERM."""

    def __init__(
        self, cmd: list[str], port: int, log: Path, env: dict[str, str] | None = None
    ) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.port = port
        self.log = log
        with open(log, "wb") as fh:
            self.proc = subprocess.Popen(
                cmd, stdout=fh, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
            )

    def wait_ready(self, timeout: float = 120.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/ping", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)  # polling for startup, not part of any measurement
        raise TimeoutError(f"server not ready after {timeout} s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _server(
    folder: Path, name: str, model: Path, workers: int, stack: str, *extra: str
) -> _Process:
    port = _free_port()
    config = json.dumps(_config(str(model), port, workers, stack, *extra))
    code = _SERVE.format(here=str(HERE), config=config, bare=name == "bare")
    return _Process([sys.executable, "-c", code], port, folder / f"{name}-{port}.log")


# -- the load generators -----------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _wrk(url: str, body: str, folder: Path, path: str = "/invocations") -> dict[str, float]:
    script = folder / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{CONNECTIONS}",
            f"-d{int(DURATION_S)}s",
            "--latency",
            "-s",
            str(script),
            f"{url}{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result = {"req_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}  # type: ignore[union-attr]
    for pct in ("50", "99"):
        value, unit = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        result[f"p{pct}_ms"] = float(value) * _UNITS[unit]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    result["errors"] = float(bad.group(1)) if bad else 0.0
    return result


def _request_bytes(port: int, body: str, path: str = "/invocations") -> bytes:
    data = body.encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


def _socket_worker(port: int, request: bytes, connections: int, duration: float, out: Any) -> None:
    """One process of the socket client: ``connections`` keep-alive connections, each with
    one request in flight, until ``duration`` has passed; sends (latencies, errors) to ``out``."""
    perf = time.perf_counter
    sel = selectors.DefaultSelector()
    for _ in range(connections):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        sel.register(sock, selectors.EVENT_READ, [bytearray(), 0.0])
    latencies: list[float] = []
    errors = 0
    stop = perf() + duration
    for key in sel.get_map().values():
        key.data[1] = perf()
        key.fileobj.send(request)  # type: ignore[union-attr]
    open_ = connections
    while open_:
        for key, _ in sel.select(1.0):
            sock, (buf, started) = key.fileobj, key.data
            chunk = sock.recv(65536)  # type: ignore[union-attr]
            if not chunk:
                raise ConnectionError("the server closed a connection")
            buf += chunk
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                continue
            head = bytes(buf[:end]).lower()
            at = head.find(b"content-length:")
            length = int(head[at + 15 : head.find(b"\r\n", at) if b"\r\n" in head[at:] else None])
            if len(buf) < end + 4 + length:
                continue
            now = perf()
            latencies.append(now - started)
            errors += buf[9:12] != b"200"
            del buf[:]
            if now < stop:
                key.data[1] = perf()
                sock.send(request)  # type: ignore[union-attr]
            else:
                sel.unregister(sock)
                sock.close()  # type: ignore[union-attr]
                open_ -= 1
    out.send((latencies, errors))
    out.close()


def _socket_load(
    port: int, body: str, processes: int = 2, path: str = "/invocations"
) -> dict[str, float]:
    """The fallback load generator: ``processes`` processes sharing the connections."""
    ctx = multiprocessing.get_context("fork")
    request = _request_bytes(port, body, path)
    share = [CONNECTIONS // processes + (i < CONNECTIONS % processes) for i in range(processes)]
    pipes, procs = [], []
    start = time.perf_counter()
    for n in share:
        recv, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_socket_worker, args=(port, request, n, DURATION_S, send))
        proc.start()
        pipes.append(recv)
        procs.append(proc)
    latencies: list[float] = []
    errors = 0
    for recv in pipes:
        got, bad = recv.recv()
        latencies.extend(got)
        errors += bad
    elapsed = time.perf_counter() - start
    for proc in procs:
        proc.join()
    latencies.sort()
    return {
        "req_s": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1e3,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1e3,
        "errors": float(errors),
    }


def _tool() -> str:
    forced = os.environ.get("BENCH_SERVE_CLIENT")
    if forced:
        return forced
    return "wrk" if shutil.which("wrk") else "sockets"


def _measure(
    server: _Process, body: str, folder: Path, path: str = "/invocations"
) -> dict[str, float]:
    server.wait_ready()
    try:
        import httpx

        with httpx.Client(base_url=server.url) as client:
            for _ in range(200):  # warm-up outside the measured window
                client.post(path, content=body, headers={"Content-Type": "application/json"})
        if _tool() == "wrk":
            return _wrk(server.url, body, folder, path)
        return _socket_load(server.port, body, path=path)
    finally:
        server.stop()


def _mlflow(path: Path, body: str, folder: Path) -> dict[str, float]:
    port = _free_port()
    bin_dir = MLFLOW_PYTHON.parent
    cmd = [
        str(bin_dir / "mlflow"),
        "models",
        "serve",
        "-m",
        str(path),
        "--env-manager",
        "local",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    # MLflow starts uvicorn through the shell: its environment's bin must come first on PATH
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    return _measure(_Process(cmd, port, folder / "mlflow.log", env), body, folder)


def _fast_stack() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) for m in ("uvloop", "httptools"))


def _stack_name() -> str:
    return "uvloop+httptools" if _fast_stack() else "asyncio+h11"


def run(stacks: bool = False) -> list[dict[str, Any]]:
    """Serve the model with each server in turn, drive it, and return the rows."""
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        folder = Path(tmp)
        path, _, one = _model(folder)
        body = _body(one)

        def measure(name: str, workers: int = 1, stack: str = "auto", *extra: str) -> Any:
            return _measure(_server(folder, name, path, workers, stack, *extra), body, folder)

        bare = measure("bare")
        ours = measure("flavorkit")
        # the same row as one [1, 1] FP64 input per column: the body MLServer gets below
        ours_v2 = _measure(
            _server(folder, "flavorkit", path, 1, "auto"), v2_body(one), folder, V2_PATH
        )
        bare2 = measure("bare", 2)
        ours2 = measure("flavorkit", 2)
        unbatched = measure("flavorkit", 1, "auto", "--max-batch-size", "1")
        theirs = _mlflow(path, body, folder) if mlflow_available() else None
        mlserver = measure_mlserver(path, one, folder) if mlserver_available() else None
        other: dict[str, tuple[Any, Any]] = {}
        if stacks:
            for stack in ("asyncio+h11", "uvloop+httptools"):
                if stack == "uvloop+httptools" and not _fast_stack():
                    continue
                other[stack] = (measure("bare", 1, stack), measure("flavorkit", 1, stack))
    tool = {"wrk": "wrk -t2", "sockets": "socket client, 2 processes"}[_tool()]
    rows = []
    for metric, key, unit in (
        ("throughput", "req_s", "req/s"),
        ("latency p50", "p50_ms", "ms"),
        ("latency p99", "p99_ms", "ms"),
    ):
        higher = key == "req_s"
        note = (
            f"{tool}, {DURATION_S:g} s, {_stack_name()}; raw = bare endpoint; "
            f"2 workers: {ours2[key]:,.4g} (bare {bare2[key]:,.4g}); "
            f"no micro-batching: {unbatched[key]:,.4g}"
        )
        if higher:
            share, share2 = ours[key] / bare[key], ours2[key] / bare2[key]
            note += f"; flavorkit/bare {share:.0%} (2 workers {share2:.0%})"
        for stack, (b, f) in other.items():
            note += f"; {stack}: {f[key]:,.4g} (bare {b[key]:,.4g})"
        rows.append(
            row(
                BENCH,
                metric,
                unit,
                ours[key],
                theirs[key] if theirs else None,
                raw=bare[key],
                note=note,
                higher_is_better=higher,
            )
        )
    for metric, key, unit in (
        ("throughput", "req_s", "req/s"),
        ("latency p50", "p50_ms", "ms"),
        ("latency p99", "p99_ms", "ms"),
    ):
        rows.append(
            row(
                f"serve sklearn V2 infer, 1-row requests, {CONNECTIONS} connections",
                metric,
                unit,
                ours_v2[key],
                None,
                raw=ours[key],
                note=(
                    f"{tool}, {DURATION_S:g} s, {_stack_name()}; flavorkit POST {V2_PATH} "
                    "(10 [1, 1] FP64 inputs, micro-batched like dataframe_split); "
                    "raw = flavorkit /invocations, same row"
                ),
                higher_is_better=key == "req_s",
            )
        )
    results = [bare, ours, ours_v2, bare2, ours2, unbatched, *(theirs,) * bool(theirs)]
    errors = sum(r["errors"] for r in results)
    if errors:
        rows[0]["note"] += f"; {errors:.0f} non-200 responses"
    if mlserver:
        rows += mlserver_rows(ours, mlserver, ours_v2=ours_v2)
    return rows


if __name__ == "__main__":
    from _common import print_table

    print_table(run(stacks="--loops" in sys.argv))
