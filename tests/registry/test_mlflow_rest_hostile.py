"""A hostile or broken server behind an MLflow tracking URI: refused, nothing left in the cache.

A real MLflow server never lists ``../escape`` or sends fewer bytes than it
listed, so the server here is a small loopback HTTP server that answers
MLflow's REST routes with exactly those faults. Needs no MLflow.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from flavorkit import stores
from flavorkit.exceptions import LocationError
from flavorkit.folder._uri import resolve_uri
from flavorkit.registry._resolve import forget_registries

# version -> the listing of its folder, and the bytes each file really has
LISTINGS: dict[str, list[dict[str, Any]]] = {
    "1": [{"path": "../escape", "is_dir": False, "file_size": 3}],
    "2": [{"path": "MLmodel", "is_dir": False, "file_size": 10}],
    "3": [{"path": "a/b", "is_dir": False, "file_size": 3}],
    "4": [{"path": "..", "is_dir": True}],
}


class Hostile(BaseHTTPRequestHandler):
    """MLflow's routes for model ``evil``; each version breaks one rule."""

    def _json(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        version = query.get("version", "")
        if url.path == "/api/2.0/mlflow/model-versions/get":
            if version == "5":
                self.send_response(500)
                self.send_header("Content-Length", "4")
                self.end_headers()
                self.wfile.write(b"oops")
                return
            status = "PENDING_REGISTRATION" if version == "6" else "READY"
            self._json(
                200, {"model_version": {"name": "evil", "version": version, "status": status}}
            )
        elif url.path == "/api/2.0/mlflow/model-versions/get-download-uri":
            self._json(200, {"artifact_uri": f"mlflow-artifacts:/v{version}"})
        elif url.path == "/api/2.0/mlflow-artifacts/artifacts":
            self._json(200, {"files": LISTINGS.get(query.get("path", "").removeprefix("v"), [])})
        elif url.path.startswith("/api/2.0/mlflow-artifacts/artifacts/"):
            self.send_response(200)
            self.send_header("Content-Length", "3")
            self.end_headers()
            self.wfile.write(b"abc")
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The hostile server on a loopback port, for the whole module."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def hostile(server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """FLAVORKIT_REGISTRY_URI names the hostile server; a fresh download cache."""
    monkeypatch.setenv("FLAVORKIT_REGISTRY_URI", server)
    monkeypatch.setenv("FLAVORKIT_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)
    forget_registries()
    yield server
    forget_registries()


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("1", r"unsafe file name '\.\./escape'"),
        ("2", r"'v2/MLmodel' from .* has 3 bytes, the listing said 10"),
        ("3", r"unsafe file name 'a/b'"),
        ("4", r"unsafe file name '\.\.'"),
        ("5", r"answered HTTP 500: oops"),
        ("6", r"is PENDING_REGISTRATION in MLflow, not READY"),
    ],
)
def test_mlflow_rest_hostile_answers_are_refused(
    hostile: str, tmp_path: Path, version: str, message: str
) -> None:
    uri = f"models:/evil/{version}"
    with pytest.raises(LocationError, match=message) as info:
        resolve_uri(uri)
    assert uri in str(info.value)
    assert stores.cache_entries() == []
    assert not list(tmp_path.rglob("escape"))


def test_mlflow_rest_not_an_mlflow_server(hostile: str) -> None:
    with pytest.raises(LocationError, match=r"does not answer MLflow's REST API here \(HTTP 404\)"):
        resolve_uri("models:/m-" + "0" * 32)


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by itself, and its key (PEM files in ``folder``)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "flavorkit test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "server.pem", folder / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_mlflow_rest_tls_settings_from_mlflow_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLFLOW_TRACKING_SERVER_CERT_PATH trusts a private certificate; INSECURE_TLS checks none."""
    import ssl

    pytest.importorskip("cryptography")
    cert, key = _self_signed(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("FLAVORKIT_REGISTRY_URI", f"https://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("FLAVORKIT_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("MLFLOW_TRACKING_SERVER_CERT_PATH", "MLFLOW_TRACKING_INSECURE_TLS"):
        monkeypatch.delenv(name, raising=False)
    # version 6 answers cleanly (PENDING): reaching that message means TLS was accepted
    answered = r"is PENDING_REGISTRATION in MLflow"
    try:
        forget_registries()
        with pytest.raises(LocationError, match=r"CERTIFICATE_VERIFY_FAILED.*SERVER_CERT_PATH"):
            resolve_uri("models:/evil/6")
        monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(cert))
        forget_registries()
        with pytest.raises(LocationError, match=answered):
            resolve_uri("models:/evil/6")
        monkeypatch.delenv("MLFLOW_TRACKING_SERVER_CERT_PATH")
        monkeypatch.setenv("MLFLOW_TRACKING_INSECURE_TLS", "true")
        forget_registries()
        with pytest.raises(LocationError, match=answered):
            resolve_uri("models:/evil/6")
        monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(cert))
        forget_registries()
        with pytest.raises(
            LocationError, match=r"INSECURE_TLS and .*SERVER_CERT_PATH are both set"
        ):
            resolve_uri("models:/evil/6")
    finally:
        forget_registries()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
