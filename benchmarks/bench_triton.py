"""Real-time serving on NVIDIA Triton: flavorkit's exported repository next to ``flavorkit serve``.

The model of ``bench_serve.py`` (a scikit-learn LogisticRegression on 10
float features, saved once by flavorkit) is exported with ``flavorkit export
triton`` (Python backend, ``max_batch_size`` 8, dynamic batching, one CPU
instance) and served by the ``tritonserver`` of the ``nvidia-pytriton``
wheel (``flavorkit_triton.testing``); the backend imports flavorkit from the
numpy<2 environment ``.venvs/triton`` (``make triton-env``; that Triton's
Python backend was built against NumPy 1.x). The same model is served by
``flavorkit serve`` (defaults, 1 worker) and asked on its V2 ``/infer``.

The load is ``bench_serve.py``'s: 16 connections of single-row requests for
a fixed time (wrk when installed, else its socket client), here the V2 JSON
body with one ``[1, 1]`` FP64 input per column, the same bytes to both
servers. Reported: requests/s, p50 and p99. The Triton figure stands in the
reference column (headed ``mlflow``); the ratio is flavorkit serve's
advantage over it. Figures are printed, never asserted.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import ROOT, row  # noqa: E402

MODEL_NAME = "model"  # bench_serve saves the model as <folder>/model: flavorkit serve's V2 name
INFER = f"/v2/models/{MODEL_NAME}/infer"


def backend_env() -> Path | None:
    """The numpy<2 environment the Python backend runs in, when it has been built."""
    path = Path(os.environ.get("FLAVORKIT_TRITON_ENV") or ROOT / ".venvs" / "triton")
    return path if (path / "bin" / "python").is_file() else None


class _Triton:
    """A ``tritonserver`` as ``bench_serve._measure`` drives a server (url, port, stop)."""

    def __init__(self, repository: Path, python: str, log: Path) -> None:
        from flavorkit_triton import testing

        self.server = testing.TritonServer(
            repository, home=testing.server_home(python), log=log
        ).start()
        self.url = self.server.url
        self.port = self.server.http_port

    def wait_ready(self) -> None:
        """Started ready (``TritonServer.start`` waits for every model)."""

    def stop(self) -> None:
        self.server.stop()


def _python_of(env: Path) -> str:
    site = next(env.glob("lib/python*/site-packages"))
    return site.parent.name[len("python") :]


def _triton(folder: Path, model: Path, env: Path, body: str, instances: int) -> dict[str, float]:
    from bench_serve import _measure
    from flavorkit_triton import export

    repo = folder / f"triton-{instances}"
    export(model, repo, name=MODEL_NAME, python_env=env, instances=instances)
    server = _Triton(repo, _python_of(env), folder / f"tritonserver-{instances}.log")
    return _measure(server, body, folder, INFER)  # type: ignore[arg-type]


def run() -> list[dict[str, Any]]:
    """Drive flavorkit serve's V2 endpoint and Triton with the same requests; the rows."""
    from _mlserver import v2_body
    from bench_serve import CONNECTIONS, DURATION_S, _measure, _model, _server, _tool

    env = backend_env()
    if env is None:
        print(
            "bench_triton: the backend environment is missing (make triton-env); skipped",
            file=sys.stderr,
        )
        return []
    with tempfile.TemporaryDirectory(prefix="bench-triton-") as tmp:
        folder = Path(tmp)
        path, _, one = _model(folder)
        body = v2_body(one)
        ours = _measure(_server(folder, "flavorkit", path, 1, "auto"), body, folder, INFER)
        triton = _triton(folder, path, env, body, instances=1)
        triton2 = _triton(folder, path, env, body, instances=2)
    tool = {"wrk": "wrk -t2", "sockets": "socket client, 2 processes"}[_tool()]
    bench = f"serve sklearn V2 infer vs Triton, 1-row requests, {CONNECTIONS} connections"
    rows = []
    for metric, key, unit in (
        ("throughput", "req_s", "req/s"),
        ("latency p50", "p50_ms", "ms"),
        ("latency p99", "p99_ms", "ms"),
    ):
        note = (
            "reference = tritonserver 2.51 (nvidia-pytriton 0.7.0) on the repository flavorkit "
            "export triton wrote: Python backend, max_batch_size 8, dynamic batching, 1 CPU "
            f"instance (2 instances: {triton2[key]:,.4g}); flavorkit = flavorkit serve "
            f"{INFER}, defaults, 1 worker; {tool}, {DURATION_S:g} s"
        )
        errors = ours["errors"] + triton["errors"] + triton2["errors"]
        if key == "req_s" and errors:
            note += f"; {errors:.0f} non-200 responses"
        higher = key == "req_s"
        rows.append(
            row(bench, metric, unit, ours[key], triton[key], note=note, higher_is_better=higher)
        )
    return rows


if __name__ == "__main__":
    from _common import print_table

    print_table(run())
