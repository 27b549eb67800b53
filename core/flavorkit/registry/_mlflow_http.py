"""How flavorkit talks to an MLflow tracking server: credentials, TLS, and who gets them.

Credentials and TLS settings are read from the environment variables MLflow's
own client reads. ``origin`` says which server a URL names: only the
tracking server's own origin is sent the credentials.
"""

from __future__ import annotations

import configparser
import os
import ssl
from pathlib import Path
from urllib.parse import urlparse

from flavorkit.exceptions import LocationError


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def credentials() -> tuple[str | None, str | None, str | None]:
    """``(username, password, token)`` as MLflow's client finds them.

    The environment first, then ``~/.mlflow/credentials`` (section ``[mlflow]``,
    keys ``mlflow_tracking_username`` and ``mlflow_tracking_password``).
    """
    username = os.environ.get("MLFLOW_TRACKING_USERNAME") or None
    password = os.environ.get("MLFLOW_TRACKING_PASSWORD") or None
    path = Path("~/.mlflow/credentials").expanduser()
    if (username is None or password is None) and path.is_file():
        config = configparser.ConfigParser()
        config.read(path)
        if "mlflow" in config:
            username = username or config["mlflow"].get("mlflow_tracking_username")
            password = password or config["mlflow"].get("mlflow_tracking_password")
    return username, password, os.environ.get("MLFLOW_TRACKING_TOKEN") or None


def tls_context(uri: str) -> ssl.SSLContext | bool:
    """httpx's ``verify``, from MLFLOW_TRACKING_INSECURE_TLS and the *_CERT_PATH variables."""
    insecure = _truthy(os.environ.get("MLFLOW_TRACKING_INSECURE_TLS"))
    server_cert = os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH") or None
    client_cert = os.environ.get("MLFLOW_TRACKING_CLIENT_CERT_PATH") or None
    if insecure and server_cert:
        raise LocationError(
            "MLFLOW_TRACKING_INSECURE_TLS and MLFLOW_TRACKING_SERVER_CERT_PATH are both set; "
            "set one of them (MLflow refuses the pair too)",
            uri=uri,
        )
    if insecure:
        return False
    try:
        context = ssl.create_default_context(cafile=server_cert)
        if client_cert:
            context.load_cert_chain(client_cert)
    except (OSError, ssl.SSLError) as exc:
        raise LocationError(
            f"cannot use the certificate in MLFLOW_TRACKING_SERVER_CERT_PATH or "
            f"MLFLOW_TRACKING_CLIENT_CERT_PATH: {exc}",
            uri=uri,
        ) from exc
    return context


def origin(url: str) -> tuple[str, str, int | None]:
    """``(scheme, host, port)`` of ``url``, the default port spelled out: who gets credentials."""
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    try:
        port = parsed.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:  # a port that is no number: an origin no other URL shares
        port = -1
    return scheme, (parsed.hostname or "").lower(), port


def server_of(url: str) -> str:
    """``scheme://host:port`` of ``url``, for messages."""
    parsed = urlparse(url)
    return f"{parsed.scheme}://{parsed.netloc}"
