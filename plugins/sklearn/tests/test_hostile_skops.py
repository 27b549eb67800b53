"""A hostile ``.skops`` file: the types it names, the objects it shares, the zip around it.

A skops file names the module and class of every object, and the plugin
decides which of them are trusted without walking scikit-learn
(``flavorkit_sklearn._skops``). Each test rewrites the file of a folder the
plugin saved the way an attacker could and checks the refusal: an
``UnsafeFormatError`` naming the type and the opt-in (or saying that none
exists) for a type, a ``ManifestError`` naming the file for a file built to
exhaust the loader; never an import of the named module, code run, a hang or
memory many times the file's size.
"""

from __future__ import annotations

import io
import json
import sys
import uuid
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flavorkit.exceptions import ManifestError, UnsafeFormatError

import flavorkit_sklearn
from flavorkit_sklearn import _archive, _skops

KEY = "flavors.sklearn.pickled_model"

HOSTILE = """\
from pathlib import Path

from sklearn.base import BaseEstimator

Path(__file__).with_suffix(".imported").write_text("module code ran", encoding="utf-8")


class Estimator(BaseEstimator):
    pass


def run(*args):
    Path(__file__).with_suffix(".called").write_text("called", encoding="utf-8")
"""


@pytest.fixture
def saved(tmp_path: Path, xy: Any) -> Path:
    """A LogisticRegression saved by the plugin in the default skops format."""
    from sklearn.linear_model import LogisticRegression

    X, y = xy
    folder = tmp_path / "m"
    flavorkit_sklearn.save_model(LogisticRegression().fit(X, y), folder)
    return folder


@pytest.fixture
def hostile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Path]]:
    """Makes installed-looking modules (outside the model folder) that leave a file when imported.

    Called with a module name; returns the module's path, whose
    ``.imported`` sibling appears when the module is imported and
    ``.called`` when its ``run`` is called.
    """
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    made: list[str] = []

    def make(name: str) -> Path:
        path = site / f"{name}.py"
        path.write_text(HOSTILE, encoding="utf-8")
        made.append(name)
        return path

    yield make
    for name in made:
        sys.modules.pop(name, None)


def _members(folder: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(folder / "model.skops") as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write(folder: Path, schema: dict[str, Any], members: dict[str, bytes] | None = None) -> None:
    """Replace the folder's skops file: ``schema`` plus ``members`` (default: the saved arrays)."""
    members = {k: v for k, v in _members(folder).items() if k != "schema.json"} | (members or {})
    schema = {"protocol": 2, "_skops_version": "0.16.0", **schema}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        archive.writestr("schema.json", json.dumps(schema))
    (folder / "model.skops").write_bytes(buffer.getvalue())


def _schema(folder: Path) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(_members(folder)["schema.json"])
    return schema


def _node(loader: str, module: str, name: str, **rest: Any) -> dict[str, Any]:
    return {"__class__": name, "__module__": module, "__loader__": loader, **rest}


def _json(value: Any) -> dict[str, Any]:
    return _node("JsonNode", "builtins", "str", content=json.dumps(value), is_json=True)


def _tuple(*items: dict[str, Any]) -> dict[str, Any]:
    return _node("TupleNode", "builtins", "tuple", content=list(items))


def _with_attribute(
    folder: Path, value: dict[str, Any], members: dict[str, bytes] | None = None
) -> None:
    """The saved estimator with one more attribute, ``extra_``, holding ``value``."""
    schema = _schema(folder)
    attrs = schema["content"]
    attrs["content"]["extra_"] = value
    attrs["key_types"]["content"].append(_node("TypeNode", "builtins", "str"))
    _write(folder, schema, members)


def _refusal(folder: Path) -> str:
    with pytest.raises(UnsafeFormatError) as info:
        flavorkit_sklearn.load_model(folder)
    return str(info.value)


# -- the types a file names ------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("{hostile}", "Estimator"),  # a BaseEstimator subclass outside scikit-learn
        ("sklearnx_{uid}", "Estimator"),  # starts like sklearn
        ("sklearn_evil_{uid}", "Estimator"),
        ("sklearn..pipeline", "Pipeline"),
        ("sklearn.pipeline.Pipeline.__init__", "__globals__"),  # an attribute chain
        ("sklearn.pipelin\u0435", "Pipeline"),  # a Cyrillic e
        ("sklearn.pipeline", "Pipeline\u200b"),  # a zero-width space
        ("sklearn", "pipeline"),
        ("sklearn.base", "BaseEstimator"),
        ("sklearn.base", "__class__"),
        ("sklearn.utils._testing", "TempMemmap"),  # private modules
        ("sklearn._build_utils", "Estimator"),
        ("sklearn.utils._joblib", "Memory"),
        ("sklearn.externals.array_api_compat.torch", "Tensor"),
        ("sklearn.tests.test_base", "T"),
        ("sklearn.datasets", "fetch_openml"),  # a function, not a class
        ("sklearn.ensemble._hist_gradient_boosting.predictor", "TreePredictor"),
        ("sklearn.utils._bunch", "Bunch"),  # a scikit-learn class that is no estimator
        ("flavorkit_sklearn._skops", "EstimatorNames"),
        ("imblearn.pipeline", "Pipeline"),  # a package the attacker hopes is installed
    ],
)
def test_an_object_of_a_type_skops_does_not_trust_is_refused_without_importing_it(
    saved: Path, hostile: Callable[[str], Path], module: str, name: str
) -> None:
    uid = uuid.uuid4().hex[:8]
    files = [hostile(f"flavorkit_hostile_{uid}"), hostile(f"sklearnx_{uid}")]
    files.append(hostile(f"sklearn_evil_{uid}"))
    module = module.format(hostile=f"flavorkit_hostile_{uid}", uid=uid)
    schema = _schema(saved)
    _write(saved, {**schema, "__module__": module, "__class__": name})
    message = _refusal(saved)
    full = f"{module}.{name}"
    assert f"not trusted: {full!a}" in message
    if full.isascii() and all(part.isidentifier() for part in full.split(".")):
        assert f"pass trusted_types=[{full!r}]" in message
    else:
        assert "cannot name an importable type" in message
    for file in files:  # deciding trust imported none of the attacker's modules
        assert not file.with_suffix(".imported").exists()
        assert file.stem not in sys.modules


@pytest.mark.parametrize(
    "name",
    [
        "sklearn.impute.IterativeImputer",  # their modules' __getattr__ raise ImportError
        "sklearn.model_selection.HalvingGridSearchCV",
        "sklearn.datasets.load_boston",
    ],
)
def test_a_name_whose_module_getattr_raises_is_refused_as_untrusted(saved: Path, name: str) -> None:
    assert _skops.is_walked_estimator(name) is False
    module, _, cls = name.rpartition(".")
    _write(saved, {**_schema(saved), "__module__": module, "__class__": cls})
    assert f"pass trusted_types=[{name!r}]" in _refusal(saved)


def _pickled_object_array(marker: Path) -> bytes:
    buffer = io.BytesIO()
    array = np.empty(1, dtype=object)
    array[0] = _Detonator(str(marker))
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


class _Detonator:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return (Path.write_text, (Path(self.path), "unpickled"))


@pytest.mark.parametrize(
    ("value", "untrusted"),
    [
        (_node("FunctionNode", "os", "system"), "os.system"),
        (_node("FunctionNode", "builtins", "eval"), "builtins.eval"),
        (_node("TypeNode", "builtins", "eval"), "builtins.eval"),
        (_node("FunctionNode", "numpy", "load"), "numpy.load"),
        (
            _node(
                "PartialNode",
                "functools",
                "partial",
                content={
                    "func": _node("FunctionNode", "os", "system"),
                    "args": _tuple(_json("touch /tmp/pwned")),
                    "kwds": _node("DictNode", "builtins", "dict", content={}, key_types=_tuple()),
                    "namespace": _json(None),
                },
            ),
            "functools.partial",
        ),
        (
            _node("OperatorFuncNode", "operator", "methodcaller", attrs=_tuple(_json("system"))),
            "operator.methodcaller",
        ),
        (
            _node("OperatorFuncNode", "operator", "attrgetter", attrs=_tuple(_json("__globals__"))),
            "operator.attrgetter",
        ),
        (
            _node(
                "MethodNode",
                "sklearn.linear_model._logistic",
                "LogisticRegression",
                content={
                    "func": "__reduce_ex__",
                    "obj": _node(
                        "ObjectNode", "sklearn.linear_model._logistic", "LogisticRegression"
                    ),
                },
            ),
            "sklearn.linear_model._logistic.LogisticRegression.__reduce_ex__",
        ),
        (  # an object array holding an object of an untrusted type
            _node(
                "NdArrayNode",
                "numpy",
                "ndarray",
                type="json",
                content=[_node("ObjectNode", "subprocess", "Popen")],
                shape=_tuple(_json(1)),
            ),
            "subprocess.Popen",
        ),
        (
            _node("SparseMatrixNode", "os", "system", type="scipy", file="model.skops.npz"),
            "os.system",
        ),
    ],
)
def test_a_node_that_would_call_or_build_code_is_refused(
    saved: Path, value: dict[str, Any], untrusted: str
) -> None:
    members = {"model.skops.npz": b""} if value["__loader__"] == "SparseMatrixNode" else None
    _with_attribute(saved, value, members)
    assert ascii(untrusted) in _refusal(saved)


def test_a_pickled_object_array_is_not_unpickled_even_when_its_types_are_trusted(
    saved: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "unpickled.txt"
    array = _node("NdArrayNode", "numpy", "ndarray", type="numpy", file="extra.npy")
    _with_attribute(saved, array, {"extra.npy": _pickled_object_array(marker)})
    with pytest.raises(ManifestError, match="Object arrays cannot be loaded") as info:
        flavorkit_sklearn.load_model(saved)
    assert KEY in str(info.value) and not marker.exists()


def test_a_type_node_naming_a_trusted_estimator_is_refused_and_loads_with_the_opt_in(
    saved: Path,
) -> None:
    # the estimator class as a value: skops trusts it as an object, not as a type
    name = "sklearn.linear_model._logistic.LogisticRegression"
    _with_attribute(
        saved, _node("TypeNode", "sklearn.linear_model._logistic", "LogisticRegression")
    )
    assert f"pass trusted_types=[{name!r}]" in _refusal(saved)
    loaded = flavorkit_sklearn.load_model(saved, trusted_types=[name])
    assert loaded.extra_ is type(loaded)


def test_refusal_text_is_escaped_and_bounded(saved: Path) -> None:
    evil = "\x1b[2J\nos.system"  # a terminal escape and a line break in a type name
    many = [_node("FunctionNode", f"m{i:04d}." + "x" * 400, "f") for i in range(2000)]
    _with_attribute(
        saved,
        _node("ListNode", "builtins", "list", content=[_node("FunctionNode", evil, "f"), *many]),
    )
    message = _refusal(saved)
    assert "\x1b" not in message and "\n" not in message
    assert ascii(f"{evil}.f") in message
    assert "and 1,981 more" in message and "cannot name an importable type" in message
    assert len(message) < 8000


# -- files built to exhaust the loader -----------------------------------------------------


def _shared_twice(depth: int) -> dict[str, Any]:
    """Lists each holding the list below it twice (once by reference): 2**depth paths."""
    node = {**_json(1), "__id__": 1}
    for i in range(2, depth + 2):
        node = {
            **_node("ListNode", "builtins", "list", content=[node, {"__id__": i - 1}]),
            "__id__": i,
        }
    return node


@pytest.mark.timeout(20)
def test_shared_objects_nested_in_shared_objects_are_refused_before_skops_walks_them(
    saved: Path,
) -> None:
    # 5 KB that skops's type check would walk 2**40 times
    _with_attribute(saved, _shared_twice(40))
    with pytest.raises(ManifestError, match=r"would take more than [0-9,]+ steps") as info:
        flavorkit_sklearn.load_model(saved)
    assert KEY in str(info.value)


def test_objects_shared_a_few_times_still_load(saved: Path) -> None:
    _with_attribute(saved, _shared_twice(8))
    loaded = flavorkit_sklearn.load_model(saved)
    assert len(loaded.extra_) == 2 and loaded.extra_[0] is loaded.extra_[1]


@pytest.mark.timeout(20)
def test_one_array_entry_named_by_many_objects_is_refused_before_it_is_read(saved: Path) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(1 << 17))  # 1 MiB, read again for every object naming it
    array = _node("NdArrayNode", "numpy", "ndarray", type="numpy", file="big.npy")
    many = _node("ListNode", "builtins", "list", content=[array] * 5000)
    _with_attribute(saved, many, {"big.npy": buffer.getvalue()})
    with pytest.raises(ManifestError, match=r"'big\.npy' is named by two objects"):
        flavorkit_sklearn.load_model(saved)


def _zip_with(saved: Path, entry: zipfile.ZipInfo, data: bytes) -> bytes:
    """The saved archive with ``entry`` added (holding ``data``)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, member in _members(saved).items():
            archive.writestr(name, member)
        with warnings.catch_warnings():  # zipfile warns about a name written twice
            warnings.simplefilter("ignore")
            archive.writestr(entry, data)
    return buffer.getvalue()


def test_one_array_written_twice_under_its_id_loads_as_one_object(saved: Path) -> None:
    # what skops writes for an array two attributes share (HistGradientBoosting's classes_)
    buffer = io.BytesIO()
    np.save(buffer, np.arange(3))
    array = _node("NdArrayNode", "numpy", "ndarray", type="numpy", file="a.npy", __id__=7)
    pair = _node("ListNode", "builtins", "list", content=[array, dict(array)])
    _with_attribute(saved, pair, {"a.npy": buffer.getvalue()})
    loaded = flavorkit_sklearn.load_model(saved)
    assert loaded.extra_[0] is loaded.extra_[1]
    np.testing.assert_array_equal(loaded.extra_[0], np.arange(3))


@pytest.mark.timeout(20)
def test_a_zip_bomb_is_refused_before_anything_is_inflated(saved: Path) -> None:
    # schema.json padded with 64 MiB of spaces: valid JSON, 64 KiB deflated (skops read
    # and parsed all of it: a 1 MiB file of this kind took 2.2 GiB and 17 s to load)
    members = _members(saved)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            if name != "schema.json":
                archive.writestr(name, data)
        padded = members["schema.json"] + bytes(64 << 20).replace(b"\0", b" ")
        archive.writestr("schema.json", padded, compress_type=zipfile.ZIP_DEFLATED)
    (saved / "model.skops").write_bytes(buffer.getvalue())
    bomb = r"inflates from [0-9,]+ to 67,[0-9,]+ bytes .* zip bomb"
    with pytest.raises(ManifestError, match=bomb):
        flavorkit_sklearn.load_model(saved)


def _encrypted(saved: Path) -> bytes:
    """The saved archive plus an entry whose central directory record says it is encrypted."""
    data = bytearray(_zip_with(saved, zipfile.ZipInfo("x.npy"), b"x"))
    record = data.rindex(b"PK\x01\x02")  # the last central directory record: x.npy's
    assert data[record + 46 : record + 51] == b"x.npy"
    data[record + 8] |= 0x1  # general purpose flag, bit 0: encrypted
    return bytes(data)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda s: _zip_with(s, zipfile.ZipInfo("schema.json"), b"{}"), "'schema.json' twice"),
        (_encrypted, "'x.npy' is encrypted"),
    ],
)
def test_an_archive_skops_never_writes_is_refused(
    saved: Path, make: Callable[[Path], bytes], message: str
) -> None:
    (saved / "model.skops").write_bytes(make(saved))
    with pytest.raises(ManifestError, match=f"is refused: .*{message}"):
        flavorkit_sklearn.load_model(saved)


def test_a_schema_over_the_limit_is_refused_before_it_is_read(
    saved: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    size = _schema(saved)
    limit = len(json.dumps(size)) // 2
    monkeypatch.setattr(_archive, "MAX_SCHEMA_BYTES", limit)
    with pytest.raises(
        ManifestError, match=f"schema.json is [0-9,]+ bytes; the limit is {limit:,}"
    ):
        flavorkit_sklearn.load_model(saved)
