"""Copying a folder to a local destination: whole or not at all, once, never through a link."""

from __future__ import annotations

from pathlib import Path

import pytest
from flavorkit import stores
from flavorkit.exceptions import LocationError


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    (root / "sub").mkdir(parents=True)
    (root / "MLmodel").write_text("flavors: {}\n")
    (root / "sub" / "w.bin").write_bytes(b"\x00\x01" * 1000)
    return root


def test_upload_to_a_path_copies_every_file(source: Path, tmp_path: Path) -> None:
    target = tmp_path / "registry" / "artifacts" / "v1"
    stores.upload(source, str(target))
    assert stores.folder_digests(target) == stores.folder_digests(source)
    assert [p.name for p in target.parent.iterdir()] == ["v1"]  # no scratch left beside it


def test_upload_to_a_file_uri(source: Path, tmp_path: Path) -> None:
    target = tmp_path / "with space" / "v1"
    stores.upload(source, target.as_uri())
    assert stores.folder_digests(target) == stores.folder_digests(source)


def test_a_folder_is_uploaded_once(source: Path, tmp_path: Path) -> None:
    target = tmp_path / "v1"
    stores.upload(source, target)
    (source / "MLmodel").write_text("flavors: {changed: 1}\n")
    with pytest.raises(LocationError, match="already exists"):
        stores.upload(source, target)
    assert (target / "MLmodel").read_text() == "flavors: {}\n"
    stores.upload(source, target, overwrite=True)
    assert stores.folder_digests(target) == stores.folder_digests(source)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src", "v1"]


def test_an_empty_destination_folder_is_filled(source: Path, tmp_path: Path) -> None:
    (tmp_path / "v1").mkdir()
    stores.upload(source, tmp_path / "v1")
    assert (tmp_path / "v1" / "MLmodel").is_file()


def test_a_source_with_a_link_is_refused(source: Path, tmp_path: Path) -> None:
    (source / "sub" / "passwd").symlink_to("/etc/passwd")
    with pytest.raises(LocationError, match="'sub/passwd' is a symbolic link"):
        stores.upload(source, tmp_path / "v1")
    assert not (tmp_path / "v1").exists()


def test_an_http_destination_is_refused(source: Path) -> None:
    with pytest.raises(LocationError, match="read-only"):
        stores.upload(source, "https://example.invalid/models/v1")
