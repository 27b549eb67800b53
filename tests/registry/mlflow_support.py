"""MLflow's side of the MLflow registry tests: its scripts, its server, and what they leave.

MLflow runs only in ``.venvs/mlflow`` (see ``tests/interop``); the tests here
start its interpreter and its ``mlflow server`` as subprocesses and read what
they wrote with flavorkit, which never imports MLflow.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
# the interop tests' helpers: MLflow's interpreter, its environment, pickled hand-over
sys.path.insert(0, str(HERE.parent / "interop"))

from interop_support import MLFLOW_CLI, MLFLOW_PYTHON, load, mlflow_env, values  # noqa: E402

__all__ = [
    "CASES",
    "NEEDS_MLFLOW",
    "auth_proxy",
    "free_port",
    "mlflow_server",
    "populate",
    "snapshot",
    "values",
]

# the labels of mlflow_populate_registry.py's cases: each a URI, an input, MLflow's prediction
CASES = [
    "version",
    "other-version",
    "alias",
    "latest",
    "stage",
    "torch-version",
    "logged-model",
    "torch-logged-model",
    "run-logged-model",
    "run-artifacts",
    "torch-run-logged-model",
]
# every test module that needs MLflow itself sets ``pytestmark = NEEDS_MLFLOW``
NEEDS_MLFLOW = [
    pytest.mark.interop,
    pytest.mark.skipif(
        not MLFLOW_PYTHON.is_file(),
        reason=f"MLflow's environment is missing ({MLFLOW_PYTHON}); build it with "
        "`make mlflow-env`",
    ),
]


def populate(outdir: Path, tracking_uri: str, *, timeout: float = 300) -> dict[str, Any]:
    """Run ``mlflow_populate_registry.py`` against ``tracking_uri``; returns its ``expected.pkl``.

    It runs in ``outdir``, so a SQLite store's default artifact root
    (``./mlruns``) lands there.
    """
    proc = subprocess.run(
        [str(MLFLOW_PYTHON), str(HERE / "mlflow_populate_registry.py"), str(outdir)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=mlflow_env({"MLFLOW_TRACKING_URI": tracking_uri}),
        cwd=outdir,
        check=False,
    )
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-6000:]
        raise AssertionError(f"mlflow_populate_registry.py exited {proc.returncode}:\n{tail}")
    expected: dict[str, Any] = load(outdir / "expected.pkl")
    return expected


def free_port() -> int:
    """A TCP port nothing listens on at this moment, on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _healthy(url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@contextlib.contextmanager
def mlflow_server(root: Path, *, startup: float = 120) -> Iterator[str]:
    """``mlflow server`` with proxied artifacts on a free loopback port; yields its URL.

    Its store is ``root/mlflow.db``, its artifacts ``root/artifacts``; it runs
    in its own process group (uvicorn is a child of ``mlflow server``), which
    is terminated on the way out. Job execution is switched off: it would
    start a dozen worker processes these tests never use.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = root / "server.log"
    command = [
        str(MLFLOW_CLI),
        "server",
        "--backend-store-uri",
        f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination",
        str(root / "artifacts"),
        "--serve-artifacts",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    env = mlflow_env({"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + startup
        while not _healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-4000:]
                raise AssertionError(f"mlflow server did not start (exit {proc.poll()}):\n{tail}")
            time.sleep(0.25)  # polling for readiness, not timing anything
        yield url
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate the server's process group (this test started it), then kill what remains."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)


def snapshot(folder: Path) -> dict[str, tuple[int, int, str]]:
    """Every file below ``folder``: relative path -> (size, mtime ns, sha256)."""
    return {
        str(p.relative_to(folder)): (
            p.stat().st_size,
            p.stat().st_mtime_ns,
            hashlib.sha256(p.read_bytes()).hexdigest(),
        )
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@contextlib.contextmanager
def auth_proxy(upstream: str, accepted: set[str]) -> Iterator[str]:
    """A loopback proxy to ``upstream`` that answers 401 unless ``Authorization`` is accepted.

    It stands in for MLflow's own ``--app-name basic-auth`` (which needs
    Flask-WTF, absent from ``.venvs/mlflow``): the same 401 and
    ``WWW-Authenticate`` a protected server sends, in front of the real server.
    """
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import httpx

    class Handler(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            if self.headers.get("Authorization") not in accepted:
                body = json.dumps({"error_code": "UNAUTHENTICATED", "message": "login"}).encode()
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="mlflow"')
            else:
                length = int(self.headers.get("Content-Length") or 0)
                answer = httpx.request(
                    self.command,
                    upstream + self.path,
                    content=self.rfile.read(length) if length else None,
                    headers={"Content-Type": self.headers.get("Content-Type", "")},
                    timeout=30,
                )
                body = answer.content
                self.send_response(answer.status_code)
                self.send_header("Content-Type", answer.headers.get("content-type", ""))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _forward

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
