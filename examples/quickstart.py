"""Train a model, save it, load it back through pyfunc, predict, and serve it.

Run with ``make demo``. The serving part starts ``flavorkit serve`` on a free
loopback port, sends the saved serving example to ``/invocations`` and stops
the server again.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import flavorkit
import pandas as pd
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression


def main() -> None:
    iris = load_iris(as_frame=True)
    X: pd.DataFrame = iris.data
    y = iris.target
    estimator = LogisticRegression(max_iter=500).fit(X, y)

    folder = Path(tempfile.mkdtemp(prefix="flavorkit-demo-")) / "iris"
    flavorkit.save_model(estimator, folder, input_example=X.head(3))
    print(f"saved to {folder}\n")
    print((folder / "MLmodel").read_text())
    print("requirements.txt:\n" + (folder / "requirements.txt").read_text())

    model = flavorkit.load_model(folder)
    print(f"loaded {model!r}")
    print("predict:", model.predict(X.head(5)).tolist())
    print(
        "predict_proba:",
        model.predict(X.head(2), params={"predict_fn": "predict_proba"}).round(3).tolist(),
    )

    try:
        model.predict(X.drop(columns=["petal width (cm)"]).head(1))
    except flavorkit.SchemaEnforcementError as exc:
        print(f"rejected bad input: {exc}")

    serve(folder)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        return bytes(response.read())


def serve(folder: Path) -> None:
    """Serve the model over HTTP and score its saved serving example."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "flavorkit.cli", "serve", str(folder), "--port", str(port)]
    print(f"\n$ flavorkit serve {folder} --port {port}")
    server = subprocess.Popen(cmd)
    try:
        deadline = time.monotonic() + 60
        while True:  # the server self-tests on the input example before /ping answers
            try:
                _get(f"{base}/ping")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the scoring server did not start") from None
                time.sleep(0.2)
        body = (folder / "serving_input_example.json").read_bytes()
        request = urllib.request.Request(
            f"{base}/invocations", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            print(f"POST /invocations {body.decode()}")
            print(f"-> {response.status} {json.loads(response.read())}")
        print(f"OpenAPI document: {len(_get(f'{base}/openapi.json'))} bytes at {base}/openapi.json")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
