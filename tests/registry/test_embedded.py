"""The embedded registry through the public paths: register, then load by ``models:/`` URI."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import flavorkit
import pandas as pd
import pytest
from flavorkit import registry
from flavorkit.exceptions import DigestMismatchError, LocationError
from flavorkit.folder._uri import resolve_uri
from flavorkit.stores import folder_digests
from registry_support import save_add_constant


def predict(uri: str) -> list[float]:
    return flavorkit.load_model(uri).predict(pd.DataFrame({"x": [1.0]}))["x"].tolist()


def test_registered_version_loads_and_predicts(registry_dir: Path, plus_two: Path) -> None:
    version = registry.register_model(plus_two, "churn", tags={"team": "risk"}, description="first")
    assert (version.name, version.version, version.tags) == ("churn", 1, {"team": "risk"})
    assert version.description == "first" and version.created_by == "alice"
    assert version.digests == folder_digests(plus_two)
    assert predict("models:/churn/1") == [3.0]
    assert (registry_dir / "registry.db").is_file()


def test_versions_are_copies_and_the_source_is_left_alone(
    registry_dir: Path, tmp_path: Path
) -> None:
    source = save_add_constant(tmp_path / "m", 2.0)
    before = folder_digests(source)
    version = registry.register_model(str(source), "churn")
    assert folder_digests(source) == before  # nothing written into the source
    assert version.registered_from == str(source)
    assert Path(version.source) != source and Path(version.source).is_relative_to(registry_dir)
    save_add_constant(tmp_path / "m2", 5.0)
    os.rename(tmp_path / "m", tmp_path / "gone")
    assert predict("models:/churn/1") == [3.0]


def test_alias_latest_and_version_each_pick_their_version(
    registry_dir: Path, plus_two: Path, plus_ten: Path
) -> None:
    registry.register_model(plus_two, "churn")
    registry.register_model(plus_ten, "churn")
    registry.set_alias("churn", "champion", 1)
    assert predict("models:/churn@champion") == [3.0]
    assert predict("models:/churn/latest") == [11.0]
    assert predict("models:/churn/LATEST") == [11.0]
    assert predict("models:/churn/2") == [11.0]
    registry.set_alias("churn", "champion", 2)
    assert predict("models:/churn@champion") == [11.0]  # resolved afresh after the move


def test_sub_path_resolves_inside_the_version(registry_dir: Path, plus_two: Path) -> None:
    registry.register_model(plus_two, "churn")
    registry.set_alias("churn", "prod", 1)
    folder = resolve_uri("models:/churn/1")
    assert resolve_uri("models:/churn/1/MLmodel") == folder / "MLmodel"
    assert resolve_uri("models:/churn@prod/MLmodel") == folder / "MLmodel"
    with pytest.raises(LocationError, match="has no 'nothing/here'") as caught:
        resolve_uri("models:/churn/latest/nothing/here")
    assert caught.value.uri == "models:/churn/latest/nothing/here"


def test_alias_moves_are_kept_in_the_history(
    registry_dir: Path, plus_two: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(3):
        registry.register_model(plus_two, "churn")
    assert registry.set_alias("churn", "champion", 1).from_version is None
    monkeypatch.setenv("FLAVORKIT_USER", "bob")
    assert registry.set_alias("churn", "champion", 3).from_version == 1
    assert registry.set_alias("churn", "champion", 3) is None  # no move, no entry
    registry.set_alias("churn", "challenger", 2)
    registry.delete_alias("churn", "champion")
    history = registry.alias_history("churn")
    assert [(c.alias, c.from_version, c.to_version, c.who) for c in history] == [
        ("champion", None, 1, "alice"),
        ("champion", 1, 3, "bob"),
        ("challenger", None, 2, "bob"),
        ("champion", 3, None, "bob"),
    ]
    assert [c.at for c in history] == sorted(c.at for c in history)
    assert len(registry.alias_history("churn", "challenger")) == 1
    with pytest.raises(LocationError, match="has no alias 'champion'; its aliases are challenger"):
        resolve_uri("models:/churn@champion")


@pytest.mark.parametrize("alias", ["latest", "Latest", "v1", "V2"])
def test_reserved_aliases_cannot_be_set(registry_dir: Path, plus_two: Path, alias: str) -> None:
    registry.register_model(plus_two, "churn")
    with pytest.raises(ValueError, match="reserved"):
        registry.set_alias("churn", alias, 1)
    assert registry.alias_history("churn") == []


def test_alias_needs_a_live_version(registry_dir: Path, plus_two: Path) -> None:
    registry.register_model(plus_two, "churn")
    registry.register_model(plus_two, "churn")
    registry.delete_version("churn", 2)
    with pytest.raises(LocationError, match="version 2 of registered model 'churn' was deleted"):
        registry.set_alias("churn", "champion", 2)
    with pytest.raises(LocationError, match="has no version 9; its versions are 1"):
        registry.set_alias("churn", "champion", 9)


def test_tags_descriptions_search_and_list(
    registry_dir: Path, plus_two: Path, plus_ten: Path
) -> None:
    registry.register_model(plus_two, "churn-a", tags={"framework": "custom"})
    registry.register_model(plus_ten, "churn-a", tags={"framework": "custom", "gpu": "no"})
    registry.register_model(plus_two, "fraud")
    registry.set_tag("churn-a", "team", "risk")
    registry.set_tag("fraud", "team", "ops")
    registry.set_tag("churn-a", "validated", "yes", version=1)
    registry.set_description("churn-a", "predicts churn")
    registry.set_description("churn-a", "the baseline", version=1)

    model = registry.get_model("churn-a")
    assert (model.description, model.tags, model.latest_version, model.version_count) == (
        "predicts churn",
        {"team": "risk"},
        2,
        2,
    )
    assert [m.name for m in registry.search_models()] == ["churn-a", "fraud"]
    assert [m.name for m in registry.search_models("churn%")] == ["churn-a"]
    assert [m.name for m in registry.search_models("%_a")] == ["churn-a"]
    assert [m.name for m in registry.search_models("churn\\_a")] == []  # '\' escapes '_'
    assert [m.name for m in registry.search_models(tags={"team": "ops"})] == ["fraud"]
    assert [m.name for m in registry.search_models(tags={"team": None})] == ["churn-a", "fraud"]
    found = registry.search_versions(tags={"framework": "custom"})
    assert [(v.name, v.version) for v in found] == [("churn-a", 1), ("churn-a", 2)]
    found = registry.search_versions("churn%", tags={"validated": None, "framework": "custom"})
    assert [(v.name, v.version, v.description) for v in found] == [("churn-a", 1, "the baseline")]
    assert [v.version for v in registry.list_versions("churn-a", tags={"gpu": "no"})] == [2]
    assert registry.get_model("churn-a").updated >= model.created

    registry.delete_tag("churn-a", "team")
    registry.delete_tag("churn-a", "validated", version=1)
    assert registry.get_model("churn-a").tags == {}
    assert "validated" not in registry.list_versions("churn-a")[0].tags
    with pytest.raises(LocationError, match="has no tag 'team'"):
        registry.delete_tag("churn-a", "team")
    with pytest.raises(ValueError, match="tag key"):
        registry.set_tag("churn-a", "", "x")


def test_soft_deleted_version_is_refused_and_its_number_never_reused(
    registry_dir: Path, plus_two: Path
) -> None:
    for _ in range(3):
        registry.register_model(plus_two, "churn")
    registry.set_alias("churn", "champion", 3)
    registry.delete_version("churn", 3)
    with pytest.raises(LocationError) as caught:
        flavorkit.load_model("models:/churn/3")
    assert caught.value.uri == "models:/churn/3"
    assert "version 3 of registered model 'churn' was deleted" in str(caught.value)
    assert "by alice; live versions: 1-2" in str(caught.value)
    assert resolve_uri("models:/churn/latest") == resolve_uri("models:/churn/2")
    # its alias went with it, recorded with the reason
    last = registry.alias_history("churn")[-1]
    assert (last.from_version, last.to_version, last.reason) == (3, None, "version deleted")
    assert registry.register_model(plus_two, "churn").version == 4
    listed = registry.list_versions("churn", include_deleted=True)
    assert [(v.version, v.deleted) for v in listed] == [
        (1, False),
        (2, False),
        (3, True),
        (4, False),
    ]
    assert [v.version for v in registry.list_versions("churn")] == [1, 2, 4]


def test_deleted_model_is_refused_then_revived_with_the_next_number(
    registry_dir: Path, plus_two: Path
) -> None:
    registry.register_model(plus_two, "churn")
    registry.register_model(plus_two, "churn")
    registry.delete_model("churn")
    with pytest.raises(LocationError, match="registered model 'churn' was deleted"):
        resolve_uri("models:/churn/1")
    with pytest.raises(LocationError, match="was deleted"):
        resolve_uri("models:/churn/latest")
    assert registry.search_models() == []
    assert [m.name for m in registry.search_models(include_deleted=True)] == ["churn"]
    assert registry.register_model(plus_two, "churn").version == 3
    with pytest.raises(LocationError, match=r"version 1 .* was deleted"):
        resolve_uri("models:/churn/1")


@pytest.mark.parametrize(
    ("change", "file"),
    [
        (lambda folder: (folder / "python_model.json").write_text("{}"), "python_model.json"),
        (lambda folder: (folder / "requirements.txt").unlink(), "requirements.txt"),
        (lambda folder: (folder / "extra.py").write_text("import os"), "extra.py"),
    ],
    ids=["changed", "removed", "added"],
)
def test_a_tampered_version_is_refused_naming_the_file(
    registry_dir: Path, plus_two: Path, change, file: str
) -> None:
    registry.register_model(plus_two, "churn")
    assert predict("models:/churn/1") == [3.0]  # verified once, then remembered
    change(resolve_uri("models:/churn/1"))
    with pytest.raises(DigestMismatchError) as caught:
        flavorkit.load_model("models:/churn/1")
    assert caught.value.file == file
    assert file in str(caught.value) and "models:/churn/1" in str(caught.value)
    # a version from a listing (which leaves digests out) is checked all the same
    (listed,) = registry.list_versions("churn")
    assert listed.digests is None
    with pytest.raises(DigestMismatchError):
        registry.open_registry().download(listed)


def test_unknown_names_versions_and_aliases_say_what_was_asked(
    registry_dir: Path, plus_two: Path
) -> None:
    with pytest.raises(LocationError, match=r"no registered model named 'churn'.*is empty"):
        resolve_uri("models:/churn/1")
    registry.register_model(plus_two, "churn")
    with pytest.raises(LocationError, match="did you mean 'churn'"):
        resolve_uri("models:/chrun/1")
    with pytest.raises(LocationError, match="has no version 5; its versions are 1"):
        resolve_uri("models:/churn/5")
    with pytest.raises(LocationError, match="has no alias 'prod'; it has no aliases"):
        resolve_uri("models:/churn@prod")


def test_forms_only_mlflow_stores_answer_get_guidance(registry_dir: Path, plus_two: Path) -> None:
    registry.register_model(plus_two, "churn")
    with pytest.raises(LocationError, match=r"stages are deprecated.*models:/churn@<alias>"):
        resolve_uri("models:/churn/Production")
    with pytest.raises(LocationError, match=r"logged model.*FLAVORKIT_REGISTRY_URI"):
        resolve_uri("models:/m-" + "0" * 32)
    with pytest.raises(
        LocationError, match=r"runs:/ URIs name a job's outputs.*MLFLOW_TRACKING_URI"
    ):
        resolve_uri("runs:/abc123/model")


def test_registering_refuses_what_is_not_a_model(
    registry_dir: Path, plus_two: Path, tmp_path: Path
) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(LocationError, match=r"cannot register .*no MLmodel file"):
        registry.register_model(tmp_path / "empty", "churn")
    with pytest.raises(FileNotFoundError):
        registry.register_model(tmp_path / "missing", "churn")
    with pytest.raises(ValueError, match="may not contain"):
        registry.register_model(plus_two, "a/b")
    with pytest.raises(ValueError, match="values are strings"):
        registry.register_model(plus_two, "churn", tags={"n": 1})  # type: ignore[dict-item]
    assert registry.search_models() == []
    # a refused registration leaves no files behind either
    assert not (registry_dir / "artifacts").exists() or not any(
        (registry_dir / "artifacts").iterdir()
    )


def test_per_user_default_registry_and_file_uris(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plus_two: Path
) -> None:
    from flavorkit.registry._resolve import forget_registries

    monkeypatch.delenv("FLAVORKIT_REGISTRY_URI", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    try:
        registry.register_model(plus_two, "churn")
        assert (tmp_path / "data" / "flavorkit" / "registry" / "registry.db").is_file()
        assert predict("models:/churn/1") == [3.0]
        # the same registry named by a file:// URI, and by the argument
        monkeypatch.setenv(
            "FLAVORKIT_REGISTRY_URI", (tmp_path / "data/flavorkit/registry").as_uri()
        )
        assert predict("models:/churn/1") == [3.0]
        other = tmp_path / "other"
        registry.register_model(plus_two, "elsewhere", registry_uri=str(other))
        assert [m.name for m in registry.search_models(registry_uri=other)] == ["elsewhere"]
        assert [m.name for m in registry.search_models()] == ["churn"]
    finally:
        forget_registries()


def test_an_artifact_root_elsewhere_is_recorded_at_creation(
    registry_dir: Path, plus_two: Path, tmp_path: Path
) -> None:
    root = tmp_path / "store"
    backend = registry.open_registry(str(registry_dir), artifact_root=root.as_uri())
    version = backend.register_model(plus_two, "churn")
    assert Path(version.source).is_relative_to(root)
    assert predict("models:/churn/1") == [3.0]  # other handles read the recorded root
    with pytest.raises(LocationError, match="artifact root is chosen when a registry is created"):
        registry.open_registry(str(registry_dir), artifact_root=str(tmp_path / "x")).get_model(
            "churn"
        )


def test_a_moved_registry_folder_keeps_working(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plus_two: Path
) -> None:
    from flavorkit.registry._resolve import forget_registries

    registry.register_model(plus_two, "churn", registry_uri=tmp_path / "a")
    forget_registries()
    os.rename(tmp_path / "a", tmp_path / "b")
    monkeypatch.setenv("FLAVORKIT_REGISTRY_URI", str(tmp_path / "b"))
    try:
        assert predict("models:/churn/1") == [3.0]
    finally:
        forget_registries()


def test_writes_to_an_mlflow_store_are_refused(
    registry_dir: Path, plus_two: Path, tmp_path: Path
) -> None:
    db = tmp_path / "mlflow.db"
    sqlite3.connect(db).close()
    with pytest.raises(LocationError):
        registry.register_model(plus_two, "churn", registry_uri=f"sqlite:///{db}")


def test_a_foreign_sqlite_file_is_not_taken_for_a_registry(tmp_path: Path, plus_two: Path) -> None:
    folder = tmp_path / "reg"
    folder.mkdir()
    with sqlite3.connect(folder / "registry.db") as db:
        db.execute("CREATE TABLE runs (id TEXT)")
    with pytest.raises(LocationError, match="not a flavorkit registry"):
        registry.register_model(plus_two, "churn", registry_uri=folder)


def test_verification_is_remembered_until_a_file_changes(
    registry_dir: Path, plus_two: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flavorkit import stores

    hashed: list[Path] = []
    real = stores.verify_digests

    def counting(path, digests, *, uri=None):  # the real check, counted
        hashed.append(Path(path))
        return real(path, digests, uri=uri)

    monkeypatch.setattr(stores, "verify_digests", counting)
    registry.register_model(plus_two, "churn")
    folder = resolve_uri("models:/churn/1")
    for _ in range(3):
        assert resolve_uri("models:/churn/1") == folder
    assert hashed == [folder]
    # rewriting a file with the same bytes changes its ctime: checked again (and still fine)
    (folder / "MLmodel").write_bytes((folder / "MLmodel").read_bytes())
    assert resolve_uri("models:/churn/1") == folder
    assert hashed == [folder, folder]


def test_every_public_name_resolves_and_importing_the_package_is_light() -> None:
    import subprocess
    import sys

    for name in registry.__all__:
        assert getattr(registry, name) is not None
    assert registry.ModelVersion.__module__ == "flavorkit.registry"
    probe = "import sys, flavorkit.registry; print('sqlite3' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_version_found_comes_with_its_folder(
    registry_dir: Path, plus_two: Path, plus_ten: Path
) -> None:
    registry.register_model(plus_two, "churn")
    registry.register_model(plus_ten, "churn")
    registry.set_alias("churn", "champion", 1)
    folder, version = registry.resolve_models_version("models:/churn@champion/MLmodel")
    assert version is not None and (version.version, version.aliases) == (1, ("champion",))
    assert folder == Path(version.source) / "MLmodel"
