"""The download cache itself: filled once, atomic, safe across processes, pruned by last use."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from flavorkit import stores
from flavorkit.exceptions import LocationError
from flavorkit.stores._cache import parse_size

ROOT = Path(__file__).resolve().parents[2]


def writer(size: int, calls: list[str] | None = None, name: str = "blob.bin"):
    """A ``populate`` writing one file of ``size`` bytes, noting each call in ``calls``."""

    def populate(folder: Path) -> None:
        if calls is not None:
            calls.append(folder.name)
        (folder / name).write_bytes(b"x" * size)

    return populate


def downloads() -> Path:
    return stores.cache_root() / "downloads"


def scratch_folders() -> list[Path]:
    tmp = downloads() / ".tmp"
    return sorted(p for p in tmp.iterdir() if p.is_dir()) if tmp.is_dir() else []


def set_last_used(key: str, seconds_ago: float) -> None:
    when = time.time() - seconds_ago
    os.utime(downloads() / key / "entry.json", (when, when))


def test_populated_once_then_served_from_the_cache() -> None:
    calls: list[str] = []
    first = stores.cached("model-a", writer(10, calls), source="s3://b/a")
    second = stores.cached("model-a", writer(10, calls))
    assert first == second and len(calls) == 1
    assert (first / "blob.bin").read_bytes() == b"x" * 10
    [entry] = stores.cache_entries()
    assert (entry.key, entry.size, entry.files, entry.source) == ("model-a", 10, 1, "s3://b/a")
    assert scratch_folders() == []


def test_a_failing_populate_leaves_nothing() -> None:
    def broken(folder: Path) -> None:
        (folder / "half.bin").write_bytes(b"half")
        raise RuntimeError("network gone")

    with pytest.raises(RuntimeError, match="network gone"):
        stores.cached("model-b", broken)
    assert stores.cache_entries() == [] and scratch_folders() == []
    assert (stores.cached("model-b", writer(3)) / "blob.bin").stat().st_size == 3


def test_a_populate_writing_a_symlink_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("private")

    def linking(folder: Path) -> None:
        (folder / "MLmodel").write_text("flavors: {}")
        (folder / "leak.txt").symlink_to(secret)

    with pytest.raises(LocationError, match=r"'leak\.txt' is a symbolic link"):
        stores.cached("model-c", linking)
    assert stores.cache_entries() == [] and scratch_folders() == []


@pytest.mark.parametrize("key", ["", "../up", "a/b", ".hidden", "-dash", "x" * 201, "a\x00b"])
def test_keys_must_be_plain_names(key: str) -> None:
    with pytest.raises(ValueError, match="cache key"):
        stores.cached(key, writer(1))


def test_a_use_marks_the_entry_recently_used() -> None:
    stores.cached("model-d", writer(1))
    set_last_used("model-d", 10 * 86400)
    old = stores.cache_entries()[0].last_used
    stores.cached("model-d", writer(1))
    assert stores.cache_entries()[0].last_used > old + 9 * 86400


def test_least_recently_used_entries_are_pruned_after_a_download(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLAVORKIT_CACHE_MAX_BYTES", "2500")
    stores.cached("a", writer(1000))
    stores.cached("b", writer(1000))
    set_last_used("a", 10)
    set_last_used("b", 100)  # b: the least recently used
    stores.cached("c", writer(1000))
    assert [e.key for e in stores.cache_entries()] == ["a", "c"]
    assert not (downloads() / "b").exists()


def test_one_folder_over_the_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLAVORKIT_CACHE_MAX_BYTES", "1K")
    calls: list[str] = []
    with pytest.raises(LocationError, match=r"more than the download cache may hold \(1\.0 KiB\)"):
        stores.cached("big", writer(5000, calls), size=5000)
    assert calls == []  # refused before anything was written
    with pytest.raises(LocationError, match="FLAVORKIT_CACHE_MAX_BYTES"):
        stores.cached("big", writer(5000, calls))  # no size given: measured, then refused
    assert calls and stores.cache_entries() == [] and scratch_folders() == []


def test_a_bad_size_limit_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLAVORKIT_CACHE_MAX_BYTES", "lots")
    with pytest.raises(LocationError, match="FLAVORKIT_CACHE_MAX_BYTES: 'lots' is not a size"):
        stores.cached("k", writer(1))


@pytest.mark.parametrize(
    ("text", "size"),
    [("123", 123), ("1K", 1024), ("500M", 500 * 1024**2), ("20G", 20 * 1024**3),
     ("20GiB", 20 * 1024**3), ("20GB", 20 * 10**9), ("1.5t", int(1.5 * 1024**4))],
)  # fmt: skip
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "G", "-1", "12X", "5ib", "1 2"])
def test_parse_size_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="is not a size"):
        parse_size(text)


def test_cache_root_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert stores.cache_root() == tmp_path / "cache"
    monkeypatch.delenv("FLAVORKIT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert stores.cache_root() == tmp_path / "xdg" / "flavorkit"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert stores.cache_root() == tmp_path / "home" / ".cache" / "flavorkit"


def test_something_damaged_in_an_entrys_place_is_replaced() -> None:
    (downloads() / "model-e").mkdir(parents=True)
    (downloads() / "model-e" / "junk.txt").write_text("not an entry")
    path = stores.cached("model-e", writer(2))
    assert sorted(p.name for p in path.iterdir()) == ["blob.bin"]


def test_prune_by_age_and_all() -> None:
    for key in ("old", "new"):
        stores.cached(key, writer(10))
    set_last_used("old", 3 * 86400)
    result = stores.prune(older_than=2 * 86400)
    assert [e.key for e in result.removed] == ["old"]
    assert [e.key for e in result.kept] == ["new"]
    assert [e.key for e in stores.prune(remove_all=True).removed] == ["new"]
    assert stores.cache_entries() == []
    assert [p.name for p in (downloads() / ".locks").iterdir()] == [".prune.lock"]


# -- other processes ------------------------------------------------------------------------

CONCURRENT = """
import os, sys, time
from pathlib import Path
from flavorkit import stores
log, go = Path(sys.argv[1]), Path(sys.argv[2])
while not go.exists():
    time.sleep(0.01)
def populate(folder):
    with open(log, "a") as fh:
        fh.write(f"{os.getpid()}\\n")
    (folder / "MLmodel").write_text("flavors: {}")
    (folder / "weights.bin").write_bytes(os.urandom(1 << 20))
print(stores.cached("shared", populate))
"""


def test_processes_asking_at_once_fill_the_entry_once(tmp_path: Path) -> None:
    log, go = tmp_path / "populated.log", tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT, str(log), str(go)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    go.touch()
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0] * 4
    assert len(set(outs)) == 1 and Path(outs[0]).is_dir()
    assert len(log.read_text().split()) == 1  # the others waited for it, then used it
    assert [e.key for e in stores.cache_entries()] == ["shared"] and scratch_folders() == []


KILLED = """
import sys, time
from pathlib import Path
from flavorkit import stores
marker = Path(sys.argv[1])
def populate(folder):
    (folder / "weights.bin").write_bytes(b"half of it")
    marker.write_text(str(folder))
    time.sleep(600)  # killed here, mid-download
stores.cached("killed", populate)
"""


def test_a_killed_populate_leaves_nothing_usable(tmp_path: Path) -> None:
    marker = tmp_path / "started"
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(marker)])
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert marker.exists(), "the child never started filling"
        assert stores.prune(remove_all=True).scratch_removed == 0  # its filler is alive
        assert len(scratch_folders()) == 1
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert stores.cache_entries() == []
    assert not (downloads() / "killed").exists()
    assert len(scratch_folders()) == 1  # left where nothing reads it
    path = stores.cached("killed", writer(4))  # the lock died with the process: no wait
    assert (path / "blob.bin").read_bytes() == b"xxxx"
    assert scratch_folders() == []  # swept by the prune after the new entry


def test_prune_sweeps_what_a_dead_process_left() -> None:
    stores.cached("k", writer(1))
    orphan = downloads() / ".tmp" / "k.0123456789ab"
    (orphan / "files").mkdir(parents=True)
    (orphan.parent / f"{orphan.name}.lock").touch()  # its lock exists, and nobody holds it
    assert stores.prune().scratch_removed == 1
    assert scratch_folders() == [] and [e.key for e in stores.cache_entries()] == ["k"]


def test_import_stays_light() -> None:
    script = textwrap.dedent(
        """
        import sys
        import flavorkit.stores, flavorkit.stores._cli
        heavy = ("fsspec", "s3fs", "botocore", "aiohttp", "huggingface_hub", "numpy", "pandas")
        print(",".join(m for m in heavy if m in sys.modules))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == ""
