"""An MLflow tracking server with proxied artifacts, read by flavorkit over its REST API.

The module starts one ``mlflow server --serve-artifacts`` (SQLite store,
artifacts in a temporary folder) on a free loopback port; one MLflow process
logs and registers the sklearn and torch models through it and records
MLflow's own predictions. flavorkit then resolves every ``models:/`` and
``runs:/`` form through the server, downloading the proxied
``mlflow-artifacts:/`` files into its cache, and must predict the same.
"""

from __future__ import annotations

import base64
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flavorkit
import numpy as np
import pytest
from flavorkit import stores
from flavorkit.exceptions import EnvironmentMismatchWarning, LocationError
from flavorkit.folder._uri import resolve_uri
from flavorkit.registry import open_registry
from flavorkit.registry._resolve import forget_registries
from mlflow_support import (
    CASES,
    NEEDS_MLFLOW,
    auth_proxy,
    free_port,
    mlflow_server,
    populate,
    snapshot,
    values,
)

pytestmark = NEEDS_MLFLOW

CREDENTIALS = ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The running server, its artifact folder, and what MLflow predicted through it."""
    root = tmp_path_factory.mktemp("mlflow_rest")
    client = root / "client"
    client.mkdir()
    with mlflow_server(root) as url:
        expected = populate(client, url)
        yield {"url": url, "artifacts": root / "artifacts", "expected": expected}


@pytest.fixture(autouse=True)
def registry_uri(
    server: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """FLAVORKIT_REGISTRY_URI names the server; no credentials; a fresh download cache."""
    monkeypatch.setenv("FLAVORKIT_REGISTRY_URI", server["url"])
    monkeypatch.setenv("FLAVORKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.mlflow/credentials of the user's
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    for name in (*CREDENTIALS, "MLFLOW_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)
    forget_registries()
    yield server["url"]
    forget_registries()


def _load(uri: str) -> flavorkit.PyFuncModel:
    """flavorkit.load_model on a folder MLflow wrote (it pins mlflow, not installed here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EnvironmentMismatchWarning)
        return flavorkit.load_model(uri)


@pytest.mark.parametrize("label", CASES)
def test_mlflow_rest_uri_predicts_like_mlflow(server: dict[str, Any], label: str) -> None:
    case = server["expected"]["cases"][label]
    prediction = _load(case["uri"]).predict(case["input"])
    np.testing.assert_allclose(values(prediction), values(case["prediction"]), rtol=1e-6)


def test_mlflow_rest_downloads_once_into_the_cache(server: dict[str, Any], tmp_path: Path) -> None:
    before = snapshot(server["artifacts"])
    folder = resolve_uri("models:/iris-sk/1")
    assert folder.is_relative_to(tmp_path / "cache")
    assert (folder / "MLmodel").is_file()
    assert "registered_model_meta" not in {p.name for p in folder.iterdir()}
    entries = len(stores.cache_entries())
    # the same files, named by alias and by the logged model they were registered from
    sk1 = server["expected"]["sk_model_ids"][0]
    assert resolve_uri("models:/iris-sk@champion") == folder
    assert resolve_uri(f"models:/{sk1}") == folder
    assert len(stores.cache_entries()) == entries
    # a different version is a different entry
    assert resolve_uri("models:/iris-sk/2") != folder
    assert len(stores.cache_entries()) == entries + 1
    assert snapshot(server["artifacts"]) == before  # nothing written into MLflow's store


def test_mlflow_rest_version_records_what_mlflow_registered(server: dict[str, Any]) -> None:
    expected = server["expected"]
    version = open_registry(server["url"]).get_version("iris-sk", 1)
    sk1 = expected["sk_model_ids"][0]
    assert version.registered_source == expected["versions"]["iris-sk/1"]["source"]
    assert version.registered_source == f"models:/{sk1}"
    assert version.source.startswith("mlflow-artifacts:/")
    assert version.source.endswith(f"/models/{sk1}/artifacts")
    assert version.aliases == ("champion",)
    assert version.run_id == expected["run_id"]


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        # MLflow's REST API answers a deleted version like one never registered
        ("models:/iris-sk/3", r"no live version 3 .*deleted or never registered .*highest .* is 2"),
        ("models:/iris-sk/7", r"no live version 7 "),
        ("models:/iris-sk@doomed", r"'iris-sk' has no alias 'doomed' \(its aliases: champion\)"),
        ("models:/churn/1", r"no registered model named 'churn' on the MLflow server"),
        ("models:/churn@champion", r"no registered model named 'churn'"),
        ("models:/churn/latest", r"no registered model named 'churn'"),
        ("models:/iris-sk/Staging", r"'iris-sk' has no version in stage Staging"),
        ("models:/m-" + "0" * 32, r"no logged model m-0{32} on the MLflow server"),
        ("runs:/0123abc/model", r"no run 0123abc on the MLflow server"),
    ],
)
def test_mlflow_rest_refusals_name_what_was_asked(uri: str, message: str) -> None:
    with pytest.raises(LocationError, match=message) as info:
        resolve_uri(uri)
    assert uri in str(info.value)


def test_mlflow_rest_run_without_such_artifact_or_model(server: dict[str, Any]) -> None:
    run_id = server["expected"]["run_id"]
    with pytest.raises(LocationError, match=r"has no artifact 'nothing'.*no logged model named"):
        resolve_uri(f"runs:/{run_id}/nothing")


def test_mlflow_rest_unreachable_server(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("FLAVORKIT_REGISTRY_URI", url)
    with pytest.raises(LocationError, match="cannot reach the MLflow tracking server at") as info:
        resolve_uri("models:/iris-sk@champion")
    assert "models:/iris-sk@champion" in str(info.value)
    assert isinstance(info.value.__cause__, Exception)  # the transport error, kept as the cause


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_mlflow_rest_credentials_from_mlflow_variables(
    server: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    accepted = {_basic("reader", "s3cret"), "Bearer tok-123"}
    case = server["expected"]["cases"]["alias"]
    with auth_proxy(server["url"], accepted) as url:
        monkeypatch.setenv("FLAVORKIT_REGISTRY_URI", url)
        forget_registries()
        with pytest.raises(LocationError, match=r"requires credentials \(HTTP 401\).*are not set"):
            resolve_uri(case["uri"])
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "reader")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "wrong")
        forget_registries()
        with pytest.raises(LocationError, match=r"MLFLOW_TRACKING_PASSWORD.*were refused"):
            resolve_uri(case["uri"])
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "s3cret")
        forget_registries()
        prediction = _load(case["uri"]).predict(case["input"])
        np.testing.assert_allclose(values(prediction), values(case["prediction"]), rtol=1e-6)
        monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
        monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD")
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-123")
        forget_registries()
        assert (resolve_uri("models:/iris-torch/1") / "MLmodel").is_file()
        forget_registries()
