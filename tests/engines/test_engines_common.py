"""What Spark and Dask share, without either: the workers' check, shipping, results, errors."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from engine_support import Models
from flavorkit.batch import _engines
from flavorkit.exceptions import (
    EnvironmentMismatchWarning,
    PayloadError,
    SchemaEnforcementError,
    UnsafeFormatError,
)
from flavorkit.signature import Array, DataType


def _shipped(models: Models) -> _engines.ShippedModel:
    return _engines.prepare(models.regressor)[0]


def _report(packages: dict[str, str | None], python: str | None = None) -> dict[str, object]:
    running = python or ".".join(map(str, sys.version_info[:3]))
    return {"host": "w1", "executable": "/opt/py", "python": running, "packages": packages}


def _installed(shipped: _engines.ShippedModel) -> dict[str, str | None]:
    from importlib.metadata import version

    return {name: version(name) for name in _engines.probe_names(shipped)}


def test_prepare_names_the_flavor_plugin_and_requirements(models: Models) -> None:
    shipped = _shipped(models)
    assert shipped.flavor == "sklearn" and shipped.plugin == "flavorkit-sklearn"
    assert any(r.startswith("scikit-learn==") for r in shipped.requirements)
    assert _engines.probe_names(shipped)[:2] == ["flavorkit", "flavorkit-sklearn"]
    assert shipped.identity == _engines.folder_identity(models.regressor)
    assert pickle.loads(pickle.dumps(shipped)) == shipped


def test_workers_like_the_driver_pass(models: Models) -> None:
    shipped = _shipped(models)
    probe = _engines.probe_function()
    report = probe(_engines.probe_names(shipped))  # the probe, run here
    assert report["packages"]["flavorkit"] is not None
    _engines.check_reports(shipped, [report, report])


def test_missing_and_incompatible_packages_are_errors_by_package(models: Models) -> None:
    shipped = _shipped(models)
    packages = _installed(shipped)
    packages["flavorkit-sklearn"] = None
    packages["scikit-learn"] = "0.24.2"
    with pytest.raises(_engines.WorkerEnvironmentError) as caught:
        _engines.check_reports(shipped, [_report(packages)], where="the executors")
    problems = caught.value.problems
    assert set(problems) == {"flavorkit-sklearn", "scikit-learn"}
    assert problems["flavorkit-sklearn"].endswith("not installed on w1 (/opt/py)")
    assert "w1 (/opt/py) have 0.24.2" in problems["scikit-learn"]
    assert str(caught.value).startswith("the executors cannot run model")


def test_a_patch_difference_only_warns(models: Models) -> None:
    shipped = _shipped(models)
    packages = _installed(shipped)
    pinned = dict(line.split("==") for line in shipped.requirements if "==" in line)
    major, minor, *_ = pinned["scikit-learn"].split(".")
    packages["scikit-learn"] = f"{major}.{minor}.999"
    with pytest.warns(EnvironmentMismatchWarning, match=r"scikit-learn \(recorded =="):
        _engines.check_reports(shipped, [_report(packages)])


def test_another_python_or_flavorkit_release_is_an_error(models: Models) -> None:
    shipped = _shipped(models)
    packages = _installed(shipped)
    packages["flavorkit"] = "99.0.0"
    with pytest.raises(_engines.WorkerEnvironmentError) as caught:
        _engines.check_reports(shipped, [_report(packages, python="2.7.18")])
    assert set(caught.value.problems) == {"python", "flavorkit"}
    assert "run 2.7" in caught.value.problems["python"]


def test_archive_round_trip_and_concurrent_unpack(models: Models, tmp_path: Path) -> None:
    shipped = _shipped(models)
    tar = _engines.archive(shipped, tmp_path / "out")
    assert tar.name == _engines.archive_name(shipped)
    assert _engines.archive(shipped, tmp_path / "out") == tar  # made once
    folders: list[Path] = []
    threads = [
        threading.Thread(target=lambda: folders.append(_engines.unpack(tar, tmp_path / "w")))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(folders)) == 1
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == [folders[0].name]  # no leftovers
    original = sorted(p.relative_to(models.regressor) for p in models.regressor.rglob("*"))
    assert sorted(p.relative_to(folders[0]) for p in folders[0].rglob("*")) == original


def test_a_link_in_the_folder_is_not_shipped(models: Models, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "linked"
    shutil.copytree(models.regressor, folder)
    (folder / "extra").symlink_to("/etc/hostname")
    shipped = _engines.prepare(folder)[0]
    with pytest.raises(PayloadError, match="extra is a symbolic link"):
        _engines.archive(shipped, tmp_path / "out")
    assert [p.name for p in (tmp_path / "out").iterdir()] == []


def test_the_worker_cache_loads_once_and_keys_by_identity(models: Models, tmp_path: Path) -> None:
    shipped = _shipped(models)
    first = _engines.load_shipped(shipped, models.regressor)
    assert _engines.load_shipped(shipped, models.regressor) is first
    changed = _engines.ShippedModel(**{**shipped.__dict__, "model_config": {"k": 1}})
    assert _engines.load_shipped(changed, models.regressor) is not first


def test_results_follow_the_spec() -> None:
    scalar = _engines.ResultSpec((("prediction", DataType.float),), struct=False)
    out = _engines.shape_result(np.array([[1.0], [2.0]]), scalar, 2)
    assert out.dtype == np.float32 and list(out) == [1.0, 2.0]
    arrays = _engines.ResultSpec((("prediction", Array(DataType.double)),), struct=False)
    out = _engines.shape_result(np.ones((3, 2)), arrays, 3)
    assert len(out) == 3 and list(out[0]) == [1.0, 1.0]
    struct = _engines.ResultSpec((("a", DataType.long), ("b", DataType.string)), struct=True)
    out = _engines.shape_result({"b": [1, 2], "a": np.array([1.0, 2.0])}, struct, 2)
    assert list(out.columns) == ["a", "b"] and out["a"].dtype == np.int64
    assert list(out["b"]) == ["1", "2"]
    with pytest.raises(PayloadError, match="has 1 values for 2 input rows"):
        _engines.shape_result(np.array([1.0]), scalar, 2)
    with pytest.raises(PayloadError, match=r"no 'b' \(it has: a\)"):
        _engines.shape_result(pd.DataFrame({"a": [1, 2]}), struct, 2)
    with pytest.raises(PayloadError, match="returned 2 columns"):
        _engines.shape_result(pd.DataFrame({"a": [1, 2], "c": [3, 4]}), scalar, 2)
    assert _engines.empty_result(struct).dtypes.tolist() == [np.int64, object]


def test_a_marked_error_is_recovered_from_text_and_pickles() -> None:
    error = SchemaEnforcementError("rows 3-4: column 'x': bad", field="x", expected="long")
    error.rows = (3, 4)  # type: ignore[attr-defined]
    marked = _engines.mark(error, 7)
    text = f"PythonException: Traceback ...\n{type(marked).__name__}: {marked}\n SQLSTATE: 38000"
    back = _engines.recover(text)
    assert isinstance(back, SchemaEnforcementError)
    assert str(back) == "partition 7, rows 3-4: column 'x': bad"
    assert (back.field, back.expected, back.rows, back.partition) == ("x", "long", (3, 4), 7)
    assert _engines.recover("no marker here") is None
    line = text.split(_engines.MARKER, 1)[1].splitlines()[0]
    assert json.loads(line)["error"] == "SchemaEnforcementError"
    _engines.picklable_errors()
    unsafe = _engines.mark(UnsafeFormatError("pickle", "/m/model.pkl"), 2, facts=False)
    again = pickle.loads(pickle.dumps(unsafe))
    assert type(again) is UnsafeFormatError and again.path == "/m/model.pkl"
    assert str(again).startswith("partition 2, refusing to load 'pickle'")


def test_importing_the_engine_packages_stays_light() -> None:
    code = (
        "import sys, flavorkit.spark, flavorkit.dask;"
        "print([m for m in ('pyspark', 'dask', 'distributed', 'pandas', 'numpy', 'sklearn')"
        " if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
