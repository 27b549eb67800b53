"""Content digests: recorded per file, and any changed, missing, extra or linked file named."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from flavorkit import stores
from flavorkit.exceptions import DigestMismatchError, LocationError


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    (root / "data" / "deep").mkdir(parents=True)
    (root / "MLmodel").write_text("flavors: {}\n")
    (root / "data" / "deep" / "weights.bin").write_bytes(os.urandom(3 * 1024 * 1024 + 7))
    (root / "data" / "empty").write_bytes(b"")
    return root


def test_digests_are_the_sha256_of_every_file(folder: Path) -> None:
    digests = stores.folder_digests(folder)
    assert list(digests) == ["MLmodel", "data/deep/weights.bin", "data/empty"]
    for relative, digest in digests.items():
        assert digest == hashlib.sha256((folder / relative).read_bytes()).hexdigest()
    stores.verify_digests(folder, digests)  # unchanged: passes


def test_a_changed_file_is_named(folder: Path) -> None:
    digests = stores.folder_digests(folder)
    with (folder / "data" / "deep" / "weights.bin").open("r+b") as fh:
        fh.seek(1024 * 1024)
        fh.write(b"\x00tampered")
    with pytest.raises(DigestMismatchError) as caught:
        stores.verify_digests(folder, digests, uri="models:/m/1")
    error = caught.value
    assert error.file == "data/deep/weights.bin"
    assert error.expected == digests["data/deep/weights.bin"]
    assert error.found == stores.folder_digests(folder)["data/deep/weights.bin"]
    assert str(error).startswith("models:/m/1: file 'data/deep/weights.bin' does not match")
    assert isinstance(error, LocationError)


def test_a_missing_file_is_named(folder: Path) -> None:
    digests = stores.folder_digests(folder)
    (folder / "data" / "empty").unlink()
    with pytest.raises(DigestMismatchError, match=r"'data/empty'.*no such file") as caught:
        stores.verify_digests(folder, digests, uri="models:/m/1")
    assert caught.value.file == "data/empty" and caught.value.found is None


def test_an_extra_file_is_named(folder: Path) -> None:
    digests = stores.folder_digests(folder)
    (folder / "data" / "sneaked.py").write_text("import os")
    with pytest.raises(DigestMismatchError, match=r"'data/sneaked\.py' is not a file of"):
        stores.verify_digests(folder, digests, uri="models:/m/1")


def test_a_file_replaced_by_a_link_is_named(folder: Path, tmp_path: Path) -> None:
    digests = stores.folder_digests(folder)
    outside = tmp_path / "outside"
    outside.write_text("flavors: {}\n")  # the same bytes, but not in the folder
    (folder / "MLmodel").unlink()
    (folder / "MLmodel").symlink_to(outside)
    with pytest.raises(DigestMismatchError, match="'MLmodel' is a symbolic link"):
        stores.verify_digests(folder, digests)
    with pytest.raises(LocationError, match="'MLmodel' is a symbolic link"):
        stores.folder_digests(folder)


def test_an_extra_link_is_named(folder: Path) -> None:
    digests = stores.folder_digests(folder)
    (folder / "data" / "link").symlink_to("/etc")
    with pytest.raises(DigestMismatchError, match="'data/link' is not a file of the version"):
        stores.verify_digests(folder, digests)


def test_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(LocationError, match="is not a folder"):
        stores.folder_digests(tmp_path / "absent")
