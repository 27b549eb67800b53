"""An MLflow tracking database whose artifact root is an S3 bucket (moto's server on loopback).

What an MLflow setup without proxied artifacts records: versions, runs and
logged models at ``s3://`` locations, which flavorkit fetches into its cache
with ``flavorkit.stores``. The database is built by hand (``mlflow_schemas``);
the bucket is a real S3 endpoint, moto's server. Needs no MLflow.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flavorkit
import pandas as pd
import pytest
from flavorkit.exceptions import LocationError
from flavorkit.folder._uri import resolve_uri
from flavorkit.registry._resolve import forget_registries
from mlflow_schemas import LOGGED_MODELS, SCHEMA_2_8, VERSION_INSERT
from registry_support import save_add_constant

pytest.importorskip("s3fs")
pytest.importorskip("moto.server")

RUN_A, RUN_B = "a" * 32, "b" * 32
MODEL_ID = "m-" + "e" * 32
ROOT = "s3://mlflow/mlruns/1"


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3 server on loopback, with bucket ``mlflow`` holding two model folders."""
    import boto3
    from store_support import moto_server

    with moto_server() as (endpoint, _):
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )
        s3.create_bucket(Bucket="mlflow")
        models = tmp_path_factory.mktemp("models")
        # run A kept its model among its artifacts (MLflow 2); run B logged MODEL_ID (MLflow 3)
        for k, prefix in (
            (1.0, f"mlruns/1/{RUN_A}/artifacts/model"),
            (3.0, f"mlruns/1/models/{MODEL_ID}/artifacts"),
        ):
            folder = save_add_constant(models / f"adds-{k}", k)
            for file in folder.rglob("*"):
                if file.is_file():
                    s3.upload_file(
                        str(file), "mlflow", f"{prefix}/{file.relative_to(folder).as_posix()}"
                    )
        yield endpoint


@pytest.fixture
def store(
    s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    """The database, named by FLAVORKIT_REGISTRY_URI; AWS pointed at moto with fake keys."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "MLFLOW_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)
    from store_support import aws_env

    for name, value in aws_env(s3_endpoint, tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FLAVORKIT_CACHE_DIR", str(tmp_path / "cache"))
    db_path = tmp_path / "mlflow.db"
    db = sqlite3.connect(db_path)
    with db:
        db.executescript(SCHEMA_2_8 + LOGGED_MODELS)
        db.execute("INSERT INTO experiments VALUES (1, 'exp', ?, 'active', 1, 1)", [ROOT])
        for run_id in (RUN_A, RUN_B):
            db.execute(
                "INSERT INTO runs (run_uuid, status, lifecycle_stage, artifact_uri, experiment_id)"
                " VALUES (?, 'FINISHED', 'active', ?, 1)",
                (run_id, f"{ROOT}/{run_id}/artifacts"),
            )
        db.execute(
            "INSERT INTO logged_models VALUES (?, 1, 'model', ?, 1, 1, 2, 'active', NULL, ?, NULL)",
            (MODEL_ID, f"{ROOT}/models/{MODEL_ID}/artifacts", RUN_B),
        )
        db.execute("INSERT INTO registered_models VALUES ('churn', 1, 1, NULL)")
        db.executemany(
            VERSION_INSERT,
            [
                ("churn", 1, "None", f"{ROOT}/{RUN_A}/artifacts/model", RUN_A, "READY", None),
                ("churn", 2, "None", f"models:/{MODEL_ID}", RUN_B, "READY", None),
                ("churn", 3, "None", f"{ROOT}/{RUN_A}/artifacts/gone", RUN_A, "READY", None),
            ],
        )
    db.close()
    monkeypatch.setenv("FLAVORKIT_REGISTRY_URI", f"sqlite:///{db_path}")
    forget_registries()
    yield {"cache": tmp_path / "cache"}
    forget_registries()
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()


def _added(uri: str) -> float:
    out = flavorkit.load_model(uri).predict(pd.DataFrame({"x": [1.0]}))
    return float(out["x"].iloc[0]) - 1.0


@pytest.mark.parametrize(
    ("uri", "adds"),
    [
        ("models:/churn/1", 1.0),  # an s3:// source
        ("models:/churn/2", 3.0),  # models:/m-<id> as the source, the logged model in S3
        (f"models:/{MODEL_ID}", 3.0),
        (f"runs:/{RUN_A}/model", 1.0),  # the run's own artifacts in S3
        (f"runs:/{RUN_B}/model", 3.0),  # not among them: the logged model run B produced
    ],
)
def test_mlflow_s3_locations_are_fetched_into_the_cache(
    store: dict[str, Any], uri: str, adds: float
) -> None:
    assert _added(uri) == adds
    assert resolve_uri(uri).is_relative_to(store["cache"])


def test_mlflow_s3_missing_files_name_the_model_uri(store: dict[str, Any]) -> None:
    with pytest.raises(LocationError) as info:
        resolve_uri("models:/churn/3")
    assert str(info.value).startswith("models:/churn/3: ")
    assert "s3://mlflow/mlruns/1/" in str(info.value)
    with pytest.raises(LocationError, match="produced no logged model named 'nothing'") as info:
        resolve_uri(f"runs:/{RUN_A}/nothing")
    assert str(info.value).startswith(f"runs:/{RUN_A}/nothing: ")


def test_mlflow_s3_path_inside_a_logged_model_shares_its_copy(store: dict[str, Any]) -> None:
    folder = resolve_uri(f"models:/{MODEL_ID}")
    # runs:/<run>/<model name>/<path>: the logged model fetched whole, the path found inside
    assert resolve_uri(f"runs:/{RUN_B}/model/MLmodel") == folder / "MLmodel"
    assert resolve_uri("models:/churn/2") == folder
    with pytest.raises(LocationError, match=r"there is no 'nothing'"):
        resolve_uri(f"runs:/{RUN_B}/model/nothing")
