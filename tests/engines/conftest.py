"""Fixtures of the engine tests: saved models (once per session), a real local Spark, S3 on moto.

Spark starts once per session in local mode with two cores, the UI off,
the driver on loopback, two shuffle partitions and small Arrow batches (so
a partition is scored in several batches); its Python workers run this
interpreter. The moto S3 server runs on loopback, as in tests/stores.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
for folder in (HERE, TESTS / "stores"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import engine_models  # noqa: E402
from engine_support import ARROW_BATCH, Models, frame_of  # noqa: E402


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    import flavorkit
    import torch
    from flavorkit import ModelSignature, infer_signature
    from sklearn.linear_model import LinearRegression, LogisticRegression

    root = tmp_path_factory.mktemp("engine-models")
    frame = frame_of(300)
    train = frame_of(200, seed=1)
    flavorkit.save_model(
        LinearRegression().fit(train, train.sum(axis=1)), root / "reg", input_example=train[:3]
    )
    labels = np.digitize(train["a"], [-0.5, 0.5])
    flavorkit.save_model(
        LogisticRegression().fit(train, labels), root / "clf", input_example=train[:3]
    )
    torch.manual_seed(0)
    flavorkit.save_model(
        torch.nn.Linear(4, 2),
        root / "torch",
        input_example=np.random.default_rng(2).normal(size=(3, 4)).astype("float32"),
    )
    code = [str(HERE / "engine_models.py")]
    ab = frame[["a", "b"]].head(5)
    two = engine_models.TwoOutputs()
    flavorkit.save_model(
        two,
        root / "two",
        signature=infer_signature(ab, two.predict(None, ab), params={"scale": 1.0}),
        code_paths=code,
    )
    x = pd.DataFrame({"x": [1.0, 2.0]})
    flavorkit.save_model(
        engine_models.CountsCalls(),
        root / "counts",
        signature=infer_signature(x, x["x"] * 2),
        code_paths=code,
    )
    n = pd.DataFrame({"n": np.array([1, 2], dtype="int64")})
    flavorkit.save_model(
        engine_models.Whole(),
        root / "whole",
        signature=ModelSignature(infer_signature(n).inputs, infer_signature(n, n["n"] + 1).outputs),
        code_paths=code,
    )
    return Models(
        root / "reg", root / "clf", root / "torch", root / "two", root / "counts", root / "whole",
        frame,
    )  # fmt: skip


# ---------------------------------------------------------------- Spark


def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and Path(home, "bin", "java").is_file():
        return str(Path(home, "bin", "java"))
    return shutil.which("java")


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A local Spark (``local[2]``) for the whole session; skipped where it cannot run."""
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install flavorkit[spark])")
    if _java() is None:
        pytest.skip("Spark needs Java (17) and none is on PATH or in JAVA_HOME")
    import warnings

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
        from pyspark.sql import SparkSession

        session = (
            SparkSession.builder.master("local[2]")
            .appName("flavorkit-engine-tests")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.default.parallelism", "2")
            .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(ARROW_BATCH))
            .config("spark.executorEnv.PYTHONHASHSEED", "0")
            .getOrCreate()
        )
    session.sparkContext.setLogLevel("OFF")  # task failures are expected; pytest reports ours
    yield session
    session.stop()


# ---------------------------------------------------------------- S3 (moto)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 server on loopback for the session."""
    pytest.importorskip("moto", reason="moto[server] is not installed")
    pytest.importorskip("s3fs", reason="s3fs is not installed (pip install flavorkit[s3])")
    from store_support import moto_server

    with moto_server() as (endpoint, _):
        yield endpoint


@pytest.fixture
def s3_model(
    moto_endpoint: str, models: Models, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The regressor uploaded to a fresh bucket on moto; its ``s3://`` URI."""
    import boto3
    from flavorkit import stores
    from store_support import aws_env

    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    for name, value in aws_env(moto_endpoint, tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FLAVORKIT_CACHE_DIR", str(tmp_path / "cache"))
    bucket = f"engines-{tmp_path.name.lower().replace('_', '-')[-40:]}"
    boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket=bucket)
    uri = f"s3://{bucket}/regressor"
    stores.upload(models.regressor, uri)
    yield uri
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture
def registered(models: Models, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The regressor registered in a fresh embedded registry, aliased ``prod``; its URI."""
    import flavorkit.registry
    from flavorkit.registry._resolve import forget_registries

    monkeypatch.setenv("FLAVORKIT_REGISTRY_URI", str(tmp_path / "registry"))
    monkeypatch.setenv("FLAVORKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("FLAVORKIT_USER", "engines")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    version = flavorkit.registry.register_model(models.regressor, "engine-reg")
    flavorkit.registry.set_alias("engine-reg", "prod", int(version.version))
    yield "models:/engine-reg@prod"
    forget_registries()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "spark: runs a local Spark (pyspark, Java 17)")
    config.addinivalue_line(
        "markers", "dask: runs Dask's schedulers and a distributed LocalCluster"
    )
