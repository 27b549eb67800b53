"""An embedded registry whose artifact root is an S3 bucket (moto's server on loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import flavorkit
import pandas as pd
import pytest
from flavorkit import registry
from flavorkit.exceptions import DigestMismatchError

pytest.importorskip("s3fs")
pytest.importorskip("moto.server")


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from store_support import moto_server

    with moto_server() as (endpoint, _):
        yield endpoint


@pytest.fixture
def bucket(
    s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry_dir: Path
) -> Iterator[str]:
    import boto3

    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
    }.items():
        monkeypatch.setenv(name, value)
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket="registry")
    yield "registry"
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()


def test_versions_in_a_bucket_load_and_are_checked(
    bucket: str, registry_dir: Path, plus_two: Path, s3_endpoint: str
) -> None:
    import boto3

    backend = registry.open_registry(str(registry_dir), artifact_root=f"s3://{bucket}/models")
    version = backend.register_model(plus_two, "churn")
    assert version.source.startswith(f"s3://{bucket}/models/churn/")
    assert not (registry_dir / "artifacts").exists()  # only the database is local
    model = flavorkit.load_model("models:/churn/1")
    assert model.predict(pd.DataFrame({"x": [1.0]}))["x"].tolist() == [3.0]

    # someone rewrites a file in the bucket: the next load fetches it and refuses it
    key = version.source.removeprefix(f"s3://{bucket}/") + "/python_model.json"
    boto3.client("s3", endpoint_url=s3_endpoint).put_object(Bucket=bucket, Key=key, Body=b"{}")
    with pytest.raises(DigestMismatchError) as caught:
        flavorkit.load_model("models:/churn/1")
    assert caught.value.file == "python_model.json"
