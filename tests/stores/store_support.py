"""Helpers of the object-store tests: moto's server and request log, the AWS environment, a
stalling proxy."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def moto_server() -> Iterator[tuple[str, Any]]:
    """moto's S3 server on 127.0.0.1 and a free port, while in the block: (endpoint URL, server)."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}", server
    finally:
        server.stop()


@dataclass
class RequestLog:
    """WSGI middleware recording ``(method, path, query)`` of every request moto serves."""

    app: Callable[..., Any]
    requests: list[tuple[str, str, str]] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        self.requests.append(
            (environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), environ["QUERY_STRING"])
        )
        return self.app(environ, start_response)

    def object_reads(self, since: int = 0) -> list[str]:
        """Paths of objects read (GET of a key, not a listing) from request number ``since`` on."""
        return [
            path
            for method, path, query in self.requests[since:]
            if method == "GET" and path.strip("/").count("/") >= 1 and "list-type" not in query
        ]


@dataclass
class Moto:
    endpoint: str
    log: RequestLog


def aws_env(endpoint: str, home: Path) -> dict[str, str]:
    """The environment that points boto and s3fs at ``endpoint`` with fake credentials only."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_EC2_METADATA_DISABLED": "true",  # no credential lookups beyond the environment
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-credentials"),
        "AWS_CONFIG_FILE": str(home / "no-config"),
    }


class StallingProxy:
    """A TCP proxy to ``upstream`` that, while ``stall`` is set, holds responses at ``after`` bytes.

    ``stalled`` is set once a response is being held; ``release()`` lets it
    go on. For killing a process whose download is known to be half done.
    """

    def __init__(self, upstream: tuple[str, int], after: int) -> None:
        self.upstream = upstream
        self.after = after
        self.stall = threading.Event()
        self.stall.set()
        self.stalled = threading.Event()
        self._go = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def release(self) -> None:
        self.stall.clear()
        self._go.set()

    def close(self) -> None:
        self.release()
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, response: bool) -> None:
        sent = 0
        try:
            while data := source.recv(65536):
                if response and self.stall.is_set() and sent + len(data) > self.after:
                    sink.sendall(data[: max(self.after - sent, 0)])
                    self.stalled.set()
                    self._go.wait()
                    data = data[max(self.after - sent, 0) :]
                sink.sendall(data)
                sent += len(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()


def closed_endpoint() -> str:
    """An endpoint on loopback where nothing listens (a port bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
