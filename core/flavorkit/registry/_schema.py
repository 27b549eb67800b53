"""The embedded registry's SQLite schema, its migrations, and how a connection is opened.

The schema version is ``PRAGMA user_version``; ``MIGRATIONS[i]`` takes a
database from version ``i`` to ``i + 1`` and runs inside one ``BEGIN
IMMEDIATE`` transaction, so a registry is never left half-migrated and two
processes never migrate it twice. A database written by a newer flavorkit
(a higher ``user_version``) is refused rather than read with wrong guesses.
``PRAGMA application_id`` marks the file as a flavorkit registry, so an
MLflow database handed over by mistake is refused with a clear message.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from flavorkit.exceptions import LocationError

APPLICATION_ID = 0x464B5247  # "FKRG"
DB_NAME = "registry.db"
BUSY_TIMEOUT_MS = 30_000
T = TypeVar("T")


def _run(db: sqlite3.Connection, script: str) -> None:
    """Each statement of ``script`` in the open transaction (``executescript`` would commit it)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _v1(db: sqlite3.Connection) -> None:
    """Models, versions (with their digests), tags, aliases."""
    _run(
        db,
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
        CREATE TABLE models (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            description TEXT,
            created REAL NOT NULL,
            updated REAL NOT NULL,
            next_version INTEGER NOT NULL DEFAULT 1,  -- never decreases: numbers are not reused
            deleted REAL                               -- NULL, or when it was soft-deleted
        );
        CREATE TABLE versions (
            model_id INTEGER NOT NULL REFERENCES models(id),
            version INTEGER NOT NULL,
            location TEXT NOT NULL,  -- relative to the artifact root (or a full URL)
            source TEXT NOT NULL,    -- the URI it was registered from
            created REAL NOT NULL,
            created_by TEXT,
            description TEXT,
            digests TEXT NOT NULL,   -- JSON {relative path: sha256}
            file_count INTEGER NOT NULL,
            size_bytes INTEGER NOT NULL,
            deleted REAL,
            deleted_by TEXT,
            PRIMARY KEY (model_id, version)
        ) WITHOUT ROWID;
        CREATE TABLE model_tags (
            model_id INTEGER NOT NULL REFERENCES models(id),
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (model_id, key)
        ) WITHOUT ROWID;
        CREATE TABLE version_tags (
            model_id INTEGER NOT NULL,
            version INTEGER NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (model_id, version, key),
            FOREIGN KEY (model_id, version) REFERENCES versions(model_id, version)
        ) WITHOUT ROWID;
        CREATE TABLE aliases (
            model_id INTEGER NOT NULL REFERENCES models(id),
            alias TEXT NOT NULL,
            version INTEGER NOT NULL,
            updated REAL NOT NULL,
            PRIMARY KEY (model_id, alias)
        ) WITHOUT ROWID;
        """,
    )


def _v2(db: sqlite3.Connection) -> None:
    """The alias history (who moved which alias from which version to which, when)
    and the indexes that keep tag search fast on large registries."""
    _run(
        db,
        """
        CREATE TABLE alias_history (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            model_id INTEGER NOT NULL REFERENCES models(id),
            alias TEXT NOT NULL,
            from_version INTEGER,  -- NULL when the alias was created
            to_version INTEGER,    -- NULL when it was deleted
            who TEXT NOT NULL,
            at REAL NOT NULL,
            reason TEXT            -- NULL, or why it changed unasked ('version deleted')
        );
        CREATE INDEX alias_history_by_model ON alias_history (model_id, alias, id);
        CREATE INDEX version_tags_by_key ON version_tags (key, value);
        CREATE INDEX model_tags_by_key ON model_tags (key, value);
        """,
    )
    # aliases that existed before history was kept get a first entry, so no alias lacks one
    db.execute(
        "INSERT INTO alias_history (model_id, alias, from_version, to_version, who, at, reason) "
        "SELECT model_id, alias, NULL, version, '?', updated, 'recorded by migration 2' "
        "FROM aliases"
    )


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_v1, _v2)
SCHEMA_VERSION = len(MIGRATIONS)


def with_retry(action: Callable[[], T], *, patience_s: float = 120.0) -> T:
    """Run ``action``, retrying while SQLite reports the database locked or busy.

    ``busy_timeout`` already waits for most locks; this covers the few it does
    not (a WAL checkpoint racing a writer, switching journal mode while
    another process opens the file). The jitter keeps racing processes apart;
    after ``patience_s`` the last error is raised.
    """
    deadline = time.monotonic() + patience_s
    attempt = 0
    while True:
        try:
            return action()
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if ("locked" not in text and "busy" not in text) or time.monotonic() > deadline:
                raise
        time.sleep(min(0.5, 0.005 * 2 ** min(attempt, 7)) * random.uniform(0.5, 1.5))
        attempt += 1


def connect(
    path: Path, *, create: bool, meta: Mapping[str, str] | None = None
) -> sqlite3.Connection:
    """An open connection to the registry database at ``path``, migrated to ``SCHEMA_VERSION``.

    ``meta`` (e.g. the artifact root) is recorded by whichever process creates
    the database, in the transaction that creates it: no process ever sees a
    registry without it.

    Autocommit mode (``isolation_level=None``): every read sees the latest
    committed state, and writers open their own ``BEGIN IMMEDIATE``. Raises
    ``LocationError`` for a file that is not a flavorkit registry or one
    written by a newer schema.
    """
    if not create and not path.is_file():
        raise LocationError(f"no registry database at {path}", uri=str(path.parent))
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        db = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as exc:
        raise LocationError(f"cannot open registry database {path}: {exc}") from exc
    try:
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        with_retry(lambda: _prepare(db, path, meta or {}))
    except BaseException:
        db.close()
        raise
    return db


def _prepare(db: sqlite3.Connection, path: Path, meta: Mapping[str, str]) -> None:
    try:
        if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            # WAL: readers never block the writer, and the writer never blocks readers
            db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")  # durable enough under WAL, much faster
        db.execute("PRAGMA foreign_keys = ON")
        migrate(db, path, meta=meta)
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError) and (
            "locked" in str(exc) or "busy" in str(exc)
        ):
            raise
        raise LocationError(f"{path} is not a usable registry database: {exc}") from exc


def migrate(
    db: sqlite3.Connection,
    path: Path,
    *,
    target: int = SCHEMA_VERSION,
    meta: Mapping[str, str] | None = None,
) -> None:
    """Bring the database at ``path`` to schema ``target``; refuse a newer or a foreign one.

    ``meta`` goes into the ``meta`` table when this call creates the schema.
    """
    current = _check(db, path)
    if current >= target:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        current = _check(db, path)  # another process may have migrated while we waited
        if current == 0:
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        for step in range(current, target):
            MIGRATIONS[step](db)
            db.execute(f"PRAGMA user_version = {step + 1}")
        if current == 0:
            db.executemany("INSERT INTO meta VALUES (?, ?)", sorted((meta or {}).items()))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _check(db: sqlite3.Connection, path: Path) -> int:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    app = db.execute("PRAGMA application_id").fetchone()[0]
    if version == 0 and app == 0:
        tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if tables:
            raise LocationError(
                f"{path} is an SQLite database but not a flavorkit registry "
                "(an MLflow tracking database is opened with an sqlite:/// URI)"
            )
        return 0
    if app != APPLICATION_ID:
        raise LocationError(f"{path} is an SQLite database but not a flavorkit registry")
    if version > SCHEMA_VERSION:
        raise LocationError(
            f"registry database {path} has schema version {version}, written by a newer "
            f"flavorkit; this one reads up to version {SCHEMA_VERSION}. Upgrade flavorkit "
            "to use it (it was not changed)."
        )
    return version
