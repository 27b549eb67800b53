"""An MLflow tracking database (``sqlite:///…/mlflow.db``), read without MLflow.

The database is opened read-only (SQLite's ``mode=ro``): flavorkit never
writes into MLflow's store, and MLflow refuses a database that is not at its
own schema head anyway. The schema is read, not assumed: a column MLflow added
later (``storage_location`` in 2.9, ``workspace`` in 3.x) or a table (aliases
in 2.3, ``logged_models`` in 3.0) is used where ``PRAGMA table_info`` finds it,
so databases written by MLflow 2.x and 3.x both resolve.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flavorkit.exceptions import LocationError
from flavorkit.registry._mlflow_common import (
    DEFAULT_WORKSPACE,
    DELETED_STAGE,
    LoggedModel,
    MlflowBackendBase,
    MlflowVersion,
    RunInfo,
    canonical_stage,
    workspace,
)
from flavorkit.registry._uris import check_version

# logged_models.status is stored as MLflow's LoggedModelStatus integer
_LOGGED_MODEL_STATUS = {0: "UNSPECIFIED", 1: "PENDING", 2: "READY", 3: "FAILED"}
# the tables resolution reads; their columns are looked up, not assumed
_TABLES = (
    "registered_models",
    "model_versions",
    "model_version_tags",
    "registered_model_aliases",
    "logged_models",
    "runs",
)
_VERSION_COLUMNS = (
    "name",
    "version",
    "creation_time",
    "last_updated_time",
    "description",
    "current_stage",
    "source",
    "storage_location",
    "run_id",
    "status",
    "status_message",
)


def database_path(uri: str) -> Path:
    """The file a ``sqlite:///`` URI names, as SQLAlchemy reads it.

    ``sqlite:///mlflow.db`` is relative to the working directory and
    ``sqlite:////abs/mlflow.db`` absolute. Raises ``LocationError`` for an
    in-memory database or another scheme.
    """
    prefix = "sqlite:///"
    if not uri.lower().startswith(prefix):
        raise LocationError(
            "an MLflow tracking database is named sqlite:///relative/path.db "
            "or sqlite:////absolute/path.db",
            uri=uri,
        )
    path = uri[len(prefix) :].split("?", 1)[0]
    if path in ("", ":memory:"):
        raise LocationError("an in-memory database holds no registry to read", uri=uri)
    return Path(path).expanduser()


class MlflowSqlBackend(MlflowBackendBase):
    """Resolves ``models:/`` and ``runs:/`` against an MLflow SQLite tracking database."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.path = database_path(uri)
        self.workspace = workspace()
        self._columns: dict[str, frozenset[str]] | None = None
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    # ---- the database ---------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if not self.path.is_file():
            raise LocationError(f"no MLflow tracking database at {self.path}", uri=self.uri)
        try:
            # read-only, and not immutable: MLflow may be writing while we read
            db = sqlite3.connect(
                f"file:{quote(str(self.path.absolute()))}?mode=ro",
                uri=True,
                timeout=10,
                check_same_thread=False,  # every use holds self._lock
            )
        except sqlite3.Error as exc:
            raise LocationError(f"cannot open {self.path} read-only: {exc}", uri=self.uri) from exc
        db.row_factory = sqlite3.Row
        return db

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Rows of one statement, on the backend's one connection (opened on first use).

        Outside a transaction each statement reads the latest committed state,
        so versions MLflow registers after the connection opened are seen.
        """
        with self._lock:
            if self._db is None:
                self._db = self._connect()
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                self._db.close()
                self._db = None
                raise LocationError(
                    f"cannot read the MLflow database {self.path}: {exc}", uri=self.uri
                ) from exc

    def close(self) -> None:
        """Close the connection (a later lookup opens a new one)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def columns(self, table: str) -> frozenset[str]:
        """The columns of ``table`` (empty when the table is absent), read once per backend."""
        if self._columns is None:
            columns = {}
            for name in _TABLES:
                # PRAGMA takes no parameters; the names are this module's constants
                found = self._query(f"PRAGMA table_info({name})")
                columns[name] = frozenset(r[1] for r in found)
            if not columns["model_versions"] and not columns["runs"]:
                raise LocationError(
                    f"{self.path} is not an MLflow tracking database (no model_versions or runs "
                    "table)",
                    uri=self.uri,
                )
            self._columns = columns
        return self._columns.get(table, frozenset())

    def _scoped(self, table: str) -> tuple[str, tuple[str, ...]]:
        """The clause that keeps a query to the workspace read (MLflow 3 schemas only)."""
        if "workspace" in self.columns(table):
            return " AND workspace = ?", (self.workspace,)
        return "", ()

    def _where(self) -> str:
        return "" if self.workspace == DEFAULT_WORKSPACE else f" (workspace {self.workspace!r})"

    # ---- registered models ----------------------------------------------------------
    def _require_registry(self, uri: str) -> None:
        if not self.columns("model_versions"):
            raise LocationError(
                f"the MLflow database {self.path} has no model registry tables", uri=uri
            )

    def _model_exists(self, name: str) -> bool:
        clause, args = self._scoped("registered_models")
        return bool(
            self._query(f"SELECT 1 FROM registered_models WHERE name = ?{clause}", (name, *args))
        )

    def _unknown_model(self, name: str, uri: str) -> LocationError:
        return LocationError(
            f"no registered model named {name!r} in the MLflow database {self.path}{self._where()}",
            uri=uri,
        )

    def _live_versions(self, name: str) -> list[int]:
        clause, args = self._scoped("model_versions")
        rows = self._query(
            "SELECT version FROM model_versions WHERE name = ? AND current_stage != ?"
            f"{clause} ORDER BY version",
            (name, DELETED_STAGE, *args),
        )
        return [int(r[0]) for r in rows]

    def _live_text(self, name: str) -> str:
        live = self._live_versions(name)
        return f"live versions: {', '.join(map(str, live))}" if live else "no live versions"

    def get_version(self, name: str, version: int) -> MlflowVersion:
        """Version ``version`` of ``name``; ``LocationError`` when unknown, deleted or not READY."""
        return self._get(name, version, uri=f"models:/{name}/{version}")

    def _get(self, name: str, version: int, *, uri: str) -> MlflowVersion:
        """``get_version``, with errors naming ``uri`` (an alias or ``latest`` that led here)."""
        check_version(version, name=name)
        self._require_registry(uri)
        present = self.columns("model_versions")
        select = ", ".join(c if c in present else f"NULL AS {c}" for c in _VERSION_COLUMNS)
        clause, args = self._scoped("model_versions")
        rows = self._query(
            f"SELECT {select} FROM model_versions WHERE name = ? AND version = ?{clause}",
            (name, version, *args),
        )
        if not rows:
            if not self._model_exists(name):
                raise self._unknown_model(name, uri)
            raise LocationError(
                f"registered model {name!r} has no version {version} ({self._live_text(name)})",
                uri=uri,
            )
        row = rows[0]
        if row["current_stage"] == DELETED_STAGE:
            raise LocationError(
                f"version {version} of {name!r} was deleted in MLflow ({self._live_text(name)})",
                uri=uri,
            )
        status = row["status"] or "READY"
        if status != "READY":
            detail = f": {row['status_message']}" if row["status_message"] else ""
            raise LocationError(
                f"version {version} of {name!r} is {status} in MLflow, not READY{detail}", uri=uri
            )
        return self._version(row)

    def _version(self, row: sqlite3.Row) -> MlflowVersion:
        name, number = row["name"], int(row["version"])
        return MlflowVersion(
            name=name,
            version=number,
            # MLflow's own download URI: the resolved location, else what was registered
            source=row["storage_location"] or row["source"] or "",
            created=(row["creation_time"] or 0) / 1000,
            description=row["description"] or None,
            tags=self._tags(name, number),
            aliases=self._aliases(name, number),
            run_id=row["run_id"] or None,
            registered_source=row["source"] or "",
            stage=row["current_stage"] or "None",
            updated=(row["last_updated_time"] or row["creation_time"] or 0) / 1000,
        )

    def _tags(self, name: str, version: int) -> dict[str, str]:
        if not self.columns("model_version_tags"):
            return {}
        clause, args = self._scoped("model_version_tags")
        rows = self._query(
            f"SELECT key, value FROM model_version_tags WHERE name = ? AND version = ?{clause}",
            (name, version, *args),
        )
        return {r[0]: r[1] or "" for r in rows}

    def _aliases(self, name: str, version: int) -> tuple[str, ...]:
        if not self.columns("registered_model_aliases"):
            return ()
        clause, args = self._scoped("registered_model_aliases")
        rows = self._query(
            "SELECT alias FROM registered_model_aliases WHERE name = ? AND version = ?"
            f"{clause} ORDER BY alias",
            (name, version, *args),
        )
        return tuple(r[0] for r in rows)

    def latest_version(self, name: str) -> MlflowVersion:
        """The highest version of ``name`` that is not deleted (MLflow's ``latest``)."""
        uri = f"models:/{name}/latest"
        self._require_registry(uri)
        live = self._live_versions(name)
        if not live:
            if not self._model_exists(name):
                raise self._unknown_model(name, uri)
            raise LocationError(f"registered model {name!r} has no live versions", uri=uri)
        return self._get(name, live[-1], uri=uri)

    def stage_version(self, name: str, stage: str) -> MlflowVersion:
        """The highest version of ``name`` in the legacy ``stage`` (``models:/name/Production``)."""
        uri = f"models:/{name}/{stage}"
        self._require_registry(uri)
        canonical = canonical_stage(name, stage)
        clause, args = self._scoped("model_versions")
        rows = self._query(
            f"SELECT MAX(version) FROM model_versions WHERE name = ? AND current_stage = ?{clause}",
            (name, canonical, *args),
        )
        if rows[0][0] is None:
            if not self._model_exists(name):
                raise self._unknown_model(name, uri)
            raise LocationError(
                f"registered model {name!r} has no version in stage {canonical}", uri=uri
            )
        return self._get(name, int(rows[0][0]), uri=uri)

    def alias_version(self, name: str, alias: str) -> MlflowVersion:
        """The version ``alias`` points at (``latest`` means the highest live version)."""
        if alias.lower() == "latest":
            return self.latest_version(name)
        uri = f"models:/{name}@{alias}"
        self._require_registry(uri)
        if not self.columns("registered_model_aliases"):
            raise LocationError(
                f"the MLflow database {self.path} predates aliases (MLflow < 2.3)", uri=uri
            )
        clause, args = self._scoped("registered_model_aliases")
        rows = self._query(
            "SELECT alias, version FROM registered_model_aliases WHERE name = ?"
            f"{clause} ORDER BY alias",
            (name, *args),
        )
        versions = {r["alias"]: int(r["version"]) for r in rows}
        if alias not in versions:
            if not self._model_exists(name):
                raise self._unknown_model(name, uri)
            known = f"its aliases: {', '.join(versions)}" if versions else "it has no aliases"
            raise LocationError(
                f"registered model {name!r} has no alias {alias!r} ({known})", uri=uri
            )
        return self._get(name, versions[alias], uri=uri)

    # ---- logged models and runs -----------------------------------------------------
    def _logged_model_info(self, model_id: str) -> LoggedModel:
        uri = f"models:/{model_id}"
        if not self.columns("logged_models"):
            raise LocationError(
                f"the MLflow database {self.path} has no logged models (an MLflow 2.x schema); "
                "models:/m-<id> names MLflow 3's logged models",
                uri=uri,
            )
        rows = self._query(
            "SELECT model_id, artifact_location, status, lifecycle_stage, "
            "last_updated_timestamp_ms FROM logged_models WHERE model_id = ?",
            (model_id,),
        )
        if not rows:
            raise LocationError(
                f"no logged model {model_id} in the MLflow database {self.path}", uri=uri
            )
        row = rows[0]
        return LoggedModel(
            model_id=row["model_id"],
            location=row["artifact_location"],
            status=_LOGGED_MODEL_STATUS.get(row["status"], "UNSPECIFIED"),
            deleted=row["lifecycle_stage"] == "deleted",
            updated=(row["last_updated_timestamp_ms"] or 0) / 1000,
        )

    def _run_info(self, run_id: str, *, uri: str) -> RunInfo:
        if not self.columns("runs"):
            raise LocationError(f"the MLflow database {self.path} has no runs table", uri=uri)
        rows = self._query(
            "SELECT run_uuid, artifact_uri, experiment_id FROM runs WHERE run_uuid = ?", (run_id,)
        )
        if not rows:
            raise LocationError(f"no run {run_id} in the MLflow database {self.path}", uri=uri)
        row = rows[0]
        return RunInfo(row["run_uuid"], row["artifact_uri"] or "", str(row["experiment_id"]))

    def _run_logged_model(self, run: RunInfo, name: str) -> str | None:
        if not self.columns("logged_models"):
            return None
        rows = self._query(
            "SELECT model_id FROM logged_models WHERE experiment_id = ? AND name = ? "
            "AND source_run_id = ? AND lifecycle_stage != 'deleted' "
            "ORDER BY creation_timestamp_ms DESC LIMIT 1",
            (int(run.experiment_id), name, run.run_id),
        )
        return rows[0][0] if rows else None

    def _relative_base(self) -> Path | None:
        # an old MLflow wrote ./mlruns/... relative to where it ran, usually beside the database
        return self.path.absolute().parent

    def _proxied(self, location: str, *, uri: str) -> Path:
        raise LocationError(
            f"the files are at {location}, which only the MLflow tracking server that wrote them "
            f"serves (--serve-artifacts); a bare database cannot read them: use the server's "
            "URI (http(s)://host:port) as the registry URI instead",
            uri=uri,
        )

    def _proxied_exists(self, location: str) -> bool:
        return bool(self._proxied(location, uri=location))
