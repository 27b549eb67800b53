"""An MLflow tracking database written by MLflow itself, read by flavorkit without MLflow.

One MLflow process (``mlflow_populate_registry.py``) logs and registers an
sklearn and a torch model into ``sqlite:///…/mlflow.db`` (aliases, a stage, a
deleted version) and records MLflow's own predictions; flavorkit then loads
every ``models:/`` and ``runs:/`` form from the database and must predict the
same, without copying the files or writing anything into MLflow's store.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flavorkit
import numpy as np
import pytest
from flavorkit.exceptions import EnvironmentMismatchWarning, LocationError
from flavorkit.folder._uri import resolve_uri
from flavorkit.registry import open_registry
from flavorkit.registry._mlflow_sql import MlflowSqlBackend
from flavorkit.registry._resolve import forget_registries
from mlflow_support import CASES, NEEDS_MLFLOW, populate, snapshot, values

pytestmark = NEEDS_MLFLOW


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The database MLflow filled, its folder, and what MLflow predicted."""
    root = tmp_path_factory.mktemp("mlflow_sql")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    expected = populate(root, uri)
    return {"root": root, "uri": uri, "expected": expected}


@pytest.fixture(autouse=True)
def registry_uri(
    store: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """FLAVORKIT_REGISTRY_URI names MLflow's database; a fresh download cache per test."""
    monkeypatch.setenv("FLAVORKIT_REGISTRY_URI", store["uri"])
    monkeypatch.setenv("FLAVORKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_WORKSPACE", raising=False)
    forget_registries()
    yield store["uri"]
    forget_registries()


def _load(uri: str) -> flavorkit.PyFuncModel:
    """flavorkit.load_model on a folder MLflow wrote (it pins mlflow, not installed here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EnvironmentMismatchWarning)
        return flavorkit.load_model(uri)


@pytest.mark.parametrize("label", CASES)
def test_mlflow_sql_uri_predicts_like_mlflow(store: dict[str, Any], label: str) -> None:
    case = store["expected"]["cases"][label]
    prediction = _load(case["uri"]).predict(case["input"])
    np.testing.assert_allclose(values(prediction), values(case["prediction"]), rtol=1e-6)


def test_mlflow_sql_loads_in_place_and_writes_nothing(store: dict[str, Any]) -> None:
    root: Path = store["root"]
    db = root / "mlflow.db"
    before_db = hashlib.sha256(db.read_bytes()).hexdigest()
    before = snapshot(root / "mlruns")
    for label in CASES:
        _load(store["expected"]["cases"][label]["uri"])
    # the folders are MLflow's own (no copy), and nothing was added or changed there
    folder = resolve_uri("models:/iris-sk@champion")
    assert folder.is_relative_to(root / "mlruns")
    assert (folder / "MLmodel").is_file()
    assert snapshot(root / "mlruns") == before
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before_db


def test_mlflow_sql_version_records_what_mlflow_registered(store: dict[str, Any]) -> None:
    expected = store["expected"]
    backend = open_registry(store["uri"])
    first = backend.get_version("iris-sk", 1)
    assert first.aliases == ("champion",)
    assert first.run_id == expected["run_id"] == expected["versions"]["iris-sk/1"]["run_id"]
    # MLflow 3 registers the logged model; the files are where that model was logged
    sk1 = expected["sk_model_ids"][0]
    assert (
        first.registered_source == expected["versions"]["iris-sk/1"]["source"] == f"models:/{sk1}"
    )
    assert first.source.endswith(f"/models/{sk1}/artifacts")
    assert first.digests is None  # MLflow records none
    assert backend.latest_version("iris-sk").version == 2
    assert backend.stage_version("iris-sk", "production").version == 2
    assert resolve_uri(f"models:/{sk1}") == backend.download(first)


def test_mlflow_sql_sub_path_and_runs_through_tracking_uri(
    store: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = store["expected"]
    assert resolve_uri("models:/iris-torch/1/data").name == "data"
    # runs:/ falls back to MLFLOW_TRACKING_URI when the registry is not an MLflow one
    monkeypatch.setenv("FLAVORKIT_REGISTRY_URI", str(store["root"] / "embedded"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store["uri"])
    forget_registries()
    folder = resolve_uri(f"runs:/{expected['torch_run_id']}/mlp/data")
    assert folder.parent.name == "artifacts"
    assert folder.parent.parent.name == expected["torch_model_id"]


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        (
            "models:/iris-sk/3",
            r"version 3 of 'iris-sk' was deleted in MLflow \(live versions: 1, 2\)",
        ),
        ("models:/iris-sk/7", r"'iris-sk' has no version 7 \(live versions: 1, 2\)"),
        # deleting version 3 removed the alias that pointed at it, as MLflow does
        ("models:/iris-sk@doomed", r"no alias 'doomed' \(its aliases: champion\)"),
        ("models:/churn/1", r"no registered model named 'churn' in the MLflow database"),
        ("models:/churn@champion", r"no registered model named 'churn'"),
        ("models:/iris-sk/Staging", r"'iris-sk' has no version in stage Staging"),
        ("models:/m-" + "0" * 32, r"no logged model m-0{32} in the MLflow database"),
        ("runs:/0123abc/model", r"no run 0123abc in the MLflow database"),
    ],
)
def test_mlflow_sql_refusals_name_what_was_asked(uri: str, message: str) -> None:
    with pytest.raises(LocationError, match=message) as info:
        resolve_uri(uri)
    assert uri in str(info.value)


def test_mlflow_sql_run_without_such_artifact_or_model(store: dict[str, Any]) -> None:
    run_id = store["expected"]["run_id"]
    with pytest.raises(LocationError, match=r"has no artifact 'nothing'.*no logged model named"):
        resolve_uri(f"runs:/{run_id}/nothing")


def test_mlflow_sql_workspace_scopes_the_lookup(
    store: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # MLflow 3 keys registered models by workspace; the default one holds everything here
    monkeypatch.setenv("MLFLOW_WORKSPACE", "team-b")
    with pytest.raises(LocationError, match=r"no registered model named 'iris-sk'.*'team-b'"):
        MlflowSqlBackend(store["uri"]).get_version("iris-sk", 1)
    monkeypatch.setenv("MLFLOW_WORKSPACE", "default")
    assert MlflowSqlBackend(store["uri"]).get_version("iris-sk", 1).version == 1


def test_mlflow_sql_missing_database_is_named(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'nothing.db'}"
    with pytest.raises(LocationError, match="no MLflow tracking database at"):
        open_registry(uri).get_version("iris-sk", 1)
    assert not (tmp_path / "nothing.db").exists()  # read-only: not created by looking
