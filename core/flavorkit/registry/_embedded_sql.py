"""The embedded registry's SQL: listing queries, and the bodies of its write transactions.

``EmbeddedRegistry`` owns the connection, the locking and the messages; the
functions here are handed a ``read`` function (a query on that connection)
or a connection inside an open ``BEGIN IMMEDIATE`` transaction.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Mapping
from typing import Any

from flavorkit.exceptions import LocationError
from flavorkit.registry._embedded_types import AliasChange, RegisteredModel, RegisteredVersion

Read = Callable[[str, tuple[Any, ...]], list[tuple[Any, ...]]]
Where = tuple[str, tuple[Any, ...]]

# the columns version_from_row reads, in its order
VERSION_COLUMNS = (
    "m.name, v.version, v.location, v.source, v.created, v.created_by, v.description, "
    "v.file_count, v.size_bytes, v.deleted, v.deleted_by, v.model_id, m.deleted"
)
MODEL_ID, MODEL_DELETED = 11, 12  # positions in a VERSION_COLUMNS row


def version_from_row(
    row: tuple[Any, ...],
    source: str,
    tags: Mapping[str, str],
    aliases: tuple[str, ...],
    digests: Mapping[str, str] | None = None,
) -> RegisteredVersion:
    """A version from a ``VERSION_COLUMNS`` row; ``source`` is its location joined to the root."""
    name, version, _, registered_from, created, created_by, description = row[:7]
    file_count, size_bytes, deleted, deleted_by = row[7:11]
    return RegisteredVersion(
        name=name,
        version=version,
        source=source,
        created=created,
        description=description,
        tags=tags,
        aliases=aliases,
        digests=digests,
        deleted=deleted is not None,
        registered_from=registered_from,
        created_by=created_by,
        file_count=file_count,
        size_bytes=size_bytes,
        deleted_at=deleted,
        deleted_by=deleted_by,
    )


# -- listing ---------------------------------------------------------------------------------


def model_filters(
    pattern: str | None, tags: Mapping[str, str | None] | None, include_deleted: bool
) -> Where:
    """``WHERE`` on ``models m``: a LIKE pattern on the name, model tags, deleted or not."""
    where, args = "1", ()
    if pattern is not None:
        where += " AND m.name LIKE ? ESCAPE '\\'"
        args += (pattern,)
    if not include_deleted:
        where += " AND m.deleted IS NULL"
    return _tag_filters(where, args, tags, "model_tags t WHERE t.model_id = m.id")


def version_filters(
    where: Where, tags: Mapping[str, str | None] | None, include_deleted: bool
) -> Where:
    """``where`` narrowed on ``versions v``: version tags, deleted or not."""
    text, args = where
    if not include_deleted:
        text += " AND v.deleted IS NULL"
    return _tag_filters(
        text, args, tags, "version_tags t WHERE t.model_id = v.model_id AND t.version = v.version"
    )


def _tag_filters(
    where: str, args: tuple[Any, ...], tags: Mapping[str, str | None] | None, source: str
) -> Where:
    for key, value in (tags or {}).items():
        where += f" AND EXISTS (SELECT 1 FROM {source} AND t.key = ?"
        where += " AND t.value = ?)" if value is not None else ")"
        args += (key,) if value is None else (key, value)
    return where, args


def select_models(read: Read, where: Where) -> list[RegisteredModel]:
    """The models matching ``where``, sorted by name, with tags, aliases and version counts."""
    rows = read(
        "SELECT m.id, m.name, m.created, m.updated, m.description, m.deleted, "
        "(SELECT max(version) FROM versions v WHERE v.model_id = m.id AND v.deleted IS NULL), "
        "(SELECT count(*) FROM versions v WHERE v.model_id = m.id AND v.deleted IS NULL) "
        f"FROM models m WHERE {where[0]} ORDER BY m.name",
        where[1],
    )
    ids = [r[0] for r in rows]
    tags: dict[int, dict[str, str]] = {}
    for model_id, key, value in _rows_of(read, "SELECT model_id, key, value FROM model_tags", ids):
        tags.setdefault(model_id, {})[key] = value
    aliases: dict[int, dict[str, int]] = {}
    for model_id, alias, version in _rows_of(
        read, "SELECT model_id, alias, version FROM aliases", ids
    ):
        aliases.setdefault(model_id, {})[alias] = version
    return [
        RegisteredModel(
            name=name,
            created=created,
            updated=updated,
            description=description,
            tags=tags.get(model_id, {}),
            aliases=aliases.get(model_id, {}),
            latest_version=latest,
            version_count=count,
            deleted=deleted is not None,
        )
        for model_id, name, created, updated, description, deleted, latest, count in rows
    ]


def select_versions(
    read: Read, where: Where, join: Callable[[str], str]
) -> list[RegisteredVersion]:
    """The versions matching ``where``, by name then number; tags and aliases read in bulk."""
    rows = read(
        f"SELECT {VERSION_COLUMNS} FROM versions v JOIN models m ON m.id = v.model_id "
        f"WHERE {where[0]} ORDER BY m.name, v.version",
        where[1],
    )
    ids = sorted({r[MODEL_ID] for r in rows})
    tags: dict[tuple[int, int], dict[str, str]] = {}
    for model_id, version, key, value in _rows_of(
        read, "SELECT model_id, version, key, value FROM version_tags", ids
    ):
        tags.setdefault((model_id, version), {})[key] = value
    aliases: dict[tuple[int, int], list[str]] = {}
    for model_id, version, alias in sorted(
        _rows_of(read, "SELECT model_id, version, alias FROM aliases", ids)
    ):
        aliases.setdefault((model_id, version), []).append(alias)
    return [
        version_from_row(
            r,
            join(r[2]),
            tags.get((r[MODEL_ID], r[1]), {}),
            tuple(aliases.get((r[MODEL_ID], r[1]), ())),
        )
        for r in rows
    ]


def _rows_of(read: Read, sql: str, ids: list[int]) -> list[tuple[Any, ...]]:
    """``sql``'s rows whose first column (a model id) is in ``ids``."""
    if not ids:
        return []
    if len(ids) > 500:  # one scan beats a huge IN list; the extra rows are dropped here
        wanted = set(ids)
        return [r for r in read(sql, ()) if r[0] in wanted]
    return read(f"{sql} WHERE model_id IN ({', '.join('?' * len(ids))})", tuple(ids))


# -- bodies of write transactions -------------------------------------------------------------


def insert_version(
    db: sqlite3.Connection, name: str, row: dict[str, Any], tags: Mapping[str, str]
) -> int:
    """Take ``name``'s next version number (creating or reviving the model) and insert ``row``."""
    now = row["created"]
    found = db.execute("SELECT id, next_version FROM models WHERE name = ?", (name,)).fetchone()
    if found is None:
        model_id = db.execute(
            "INSERT INTO models (name, created, updated) VALUES (?, ?, ?)", (name, now, now)
        ).lastrowid
        version = 1
    else:
        model_id, version = found
    db.execute(
        "UPDATE models SET next_version = ?, updated = ?, deleted = NULL WHERE id = ?",
        (version + 1, now, model_id),
    )
    db.execute(
        "INSERT INTO versions (model_id, version, location, source, created, created_by, "
        "description, digests, file_count, size_bytes) "
        "VALUES (:model_id, :version, :location, :source, :created, :created_by, "
        ":description, :digests, :file_count, :size_bytes)",
        {**row, "model_id": model_id, "version": version},
    )
    db.executemany(
        "INSERT INTO version_tags VALUES (?, ?, ?, ?)",
        [(model_id, version, k, v) for k, v in tags.items()],
    )
    return int(version)


def live_model_id(db: sqlite3.Connection, name: str) -> int:
    """The id of the live model ``name``; ``LocationError`` when it is unknown or deleted."""
    row = db.execute("SELECT id FROM models WHERE name = ? AND deleted IS NULL", (name,)).fetchone()
    if row is None:
        raise LocationError(f"no registered model named {name!r}")
    return int(row[0])


def record(db: sqlite3.Connection, model_id: int, change: AliasChange) -> None:
    """Append ``change`` to the alias history."""
    db.execute(
        "INSERT INTO alias_history (model_id, alias, from_version, to_version, who, at, reason) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            model_id,
            change.alias,
            change.from_version,
            change.to_version,
            change.who,
            change.at,
            change.reason,
        ),
    )


def soft_delete(db: sqlite3.Connection, name: str, version: int | None, who: str) -> None:
    """Mark one version (or, with ``None``, the model and every version) deleted.

    The aliases that pointed there go, each recorded in the history with the
    reason. Rows stay, so numbers are never reused and the history keeps its meaning.
    """
    now = time.time()
    model_id = live_model_id(db, name)
    match, args = ("model_id = ?", (model_id,))
    if version is not None:
        match, args = "model_id = ? AND version = ?", (model_id, version)
    gone = db.execute(f"SELECT alias, version FROM aliases WHERE {match}", args).fetchall()
    reason = "version deleted" if version is not None else "model deleted"
    for alias, pointed in gone:
        record(db, model_id, AliasChange(name, alias, pointed, None, who, now, reason))
    db.execute(f"DELETE FROM aliases WHERE {match}", args)
    db.execute(
        f"UPDATE versions SET deleted = ?, deleted_by = ? WHERE {match} AND deleted IS NULL",
        (now, who, *args),
    )
    if version is None:
        db.execute("UPDATE models SET deleted = ?, updated = ? WHERE id = ?", (now, now, model_id))
    else:
        db.execute("UPDATE models SET updated = ? WHERE id = ?", (now, model_id))
