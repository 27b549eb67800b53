"""Seldon MLServer on the serving benchmark's model, in its own environment (``.venvs/mlserver``).

MLServer 1.7.1 with its MLflow runtime (``mlserver_mlflow.MLflowRuntime``)
serves the very folder ``flavorkit.save_model`` wrote, as ``mlflow models
serve`` does in ``bench_serve``: the runtime loads it with
``mlflow.pyfunc.load_model``, whose ``loader_module: flavorkit_sklearn``
is installed in that environment next to MLflow. Two runs, each on a freshly
started server, driven by bench_serve's load generator (wrk or its socket
client), 16 connections, single-row requests:

- ``/invocations``: the MLflow scoring protocol with the same
  ``dataframe_split`` body flavorkit gets. MLServer serves it through a
  custom handler, which adaptive batching does not reach;
- ``/v2/models/<name>/infer``: the Open Inference (V2) protocol, one input
  per column (``[1, 1]`` FP64), with adaptive batching on: up to
  ``MAX_BATCH_SIZE`` requests joined, waiting at most ``MAX_BATCH_TIME_S``,
  the same bounds as flavorkit's micro-batching defaults (64, 2 ms).

Settings in both runs: inference in the server process (``parallel_workers
= 0``: on 2 cores a separate inference process competes with the HTTP loop
and the load generator; and MLServer 1.7.1's default of one worker process
fails to start with the uvloop pip resolves, 0.23, whose
``get_event_loop`` raises in the worker: it needs ``uvloop<0.22``), no access
log (``debug = false``), and no Prometheus middleware or gzip, which
flavorkit's server does not have either.
The gRPC server, which MLServer always starts, listens on a free loopback
port and gets no traffic.

Requires the ``path`` parameter of ``bench_serve._measure`` (see
/tmp/handoff/MLSERVER-makefile.md).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from _common import ROOT, row

MLSERVER_VENV = ROOT / ".venvs" / "mlserver"
MLSERVER_BIN = MLSERVER_VENV / "bin" / "mlserver"
MLSERVER_STAMP = MLSERVER_VENV / ".installed"
VERSION = "1.7.1"
MODEL_NAME = "bench"
MAX_BATCH_SIZE = 64
MAX_BATCH_TIME_S = 0.002
PARALLEL_WORKERS = 0
ENDPOINTS = ("invocations", "v2")


def mlserver_available() -> bool:
    """Whether ``make mlserver-env`` has built MLServer's environment."""
    return MLSERVER_STAMP.is_file() and MLSERVER_BIN.is_file()


def v2_body(one: Any) -> str:
    """The V2 request equivalent to ``bench_serve._body(one)``: one ``[1, 1]`` input per column."""
    return json.dumps(
        {
            "inputs": [
                {"name": str(name), "shape": [1, 1], "datatype": "FP64", "data": [float(value)]}
                for name, value in zip(one.columns, one.to_numpy()[0].tolist(), strict=True)
            ]
        }
    )


def write_settings(
    repo: Path, model: Path, http_port: int, grpc_port: int, *, batching: bool
) -> Path:
    """Write MLServer's ``settings.json`` and ``<name>/model-settings.json`` under ``repo``."""
    repo.mkdir(parents=True, exist_ok=True)
    settings = {
        "debug": False,
        "host": "127.0.0.1",
        "http_port": http_port,
        "grpc_port": grpc_port,
        "metrics_endpoint": None,
        "gzip_enabled": False,
        "parallel_workers": PARALLEL_WORKERS,
        "metrics_dir": str(repo / ".metrics"),
        "environments_dir": str(repo / ".envs"),
    }
    (repo / "settings.json").write_text(json.dumps(settings, indent=2))
    model_settings: dict[str, Any] = {
        "name": MODEL_NAME,
        "implementation": "mlserver_mlflow.MLflowRuntime",
        "parameters": {"uri": str(Path(model).absolute())},
    }
    if batching:
        model_settings["max_batch_size"] = MAX_BATCH_SIZE
        model_settings["max_batch_time"] = MAX_BATCH_TIME_S
    (repo / MODEL_NAME).mkdir(exist_ok=True)
    (repo / MODEL_NAME / "model-settings.json").write_text(json.dumps(model_settings, indent=2))
    return repo


def _start(model: Path, folder: Path, name: str, *, batching: bool) -> Any:
    """Write the settings for one run and start ``mlserver start`` on free loopback ports."""
    from bench_serve import _free_port, _Process

    class MLServerProcess(_Process):
        """bench_serve's server process, started in its settings folder; ready once V2 says
        the model is (``/v2/health/ready`` also answers 200 when the model failed to load)."""

        def __init__(self, repo: Path, port: int, log: Path) -> None:
            self.url = f"http://127.0.0.1:{port}"
            self.port = port
            self.log = log
            # the environment's bin first on PATH, as for MLflow; MLSERVER_* variables of
            # the caller would override settings.json, so they are left out
            env = {k: v for k, v in os.environ.items() if not k.startswith("MLSERVER")}
            env["PATH"] = f"{MLSERVER_BIN.parent}{os.pathsep}{env.get('PATH', '')}"
            with open(log, "wb") as fh:
                # cwd: MLServer reads .env and puts its default folders in the working directory
                self.proc = subprocess.Popen(
                    [str(MLSERVER_BIN), "start", str(repo)],
                    stdout=fh,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=repo,
                )

        def wait_ready(self, timeout: float = 120.0) -> None:
            import time

            import httpx

            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"MLServer exited: {self.log.read_text()[-2000:]}")
                try:
                    ready = httpx.get(f"{self.url}/v2/models/{MODEL_NAME}/ready", timeout=1)
                    if ready.status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.1)  # polling for startup, not part of any measurement
            raise TimeoutError(f"MLServer not ready after {timeout} s")

    port, grpc_port = _free_port(), _free_port()
    repo = write_settings(folder / f"mlserver-{name}", model, port, grpc_port, batching=batching)
    return MLServerProcess(repo, port, folder / f"mlserver-{name}-{port}.log")


def measure_mlserver(model: Path, one: Any, folder: Path) -> dict[str, dict[str, float]]:
    """Serve ``model`` with MLServer and drive both endpoints; returns
    ``{"invocations": result, "v2": result}``, each as ``bench_serve._measure`` returns it."""
    from bench_serve import _body, _measure

    invocations = _measure(
        _start(model, folder, "invocations", batching=False), _body(one), folder, "/invocations"
    )
    v2 = _measure(
        _start(model, folder, "v2", batching=True),
        v2_body(one),
        folder,
        f"/v2/models/{MODEL_NAME}/infer",
    )
    return {"invocations": invocations, "v2": v2}


def mlserver_rows(
    ours: dict[str, float],
    results: dict[str, dict[str, float]],
    ours_v2: dict[str, float] | None = None,
) -> list[dict[str, Any]]:
    """Rows of flavorkit (defaults, 1 worker) against MLServer on each endpoint.

    MLServer's figure stands in the reference column (headed ``mlflow``) and
    the ratio is flavorkit's advantage over it, as for MLflow. ``ours_v2``
    (flavorkit's own V2 infer) is compared with MLServer's V2 when given, else
    flavorkit's ``/invocations`` is.
    """
    from bench_serve import CONNECTIONS, DURATION_S, _tool

    tool = {"wrk": "wrk -t2", "sockets": "socket client, 2 processes"}[_tool()]
    labels = {
        "invocations": "/invocations, dataframe_split, no batching (custom handler)",
        "v2": f"V2 infer, adaptive batching {MAX_BATCH_SIZE} / {MAX_BATCH_TIME_S * 1e3:g} ms",
    }
    rows = []
    for endpoint in ENDPOINTS:
        theirs = results[endpoint]
        mine, ours_label = ours, "/invocations"
        if endpoint == "v2" and ours_v2 is not None:
            mine, ours_label = ours_v2, "V2 infer"
        bench = f"serve sklearn vs MLServer {endpoint}, 1-row requests, {CONNECTIONS} connections"
        for metric, key, unit in (
            ("throughput", "req_s", "req/s"),
            ("latency p50", "p50_ms", "ms"),
            ("latency p99", "p99_ms", "ms"),
        ):
            note = (
                f"reference = MLServer {VERSION} + MLflow runtime, {labels[endpoint]}, "
                f"parallel_workers={PARALLEL_WORKERS}; flavorkit = {ours_label}, defaults, "
                f"1 worker; {tool}, {DURATION_S:g} s"
            )
            if key == "req_s" and theirs["errors"]:
                note += f"; MLServer: {theirs['errors']:.0f} non-200 responses"
            rows.append(
                row(
                    bench,
                    metric,
                    unit,
                    mine[key],
                    theirs[key],
                    note=note,
                    higher_is_better=key == "req_s",
                )
            )
    return rows


if __name__ == "__main__":
    # flavorkit (defaults, 1 worker) then MLServer on both endpoints, on the same model
    import sys
    import tempfile

    import bench_serve
    from _common import print_table

    if not mlserver_available():
        sys.exit(f"MLServer's environment is missing ({MLSERVER_STAMP}): make mlserver-env")
    with tempfile.TemporaryDirectory(prefix="bench-mlserver-") as tmp:
        scratch = Path(tmp)
        path, _, one = bench_serve._model(scratch)
        server = bench_serve._server(scratch, "flavorkit", path, 1, "auto")
        ours = bench_serve._measure(server, bench_serve._body(one), scratch)
        print_table(mlserver_rows(ours, measure_mlserver(path, one, scratch)))
