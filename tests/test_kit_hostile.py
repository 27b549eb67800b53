"""The conformance kit's hostile-folder check, and the pieces it (and tests/adversarial) stand on.

``check_hostile_folder_refused`` is public and selected by default; the
zoo's ``good`` flavor passes it (in a worker process and in this one) and
``follows_links`` fails it, naming the read outside the folder and the
blocking FIFO. The pieces: the folder mutations, the access watch (an
audit hook), the time bound, the entry-point probe with its contract, and
the worker that survives crashes and hangs.
"""

from __future__ import annotations

import importlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import flavorkit
import flavorkit.testing as kit
import pytest
from broken_flavors import case
from flavorkit.api._plugins import Registry
from flavorkit.testing import FlavorCheckError, Tags
from flavorkit.testing._checks_hostile import CORE_FILES, hostile_mutations
from flavorkit.testing._hostile import (
    FILE_KINDS,
    AccessWatch,
    FolderMutation,
    FolderShape,
    HostileAccessError,
    Outcome,
    RandomChooser,
    TimeBoundExceeded,
    contract_problems,
    fixed_mutations,
    plan_mutations,
    probe,
    time_bound,
)
from flavorkit.testing._hostile_worker import Worker, worker_env
from hypothesis import given, settings
from hypothesis import strategies as st

TESTS = Path(__file__).resolve().parent
pytestmark = pytest.mark.timeout(300)


# -- models whose loading crashes or hangs (only the worker loads them) -------------------


class Crashes(flavorkit.PythonModel):
    """Aborts the process that loads it, as a deserializer crashing on a damaged file would."""

    def load_context(self, context: Any) -> None:
        os.abort()

    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        return model_input


class Sleeps(flavorkit.PythonModel):
    """Takes a minute to load (interruptible: the worker's soft bound ends it)."""

    def load_context(self, context: Any) -> None:
        time.sleep(60)

    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        return model_input


class Hangs(flavorkit.PythonModel):
    """Takes a minute to load with SIGALRM blocked, as C code would: only a kill ends it."""

    def load_context(self, context: Any) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(60)

    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        return model_input


class Doubles(flavorkit.PythonModel):
    """A well-behaved model."""

    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        return model_input * 2


def _register(registry: Registry, module: str) -> None:
    registry.register(importlib.import_module(f"broken_flavors.{module}"), name=f"zoo-{module}")


@pytest.fixture
def doubles(tmp_path: Path) -> Path:
    import pandas as pd

    path = tmp_path / "doubles"
    flavorkit.save_model(Doubles(), path, input_example=pd.DataFrame({"a": [1.0, 2.0]}))
    return path


# -- the check -----------------------------------------------------------------------------


def test_kit_hostile_check_is_public_and_selected_by_default() -> None:
    assert "check_hostile_folder_refused" in kit.CHECK_NAMES
    assert kit.check_hostile_folder_refused.__doc__.strip().splitlines()[0].endswith(".")
    for tags in (Tags(), Tags(subprocess=False, deterministic=False, batchable=False)):
        names = [kit._runner.check_name(c) for c in kit.iter_flavor_checks(case("good", tags=tags))]
        assert "check_hostile_folder_refused" in names


@pytest.mark.parametrize("in_worker", [True, False], ids=["worker", "in-process"])
def test_kit_hostile_good_flavor_passes(flavorkit_registry: Registry, in_worker: bool) -> None:
    _register(flavorkit_registry, "good")
    kit.check_hostile_folder_refused(case("good", tags=Tags(subprocess=in_worker)))


@pytest.mark.parametrize("in_worker", [True, False], ids=["worker", "in-process"])
def test_kit_hostile_flavor_following_links_fails_naming_the_read(
    flavorkit_registry: Registry, in_worker: bool
) -> None:
    _register(flavorkit_registry, "follows_links")
    with pytest.raises(FlavorCheckError) as caught:
        kit.check_hostile_folder_refused(case("follows_links", tags=Tags(subprocess=in_worker)))
    message = str(caught.value)
    assert message.startswith(
        "check_hostile_folder_refused [follows_links]: Spoiled copies of a saved folder load or "
        "raise a flavorkit error, reading nothing outside\n  but 4 of 22 loads of spoiled "
        "copies broke it:\n"
    )
    assert "after symlink_out weights.npy, load_model read " in message
    assert "/outside.txt, outside the model folder" in message
    assert "after fifo weights.npy, load_native opened " in message
    assert "a FIFO or device, without O_NONBLOCK (it can block forever)" in message
    assert caught.value.check == "check_hostile_folder_refused"


def test_kit_hostile_raw_exception_fails_the_check(
    flavorkit_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A load that lets a non-flavorkit exception out fails, whatever wraps it in the core."""
    _register(flavorkit_registry, "good")
    the_case = case("good", tags=Tags(subprocess=False))
    kit._support.saved_model(the_case)  # saved before load_model is broken

    def raw(path: Any, **kwargs: Any) -> Any:
        raise KeyError("weights")

    monkeypatch.setattr(flavorkit, "load_model", raw)
    with pytest.raises(FlavorCheckError, match=r"load_model: raised KeyError: 'weights' \(at "):
        kit.check_hostile_folder_refused(the_case)


def test_kit_hostile_mutations_spare_the_core_files_but_two(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    (folder / "data").mkdir(parents=True)
    for name in [*CORE_FILES, "data/model.bin", "weights.npy"]:
        (folder / name).write_bytes(b"0123456789")
    mutations = hostile_mutations(folder)
    core = [m for m in mutations if m.target in CORE_FILES]
    assert [(m.kind, m.target) for m in core] == [("non_utf8", "MLmodel"), ("nest", "MLmodel")]
    targets = {m.target for m in mutations} - CORE_FILES
    assert targets == {"data", "data/model.bin", "weights.npy"}
    kinds = {m.kind for m in mutations if m.target == "weights.npy"}
    assert kinds == set(FILE_KINDS) - {"non_utf8", "delete"}
    assert {m.kind for m in mutations if m.target == "data"} == {"symlink_out", "symlink_loop"}
    assert len(fixed_mutations(folder)) == len(CORE_FILES) * 9 + 2 * 9 + 2 + 2


# -- mutations -----------------------------------------------------------------------------


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "MLmodel").write_text(
        "flavors:\n  toy:\n    data: w.bin\n    n: 3\nsignature:\n  inputs: '[]'\n",
        encoding="utf-8",
    )
    (folder / "w.bin").write_bytes(bytes(range(16)))
    (folder / "state.json").write_text(json.dumps({"a": [1, 2], "b": {"c": "d"}}), encoding="utf-8")
    return folder


@pytest.mark.parametrize("kind", FILE_KINDS)
def test_kit_hostile_file_mutations_do_what_they_say(tmp_path: Path, kind: str) -> None:
    folder, outside = _folder(tmp_path), tmp_path / "outside.txt"
    outside.write_text("outside", encoding="utf-8")
    arg = {"truncate": 5, "bit_flip": (3, 1), "non_utf8": 2}.get(kind)
    assert FolderMutation(kind, "w.bin", (), arg).apply(folder, outside)
    path = folder / "w.bin"
    expected = {
        "truncate": lambda: path.read_bytes() == bytes(range(5)),
        "bit_flip": lambda: path.read_bytes()[3] == 3 ^ 2 and len(path.read_bytes()) == 16,
        "non_utf8": lambda: path.read_bytes()[2:7] == b"\x80\xff\xfe\xc3\x28",
        "empty": lambda: path.read_bytes() == b"",
        "symlink_out": lambda: os.readlink(path) == str(outside),
        "symlink_loop": lambda: os.readlink(path) == "w.bin",
        "fifo": lambda: path.is_fifo(),
        "directory": lambda: path.is_dir(),
        "delete": lambda: not os.path.lexists(path),
    }[kind]
    assert expected()


def test_kit_hostile_value_mutations_edit_yaml_and_json(tmp_path: Path) -> None:
    import yaml

    folder = _folder(tmp_path)
    outside = tmp_path / "x"
    assert FolderMutation("set", "MLmodel", ("flavors", "toy", "n"), [1]).apply(folder, outside)
    assert FolderMutation("swap", "MLmodel", ("flavors", "toy", "data"), ("signature",)).apply(
        folder, outside
    )
    assert FolderMutation("delete_key", "state.json", ("b", "c")).apply(folder, outside)
    assert FolderMutation("huge", "state.json", ("a", 0), 10).apply(folder, outside)
    manifest = yaml.safe_load((folder / "MLmodel").read_text(encoding="utf-8"))
    assert manifest["flavors"]["toy"] == {"data": {"inputs": "[]"}, "n": [1]}
    assert manifest["signature"] == "w.bin"
    assert json.loads((folder / "state.json").read_text(encoding="utf-8")) == {
        "a": ["x" * 10, 2],
        "b": {},
    }
    assert FolderMutation("nest", "MLmodel", ("metadata",), 5_000).apply(folder, outside)
    assert (
        (folder / "MLmodel")
        .read_text(encoding="utf-8")
        .endswith("metadata: " + "[" * 5_000 + "]" * 5_000 + "\n")
    )
    # a file that no longer parses, or is gone, is left alone
    (folder / "state.json").write_bytes(b"\xff")
    assert not FolderMutation("set", "state.json", ("a",), 1).apply(folder, outside)
    assert not FolderMutation("truncate", "gone.bin", (), 1).apply(folder, outside)


def test_kit_hostile_plans_are_reproducible_and_varied(tmp_path: Path) -> None:
    shape = FolderShape.of(_folder(tmp_path))
    assert [f for f, _ in shape.files] == ["MLmodel", "state.json", "w.bin"]
    assert ("flavors", "toy", "data") in shape.values["MLmodel"]
    plans = [plan_mutations(RandomChooser(f"s-{i}"), shape) for i in range(200)]
    assert plans[7] == plan_mutations(RandomChooser("s-7"), shape)
    kinds = {m.kind for plan in plans for m in plan}
    assert kinds >= {"truncate", "bit_flip", "fifo", "symlink_out", "set", "nest", "swap"}
    assert all(1 <= len(plan) <= 3 for plan in plans)


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_kit_hostile_strategy_draws_plans_that_apply(data: st.DataObject) -> None:
    import shutil
    import tempfile

    from flavorkit.testing.strategies import folder_mutations

    root = Path(tempfile.mkdtemp())
    try:
        folder = _folder(root)
        plan = data.draw(folder_mutations(FolderShape.of(folder), max_mutations=2))
        assert 1 <= len(plan) <= 2
        for mutation in plan:
            mutation.apply(folder, root / "outside")  # never raises
            assert str(mutation)
    finally:
        shutil.rmtree(root)


# -- the access watch ----------------------------------------------------------------------


def test_kit_hostile_watch_blocks_reads_outside_through_links(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("secret", encoding="utf-8")
    (folder / "link").symlink_to(secret)
    with AccessWatch(folder) as watch:
        assert (folder / "w.bin").read_bytes() == bytes(range(16))  # inside: fine
        with pytest.raises(HostileAccessError, match="outside the model folder"):
            (folder / "link").read_text(encoding="utf-8")
        with pytest.raises(HostileAccessError):
            secret.read_text(encoding="utf-8")
    assert watch.violations == [
        f"read {secret}, outside the model folder",
        f"read {secret}, outside the model folder",
    ]
    assert secret.read_text(encoding="utf-8") == "secret"  # nothing watched any more


def test_kit_hostile_watch_allows_imports_and_system_files(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    sys.modules.pop("colorsys", None)
    with AccessWatch(folder) as watch:
        importlib.import_module("colorsys")
        Path("/proc/self/status").read_text(encoding="utf-8")
        with open(os.devnull, "rb") as fh:
            fh.read()
    assert watch.violations == []


def test_kit_hostile_watch_catches_fifos_writes_removals_and_processes(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    os.mkfifo(folder / "pipe")
    victim = tmp_path / "victim.txt"
    victim.write_text("keep", encoding="utf-8")
    with AccessWatch(folder, scratch=[scratch]) as watch:
        fd = os.open(folder / "pipe", os.O_RDONLY | os.O_NONBLOCK)  # the safe way: allowed
        os.close(fd)
        with pytest.raises(HostileAccessError, match="FIFO"):
            open(folder / "pipe", "rb")  # noqa: SIM115 - it must not get as far as a handle
        (scratch / "tmp.txt").write_text("fine", encoding="utf-8")
        with pytest.raises(HostileAccessError):
            (tmp_path / "new.txt").write_text("no", encoding="utf-8")
        with pytest.raises(HostileAccessError):
            (folder / "w.bin").write_bytes(b"changed")  # loading must not change the folder
        with pytest.raises(HostileAccessError):
            victim.unlink()
        with pytest.raises(HostileAccessError):
            subprocess.run(["true"], check=False)
        with pytest.raises(HostileAccessError):
            os.system("true")
    assert victim.exists() and not (tmp_path / "new.txt").exists()
    assert (folder / "w.bin").read_bytes() == bytes(range(16))
    assert [v.split(" ", 1)[0] for v in watch.violations] == [
        "opened",
        "opened",
        "opened",
        "os.remove",
        "subprocess.Popen",
        "os.system",
    ]


def test_kit_hostile_watch_records_without_blocking(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    outside = tmp_path / "outside.txt"
    with AccessWatch(folder, block=False) as watch:
        outside.write_text("written", encoding="utf-8")
    assert outside.read_text(encoding="utf-8") == "written"
    assert watch.violations == [f"opened {outside} for writing"]


# -- the time bound ------------------------------------------------------------------------


def test_kit_hostile_time_bound_interrupts_and_restores_an_outer_timer() -> None:
    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *a: fired.append(True))
    signal.setitimer(signal.ITIMER_REAL, 30)
    try:
        with pytest.raises(TimeBoundExceeded), time_bound(0.2):
            time.sleep(5)
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 25 < left <= 30  # the outer timer runs on, from where it was
        with time_bound(5):
            pass
        assert signal.getitimer(signal.ITIMER_REAL)[0] > 25
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert fired == []


# -- the probe and its contract ------------------------------------------------------------


def test_kit_hostile_probe_classifies_every_entry_point(doubles: Path, tmp_path: Path) -> None:
    outcomes = {e: probe(doubles, e, bound_s=60) for e in kit._hostile.ENTRY_POINTS}
    assert {e: o.status for e, o in outcomes.items()} == dict.fromkeys(outcomes, "ok")
    assert contract_problems(outcomes) == []
    (doubles / "MLmodel").write_bytes(b"flavors: [\xff")
    spoiled = {e: probe(doubles, e, bound_s=60) for e in kit._hostile.ENTRY_POINTS}
    assert {e: o.status for e, o in spoiled.items()} == dict.fromkeys(spoiled, "refused")
    assert spoiled["load_model"].error_type == "ManifestError"
    assert spoiled["info"].message.startswith("flavorkit: error: ")
    assert contract_problems(spoiled) == []


def test_kit_hostile_contract_names_raw_errors_and_disagreements() -> None:
    ok = Outcome("validate", "ok")
    raw = Outcome("load_model", "raised", "KeyError", "'x'", "mod.py:3")
    refused = Outcome("load_native", "refused", "ManifestError", "bad key")
    unsafe = Outcome("serve_check", "refused", "UnsafeFormatError", "opt in")
    info = Outcome("info", "refused", "", "flavorkit: error: bad")
    assert contract_problems({"validate": ok, "load_model": raw}) == [
        "load_model: raised KeyError: 'x' (at mod.py:3)"
    ]
    assert contract_problems({"validate": ok, "load_native": refused, "serve_check": unsafe}) == [
        "validate passed but load_native: refused ManifestError: bad key"
    ]
    assert contract_problems({"load_model": Outcome("load_model", "ok"), "info": info}) == [
        "load_model worked but info: refused: flavorkit: error: bad"
    ]


# -- the worker ----------------------------------------------------------------------------


def _save(tmp_path: Path, model: flavorkit.PythonModel) -> Path:
    path = tmp_path / type(model).__name__
    flavorkit.save_model(model, path)
    return path


def test_kit_hostile_worker_reports_crashes_and_hangs_and_goes_on(tmp_path: Path) -> None:
    crashes, sleeps, hangs = (_save(tmp_path, m()) for m in (Crashes, Sleeps, Hangs))
    entries = ("load_model", "info")
    with Worker(env=worker_env([TESTS]), preload=["flavorkit", "pandas"], grace_s=2) as worker:
        crashed = worker.run(crashes, entries, bound_s=2)
        assert crashed.outcomes["load_model"].status == "crashed"
        assert crashed.outcomes["load_model"].error_type == "SIGABRT"
        assert crashed.outcomes["info"].status == "ok"  # a fresh worker took over
        slept = worker.run(sleeps, entries, bound_s=1)
        assert slept.outcomes["load_model"].status == "over_time"
        assert slept.outcomes["load_model"].message == "still running after 1 s"
        assert slept.outcomes["info"].status == "skipped"
        hung = worker.run(hangs, entries, bound_s=1)
        assert hung.outcomes["load_model"].status == "over_time"
        assert hung.outcomes["load_model"].message.startswith("killed: no answer within 3 s")
        assert hung.outcomes["info"].status == "skipped"
        assert worker.restarts == 2


def test_kit_hostile_worker_watches_and_keeps_the_current_directory(tmp_path: Path) -> None:
    folder = _save(tmp_path, Doubles())
    (folder / "requirements.txt").unlink()
    (folder / "requirements.txt").symlink_to("/etc/passwd")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    with Worker(cwd=cwd, env=worker_env([TESTS]), preload=["flavorkit"]) as worker:
        report = worker.run(folder, ["load_model"], bound_s=60, block=True)
    assert report.outcomes["load_model"].kept_contract
    assert not any("/etc/passwd" in v for v in report.violations), report.violations
    assert sorted(os.listdir(cwd)) == []


def test_kit_hostile_random_chooser_spans_its_range() -> None:
    chooser = RandomChooser(1)
    values = {chooser.integer(0, 3) for _ in range(100)}
    assert values == {0, 1, 2, 3}
    assert RandomChooser("x").random.random() == random.Random("x").random()
