"""A model folder is hostile input: every way of breaking one ends in a flavorkit error.

Each test spoils a folder this plugin saved the way an attacker could, and
checks that loading raises a ``flavorkit.exceptions.FlavorkitError``
(normally a ``ManifestError`` naming the file and the ``MLmodel`` key), never
the framework's own exception, never imports code the folder ships without
the opt-in, and never hangs. Spoiled folders are loaded in a child process:
a framework reader that crashes (or blocks) on damaged input fails the test
instead of ending the test run.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sample_models
import yaml
from flavorkit.exceptions import ManifestError{% if cookiecutter.load.startswith(".") %}, UnsafeFormatError{% endif %}

import {{ cookiecutter.__package_name }}
from {{ cookiecutter.__package_name }} import _native, hooks

# a format that runs code is only read with the opt-in: give it, to reach the reader
ALLOW_UNSAFE = _native.FORMAT_RUNS_CODE
CHILD_TIMEOUT_S = 600

# Loads each folder named on the command line; prints one [outcome, message] pair per
# folder as JSON. Anything but a flavorkit error ends it with a traceback.
CHILD = """
import json, sys, warnings
warnings.simplefilter("ignore")
import flavorkit
from flavorkit.exceptions import FlavorkitError

flavor, allow_unsafe, out = sys.argv[1], sys.argv[2] == "1", []
for folder in sys.argv[3:]:
    try:
        flavorkit.load_native(folder, flavor, allow_unsafe=allow_unsafe, suppress_warnings=True)
        out.append(["loaded", ""])
    except FlavorkitError as exc:
        out.append([type(exc).__name__, str(exc)])
print(json.dumps(out))
"""


def load_in_child(folders: list[Path], cwd: Path) -> list[tuple[str, str]]:
    """Load ``folders`` in a fresh interpreter; fails the test if it crashes or raises."""
    flags = ["1" if ALLOW_UNSAFE else "0"]
    command = [sys.executable, "-c", CHILD, _native.FLAVOR_NAME, *flags, *map(str, folders)]
    proc = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, check=False
    )
    if proc.returncode < 0:
        pytest.fail(
            f"{_native.FRAMEWORK_MODULE}'s reader crashed the process "
            f"({signal.Signals(-proc.returncode).name}) on a damaged model file: check the "
            "file before _native.load hands it over, as contrib/xgboost in the flavorkit "
            "repository does"
        )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [(outcome, message) for outcome, message in json.loads(proc.stdout.splitlines()[-1])]


@pytest.fixture(scope="module")
def model() -> Any:
    return sample_models.array_model()


@pytest.fixture
def saved(model: Any, tmp_path: Path) -> Path:
    path = tmp_path / "model"
    {{ cookiecutter.__package_name }}.save_model(model, path)
    return path


def _edit_section(path: Path, **changes: Any) -> None:
    file = path / "MLmodel"
    manifest = yaml.safe_load(file.read_text(encoding="utf-8"))
    manifest["flavors"][_native.FLAVOR_NAME].update(changes)
    file.write_text(yaml.safe_dump(manifest), encoding="utf-8")


def _copy(saved: Path, where: Path) -> Path:
    return Path(shutil.copytree(saved, where, symlinks=True))


# -- the model file: truncated, bit-flipped, replaced ---------------------------------


def test_model_file_truncated_or_bit_flipped_raises_a_flavorkit_error(
    saved: Path, tmp_path: Path
) -> None:
    file = saved / _native.MODEL_FILE
    if not file.is_file():
        pytest.skip("the model is saved as a folder; spoil the files inside it instead")
    original = file.read_bytes()
    rng = random.Random(20240601)
    spoiled = [original[:cut] for cut in range(0, len(original), max(1, len(original) // 40))]
    for _ in range(60):
        data = bytearray(original)
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        spoiled.append(bytes(data))
    folders = []
    for index, data in enumerate(spoiled):
        folder = _copy(saved, tmp_path / f"{index:03d}")
        (folder / _native.MODEL_FILE).write_bytes(data)
        folders.append(folder)
    for outcome, message in load_in_child(folders, tmp_path):
        assert outcome in ("loaded", "ManifestError", "UnsafeFormatError"), (outcome, message)
        if outcome == "ManifestError":
            assert f"key '{_native.DATA_KEY}'" in message, message


def test_what_stands_in_place_of_the_model_file_is_refused(saved: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    shutil.copytree(saved, outside)
    cases: dict[str, str] = {
        "symlink-out": "leads outside the model folder",
        "symlink-loop": "cannot be resolved",
    }
    if hasattr(os, "mkfifo"):
        cases["fifo"] = "is a FIFO"
    folders = []
    for name in cases:
        folder = _copy(saved, tmp_path / name)
        target = folder / _native.MODEL_FILE
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink()
        if name == "symlink-out":
            target.symlink_to(outside / _native.MODEL_FILE)
        elif name == "symlink-loop":
            target.symlink_to(target)
        else:
            os.mkfifo(target)
        folders.append(folder)
    for (name, expected), (outcome, message) in zip(
        cases.items(), load_in_child(folders, tmp_path), strict=True
    ):
        assert outcome == "ManifestError", (name, outcome, message)
        assert f"key '{_native.DATA_KEY}'" in message and expected in message, (name, message)


# -- the flavor's section: wrong types under its keys -----------------------------------


@pytest.mark.parametrize(
    ("changes", "key", "message"),
    [
        ({"code": _native.MODEL_FILE}, "code", "expected a folder"),
        ({"code": "missing"}, "code", "'missing' does not exist"),
        ({"data": "missing.bin"}, "data", "'missing.bin' does not exist"),
        ({_native.FORMAT_KEY: ["list"]}, _native.FORMAT_KEY, "saved in format list"),
{%- if cookiecutter.load.startswith(".") %}
        ({"model_class": 5}, "model_class", "expected a dotted class name"),
        ({"model_class": "a:b"}, "model_class", "expected a dotted class name"),
{%- endif %}
    ],
)
def test_section_key_of_a_wrong_type_names_the_key(
    saved: Path, changes: dict[str, Any], key: str, message: str
) -> None:
    _edit_section(saved, **changes)
    with pytest.raises(ManifestError, match=message) as info:
        {{ cookiecutter.__package_name }}.load_model(saved, allow_unsafe=ALLOW_UNSAFE)
    assert info.value.key == f"flavors.{_native.FLAVOR_NAME}.{key}"


@pytest.mark.parametrize(
    ("conf", "key", "message"),
    [
        (["data"], "", "expected a mapping, got list"),
        ({"data": 5}, ".data", "expected a relative path, got int"),
        ({"data": "/etc/passwd"}, ".data", "outside the model folder"),
    ],
)
def test_hook_refuses_a_section_of_a_wrong_type(
    saved: Path, conf: Any, key: str, message: str
) -> None:
    # MLflow's loader and other callers reach the hook with whatever MLmodel held
    with pytest.raises(ManifestError, match=message) as info:
        hooks.flavorkit_load(
            path=saved,
            conf=conf,
            options={"allow_unsafe": ALLOW_UNSAFE},
        )
    assert info.value.key == f"flavors.{_native.FLAVOR_NAME}{key}"
{%- if cookiecutter.load.startswith(".") %}


# -- model_class: imported through import_object, checked before anything is built ------

SHIPPED = """
from pathlib import Path

from {{ cookiecutter.__class_module }} import {{ cookiecutter.__class_path.split(".")[0] }}

Path(__file__).with_name("imported.txt").write_text("module code ran", encoding="utf-8")


class Shipped({{ cookiecutter.__class_path }}):
    pass
"""


def test_model_class_shipped_in_the_folder_is_imported_only_with_the_opt_in(
    saved: Path, tmp_path: Path
) -> None:
    module = f"shipped_{tmp_path.name.replace('-', '_').lower()}"[:50]
    (saved / "code").mkdir()
    (saved / "code" / f"{module}.py").write_text(SHIPPED, encoding="utf-8")
    _edit_section(saved, model_class=f"{module}.Shipped", code="code")
    try:
        with pytest.raises(UnsafeFormatError):
            {{ cookiecutter.__package_name }}.load_model(saved, allow_unsafe=False)
        assert not (saved / "code" / "imported.txt").exists()
        loaded = {{ cookiecutter.__package_name }}.load_model(saved, allow_unsafe=True)
        assert type(loaded).__name__ == "Shipped"
        assert (saved / "code" / "imported.txt").is_file()
    finally:
        sys.modules.pop(module, None)
        if str(saved / "code") in sys.path:
            sys.path.remove(str(saved / "code"))


@pytest.mark.parametrize(
    "model_class",
    ["builtins.object", "os.system", f"{_native.FRAMEWORK_MODULE}.__name__"],
)
def test_model_class_that_is_not_the_model_class_is_refused(saved: Path, model_class: str) -> None:
    _edit_section(saved, model_class=model_class)
    outside = not model_class.startswith(_native.FRAMEWORK_MODULE + ".")
    with pytest.raises(UnsafeFormatError if outside or ALLOW_UNSAFE else ManifestError):
        {{ cookiecutter.__package_name }}.load_model(saved, allow_unsafe=False)
    with pytest.raises(ManifestError, match="or a subclass") as info:
        {{ cookiecutter.__package_name }}.load_model(saved, allow_unsafe=True)
    assert info.value.key == _native.CLASS_KEY
{%- endif %}
