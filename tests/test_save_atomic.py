"""save_model under crashes and races: real processes, killed with SIGKILL at known points.

A child process saves with a test-only flavor whose persist hook can pause
(the save is then half-written in its work folder), or with ``os.rename``
wrapped to pause right after an overwrite swapped the old model out. A
paused child prints ``paused`` and blocks reading its stdin, so the test
knows exactly where it is without sleeping, and either kills it or lets it
go on by closing its stdin.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import flavorkit
import pytest
from _models import AddConstant

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL and POSIX rename semantics")

CHILD = r"""
import os, sys, types
from pathlib import Path

import flavorkit
from flavorkit.api._plugins import get_registry

target, content, pause_at, overwrite = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"


def pause():
    print("paused", flush=True)
    sys.stdin.read()  # until the test closes our stdin, or kills us


plugin = types.ModuleType("pausing_flavor")


@flavorkit.hookimpl
def flavorkit_flavors():
    return ["pausing"]


@flavorkit.hookimpl
def flavorkit_persist(model, path, flavor):
    if flavor != "pausing":
        return None
    (Path(path) / "data.txt").write_text(model)
    if pause_at == "persist":
        pause()
    return {"flavor": "pausing", "conf": {"data": "data.txt"}, "pyfunc": None}


plugin.flavorkit_flavors = flavorkit_flavors
plugin.flavorkit_persist = flavorkit_persist
get_registry().register(plugin, name="pausing")

if pause_at == "swap":
    # pause an overwrite right after it moved the old model away from the target
    def pausing(rename):
        def wrapper(src, dst, *args, **kwargs):
            rename(src, dst, *args, **kwargs)
            if os.fspath(src) == target and os.fspath(dst).endswith(".old"):
                pause()

        return wrapper

    os.rename, os.replace = pausing(os.rename), pausing(os.replace)

try:
    flavorkit.save_model(content, target, flavor="pausing", overwrite=overwrite)
except Exception as exc:
    print(type(exc).__name__, flush=True)
    sys.exit(3)
print("saved", flush=True)
"""


def start(
    target: Path, content: str, pause_at: str = "", overwrite: bool = False
) -> subprocess.Popen[str]:
    """A child saving ``content`` to ``target``; with ``pause_at``, returns once it paused there."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            str(target),
            content,
            pause_at or "-",
            "1" if overwrite else "0",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if pause_at:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line != "paused\n":
            _, err = proc.communicate(timeout=60)
            pytest.fail(f"the saver did not pause at {pause_at}: {line!r} {err}")
    return proc


def finish(proc: subprocess.Popen[str]) -> str:
    """Let a (paused) child go on; its last line: ``saved`` or the exception's name."""
    out, err = proc.communicate(timeout=120)
    lines = out.split()
    assert lines and lines[-1] in ("saved", "ModelExistsError"), err
    return lines[-1]


def release(proc: subprocess.Popen[str]) -> None:
    """Let a paused child go on (without waiting for it)."""
    assert proc.stdin is not None
    proc.stdin.close()
    proc.stdin = None  # communicate() must not flush it again


def kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)  # reaped: its pid is dead, not a zombie
    assert proc.returncode == -signal.SIGKILL


def save(target: Path, content: str, overwrite: bool = False) -> str:
    return finish(start(target, content, overwrite=overwrite))


def data(target: Path) -> str:
    return (target / "data.txt").read_text()


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_killed_save_leaves_a_partial_that_the_next_save_removes(tmp_path: Path) -> None:
    target = tmp_path / "model"
    proc = start(target, "first", pause_at="persist")
    kill(proc)
    (partial,) = [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
    assert partial.name.startswith(".model.") and str(proc.pid) in partial.name
    assert not target.exists()

    assert save(target, "second") == "saved"
    assert listing(tmp_path) == ["model"] and data(target) == "second"


def test_a_running_saves_partial_is_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "model"
    slow = start(target, "slow", pause_at="persist")
    try:
        assert save(target, "fast") == "saved"  # finds the slow one's partial: its owner lives
        assert any(p.name.endswith(".partial") for p in tmp_path.iterdir())
    finally:
        outcome = finish(slow)
    assert outcome == "ModelExistsError"  # the fast one got there first; nothing replaced
    assert listing(tmp_path) == ["model"] and data(target) == "fast"


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_kill_between_the_renames_of_an_overwrite_is_recovered_by_the_next_save(
    tmp_path: Path, overwrite: bool
) -> None:
    target = tmp_path / "model"
    assert save(target, "old") == "saved"
    kill(start(target, "new", pause_at="swap", overwrite=True))
    # what the crash left: no model at the path, the old one stranded beside it
    assert not target.exists()
    (stranded,) = [p for p in tmp_path.iterdir() if p.name.endswith(".old")]
    assert (stranded / "data.txt").read_text() == "old"

    # the next save puts the old model back before anything else ...
    outcome = save(target, "next", overwrite=overwrite)
    assert listing(tmp_path) == ["model"]
    if overwrite:  # ... and then replaces it as asked
        assert (outcome, data(target)) == ("saved", "next")
    else:  # ... so a save that may not overwrite finds it there
        assert (outcome, data(target)) == ("ModelExistsError", "old")


def test_a_stale_old_folder_beside_an_existing_model_is_deleted(tmp_path: Path) -> None:
    target = tmp_path / "model"
    assert save(target, "old") == "saved"
    kill(start(target, "new", pause_at="swap", overwrite=True))
    (stranded,) = [p for p in tmp_path.iterdir() if p.name.endswith(".old")]
    shutil.copytree(stranded, target)  # someone put a model back at the path by hand
    (target / "data.txt").write_text("restored by hand")

    assert save(target, "next", overwrite=True) == "saved"
    assert listing(tmp_path) == ["model"] and data(target) == "next"


def test_concurrent_saves_without_overwrite_let_exactly_one_win(tmp_path: Path) -> None:
    target = tmp_path / "model"
    # every saver is past the existence check and paused inside persist: then all go at once
    procs = [start(target, f"saver {i}", pause_at="persist") for i in range(6)]
    for proc in procs:
        release(proc)
    outcomes = [finish(proc) for proc in procs]
    assert sorted(outcomes) == ["ModelExistsError"] * 5 + ["saved"]
    winner = outcomes.index("saved")
    assert data(target) == f"saver {winner}"
    assert listing(tmp_path) == ["model"]


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o755), (0o002, 0o775), (0o077, 0o700)])
def test_saved_folder_mode_follows_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    previous = os.umask(umask)
    try:
        flavorkit.save_model(AddConstant(), tmp_path / "model")
    finally:
        os.umask(previous)
    assert (tmp_path / "model").stat().st_mode & 0o777 == mode


def test_an_old_folder_stranded_by_an_earlier_version_is_put_back(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # reaped: no process has this pid now
    stranded = tmp_path / f".model.{dead.pid}.old"  # the name flavorkit 0.1 gave it
    stranded.mkdir()
    (stranded / "data.txt").write_text("old")

    assert save(tmp_path / "model", "next") == "ModelExistsError"
    assert listing(tmp_path) == ["model"] and data(tmp_path / "model") == "old"
