"""A model folder is hostile input: every way of breaking one ends in a flavorkit error.

xgboost's own reader crashes the process (or hangs) on a truncated or
bit-flipped UBJSON file and on trees whose indices point outside their
arrays, so the plugin checks the file before xgboost sees it. Spoiled files
are loaded here in a child process: were a check missing, the crash would
fail the test instead of ending the test run.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import flavorkit
import numpy as np
import pandas as pd
import pytest
import sample_models
import xgboost
import yaml
from flavorkit.exceptions import ManifestError, UnsafeFormatError

import flavorkit_xgboost
from flavorkit_xgboost import hooks

DATA_KEY = "flavors.xgboost.data"
CLASS_KEY = "flavors.xgboost.model_class"
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")

# Loads each folder named on the command line, predicts with what loaded, and prints
# one [outcome, message] pair per folder as JSON; anything but a flavorkit error ends it.
CHILD = """
import json, sys, warnings
warnings.simplefilter("ignore")
import numpy as np, xgboost
import flavorkit
from flavorkit.exceptions import FlavorkitError

out = []
for folder in sys.argv[1:]:
    try:
        # what flavorkit_xgboost.load_model does, without the environment check (it reads
        # every installed distribution's metadata on each call)
        model = flavorkit.load_native(
            folder, "xgboost", allow_unsafe=False, suppress_warnings=True
        )
    except FlavorkitError as exc:
        out.append([type(exc).__name__, str(exc)])
        continue
    booster = model if isinstance(model, xgboost.Booster) else model.get_booster()
    rows = np.zeros((3, booster.num_features()))
    try:  # what loaded must predict without crashing; an error here is xgboost's own
        booster.predict(xgboost.DMatrix(rows))
        booster.predict(xgboost.DMatrix(rows), pred_contribs=True)
    except Exception:
        pass
    out.append(["loaded", ""])
print(json.dumps(out))
"""


def load_in_child(folders: list[Path], cwd: Path) -> list[tuple[str, str]]:
    """Load ``folders`` in a fresh interpreter; fails the test if it crashes or raises."""
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, *map(str, folders)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode < 0:
        pytest.fail(
            f"loading spoiled folders crashed the process ({signal.Signals(-proc.returncode).name})"
        )
    assert proc.returncode == 0, proc.stderr[-3000:]
    outcomes = json.loads(proc.stdout.strip().splitlines()[-1])
    return [(outcome, message) for outcome, message in outcomes]


def _edit_section(folder: Path, **changes: Any) -> None:
    file = folder / "MLmodel"
    manifest = yaml.safe_load(file.read_text(encoding="utf-8"))
    manifest["flavors"]["xgboost"].update(changes)
    file.write_text(yaml.safe_dump(manifest), encoding="utf-8")


def _model_name(folder: Path) -> str:
    manifest = yaml.safe_load((folder / "MLmodel").read_text(encoding="utf-8"))
    return str(manifest["flavors"]["xgboost"]["data"])


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Saved folders: each kind of model the spoiling tests start from."""
    base = tmp_path_factory.mktemp("pristine")
    models: dict[str, tuple[Any, str]] = {
        "regressor-ubj": (sample_models.regressor(), "ubj"),
        "classifier-json": (sample_models.classifier(), "json"),
        "booster-ubj": (sample_models.booster(), "ubj"),
        "booster-json": (sample_models.booster(), "json"),
    }
    out = {}
    for name, (model, fmt) in models.items():
        flavorkit_xgboost.save_model(model, base / name, model_format=fmt)
        out[name] = base / name
    return out


def _spoiled(pristine: Path, where: Path, data: bytes) -> Path:
    folder = shutil.copytree(pristine, where)
    (folder / _model_name(folder)).write_bytes(data)
    return Path(folder)


# -- the model file: truncated, bit-flipped ------------------------------------------


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind", ["regressor-ubj", "classifier-json", "booster-ubj"])
def test_model_file_truncated_or_bit_flipped_raises_a_flavorkit_error(
    pristine: dict[str, Path], tmp_path: Path, kind: str
) -> None:
    original = (pristine[kind] / _model_name(pristine[kind])).read_bytes()
    rng = random.Random(f"{kind}-spoil")
    cuts = sorted({*range(0, len(original), max(1, len(original) // 50)), len(original) - 1})
    spoiled = [original[:cut] for cut in cuts]
    for _ in range(120):
        data = bytearray(original)
        for _ in range(rng.choice([1, 1, 2])):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        spoiled.append(bytes(data))
    folders = [_spoiled(pristine[kind], tmp_path / f"{i:03d}", d) for i, d in enumerate(spoiled)]
    outcomes = load_in_child(folders, tmp_path)
    for cut, (outcome, message) in zip(cuts, outcomes, strict=False):
        assert outcome == "ManifestError", f"cut at byte {cut}: {outcome} {message}"
    for outcome, message in outcomes:
        assert outcome in ("loaded", "ManifestError", "UnsafeFormatError"), (outcome, message)
        if outcome == "ManifestError":
            assert f"key '{DATA_KEY}'" in message, message


# -- the model file: well-formed, but with indices xgboost trusts -----------------------


def _tree(doc: dict[str, Any], index: int = 0) -> dict[str, Any]:
    return doc["learner"]["gradient_booster"]["model"]["trees"][index]  # type: ignore[no-any-return]


def _first_internal_child(doc: dict[str, Any]) -> int:
    return int(_tree(doc)["left_children"][0])


Edit = Callable[[dict[str, Any]], None]

JSON_EDITS: dict[str, tuple[str, Edit, str]] = {
    # name: (pristine model, edit of the parsed JSON, what the refusal says)
    "child-beyond-the-tree": (
        "booster-json",
        lambda d: _tree(d)["left_children"].__setitem__(0, 10**6),
        "left_children: values outside",
    ),
    "child-is-the-root": (
        "booster-json",
        lambda d: _tree(d)["left_children"].__setitem__(_first_internal_child(d), 0),
        "a split without two children",
    ),
    "child-shared": (
        "booster-json",
        lambda d: _tree(d)["right_children"].__setitem__(0, _tree(d)["left_children"][0]),
        "do not form a tree",
    ),
    "parent-negative": (
        "booster-json",
        lambda d: _tree(d)["parents"].__setitem__(3, -5),
        "a parent outside the tree",
    ),
    "parent-wrong": (
        "booster-json",
        lambda d: _tree(d)["parents"].__setitem__(3, 2 if _tree(d)["parents"][3] != 2 else 1),
        "do not form a tree",
    ),
    "root-with-a-parent": (
        "booster-json",
        lambda d: _tree(d)["parents"].__setitem__(0, 1),
        "the root has a parent",
    ),
    "feature-beyond-num-feature": (
        "booster-json",
        lambda d: _tree(d)["split_indices"].__setitem__(0, 10_000),
        "a feature index beyond 4 features",
    ),
    "num-nodes-larger-than-arrays": (
        "booster-json",
        lambda d: _tree(d)["tree_param"].__setitem__("num_nodes", "1000"),
        "expected 1000 values",
    ),
    "tree-id-repeated": (
        "booster-json",
        lambda d: _tree(d, 1).__setitem__("id", 0),
        "expected a distinct id",
    ),
    "tree-group-beyond-outputs": (
        "booster-json",
        lambda d: d["learner"]["gradient_booster"]["model"]["tree_info"].__setitem__(0, 5),
        "tree_info: values outside",
    ),
    "iterations-decreasing": (
        "booster-json",
        lambda d: d["learner"]["gradient_booster"]["model"]["iteration_indptr"].__setitem__(1, 7),
        "expected non-decreasing values",
    ),
    "version-short": ("booster-json", lambda d: d.__setitem__("version", [3]), "version"),
    "outputs-huge": (
        "booster-json",
        lambda d: d["learner"]["learner_model_param"].__setitem__("num_target", "2147483647"),
        "num_target: expected an integer from 1 to 65536",
    ),
    "features-huge": (
        "booster-json",
        lambda d: d["learner"]["learner_model_param"].__setitem__("num_feature", "2147483646"),
        "num_feature: expected an integer from 0 to 16777216",
    ),
    "unknown-key-nested-deeply": (
        "booster-json",
        lambda d: d.__setitem__("extra", json.loads("[" * 200 + "]" * 200)),
        "nested deeper than",
    ),
    "feature-names-too-few": (
        "classifier-json",
        lambda d: d["learner"].__setitem__("feature_names", ["a"]),
        "feature_names: expected 4, got 1",
    ),
    "sklearn-meta-not-json": (
        "classifier-json",
        lambda d: d["learner"]["attributes"].__setitem__("scikit_learn", "{"),
        "scikit_learn: expected a JSON object",
    ),
}


def _categorical_doc() -> dict[str, Any]:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {"x": rng.normal(size=120), "c": pd.Categorical(rng.choice(list("pqrs"), size=120))}
    )
    target = frame["x"] + (frame["c"] == "q") * 3.0
    model = xgboost.XGBRegressor(
        n_estimators=3, max_depth=2, enable_categorical=True, max_cat_to_onehot=1
    ).fit(frame, target)
    return json.loads(model.get_booster().save_raw("json"))  # type: ignore[no-any-return]


def _first_categorical_tree(doc: dict[str, Any]) -> dict[str, Any]:
    trees = doc["learner"]["gradient_booster"]["model"]["trees"]
    return next(t for t in trees if t["categories_nodes"])  # type: ignore[no-any-return]


CATEGORICAL_EDITS: dict[str, tuple[Edit, str]] = {
    "category-negative": (
        lambda d: _first_categorical_tree(d)["categories"].__setitem__(0, -1),
        "categories: values outside",
    ),
    "category-huge": (
        lambda d: _first_categorical_tree(d)["categories"].__setitem__(0, 2**30),
        "categories: values outside",
    ),
    "category-segment-beyond": (
        lambda d: _first_categorical_tree(d)["categories_segments"].__setitem__(0, 10**6),
        "a segment beyond the categories",
    ),
    "categorical-leaf": (
        lambda d: _first_categorical_tree(d)["split_type"].__setitem__(-1, 1),
        "categorical splits do not match",
    ),
    "recoding-order-beyond": (
        lambda d: d["learner"]["gradient_booster"]["model"]["cats"]["sorted_idx"].__setitem__(
            0, 99
        ),
        "sorted_idx",
    ),
}


def _ubj_key(name: str) -> bytes:
    return b"L" + struct.pack(">q", len(name)) + name.encode()


def _raw_edits(ubj: bytes) -> dict[str, tuple[bytes, str]]:
    """Byte-level edits of a UBJSON model (and JSON stand-ins) that xgboost would misread."""
    key_at = ubj.index(b"learner")
    count_at = key_at - 8  # the big-endian length of the first key
    return {
        "ubj-length-beyond-the-end": (
            ubj[:count_at] + struct.pack(">q", 2**40) + ubj[key_at:],
            "runs past the end of the file",
        ),
        "ubj-length-negative": (
            ubj[:count_at] + struct.pack(">q", -7) + ubj[key_at:],
            "runs past the end of the file",
        ),
        "ubj-unknown-marker": (b"{" + _ubj_key("x") + b"N" + ubj[1:], "unknown marker"),
        "ubj-trailing-bytes": (ubj + b"\x00", "1 bytes after the end of the model"),
        "ubj-duplicate-key": (ubj[:-1] + ubj[1:], "duplicate key"),
        "json-not-json": (b'{"learner": ', "invalid JSON"),
        "json-duplicate-key": (b'{"version": [3, 2, 0], "version": [3, 2, 0]}', "duplicate key"),
        "json-not-utf8": (b'{"learner": "\xff"}', "not UTF-8"),
        "legacy-binary": (b"binf" + bytes(64), "expected a JSON or UBJSON object"),
    }


RAW_EDITS = [
    "ubj-length-beyond-the-end",
    "ubj-length-negative",
    "ubj-unknown-marker",
    "ubj-trailing-bytes",
    "ubj-duplicate-key",
    "json-not-json",
    "json-duplicate-key",
    "json-not-utf8",
    "legacy-binary",
]


@pytest.fixture(scope="module")
def semantic_outcomes(
    pristine: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[str, str, str]]:
    """Every edit applied to its own copy, all loaded in one child: name -> outcome."""
    base = tmp_path_factory.mktemp("semantic")
    folders, expected = [], []
    for name, (kind, edit, message) in JSON_EDITS.items():
        doc = json.loads((pristine[kind] / _model_name(pristine[kind])).read_bytes())
        edit(doc)
        folders.append(_spoiled(pristine[kind], base / name, json.dumps(doc).encode()))
        expected.append((name, message))
    categorical = _categorical_doc()
    for name, (edit, message) in CATEGORICAL_EDITS.items():
        doc = json.loads(json.dumps(categorical))
        edit(doc)
        folders.append(_spoiled(pristine["booster-json"], base / name, json.dumps(doc).encode()))
        expected.append((name, message))
    ubj = (pristine["regressor-ubj"] / "model.ubj").read_bytes()
    raw = _raw_edits(ubj)
    assert list(raw) == RAW_EDITS
    for name, (data, message) in raw.items():
        folders.append(_spoiled(pristine["regressor-ubj"], base / name, data))
        expected.append((name, message))
    outcomes = load_in_child(folders, base)
    return {
        name: (message, *outcome)
        for (name, message), outcome in zip(expected, outcomes, strict=True)
    }


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", [*JSON_EDITS, *CATEGORICAL_EDITS, *RAW_EDITS])
def test_model_file_with_indices_xgboost_trusts_is_refused(
    semantic_outcomes: dict[str, tuple[str, str, str]], name: str
) -> None:
    expected, outcome, message = semantic_outcomes[name]
    assert outcome == "ManifestError", (outcome, message)
    assert f"key '{DATA_KEY}': is not a valid xgboost model" in message
    assert expected in message


@pytest.mark.timeout(300)
def test_tree_arrays_holding_random_integers_raise_a_flavorkit_error(
    pristine: dict[str, Path], tmp_path: Path
) -> None:
    # a seeded loop over the integer arrays xgboost indexes with: each copy gets one
    # to three values replaced by boundary or nearby integers, valid JSON throughout
    rng = random.Random(20240607)
    extremes = [-(2**31), -2, -1, 0, 1, 2, 3, 7, 2**31 - 1, 2**31, 2**32 - 1, 2**32]
    sources = {
        "booster-json": json.loads((pristine["booster-json"] / "model.json").read_bytes()),
        "categorical": _categorical_doc(),
    }
    folders = []
    for index in range(150):
        name = rng.choice(sorted(sources))
        doc = json.loads(json.dumps(sources[name]))
        trees = doc["learner"]["gradient_booster"]["model"]["trees"]
        for _ in range(rng.choice([1, 1, 2, 3])):
            tree = rng.choice(trees)
            fields = [k for k, v in tree.items() if isinstance(v, list) and v]
            values = tree[rng.choice(fields)]
            at = rng.randrange(len(values))
            values[at] = rng.choice([*extremes, values[at] + rng.choice([-1, 1]), len(values)])
        folders.append(
            _spoiled(pristine["booster-json"], tmp_path / f"{index:03d}", json.dumps(doc).encode())
        )
    outcomes = load_in_child(folders, tmp_path)
    assert {outcome for outcome, _ in outcomes} <= {"loaded", "ManifestError"}
    assert sum(outcome == "ManifestError" for outcome, _ in outcomes) > 100


def test_unchanged_categorical_model_loads(tmp_path: Path) -> None:
    # the edits above start from this model: unedited, it loads and predicts as saved
    doc = _categorical_doc()
    booster = xgboost.Booster()
    booster.load_model(bytearray(json.dumps(doc).encode()))
    flavorkit_xgboost.save_model(booster, tmp_path / "m", model_format="json")
    loaded = flavorkit_xgboost.load_model(tmp_path / "m")
    frame = pd.DataFrame(
        {"x": [0.1, -1.0], "c": pd.Categorical(["q", "s"], categories=list("pqrs"))}
    )
    matrix = xgboost.DMatrix(frame, enable_categorical=True)
    np.testing.assert_allclose(loaded.predict(matrix), booster.predict(matrix))


# -- what stands where the model file should be ------------------------------------------


@needs_fifo
@pytest.mark.timeout(20)
def test_fifo_in_place_of_the_model_file_is_refused_without_reading(
    pristine: dict[str, Path], tmp_path: Path
) -> None:
    folder = shutil.copytree(pristine["regressor-ubj"], tmp_path / "m")
    (folder / "model.ubj").unlink()
    os.mkfifo(folder / "model.ubj")
    with pytest.raises(ManifestError, match=r"'model\.ubj' is a FIFO, expected a regular file"):
        flavorkit_xgboost.load_model(folder)


@pytest.mark.timeout(20)
def test_symlink_loop_in_place_of_the_model_file_is_refused(
    pristine: dict[str, Path], tmp_path: Path
) -> None:
    folder = shutil.copytree(pristine["regressor-ubj"], tmp_path / "m")
    (folder / "model.ubj").unlink()
    (folder / "model.ubj").symlink_to(folder / "other.ubj")
    (folder / "other.ubj").symlink_to(folder / "model.ubj")
    with pytest.raises(ManifestError, match=r"'model\.ubj' cannot be resolved") as info:
        flavorkit_xgboost.load_model(folder)
    assert info.value.key == DATA_KEY


@pytest.mark.timeout(20)
def test_symlink_to_a_model_outside_the_folder_is_refused(
    pristine: dict[str, Path], tmp_path: Path
) -> None:
    folder = shutil.copytree(pristine["regressor-ubj"], tmp_path / "m")
    (folder / "model.ubj").rename(tmp_path / "outside.ubj")
    (folder / "model.ubj").symlink_to(tmp_path / "outside.ubj")
    with pytest.raises(ManifestError, match="leads outside the model folder") as info:
        flavorkit_xgboost.load_model(folder)
    assert info.value.key == DATA_KEY


@pytest.mark.timeout(20)
def test_folder_in_place_of_the_model_file_is_refused(
    pristine: dict[str, Path], tmp_path: Path
) -> None:
    folder = shutil.copytree(pristine["regressor-ubj"], tmp_path / "m")
    (folder / "model.ubj").unlink()
    (folder / "model.ubj").mkdir()
    with pytest.raises(ManifestError, match=r"is a folder, expected a regular file"):
        flavorkit_xgboost.load_model(folder)


# -- the xgboost section: wrong types under its keys --------------------------------------


@pytest.mark.parametrize(
    ("changes", "key", "message"),
    [
        ({"model_class": 5}, "model_class", "expected a dotted class name .* got int"),
        ({"model_class": {"a": 1}}, "model_class", "got dict"),
        ({"model_class": "xgboost..Booster"}, "model_class", "expected a dotted class name"),
        ({"model_format": {"a": 1}}, "model_format", "expected a string, got dict"),
        ({"xgb_version": [2, 1]}, "xgb_version", "expected a string, got list"),
        ({"code": "model.ubj"}, "code", "is a regular file, expected a folder"),
        ({"code": "missing"}, "code", "'missing' does not exist"),
    ],
)
def test_section_key_of_a_wrong_type_names_the_key(
    pristine: dict[str, Path], tmp_path: Path, changes: dict[str, Any], key: str, message: str
) -> None:
    folder = shutil.copytree(pristine["regressor-ubj"], tmp_path / "m")
    _edit_section(folder, **changes)
    with pytest.raises(ManifestError, match=message) as info:
        flavorkit.load_model(folder)
    assert info.value.key == f"flavors.xgboost.{key}"


@pytest.mark.parametrize(
    ("conf", "key", "message"),
    [
        (["data"], "flavors.xgboost", "expected a mapping, got list"),
        ({"data": 5}, DATA_KEY, "expected a relative path, got int"),
        ({"data": ""}, DATA_KEY, "expected a relative path, got str"),
        ({"data": "/etc/passwd"}, DATA_KEY, "outside the model folder"),
        ({"data": "model.ubj", "code": ["x"]}, "flavors.xgboost.code", "got list"),
    ],
)
def test_hook_refuses_a_section_of_a_wrong_type(
    pristine: dict[str, Path], conf: Any, key: str, message: str
) -> None:
    # MLflow's loader and other callers reach the hook with whatever MLmodel held
    with pytest.raises(ManifestError, match=message) as info:
        hooks.flavorkit_load(
            path=pristine["regressor-ubj"],
            conf=conf,
            options={"allow_unsafe": False},
        )
    assert info.value.key == key


# -- model_class: imported through import_object, checked before anything is built -------


@pytest.mark.parametrize(
    ("model_class", "message"),
    [
        ("xgboost.core:Booster", "expected a dotted class name"),
        ("xgboost.core.Booster.__init__", "expected a Booster or scikit-learn-interface class"),
        ("xgboost.core.Booster.load_model", "expected a Booster or scikit-learn-interface class"),
        ("xgboost.core.__class__", "expected a subclass of xgboost.Booster"),
        ("xgboost.core.DMatrix", "expected a subclass of xgboost.Booster"),
        ("xgboost.core._LIB", "expected a subclass of xgboost.Booster"),
    ],
)
def test_model_class_other_than_a_model_class_is_refused_before_building(
    pristine: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    model_class: str,
    message: str,
) -> None:
    built: list[str] = []
    monkeypatch.setattr(xgboost.core.DMatrix, "__init__", lambda *a, **k: built.append("DMatrix"))
    folder = shutil.copytree(pristine["regressor-ubj"], tmp_path / "m")
    _edit_section(folder, model_class=model_class)
    for allow_unsafe in (False, True):
        with pytest.raises(ManifestError, match=message) as info:
            flavorkit_xgboost.load_model(folder, allow_unsafe=allow_unsafe)
        assert info.value.key == CLASS_KEY
    assert built == []


def test_booster_is_built_without_anything_the_section_adds(
    pristine: dict[str, Path], tmp_path: Path
) -> None:
    # a Booster built from what the folder says (a handle, parameters, a model_file of
    # its choosing) would read memory or files the folder picked: nothing but the checked
    # model file reaches it
    folder = shutil.copytree(pristine["booster-ubj"], tmp_path / "m")
    _edit_section(
        folder,
        model_class="xgboost.core.Booster",
        handle=12345,
        params={"model_file": "/etc/passwd"},
        model_file="/etc/passwd",
        kwargs={"handle": 1},
    )
    loaded = flavorkit_xgboost.load_model(folder)
    assert type(loaded) is xgboost.Booster
    rows = xgboost.DMatrix(sample_models.rows())
    saved = flavorkit_xgboost.load_model(pristine["booster-ubj"])
    np.testing.assert_array_equal(loaded.predict(rows), saved.predict(rows))


SUBCLASS = """\
from pathlib import Path

import xgboost

Path(__file__).with_name("imported.txt").write_text("module code ran", encoding="utf-8")


class Shipped(xgboost.XGBRegressor):
    pass
"""


def _ship_subclass(pristine: Path, folder: Path, module: str) -> Path:
    shutil.copytree(pristine, folder)
    (folder / "code").mkdir()
    (folder / "code" / f"{module}.py").write_text(SUBCLASS, encoding="utf-8")
    _edit_section(folder, model_class=f"{module}.Shipped", code="code")
    return folder


def test_model_class_shipped_in_the_folder_is_imported_only_with_the_opt_in(
    pristine: dict[str, Path], tmp_path: Path
) -> None:
    module = f"shipped_{tmp_path.name.replace('-', '_').lower()}"[:50]
    folder = _ship_subclass(pristine["regressor-ubj"], tmp_path / "m", module)
    try:
        with pytest.raises(UnsafeFormatError, match="not xgboost, and importing it runs"):
            flavorkit_xgboost.load_model(folder, allow_unsafe=False)
        assert not (folder / "code" / "imported.txt").exists()
        loaded = flavorkit_xgboost.load_model(folder, allow_unsafe=True)
        assert type(loaded).__name__ == "Shipped"
        assert (folder / "code" / "imported.txt").is_file()
    finally:
        sys.modules.pop(module, None)
        if str(folder / "code") in sys.path:
            sys.path.remove(str(folder / "code"))


def test_model_class_in_the_current_directory_is_not_imported(
    pristine: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = f"cwd_{tmp_path.name.replace('-', '_').lower()}"[:50]
    folder = shutil.copytree(pristine["regressor-ubj"], tmp_path / "m")
    work = tmp_path / "work"
    work.mkdir()
    (work / f"{module}.py").write_text(SUBCLASS, encoding="utf-8")
    _edit_section(folder, model_class=f"{module}.Shipped")
    monkeypatch.chdir(work)
    monkeypatch.syspath_prepend("")  # as in python -c, python -m and notebooks
    with pytest.raises(UnsafeFormatError):
        flavorkit_xgboost.load_model(folder, allow_unsafe=False)
    assert not (work / "imported.txt").exists()
    assert module not in sys.modules


# -- what the checks cannot vouch for --------------------------------------------------


def test_multi_target_trees_need_the_opt_in(tmp_path: Path) -> None:
    X, target, _ = sample_models.training_data()
    model = xgboost.XGBRegressor(
        n_estimators=2, max_depth=2, multi_strategy="multi_output_tree"
    ).fit(X, np.c_[target, -target])
    flavorkit_xgboost.save_model(model, tmp_path / "m")
    with pytest.raises(UnsafeFormatError, match="multi-target trees"):
        flavorkit_xgboost.load_model(tmp_path / "m", allow_unsafe=False)
    loaded = flavorkit_xgboost.load_model(tmp_path / "m", allow_unsafe=True)
    np.testing.assert_allclose(loaded.predict(X), model.predict(X))


# -- valid models of every kind still load as saved ---------------------------------------


def _valid_models() -> dict[str, Any]:
    X, target, _ = sample_models.training_data(n=120)
    classes = np.digitize(target, [-1.0, 1.0])
    size = {"n_estimators": 4, "max_depth": 3}
    return {
        "dart": xgboost.XGBRegressor(booster="dart", **size).fit(X, target),
        "gblinear": xgboost.XGBRegressor(booster="gblinear", n_estimators=4).fit(X, target),
        "multiclass": xgboost.XGBClassifier(**size).fit(X, classes),
        "random-forest": xgboost.XGBRFRegressor(**size).fit(X, target),
        "ranker": xgboost.XGBRanker(**size).fit(X, classes, qid=np.repeat(np.arange(12), 10)),
        "quantiles": xgboost.XGBRegressor(
            objective="reg:quantileerror", quantile_alpha=[0.2, 0.8], **size
        ).fit(X, target),
        "pruned": xgboost.XGBRegressor(
            tree_method="exact", gamma=5.0, n_estimators=4, max_depth=6
        ).fit(X, target),
    }


@pytest.mark.parametrize("model_format", ["ubj", "json"])
def test_valid_models_of_every_kind_load_and_predict_as_saved(
    tmp_path: Path, model_format: str
) -> None:
    X = sample_models.training_data(n=120)[0]
    for name, model in _valid_models().items():
        path = tmp_path / f"{name}-{model_format}"
        flavorkit_xgboost.save_model(model, path, model_format=model_format)
        loaded = flavorkit_xgboost.load_model(path, allow_unsafe=False)
        assert type(loaded) is type(model), name
        np.testing.assert_allclose(loaded.predict(X), model.predict(X), rtol=1e-6, err_msg=name)
