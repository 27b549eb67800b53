"""A model folder is hostile input: every way of breaking one ends in a flavorkit error.

Each test edits a folder the plugin saved (or builds one by hand) the way an
attacker could, and checks that loading raises a
``flavorkit.exceptions.FlavorkitError`` subclass (normally a ``ManifestError``
naming the file and the ``MLmodel`` key), never a zip, JSON, pickle or
``KeyError`` from the libraries underneath, never runs code the caller did
not opt in to, and never hangs.
"""

from __future__ import annotations

import io
import os
import pickle
import random
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import flavorkit
import numpy as np
import pytest
import yaml
from flavorkit.exceptions import FlavorkitError, ManifestError, UnsafeFormatError

import flavorkit_sklearn
from flavorkit_sklearn import hooks

KEY = "flavors.sklearn.pickled_model"
OPTS = {"allow_unsafe": False, "model_config": {}}
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")


def _edit_section(folder: Path, section: str = "sklearn", **changes: Any) -> None:
    file = folder / "MLmodel"
    manifest = yaml.safe_load(file.read_text(encoding="utf-8"))
    manifest["flavors"][section].update(changes)
    file.write_text(yaml.safe_dump(manifest), encoding="utf-8")


@pytest.fixture
def saved(tmp_path: Path, xy: Any) -> Path:
    """A Pipeline (scaler, logistic regression) saved in the default skops format."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = xy
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    folder = tmp_path / "m"
    flavorkit_sklearn.save_model(model, folder)
    return folder


def _outcome(folder: Path) -> str:
    """Load ``folder``; return ``"loaded"`` or the flavorkit error's class name.

    Anything that is not a flavorkit error propagates and fails the test.
    """
    try:
        # through the core, as users load; without its environment check, which reads
        # every installed distribution's metadata on each call
        flavorkit.load_native(folder, "sklearn", allow_unsafe=False, suppress_warnings=True)
    except ManifestError as exc:
        # a broken estimator file is reported against the file and its key
        assert exc.key == KEY and "model.skops" in str(exc), exc
        return "ManifestError"
    except UnsafeFormatError:  # a flipped bit turned a type name into an untrusted one
        return "UnsafeFormatError"
    return "loaded"


# -- the estimator file: truncated, bit-flipped, re-packed ---------------------------


@pytest.mark.timeout(60)
def test_skops_archive_truncated_or_bit_flipped_raises_a_flavorkit_error(saved: Path) -> None:
    file = saved / "model.skops"
    original = file.read_bytes()
    rng = random.Random(20240601)
    cuts = sorted({*range(0, len(original), max(1, len(original) // 40)), len(original) - 1})
    flips = [(rng.randrange(len(original)), rng.randrange(8)) for _ in range(160)]
    seen: dict[str, int] = {}
    for cut in cuts:
        file.write_bytes(original[:cut])
        outcome = _outcome(saved)
        assert outcome != "loaded", f"a file cut at byte {cut} loaded"
        seen[outcome] = seen.get(outcome, 0) + 1
    for offset, bit in flips:
        data = bytearray(original)
        data[offset] ^= 1 << bit
        file.write_bytes(bytes(data))
        outcome = _outcome(saved)
        seen[outcome] = seen.get(outcome, 0) + 1
    assert seen.get("ManifestError", 0) > len(cuts)  # the loop reached the broken files


def _repack(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _mutations(members: dict[str, bytes], seed: int, count: int) -> Iterator[dict[str, bytes]]:
    """Archives with valid CRCs whose members are cut or altered: the corruption skops parses."""
    rng = random.Random(seed)
    names = sorted(members)
    for i in range(count):
        name = "schema.json" if i % 2 else rng.choice(names)
        data = bytearray(members[name])
        kind = i % 3
        if kind == 0:
            data = data[: rng.randrange(len(data) + 1)]
        elif kind == 1:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        else:
            data[rng.randrange(len(data))] = rng.randrange(256)
        yield {**members, name: bytes(data)}


@pytest.mark.timeout(60)
def test_skops_members_corrupted_inside_a_valid_archive_raise_a_flavorkit_error(
    saved: Path,
) -> None:
    file = saved / "model.skops"
    with zipfile.ZipFile(file) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    outcomes = set()
    for mutated in _mutations(members, seed=7, count=240):
        file.write_bytes(_repack(mutated))
        outcomes.add(_outcome(saved))
    assert "ManifestError" in outcomes


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    ("member", "content", "reason"),
    [
        ("schema.json", b'{"protocol": 2, "__class__": "\xff\xfe"}', "UnicodeDecodeError"),
        ("schema.json", b"[" * 50_000 + b"]" * 50_000, "RecursionError"),
        ("schema.json", b'{"protocol": 2}', "KeyError"),
        ("schema.json", b"not json", "JSONDecodeError"),
        ("other.bin", b"", "KeyError"),  # no schema.json at all
    ],
)
def test_skops_schema_that_is_not_a_skops_schema_names_the_file(
    saved: Path, member: str, content: bytes, reason: str
) -> None:
    (saved / "model.skops").write_bytes(_repack({member: content}))
    with pytest.raises(ManifestError, match=rf"model\.skops, key '{KEY}': is not a readable skops"):
        flavorkit_sklearn.load_model(saved)
    with pytest.raises(ManifestError, match=reason):
        flavorkit_sklearn.load_model(saved)


@pytest.mark.timeout(20)
def test_skops_file_that_is_not_a_zip_names_the_file_and_key(saved: Path) -> None:
    (saved / "model.skops").write_bytes(b"PK\x03\x04 definitely not an archive")
    with pytest.raises(ManifestError, match=r"BadZipFile") as info:
        flavorkit.load_model(saved)
    assert info.value.key == KEY


# -- what stands where the estimator file should be ----------------------------------


@needs_fifo
@pytest.mark.timeout(20)
def test_fifo_in_place_of_the_estimator_file_is_refused_without_reading(saved: Path) -> None:
    (saved / "model.skops").unlink()
    os.mkfifo(saved / "model.skops")
    with pytest.raises(ManifestError, match=r"'model\.skops' is a FIFO, expected a regular file"):
        flavorkit_sklearn.load_model(saved)


@pytest.mark.timeout(20)
def test_symlink_to_an_estimator_outside_the_folder_is_refused(saved: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.skops"
    (saved / "model.skops").rename(outside)
    (saved / "model.skops").symlink_to(outside)
    with pytest.raises(ManifestError, match="leads outside the model folder") as info:
        flavorkit_sklearn.load_model(saved)
    assert info.value.key == KEY


@pytest.mark.timeout(20)
def test_symlink_loop_in_place_of_the_estimator_file_is_refused(saved: Path) -> None:
    (saved / "model.skops").unlink()
    (saved / "model.skops").symlink_to(saved / "loop.skops")
    (saved / "loop.skops").symlink_to(saved / "model.skops")
    with pytest.raises(ManifestError, match=r"'model\.skops' cannot be resolved") as info:
        flavorkit_sklearn.load_model(saved)
    assert info.value.key == KEY


@pytest.mark.timeout(20)
def test_folder_in_place_of_the_estimator_file_is_refused(saved: Path) -> None:
    (saved / "model.skops").unlink()
    (saved / "model.skops").mkdir()
    with pytest.raises(ManifestError, match=r"is a folder, expected a regular file"):
        flavorkit_sklearn.load_model(saved)


# -- the sklearn section: wrong types under its keys ---------------------------------


@pytest.mark.parametrize(
    ("changes", "key", "message"),
    [
        ({"serialization_format": 0}, "serialization_format", "expected one of .* got int"),
        ({"serialization_format": ["skops"]}, "serialization_format", "got list"),
        ({"serialization_format": ""}, "serialization_format", "got ''"),
        ({"sklearn_version": {"x": 1}}, "sklearn_version", "expected a version string, got dict"),
        ({"sklearn_version": [1, 3]}, "sklearn_version", "expected a version string, got list"),
        ({"code": "model.skops"}, "code", "is a regular file, expected a folder"),
        ({"code": "missing"}, "code", "'missing' does not exist"),
    ],
)
def test_section_key_of_a_wrong_type_names_the_key(
    saved: Path, changes: dict[str, Any], key: str, message: str
) -> None:
    _edit_section(saved, **changes)
    with pytest.raises(ManifestError, match=message) as info:
        flavorkit.load_model(saved)
    assert info.value.key == f"flavors.sklearn.{key}"


@pytest.mark.parametrize(
    ("conf", "pyfunc_conf", "key", "message"),
    [
        ({"pickled_model": []}, {}, "flavors.sklearn.pickled_model", "got list"),
        ({"pickled_model": ""}, {}, "flavors.sklearn.pickled_model", "got str"),
        ({"pickled_model": 3}, {}, "flavors.sklearn.pickled_model", "got int"),
        ({}, {"model_path": {"a": 1}}, "flavors.python_function.model_path", "got dict"),
        ({}, {"data": "/etc/passwd"}, "flavors.python_function.data", "outside"),
        (["pickled_model"], {}, "flavors.sklearn", "expected a mapping, got list"),
        ({}, "model.skops", "flavors.python_function", "expected a mapping, got str"),
    ],
)
def test_hook_refuses_a_section_of_a_wrong_type(
    saved: Path, conf: Any, pyfunc_conf: Any, key: str, message: str
) -> None:
    # MLflow's loader and other callers reach the hook with whatever MLmodel held
    with pytest.raises(ManifestError, match=message) as info:
        hooks.flavorkit_load(
            path=saved,
            conf={"serialization_format": "skops", **conf} if isinstance(conf, dict) else conf,
            options=OPTS,
            pyfunc_conf=pyfunc_conf,
        )
    assert info.value.key == key


@needs_fifo
@pytest.mark.timeout(20)
def test_hook_reads_the_file_name_from_pyfunc_conf_not_from_mlmodel(saved: Path) -> None:
    # the section names no file: the python_function section it was given names it,
    # and MLmodel itself (here a FIFO, which reading would block on) is not read again
    (saved / "MLmodel").unlink()
    os.mkfifo(saved / "MLmodel")
    model = hooks.flavorkit_load(
        path=saved,
        conf={"serialization_format": "skops"},
        options=OPTS,
        pyfunc_conf={"loader_module": "flavorkit_sklearn", "model_path": "model.skops"},
    )
    assert hasattr(model, "predict")


def test_hook_ignores_non_utf8_bytes_in_mlmodel(saved: Path) -> None:
    (saved / "MLmodel").write_bytes(b"flavors: {python_function: {data: \xff\xfe}}\n")
    model = hooks.flavorkit_load(
        path=saved,
        conf={"serialization_format": "skops"},
        options=OPTS,
        pyfunc_conf={"model_path": "model.skops"},
    )
    assert hasattr(model, "predict")


# -- pickles: refused before reading, unreadable ones named ---------------------------


class _Detonator:
    """Unpickling this creates the file ``path``: the proof that the pickle was read."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return (_touch, (self.path,))


def _touch(path: str) -> None:
    Path(path).write_text("unpickled", encoding="utf-8")


@pytest.fixture
def pickled(tmp_path: Path, classifier: Any) -> Path:
    folder = tmp_path / "p"
    flavorkit_sklearn.save_model(classifier, folder, serialization_format="pickle")
    return folder


@pytest.mark.timeout(20)
def test_pickle_without_the_opt_in_is_refused_before_it_is_read(
    pickled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "unpickled.txt"
    with (pickled / "model.pkl").open("wb") as fh:
        pickle.dump(_Detonator(str(marker)), fh)
    monkeypatch.delenv("FLAVORKIT_ALLOW_UNSAFE", raising=False)
    for fmt in ("pickle", "cloudpickle"):
        _edit_section(pickled, serialization_format=fmt)
        with pytest.raises(UnsafeFormatError, match=rf"refusing to load '{fmt}'"):
            flavorkit_sklearn.load_model(pickled)
    assert not marker.exists()


@needs_fifo
@pytest.mark.timeout(20)
def test_pickle_fifo_is_refused_with_or_without_the_opt_in(pickled: Path) -> None:
    (pickled / "model.pkl").unlink()
    os.mkfifo(pickled / "model.pkl")
    with pytest.raises(FlavorkitError):
        flavorkit_sklearn.load_model(pickled, allow_unsafe=False)
    with pytest.raises(ManifestError, match=r"'model\.pkl' is a FIFO"):
        flavorkit_sklearn.load_model(pickled, allow_unsafe=True)


@pytest.mark.timeout(20)
def test_pickle_that_cannot_be_unpickled_names_the_file_with_the_opt_in(pickled: Path) -> None:
    original = (pickled / "model.pkl").read_bytes()
    for broken in (original[: len(original) // 2], b"\x80\x05garbage", b""):
        (pickled / "model.pkl").write_bytes(broken)
        with pytest.raises(ManifestError, match=r"model\.pkl, key .*: is not a readable pickle"):
            flavorkit_sklearn.load_model(pickled, allow_unsafe=True)


# -- skops trust: the folder cannot widen it -------------------------------------------

SHADOW = """\
from pathlib import Path

from sklearn.base import BaseEstimator

Path(__file__).with_name("imported.txt").write_text("module code ran", encoding="utf-8")


class Scorer(BaseEstimator):
    def fit(self, X, y=None):
        self.n_features_in_ = len(X[0])
        return self

    def predict(self, X):
        return [0 for _ in X]
"""


@pytest.fixture
def shadowing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """A folder whose skops file holds ``<module>.Scorer``, with that module shipped inside it.

    The module was installed when the model was saved; at load time only the
    copy in the model folder is importable, as when a user runs
    ``python -c "import flavorkit; flavorkit.load_model('.')"`` inside it.
    """
    module = f"shadow_{tmp_path.name.replace('-', '_').lower()}"[:50]
    source = tmp_path / "src"
    source.mkdir()
    (source / f"{module}.py").write_text(SHADOW.replace("imported.txt", "src.txt"), "utf-8")
    sys.path.insert(0, str(source))
    try:
        scorer = __import__(module).Scorer().fit([[1.0, 2.0]])
        folder = tmp_path / "m"
        flavorkit_sklearn.save_model(scorer, folder)
    finally:
        sys.path.remove(str(source))
        sys.modules.pop(module, None)
    (folder / f"{module}.py").write_text(SHADOW, encoding="utf-8")
    monkeypatch.syspath_prepend(str(folder))
    yield folder, module
    sys.modules.pop(module, None)


def test_skops_trusted_type_whose_module_is_in_the_folder_is_not_imported(
    shadowing: tuple[Path, str],
) -> None:
    folder, module = shadowing
    with pytest.raises(UnsafeFormatError, match=rf"needs module '{module}'.*inside the model"):
        flavorkit_sklearn.load_model(folder, trusted_types=[f"{module}.Scorer"])
    assert not (folder / "imported.txt").exists()
    # the trust list the folder records grants nothing either
    _edit_section(folder, skops_trusted_types=[f"{module}.Scorer"])
    with pytest.raises(UnsafeFormatError, match=f"{module}.Scorer"):
        flavorkit_sklearn.load_model(folder)
    assert not (folder / "imported.txt").exists()


def test_skops_folder_module_loads_with_the_opt_in(shadowing: tuple[Path, str]) -> None:
    folder, module = shadowing
    loaded = flavorkit_sklearn.load_model(folder, allow_unsafe=True)
    assert type(loaded).__module__ == module
    assert (folder / "imported.txt").is_file()


def test_skops_trust_list_in_mlmodel_and_config_is_never_honoured(
    tmp_path: Path, custom_classifier: Any, xy: Any
) -> None:
    folder = tmp_path / "m"
    flavorkit_sklearn.save_model(custom_classifier, folder, input_example=xy[0][:3])
    name = "sample_estimators.MeanShiftClassifier"
    _edit_section(folder, skops_trusted_types=[name], trusted_types=[name])
    _edit_section(folder, "python_function", config={"trusted_types": [name]})
    for load in (flavorkit.load_model, flavorkit.load_native, flavorkit_sklearn.load_model):
        with pytest.raises(UnsafeFormatError, match=name):
            load(folder, allow_unsafe=False)
    loaded = flavorkit_sklearn.load_model(folder, trusted_types=[name])
    np.testing.assert_array_equal(loaded.predict(xy[0]), custom_classifier.predict(xy[0]))
