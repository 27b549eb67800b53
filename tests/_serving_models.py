"""Models the serving and batch tests save, serve and score, and a server runner.

The models are importable classes, so the reference format applies.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import flavorkit
import numpy as np
import pandas as pd
from flavorkit import ColSpec, ModelSignature, ParamSchema, ParamSpec, Schema, TensorSpec


class Linear(flavorkit.PythonModel):
    """``y = (a * 2 + b) * scale`` per row; a negative ``a`` makes it fail (a model error).

    ``params={"hold": PATH}`` makes predict touch ``PATH.started`` and wait for
    ``PATH`` to exist, so a test can keep a request in flight.
    """

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> Any:
        params = params or {}
        hold = params.get("hold")
        if hold:
            _hold(Path(hold))
        if (model_input["a"] < 0).any():
            raise RuntimeError("negative input: the model cannot handle it")
        return ((model_input["a"] * 2 + model_input["b"]) * params.get("scale", 1.0)).to_numpy()


def _hold(path: Path) -> None:
    path.with_suffix(".started").touch()
    deadline = time.monotonic() + 30
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.01)


class Labels(flavorkit.PythonModel):
    """Returns a DataFrame: the input ``name`` upper-cased and its length, per row."""

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> Any:
        names = model_input["name"].astype(str)
        return pd.DataFrame({"upper": names.str.upper(), "length": names.str.len()})


class Total(flavorkit.PythonModel):
    """Not row-aligned: one number for the whole input, so it must not be micro-batched."""

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> Any:
        return [float(model_input["a"].sum())]


class Doubler(flavorkit.PythonModel):
    """A tensor model: ``x * 2`` for a float32 tensor of shape (-1, 3)."""

    def predict(
        self, context: Any, model_input: np.ndarray, params: dict[str, Any] | None = None
    ) -> Any:
        return model_input * 2


LINEAR_SIGNATURE = ModelSignature(
    inputs=Schema([ColSpec("double", "a"), ColSpec("long", "b")]),
    params=ParamSchema([ParamSpec("scale", "double", 1.0), ParamSpec("hold", "string", "")]),
)


def linear_example() -> pd.DataFrame:
    return pd.DataFrame({"a": [1.0, 2.5], "b": [1, 2]})


def save_linear(path: Path) -> Path:
    flavorkit.save_model(Linear(), path, signature=LINEAR_SIGNATURE, input_example=linear_example())
    return path


def save_labels(path: Path) -> Path:
    signature = ModelSignature(
        inputs=Schema([ColSpec("string", "name")]),
        outputs=Schema([ColSpec("string", "upper"), ColSpec("long", "length")]),
    )
    flavorkit.save_model(
        Labels(), path, signature=signature, input_example=pd.DataFrame({"name": ["ab", "c"]})
    )
    return path


def save_total(path: Path) -> Path:
    signature = ModelSignature(inputs=Schema([ColSpec("double", "a")]))
    flavorkit.save_model(
        Total(), path, signature=signature, input_example=pd.DataFrame({"a": [1.0, 2.0]})
    )
    return path


def save_doubler(path: Path) -> Path:
    signature = ModelSignature(inputs=Schema([TensorSpec(np.dtype("float32"), (-1, 3))]))
    example = np.arange(6, dtype=np.float32).reshape(2, 3)
    flavorkit.save_model(Doubler(), path, signature=signature, input_example=example)
    return path


# -- running a real server ---------------------------------------------------------


TESTS = Path(__file__).resolve().parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a server subprocess: this folder (the models) importable."""
    import os

    path = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, **(extra or {})}


class Server:
    """A ``flavorkit serve`` subprocess on a loopback port; its output goes to ``log_path``."""

    def __init__(
        self,
        model: Path | str,
        args: tuple[str, ...],
        log_path: Path,
        env: dict[str, str] | None = None,
    ) -> None:
        import subprocess
        import sys

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        cmd = [
            sys.executable,
            "-m",
            "flavorkit.server",
            str(model),
            "--port",
            str(self.port),
            *args,
        ]
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, env=server_env(env)
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Poll ``/ping`` until it answers 200 (True) or the process exits (False)."""
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if httpx.get(f"{self.url}/ping", timeout=1.0).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.05)  # a bounded poll for startup, not a timing assumption
        raise TimeoutError(f"the server did not start within {timeout} s:\n{self.log()}")

    def stop(self) -> int:
        """SIGTERM, then wait; returns the exit status."""
        import subprocess

        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return int(self.proc.returncode)


def start_server(
    model: Path | str,
    *args: str,
    log_dir: Path,
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> Server:
    """Start a server and wait until it is healthy; raises with its log when it does not come up.

    ``model`` is a folder or a URI (``models:/name@alias``).
    """
    server = Server(model, args, log_dir / f"server-{Path(str(model)).name}.log", env)
    try:
        ready = server.wait_ready(timeout)
    except TimeoutError:
        server.stop()
        raise
    if not ready:
        raise RuntimeError(f"the server exited with {server.proc.returncode}:\n{server.log()}")
    return server
