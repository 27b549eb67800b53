"""Real-time serving: ``flavorkit serve`` against ``mlflow models serve --env-manager local``.

One scikit-learn LogisticRegression (10 float features), saved once by
flavorkit; both servers serve that same folder on 127.0.0.1. One load
generator (wrk when installed, else a bounded Python async client) keeps 16
connections busy with single-row ``dataframe_split`` requests for a fixed
time per server. Reported: requests/s, p50 and p99 latency, and as the
ceiling the in-process rate of ``estimator.predict`` on one row. flavorkit
runs with its defaults (micro-batching on) and once more with micro-batching
off. Figures are printed, never asserted. ``BENCH_SERVE_SECONDS`` sets the
duration per run (default 10).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import MLFLOW_PYTHON, mlflow_available, per_call, row

CONNECTIONS = 16
DURATION_S = float(os.environ.get("BENCH_SERVE_SECONDS", "10"))
FEATURES = [f"f{i}" for i in range(10)]
BENCH = "serve sklearn, 1-row requests, 16 connections"


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


class _Process:
    """A server subprocess whose output goes to a log file; stopped with SIGTERM."""

    def __init__(
        self, cmd: list[str], port: int, log: Path, env: dict[str, str] | None = None
    ) -> None:
        self.url = f"http://127.0.0.1:{port}"
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


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _wrk(url: str, body: str, folder: Path) -> dict[str, float]:
    script = folder / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{CONNECTIONS}",
            f"-d{int(DURATION_S)}s",
            "--latency",
            "-s",
            str(script),
            f"{url}/invocations",
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


def _python_load(url: str, body: str) -> dict[str, float]:
    """A bounded async client: CONNECTIONS workers, each sending requests until the time is up."""
    import httpx

    latencies: list[float] = []
    errors = 0

    async def worker(client: httpx.AsyncClient, stop: float) -> None:
        nonlocal errors
        while time.perf_counter() < stop:
            start = time.perf_counter()
            response = await client.post(
                "/invocations", content=body, headers={"Content-Type": "application/json"}
            )
            latencies.append(time.perf_counter() - start)
            errors += response.status_code != 200

    async def main() -> float:
        limits = httpx.Limits(max_connections=CONNECTIONS)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
            start = time.perf_counter()
            await asyncio.gather(*(worker(client, start + DURATION_S) for _ in range(CONNECTIONS)))
            return time.perf_counter() - start

    elapsed = asyncio.run(main())
    latencies.sort()
    return {
        "req_s": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1e3,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1e3,
        "errors": float(errors),
    }


def _measure(server: _Process, body: str, folder: Path) -> dict[str, float]:
    server.wait_ready()
    try:
        import httpx

        for _ in range(50):  # warm-up outside the measured window
            httpx.post(
                f"{server.url}/invocations",
                content=body,
                headers={"Content-Type": "application/json"},
            )
        return (
            _wrk(server.url, body, folder)
            if shutil.which("wrk")
            else _python_load(server.url, body)
        )
    finally:
        server.stop()


def _flavorkit(path: Path, body: str, folder: Path, *extra: str) -> dict[str, float]:
    port = _free_port()
    cmd = [sys.executable, "-m", "flavorkit.server", str(path), "--port", str(port), *extra]
    return _measure(_Process(cmd, port, folder / f"flavorkit{len(extra)}.log"), body, folder)


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


def run() -> list[dict[str, Any]]:
    """Serve the model with each tool in turn, drive it, and return the rows."""
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        folder = Path(tmp)
        path, estimator, one = _model(folder)
        body = _body(one)
        raw = 1.0 / per_call(lambda: estimator.predict(one))
        ours = _flavorkit(path, body, folder)
        unbatched = _flavorkit(path, body, folder, "--max-batch-size", "1")
        theirs = _mlflow(path, body, folder) if mlflow_available() else None
    tool = "wrk" if shutil.which("wrk") else "python client"
    rows = []
    for metric, key, unit in (
        ("throughput", "req_s", "req/s"),
        ("latency p50", "p50_ms", "ms"),
        ("latency p99", "p99_ms", "ms"),
    ):
        mlflow_value = theirs[key] if theirs else None
        r = row(
            BENCH,
            metric,
            unit,
            ours[key],
            mlflow_value,
            raw=raw if key == "req_s" else None,
            note=f"{tool}, {DURATION_S:g} s; no micro-batching: {unbatched[key]:,.4g} {unit}",
            higher_is_better=key == "req_s",
        )
        if key == "req_s":
            r["note"] += "; raw = in-process estimator.predict, 1 row"
        rows.append(r)
    errors = ours["errors"] + unbatched["errors"] + (theirs["errors"] if theirs else 0)
    if errors:
        rows[0]["note"] += f"; {errors:.0f} non-200 responses"
    return rows


if __name__ == "__main__":
    from _common import print_table

    print_table(run())
