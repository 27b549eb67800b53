"""Schema versions of the registry database: older ones are migrated, newer ones refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from flavorkit import registry
from flavorkit.exceptions import LocationError
from flavorkit.registry._resolve import forget_registries
from flavorkit.registry._schema import APPLICATION_ID, SCHEMA_VERSION, migrate


def pragmas(db_file: Path) -> tuple[int, int]:
    with sqlite3.connect(db_file) as db:
        return (
            db.execute("PRAGMA user_version").fetchone()[0],
            db.execute("PRAGMA application_id").fetchone()[0],
        )


def test_a_new_registry_is_at_the_current_schema(registry_dir: Path, plus_two: Path) -> None:
    registry.register_model(plus_two, "churn")
    assert pragmas(registry_dir / "registry.db") == (SCHEMA_VERSION, APPLICATION_ID)
    with sqlite3.connect(registry_dir / "registry.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_older_registry_is_migrated_and_keeps_its_data(
    registry_dir: Path, plus_two: Path
) -> None:
    # a registry as schema 1 left it: a version with an alias, no alias history yet
    registry.register_model(plus_two, "churn")
    forget_registries()
    db_file = registry_dir / "registry.db"
    with sqlite3.connect(db_file, isolation_level=None) as db:
        for table in ("alias_history",):
            db.execute(f"DROP TABLE {table}")
        for index in ("version_tags_by_key", "model_tags_by_key"):
            db.execute(f"DROP INDEX {index}")
        db.execute("INSERT INTO aliases VALUES (1, 'champion', 1, 1700000000.0)")
        db.execute("PRAGMA user_version = 1")
    assert pragmas(db_file)[0] == 1

    assert registry.get_model("churn").aliases == {"champion": 1}  # opening migrates it
    assert pragmas(db_file) == (SCHEMA_VERSION, APPLICATION_ID)
    (first,) = registry.alias_history("churn")
    assert (first.alias, first.from_version, first.to_version, first.reason) == (
        "champion",
        None,
        1,
        "recorded by migration 2",
    )
    registry.set_alias("churn", "champion", registry.register_model(plus_two, "churn").version)
    assert [c.to_version for c in registry.alias_history("churn")] == [1, 2]


def test_migrating_from_scratch_step_by_step_matches_a_new_registry(tmp_path: Path) -> None:
    def schema(db: sqlite3.Connection) -> list[tuple[str, str]]:
        return sorted(db.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL"))

    stepwise = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    for target in range(1, SCHEMA_VERSION + 1):
        migrate(stepwise, tmp_path / "a.db", target=target)
        assert stepwise.execute("PRAGMA user_version").fetchone()[0] == target
    direct = sqlite3.connect(tmp_path / "b.db", isolation_level=None)
    migrate(direct, tmp_path / "b.db")
    assert schema(stepwise) == schema(direct)
    stepwise.close()
    direct.close()


def test_a_registry_from_a_newer_flavorkit_is_refused_unchanged(
    registry_dir: Path, plus_two: Path
) -> None:
    registry.register_model(plus_two, "churn")
    forget_registries()
    db_file = registry_dir / "registry.db"
    with sqlite3.connect(db_file, isolation_level=None) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    before = db_file.read_bytes()
    with pytest.raises(
        LocationError, match=f"schema version {SCHEMA_VERSION + 1}, written by a newer flavorkit"
    ) as caught:
        registry.get_model("churn")
    assert "Upgrade flavorkit" in str(caught.value)
    assert db_file.read_bytes() == before
