"""MLflow 2.x tracking databases, built here by hand with the columns MLflow 2.x had.

No MLflow 2 is installed for the tests (a second MLflow environment is too
slow to build in CI), so the database is written with the tables and columns
MLflow's own migrations had created by MLflow 2.8 (``mlflow_schemas.SCHEMA_2_8``
says which): aliases, but no ``storage_location``, logged models or
workspaces. The rows hold what MLflow 2 wrote: ``register_model("runs:/…")``
stored the resolved artifact path as ``source``; a client could also store
``runs:/`` itself, ``file://`` URIs, paths relative to where it ran, and a
soft delete redacted the row.

One test builds MLflow 3's registry tables (``storage_location``,
``workspace`` in every key) to check the workspace without MLflow installed.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flavorkit
import pandas as pd
import pytest
from flavorkit.exceptions import LocationError
from flavorkit.folder._uri import resolve_uri
from flavorkit.registry import open_registry
from flavorkit.registry._resolve import forget_registries
from mlflow_schemas import SCHEMA_2_8, SCHEMA_3_REGISTRY, VERSION_INSERT
from registry_support import save_add_constant

RUN_A, RUN_B, RUN_C = "a" * 32, "b" * 32, "c" * 32


def _run_folder(root: Path, run_id: str) -> Path:
    return root / "mlruns" / "1" / run_id / "artifacts"


def build_2x_store(root: Path) -> Path:
    """An MLflow 2.8-shaped store in ``root``: ``mlflow.db`` beside ``mlruns/``.

    ``churn`` version k (k = 1, 2, 3, 5) adds k' to its input, where the
    files are those of run A (adds 1), run B (adds 2) or run C (adds 5).
    """
    for run_id, k in ((RUN_A, 1.0), (RUN_B, 2.0), (RUN_C, 5.0)):
        save_add_constant(_run_folder(root, run_id) / "model", k)
    db = sqlite3.connect(root / "mlflow.db")
    with db:
        db.executescript(SCHEMA_2_8)
        db.execute(
            "INSERT INTO experiments VALUES (1, 'exp', ?, 'active', 1, 1)",
            [str(root / "mlruns" / "1")],
        )
        for run_id in (RUN_A, RUN_B, RUN_C):
            db.execute(
                "INSERT INTO runs (run_uuid, status, lifecycle_stage, artifact_uri, experiment_id)"
                " VALUES (?, 'FINISHED', 'active', ?, 1)",
                (run_id, str(_run_folder(root, run_id))),
            )
        db.execute("INSERT INTO registered_models VALUES ('churn', 1, 1, 'a churn model')")
        db.execute("INSERT INTO registered_models VALUES ('edge', 1, 1, NULL)")
        rows = [
            # register_model("runs:/A/model") in 2.x: the resolved path is the source
            ("churn", 1, "None", str(_run_folder(root, RUN_A) / "model"), RUN_A, "READY", None),
            (
                "churn",
                2,
                "None",
                (_run_folder(root, RUN_B) / "model").as_uri(),
                RUN_B,
                "READY",
                None,
            ),
            ("churn", 3, "Production", f"runs:/{RUN_A}/model", RUN_A, "READY", None),
            (
                "churn",
                4,
                "Deleted_Internal",
                "REDACTED-SOURCE-PATH",
                "REDACTED-RUN-ID",
                "READY",
                None,
            ),
            # the default artifact root of old MLflow was ./mlruns, relative to where it ran
            ("churn", 5, "Staging", f"./mlruns/1/{RUN_C}/artifacts/model", RUN_C, "READY", None),
            (
                "edge",
                1,
                "None",
                f"mlflow-artifacts:/1/{RUN_A}/artifacts/model",
                RUN_A,
                "READY",
                None,
            ),
            ("edge", 2, "None", "hdfs://namenode/models/edge", None, "READY", None),
            ("edge", 3, "None", "", None, "PENDING_REGISTRATION", "copying files"),
        ]
        db.executemany(VERSION_INSERT, rows)
        db.execute("INSERT INTO model_version_tags VALUES ('team', 'risk', 'churn', 2)")
        db.execute("INSERT INTO registered_model_aliases VALUES ('champion', 2, 'churn')")
    db.close()
    return root / "mlflow.db"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A 2.x store named by FLAVORKIT_REGISTRY_URI; the working directory is elsewhere."""
    root = tmp_path / "store"
    root.mkdir()
    db = build_2x_store(root)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    uri = f"sqlite:///{db}"
    monkeypatch.setenv("FLAVORKIT_REGISTRY_URI", uri)
    monkeypatch.setenv("FLAVORKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_WORKSPACE", raising=False)
    forget_registries()
    yield {"root": root, "db": db, "uri": uri}
    forget_registries()


def _added(uri: str) -> float:
    """What the model at ``uri`` adds to 1.0."""
    out = flavorkit.load_model(uri).predict(pd.DataFrame({"x": [1.0]}))
    return float(out["x"].iloc[0]) - 1.0


@pytest.mark.parametrize(
    ("uri", "adds"),
    [
        ("models:/churn/1", 1.0),  # an absolute path
        ("models:/churn/2", 2.0),  # a file:// URI
        ("models:/churn/3", 1.0),  # runs:/ as the source, followed to the run's artifacts
        ("models:/churn/5", 5.0),  # ./mlruns/..., found beside the database
        ("models:/churn@champion", 2.0),
        ("models:/churn/latest", 5.0),  # version 4 is deleted, 5 is the highest live one
        ("models:/churn/production", 1.0),  # stages match in any case, as in MLflow
        ("models:/churn/Staging", 5.0),
        (f"runs:/{RUN_B}/model", 2.0),
    ],
)
def test_mlflow2_database_resolves(store: dict[str, Any], uri: str, adds: float) -> None:
    assert _added(uri) == adds


def test_mlflow2_database_is_read_in_place_and_not_written(store: dict[str, Any]) -> None:
    before = hashlib.sha256(store["db"].read_bytes()).hexdigest()
    assert resolve_uri("models:/churn/1") == _run_folder(store["root"], RUN_A) / "model"
    version = open_registry().get_version("churn", 2)
    assert (version.tags, version.aliases, version.description) == (
        {"team": "risk"},
        ("champion",),
        None,
    )
    assert version.source == (_run_folder(store["root"], RUN_B) / "model").as_uri()
    assert hashlib.sha256(store["db"].read_bytes()).hexdigest() == before
    assert not list(store["root"].glob("mlflow.db-*"))  # no journal or WAL left by reading


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        (
            "models:/churn/4",
            r"version 4 of 'churn' was deleted in MLflow \(live versions: 1, 2, 3, 5\)",
        ),
        ("models:/churn/9", r"'churn' has no version 9"),
        ("models:/churn@gone", r"'churn' has no alias 'gone' \(its aliases: champion\)"),
        ("models:/churn/Archived", r"no version in stage Archived"),
        ("models:/nobody/1", r"no registered model named 'nobody'"),
        ("models:/edge/1", r"only the MLflow tracking server that wrote them serves"),
        ("models:/edge/2", r"not hdfs://"),
        ("models:/edge/3", r"is PENDING_REGISTRATION in MLflow, not READY: copying files"),
        ("models:/edge/latest", r"is PENDING_REGISTRATION"),
        ("models:/m-" + "0" * 32, r"no logged models \(an MLflow 2.x schema\)"),
        (f"runs:/{RUN_A}/nothing", r"has no artifact 'nothing'"),
    ],
)
def test_mlflow2_database_refusals(store: dict[str, Any], uri: str, message: str) -> None:
    with pytest.raises(LocationError, match=message) as info:
        resolve_uri(uri)
    assert uri in str(info.value)


def test_mlflow2_database_missing_files_are_named(store: dict[str, Any]) -> None:
    folder = _run_folder(store["root"], RUN_B) / "model"
    folder.rename(folder.with_name("moved"))
    with pytest.raises(
        LocationError, match=r"recorded at 'file://.*does not exist on this machine"
    ):
        resolve_uri("models:/churn/2")


def test_mlflow3_database_reads_the_workspace_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same name in two workspaces: ``MLFLOW_WORKSPACE`` picks one, ``default`` otherwise."""
    for run_id, k in ((RUN_A, 1.0), (RUN_C, 5.0)):
        save_add_constant(_run_folder(tmp_path, run_id) / "model", k)
    db_path = tmp_path / "mlflow.db"
    db = sqlite3.connect(db_path)
    with db:
        db.executescript(SCHEMA_3_REGISTRY)
        for workspace, run_id in (("default", RUN_A), ("team-b", RUN_C)):
            db.execute(
                "INSERT INTO registered_models (workspace, name) VALUES (?, 'churn')", [workspace]
            )
            db.execute(
                "INSERT INTO model_versions (workspace, name, version, current_stage, source,"
                " storage_location, status)"
                " VALUES (?, 'churn', 1, 'None', 'models:/m-x', ?, 'READY')",
                (workspace, str(_run_folder(tmp_path, run_id) / "model")),
            )
        db.execute("INSERT INTO registered_models (name) VALUES ('edge')")
    db.close()
    monkeypatch.setenv("FLAVORKIT_REGISTRY_URI", f"sqlite:///{db_path}")
    monkeypatch.delenv("MLFLOW_WORKSPACE", raising=False)
    forget_registries()
    assert _added("models:/churn/1") == 1.0
    monkeypatch.setenv("MLFLOW_WORKSPACE", "team-b")
    forget_registries()
    assert _added("models:/churn/1") == 5.0  # storage_location is where MLflow 3 reads from
    with pytest.raises(LocationError, match=r"no registered model named 'edge'.*'team-b'"):
        resolve_uri("models:/edge/1")
    forget_registries()


def test_mlflow2_database_connection_is_read_only_and_sees_new_versions(
    store: dict[str, Any],
) -> None:
    backend = open_registry()
    assert backend.latest_version("churn").version == 5
    # MLflow registers version 6 while flavorkit's connection stays open
    writer = sqlite3.connect(store["db"])
    with writer:
        writer.execute(
            VERSION_INSERT,
            (
                "churn",
                6,
                "None",
                str(_run_folder(store["root"], RUN_B) / "model"),
                RUN_B,
                "READY",
                None,
            ),
        )
    writer.close()
    assert backend.latest_version("churn").version == 6
    assert _added("models:/churn/latest") == 2.0
    # the connection itself refuses to write (SQLite's mode=ro), whatever is asked of it
    with pytest.raises(LocationError, match="readonly database"):
        backend._query("DELETE FROM model_versions")  # type: ignore[attr-defined]
    assert backend.latest_version("churn").version == 6
