"""The embedded registry: an SQLite database plus an artifact root, needing no server.

Layout of a registry folder::

    <folder>/registry.db          the database (WAL mode: registry.db-wal, -shm beside it)
    <folder>/artifacts/<slug>/<id> one folder per version, unless the registry was
                                   created with another artifact root (any fsspec URL)

How a version becomes visible (so readers never see half of one, and a crash
leaves nothing that breaks anything):

1. its files are copied into a fresh folder of the artifact root whose name is
   a random id, not the version number, so no other registration can collide
   with it and no reader can find it (nothing points at it yet);
2. one ``BEGIN IMMEDIATE`` transaction takes the model's next version number
   and inserts the version row, digests included, pointing at that folder.

There is no rename (an object store has none): a crash before step 2 leaves
an unreferenced folder that nothing reads, and numbering has no gap. Version
numbers come from ``models.next_version``, which never decreases, so a
deleted version's number is never handed out again.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flavorkit.exceptions import LocationError, ManifestError
from flavorkit.registry import _embedded_sql as sql
from flavorkit.registry._backend import ModelVersion
from flavorkit.registry._embedded_types import AliasChange, RegisteredModel, RegisteredVersion
from flavorkit.registry._embedded_verify import is_local, verified_folder
from flavorkit.registry._schema import DB_NAME, connect, with_retry
from flavorkit.registry._uris import check_alias, check_name, check_version

MAX_TAG_KEY = 250  # MLflow's limits for registry tags
MAX_TAG_VALUE = 100_000
ARTIFACTS = "artifacts"


def current_user() -> str:
    """Who is acting, for the alias history: ``FLAVORKIT_USER``, else the login name."""
    user = os.environ.get("FLAVORKIT_USER", "").strip()
    if user:
        return user
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container running as a bare uid)
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


def _slug(name: str) -> str:
    """A file-system-safe prefix for a version's folder: readable, never the name itself."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64] or "model"


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))


def check_tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    """``tags`` as a plain dict of strings; ``ValueError`` naming the first bad key or value."""
    checked: dict[str, str] = {}
    for key, value in (tags or {}).items():
        if not isinstance(key, str) or not key.strip() or not key.isprintable():
            raise ValueError(f"tag key {key!r} must be a non-empty printable string")
        if len(key) > MAX_TAG_KEY:
            raise ValueError(f"tag key {key[:40]!r}... is longer than {MAX_TAG_KEY} characters")
        if not isinstance(value, str):
            raise ValueError(f"tag {key!r} has a {type(value).__name__} value; values are strings")
        if len(value) > MAX_TAG_VALUE:
            raise ValueError(f"tag {key!r} has a value longer than {MAX_TAG_VALUE} characters")
        checked[key] = value
    return checked


class EmbeddedRegistry:
    """A registry kept in ``folder`` (``registry.db``) with its files under the artifact root.

    Created on the first write; reading a registry that does not exist finds
    no models. ``artifact_root`` (a folder or any fsspec URL) is used when the
    registry is created and recorded in it, so every process agrees where the
    files are; the default ``<folder>/artifacts`` is recorded as relative, so
    the folder can be moved. Naming another root for an existing registry is
    refused.
    """

    def __init__(self, folder: str | os.PathLike[str], *, artifact_root: str | None = None):
        self.folder = Path(folder).expanduser().absolute()
        self.uri = str(self.folder)
        self._asked_root = artifact_root or None
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._root: str | None = None  # recorded artifact root; None until the db is read
        self._root_at = (str(self.folder / ARTIFACTS), True)  # (location, is local)

    def __repr__(self) -> str:
        return f"EmbeddedRegistry({self.uri!r})"

    # -- the connection ---------------------------------------------------------------------

    def _db(self, *, create: bool = False) -> sqlite3.Connection | None:
        """The per-process connection; ``None`` when the registry does not exist and not ``create``.

        A connection is never shared across ``fork``: a child opens its own.
        """
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        path = self.folder / DB_NAME
        if not create and not path.is_file():
            return None
        root = _normalise_root(self._asked_root) if self._asked_root else ARTIFACTS
        conn = connect(
            path, create=create, meta={"artifact_root": root, "created": str(time.time())}
        )
        try:
            self._root = with_retry(lambda: self._artifact_root(conn))
        except BaseException:
            conn.close()
            raise
        at = self._location_of(self._root)
        self._root_at = (at, is_local(at))  # joined to every listed version: worked out once
        self._conn, self._pid = conn, os.getpid()
        return conn

    def close(self) -> None:
        """Close this process's connection (it is reopened on the next use)."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def _artifact_root(self, conn: sqlite3.Connection) -> str:
        """The root recorded at creation; refuse a different one asked for now."""
        row = conn.execute("SELECT value FROM meta WHERE key = 'artifact_root'").fetchone()
        root = row[0] if row else ARTIFACTS
        if self._asked_root and _normalise_root(self._asked_root) != root:
            raise LocationError(
                f"registry {self.uri} keeps its files in {self._location_of(root)!r}, not "
                f"{self._asked_root!r}; the artifact root is chosen when a registry is created",
            )
        return root

    def _location_of(self, root: str) -> str:
        return str(self.folder / root) if root == ARTIFACTS else root

    @property
    def artifact_root(self) -> str:
        """Where versions' files go: a local folder or an fsspec URL."""
        with self._lock:
            db = self._db()
            return self._location_of(self._root if db is not None else ARTIFACTS)

    def _read(self, query: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            db = self._db()
            if db is None:
                return []
            return with_retry(lambda: db.execute(query, args).fetchall())

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction: the write lock is taken before anything is read."""
        with self._lock:
            db = self._db(create=True)
            assert db is not None
            db.execute("BEGIN IMMEDIATE")  # waits up to busy_timeout; _transact retries after
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _transact(self, work: Any) -> Any:
        """``work(db)`` in a write transaction, the whole of it retried if SQLite stays busy."""

        def attempt() -> Any:
            with self._write() as db:
                return work(db)

        return with_retry(attempt)

    # -- looking things up --------------------------------------------------------------------

    def _model_id(self, name: str, *, deleted_ok: bool = False) -> int:
        rows = self._read("SELECT id, deleted FROM models WHERE name = ?", (name,))
        if not rows:
            raise LocationError(self._unknown_model(name))
        model_id, deleted = rows[0]
        if deleted is not None and not deleted_ok:
            raise LocationError(
                f"registered model {name!r} was deleted on {_when(deleted)} "
                f"(registry {self.uri}); registering it again revives it"
            )
        return int(model_id)

    def _unknown_model(self, name: str) -> str:
        import difflib

        if self._db() is None:
            return f"no registered model named {name!r}: registry {self.uri} is empty"
        names = [r[0] for r in self._read("SELECT name FROM models WHERE deleted IS NULL")]
        close = difflib.get_close_matches(name, names, n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        return f"no registered model named {name!r} in registry {self.uri}{hint}"

    def _version_row(self, name: str, version: int) -> tuple[Any, ...]:
        check_version(version, name=name)
        rows = self._read(
            f"SELECT {sql.VERSION_COLUMNS}, v.digests FROM versions v "
            "JOIN models m ON m.id = v.model_id WHERE m.name = ? AND v.version = ?",
            (name, version),
        )
        if not rows:
            model_id = self._model_id(name)
            live = self._live_versions(model_id)
            have = f"its versions are {_ranges(live)}" if live else "it has no live versions"
            raise LocationError(f"registered model {name!r} has no version {version}; {have}")
        return rows[0]

    def _live_versions(self, model_id: int) -> list[int]:
        rows = self._read(
            "SELECT version FROM versions WHERE model_id = ? AND deleted IS NULL ORDER BY version",
            (model_id,),
        )
        return [r[0] for r in rows]

    def _version(self, row: tuple[Any, ...]) -> RegisteredVersion:
        """One version from ``_version_row``'s row, with its tags, aliases and digests."""
        key = (row[sql.MODEL_ID], row[1])
        tags = self._read(
            "SELECT key, value FROM version_tags WHERE model_id = ? AND version = ?", key
        )
        aliases = self._read(
            "SELECT alias FROM aliases WHERE model_id = ? AND version = ? ORDER BY alias", key
        )
        uri = f"models:/{row[0]}/{row[1]}"
        return sql.version_from_row(
            row,
            self._join(self._checked_location(row[2], uri=uri)),
            dict(tags),
            tuple(r[0] for r in aliases),
            _checked_digests(row[-1], uri=uri),
        )

    def _checked_location(self, location: object, *, uri: str) -> str:
        """A version's recorded location, refused unless it stays inside the artifact root.

        flavorkit writes ``<slug>/<random id>``; anything absolute, climbing
        out (``..``), naming a URL or a drive, or holding control characters
        comes from an edited or damaged database and would lead elsewhere.
        """
        parts = location.split("/") if isinstance(location, str) else []
        if (
            not parts
            or any(p in ("", ".", "..") for p in parts)
            or any(c in str(location) for c in "\\:")
            or not str(location).isprintable()
            or len(str(location)) > 1024
        ):
            raise LocationError(
                f"the registry database records this version's files at {location!r:.120}; "
                f"expected a relative path inside the artifact root {self._root_at[0]} "
                "(<name>/<id>, as flavorkit writes it): registry.db was edited or is damaged",
                uri=uri,
            )
        assert isinstance(location, str)
        return location

    def _join(self, location: str) -> str:
        """Where the files at ``location`` (relative to the artifact root) are."""
        root, local = self._root_at
        return os.path.join(root, location) if local else f"{root}/{location}"

    def get_version(self, name: str, version: int) -> RegisteredVersion:
        """Version ``version`` of ``name``; ``LocationError`` when unknown or deleted."""
        row = self._version_row(name, int(version))
        if row[sql.MODEL_DELETED] is not None:
            self._model_id(name)  # says the model itself was deleted
        if row[9] is not None:
            live = self._live_versions(row[sql.MODEL_ID])
            raise LocationError(
                f"version {version} of registered model {name!r} was deleted on {_when(row[9])} "
                f"by {row[10]}; live versions: {_ranges(live) if live else 'none'}"
            )
        return self._version(row)

    def latest_version(self, name: str) -> RegisteredVersion:
        """The highest live version of ``name``."""
        model_id = self._model_id(name)
        rows = self._read(
            "SELECT max(version) FROM versions WHERE model_id = ? AND deleted IS NULL",
            (model_id,),
        )
        if rows[0][0] is None:
            raise LocationError(f"registered model {name!r} has no live versions")
        return self.get_version(name, rows[0][0])

    def alias_version(self, name: str, alias: str) -> RegisteredVersion:
        """The version ``alias`` points at."""
        model_id = self._model_id(name)
        rows = self._read(
            "SELECT version FROM aliases WHERE model_id = ? AND alias = ?", (model_id, alias)
        )
        if not rows:
            known = [
                r[0]
                for r in self._read(
                    "SELECT alias FROM aliases WHERE model_id = ? ORDER BY alias", (model_id,)
                )
            ]
            have = f"its aliases are {', '.join(known)}" if known else "it has no aliases"
            raise LocationError(f"registered model {name!r} has no alias {alias!r}; {have}")
        return self.get_version(name, rows[0][0])

    def download(self, version: ModelVersion) -> Path:
        """The version's files as a local folder, checked against the recorded digests.

        A local artifact root gives its own folder (no copy); a remote one a
        copy in the download cache. Verification is remembered per process
        while no file of the folder changes (size, times, inode), so repeated
        loads hash nothing. Raises ``DigestMismatchError`` naming the file.
        """
        if version.digests is None:  # from a listing, which leaves digests out
            version = self.get_version(version.name, version.version)
        uri = f"models:/{version.name}/{version.version}"
        return verified_folder(version.source, version.digests, uri=uri)

    def logged_model(self, model_id: str) -> Path:
        """Logged models are MLflow's; the embedded registry has none."""
        raise LocationError(
            f"{model_id!r} names an MLflow 3 logged model (models:/<model id>), and the embedded "
            f"registry {self.uri} keeps registered models only. Point FLAVORKIT_REGISTRY_URI at "
            "the MLflow tracking store (sqlite:///path/mlflow.db or http(s)://server) to load it, "
            f"or name a registered model: models:/{model_id}/latest"
        )

    def run_artifact(self, run_id: str, path: str) -> Path:
        """Runs are MLflow's; the embedded registry has none."""
        raise LocationError(
            f"runs:/{run_id} names an MLflow run; the embedded registry {self.uri} has no runs. "
            "Set FLAVORKIT_REGISTRY_URI or MLFLOW_TRACKING_URI to the MLflow tracking store."
        )

    # -- registering ------------------------------------------------------------------------------

    def register_model(
        self,
        source_uri: str | os.PathLike[str],
        name: str,
        *,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
    ) -> RegisteredVersion:
        """Copy the model folder at ``source_uri`` (any location) in as ``name``'s next version.

        The source is resolved like ``load_model`` resolves it, must be a model
        folder (its ``MLmodel`` reads), and is never written to. Returns the
        new version; its files never change afterwards. Raises ``ValueError``
        for a bad name or tag, ``LocationError`` for a source that is not a model.
        """
        from flavorkit import stores
        from flavorkit.folder._manifest import Model
        from flavorkit.folder._uri import resolve_uri

        check_name(name)
        tags = check_tags(tags)
        if description is not None and not isinstance(description, str):
            raise ValueError(f"description must be a string, got {type(description).__name__}")
        src = resolve_uri(source_uri)
        try:
            Model.load(src)
        except ManifestError as exc:
            raise LocationError(f"cannot register {str(source_uri)!r}: {exc}") from exc
        with self._lock:
            self._db(create=True)
        location = f"{_slug(name)}/{uuid.uuid4().hex}"
        destination = self._join(location)
        local = is_local(destination)
        if local:
            stores.upload(src, destination)
            copied = Path(destination)
            digests = stores.folder_digests(copied)  # of the copy: exactly what will be served
        else:
            copied = src
            digests = stores.folder_digests(src)
            stores.upload(src, destination)
        size = sum((copied / rel).stat().st_size for rel in digests)
        local_source = isinstance(source_uri, os.PathLike) or is_local(str(source_uri))
        row = {
            "location": location,
            "source": str(src.absolute()) if local_source else str(source_uri),
            "created": time.time(),
            "created_by": current_user(),
            "description": description,
            "digests": json.dumps(digests, sort_keys=True),
            "file_count": len(digests),
            "size_bytes": size,
        }
        try:
            version = self._transact(lambda db: sql.insert_version(db, name, row, tags))
        except BaseException:
            if local:  # nothing points at it; elsewhere an unreferenced folder is harmless
                shutil.rmtree(destination, ignore_errors=True)
            raise
        return self.get_version(name, version)

    # -- aliases ---------------------------------------------------------------------------------

    def set_alias(self, name: str, alias: str, version: int) -> AliasChange | None:
        """Point ``alias`` at ``version`` (creating or moving it); recorded in the alias history.

        Returns the change, or ``None`` when the alias already pointed there.
        Refuses MLflow's reserved aliases (``latest``, ``v<digits>``) and deleted versions.
        """
        check_alias(alias, reserved=True)
        self.get_version(name, int(version))  # exists and is live
        who, now = current_user(), time.time()

        def work(db: sqlite3.Connection) -> AliasChange | None:
            model_id = sql.live_model_id(db, name)
            live = db.execute(
                "SELECT 1 FROM versions WHERE model_id = ? AND version = ? AND deleted IS NULL",
                (model_id, int(version)),
            ).fetchone()
            if live is None:  # deleted since the check above
                raise LocationError(f"version {version} of registered model {name!r} is deleted")
            old = db.execute(
                "SELECT version FROM aliases WHERE model_id = ? AND alias = ?", (model_id, alias)
            ).fetchone()
            if old is not None and old[0] == int(version):
                return None
            db.execute(
                "INSERT OR REPLACE INTO aliases VALUES (?, ?, ?, ?)",
                (model_id, alias, int(version), now),
            )
            change = AliasChange(name, alias, old[0] if old else None, int(version), who, now)
            sql.record(db, model_id, change)
            return change

        return self._transact(work)

    def delete_alias(self, name: str, alias: str) -> AliasChange:
        """Remove ``alias``; recorded in the history. ``LocationError`` if it does not exist."""
        who, now = current_user(), time.time()

        def work(db: sqlite3.Connection) -> AliasChange:
            model_id = sql.live_model_id(db, name)
            old = db.execute(
                "SELECT version FROM aliases WHERE model_id = ? AND alias = ?", (model_id, alias)
            ).fetchone()
            if old is None:
                raise LocationError(f"registered model {name!r} has no alias {alias!r}")
            db.execute("DELETE FROM aliases WHERE model_id = ? AND alias = ?", (model_id, alias))
            change = AliasChange(name, alias, old[0], None, who, now)
            sql.record(db, model_id, change)
            return change

        return self._transact(work)

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasChange]:
        """Every move of ``name``'s aliases (or of one alias), oldest first."""
        model_id = self._model_id(name, deleted_ok=True)
        sql = (
            "SELECT alias, from_version, to_version, who, at, reason FROM alias_history "
            "WHERE model_id = ?"
        )
        args: tuple[Any, ...] = (model_id,)
        if alias is not None:
            sql, args = sql + " AND alias = ?", (model_id, alias)
        rows = self._read(sql + " ORDER BY id", args)
        return [AliasChange(name, *r) for r in rows]

    # -- tags and descriptions ------------------------------------------------------------------

    def set_tag(self, name: str, key: str, value: str, *, version: int | None = None) -> None:
        """Set a tag on the model, or on one of its versions (tags are not part of the files)."""
        check_tags({key: value})
        self._edit_tag(
            name, version, "INSERT OR REPLACE INTO {table} VALUES ({slots}, ?, ?)", (key, value)
        )

    def delete_tag(self, name: str, key: str, *, version: int | None = None) -> None:
        """Remove a tag from the model or one of its versions; ``LocationError`` if absent."""
        changed = self._edit_tag(
            name, version, "DELETE FROM {table} WHERE {match} AND key = ?", (key,)
        )
        if not changed:
            where = f"version {version} of {name!r}" if version is not None else repr(name)
            raise LocationError(f"registered model {where} has no tag {key!r}")

    def _edit_tag(
        self, name: str, version: int | None, template: str, args: tuple[Any, ...]
    ) -> int:
        if version is not None:
            self.get_version(name, int(version))
            table, slots, match = "version_tags", "?, ?", "model_id = ? AND version = ?"
        else:
            table, slots, match = "model_tags", "?", "model_id = ?"
        statement = template.format(table=table, slots=slots, match=match)

        def work(db: sqlite3.Connection) -> int:
            model_id = sql.live_model_id(db, name)
            keys = (model_id,) if version is None else (model_id, int(version))
            changed = db.execute(statement, keys + args).rowcount
            db.execute("UPDATE models SET updated = ? WHERE id = ?", (time.time(), model_id))
            return changed

        return int(self._transact(work))

    def set_description(self, name: str, text: str | None, *, version: int | None = None) -> None:
        """Set (or with ``None`` clear) the description of the model or one of its versions."""
        if text is not None and (not isinstance(text, str) or len(text) > MAX_TAG_VALUE):
            raise ValueError(f"a description is a string of at most {MAX_TAG_VALUE} characters")
        if version is not None:
            self.get_version(name, int(version))

        def work(db: sqlite3.Connection) -> None:
            model_id = sql.live_model_id(db, name)
            if version is None:
                db.execute("UPDATE models SET description = ? WHERE id = ?", (text, model_id))
            else:
                db.execute(
                    "UPDATE versions SET description = ? WHERE model_id = ? AND version = ?",
                    (text, model_id, int(version)),
                )
            db.execute("UPDATE models SET updated = ? WHERE id = ?", (time.time(), model_id))

        self._transact(work)

    # -- deleting ---------------------------------------------------------------------------------

    def delete_version(self, name: str, version: int) -> None:
        """Soft-delete a version: it no longer resolves, its aliases go (recorded), its number
        is never reused. Its files stay in the store."""
        self.get_version(name, int(version))
        self._transact(lambda db: sql.soft_delete(db, name, int(version), current_user()))

    def delete_model(self, name: str) -> None:
        """Soft-delete a model and all its versions; registering the name again revives it
        with the next unused version number."""
        self._model_id(name)
        self._transact(lambda db: sql.soft_delete(db, name, None, current_user()))

    # -- listing ---------------------------------------------------------------------------------

    def get_model(self, name: str) -> RegisteredModel:
        """The registered model ``name`` (``LocationError`` when unknown or deleted)."""
        self._model_id(name)
        return sql.select_models(self._read, ("m.name = ?", (name,)))[0]

    def search_models(
        self,
        pattern: str | None = None,
        *,
        tags: Mapping[str, str | None] | None = None,
        include_deleted: bool = False,
    ) -> list[RegisteredModel]:
        """Models whose name matches the SQL LIKE ``pattern`` (``%``, ``_``; ``\\`` escapes;
        ASCII case-insensitive, as SQLite's LIKE) and that carry every tag in ``tags``
        (a ``None`` value: any value), sorted by name."""
        return sql.select_models(self._read, sql.model_filters(pattern, tags, include_deleted))

    def search_versions(
        self,
        pattern: str | None = None,
        *,
        tags: Mapping[str, str | None] | None = None,
        include_deleted: bool = False,
    ) -> list[RegisteredVersion]:
        """Versions of the models matching ``pattern`` that carry every tag in ``tags``,
        sorted by name then version (``digests`` left out, see ``RegisteredVersion``)."""
        where = sql.model_filters(pattern, None, include_deleted)
        where = sql.version_filters(where, tags, include_deleted)
        return sql.select_versions(self._read, where, self._join)

    def list_versions(
        self,
        name: str,
        *,
        tags: Mapping[str, str | None] | None = None,
        include_deleted: bool = False,
    ) -> list[RegisteredVersion]:
        """The versions of ``name`` carrying every tag in ``tags``, oldest first
        (``LocationError`` when the model is unknown)."""
        self._model_id(name, deleted_ok=include_deleted)
        where = sql.version_filters(("m.name = ?", (name,)), tags, include_deleted)
        return sql.select_versions(self._read, where, self._join)


_SHA256 = re.compile(r"[0-9a-f]{64}")


def _checked_digests(text: object, *, uri: str) -> dict[str, str]:
    """The digests column (JSON ``{relative path: sha256 hex}``), refused by name when damaged."""
    problem = None
    try:
        digests = json.loads(text) if isinstance(text, str | bytes) else None
    except ValueError as exc:
        digests, problem = None, f"is not JSON ({exc})"
    if problem is None and not isinstance(digests, dict):
        problem = f"is {type(digests).__name__}, not an object of path -> sha256"
    elif problem is None:
        for path, digest in digests.items():
            parts = path.split("/")
            if any(p in ("", ".", "..") for p in parts) or "\\" in path or not path.isprintable():
                problem = f"names the file {path!r:.120}, which is not a path inside the folder"
            elif not isinstance(digest, str) or not _SHA256.fullmatch(digest):
                problem = f"gives {path!r:.120} the digest {digest!r:.80}, not a sha256 hex digest"
            if problem:
                break
    if problem is not None:
        raise LocationError(
            f"the digests column of this version {problem}: registry.db was edited or is "
            "damaged, so the version's files cannot be checked",
            uri=uri,
        )
    return {str(path): str(digest) for path, digest in digests.items()}


def _ranges(numbers: list[int]) -> str:
    """``[1, 2, 3, 5]`` -> ``"1-3, 5"``: a short answer even for thousands of versions."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def _normalise_root(root: str) -> str:
    """An artifact root as recorded: an absolute local path, or the URL as given."""
    if is_local(root):
        text = root[len("file://") :] if root.startswith("file://") else root
        return str(Path(text).expanduser().absolute())
    return root.rstrip("/")
