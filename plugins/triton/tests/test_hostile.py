"""Hostile Triton model folders: each attack is refused by name, never run, read forever or crashed.

A Triton folder may come from anyone: ``flavorkit validate`` reads it,
``save_model`` copies it and ``load_model`` runs what it can in-process.
Each test starts from a valid folder (an export, or a small ONNX graph
built here), breaks one thing as an attacker would, and asserts the error
(or the problem line) names the file, the field, what was expected and what
came.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import flavorkit
import numpy as np
import pytest
import yaml
from flavorkit.exceptions import ManifestError, UnsafeFormatError
from triton_models import forget_this_module

from flavorkit_triton import export, save_model, validate

CONFIG = (
    'name: "{name}"\nbackend: "onnxruntime"\nmax_batch_size: 4\n'
    'input {{ name: "x" data_type: TYPE_FP32 dims: [ 4 ] }}\n'
    'output {{ name: "y" data_type: TYPE_FP32 dims: [ 4 ] }}\n'
)


def _onnx_model(location: str | None = None) -> Any:
    """``y = x + w``, ``w`` four ones, kept in the file or in the external file ``location``."""
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones(4, dtype=np.float32), "w")
    if location is not None:
        w.ClearField("raw_data")
        w.data_location = TensorProto.EXTERNAL
        for key, value in (("location", location), ("offset", "0"), ("length", "16")):
            w.external_data.add(key=key, value=value)
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"])],
        "add",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 4])],
        [w],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _onnx_folder(folder: Path, location: str | None = None) -> Path:
    import onnx

    (folder / "1").mkdir(parents=True)
    onnx.save(_onnx_model(location), folder / "1" / "model.onnx")
    (folder / "config.pbtxt").write_text(CONFIG.format(name=folder.name))
    return folder


def _problems(folder: Path) -> str:
    return "\n".join(validate(folder))


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, sklearn_model: tuple[Path, Any]) -> Path:
    repo = tmp_path_factory.mktemp("hostile") / "repo"
    export(sklearn_model[0], repo)
    return repo


@pytest.fixture(scope="module")
def saved_python(tmp_path_factory: pytest.TempPathFactory, exported: Path) -> Path:
    """A saved ``triton`` folder holding a Python backend flavorkit exported (``iris/1/...``)."""
    saved = tmp_path_factory.mktemp("saved") / "saved"
    save_model(exported / "iris", saved)
    return saved


@pytest.fixture
def python_copy(saved_python: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "saved"
    shutil.copytree(saved_python, copy)
    return copy


@pytest.fixture
def saved_onnx(tmp_path: Path) -> Path:
    saved = tmp_path / "saved"
    save_model(_onnx_folder(tmp_path / "src" / "add"), saved)
    return saved


# -- the MLmodel section -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ("../outside", "path '../outside' points outside the model folder"),
        ("{outside}", "points outside the model folder"),
        ("link", "'link' is a link that leads outside the model folder"),
        ("add/1/model.onnx", "'add/1/model.onnx' is a regular file, expected a folder"),
    ],
)
def test_the_data_key_names_a_folder_inside_the_saved_folder(
    tmp_path: Path, saved_onnx: Path, data: str, why: str
) -> None:
    outside = _onnx_folder(tmp_path / "outside")
    (saved_onnx / "link").symlink_to(outside)
    manifest = yaml.safe_load((saved_onnx / "MLmodel").read_text())
    manifest["flavors"]["triton"]["data"] = data.format(outside=outside)
    (saved_onnx / "MLmodel").write_text(yaml.safe_dump(manifest))
    with pytest.raises(ManifestError, match=r"key 'flavors\.triton\.data'") as err:
        flavorkit.load_model(saved_onnx)
    assert why in str(err.value)


# -- version folders -----------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["²", "\u0661", "0", "01", " 1", "-1", "+2", "9223372036854775808", "1" * 30]
)
def test_a_folder_triton_would_not_load_as_a_version_is_reported_not_counted(
    tmp_path: Path, name: str
) -> None:
    folder = _onnx_folder(tmp_path / "add")
    (folder / "1").rename(folder / name)
    problems = validate(folder)
    expected = (
        f"add/{name}: not a version folder (Triton loads numeric folders, e.g. 1/); a version "
        "is a number from 1 to 9223372036854775807 in ASCII digits, without a leading 0"
    )
    assert problems == [
        expected,
        "add: no version folder (a numeric folder such as 1/ with the model)",
    ]


def test_loading_a_folder_whose_only_version_has_unicode_digits_names_the_key(
    saved_onnx: Path,
) -> None:
    (saved_onnx / "add" / "1").rename(saved_onnx / "add" / "²")
    with pytest.raises(ManifestError, match=r"key 'flavors\.triton\.data': 'add' has no version"):
        flavorkit.load_model(saved_onnx)


def test_a_version_folder_name_with_a_newline_cannot_forge_a_problem_line(tmp_path: Path) -> None:
    folder = _onnx_folder(tmp_path / "add")
    (folder / "x\n  - add: ok").mkdir()
    (problem,) = validate(folder)
    assert problem.startswith("add/'x\\n  - add: ok': not a version folder")
    assert "\n" not in problem


# -- config.pbtxt ----------------------------------------------------------------------


def test_an_enormous_dims_list_is_checked_in_linear_time_and_shown_short(tmp_path: Path) -> None:
    folder = _onnx_folder(tmp_path / "add")
    # math.prod over these took minutes, then failed to print a 800,000-digit number
    dims = ", ".join(["4611686018427387904"] * 40_000)
    text = CONFIG.format(name="add").replace(
        "dims: [ 4 ] }", f"dims: [ {dims} ] reshape {{ shape: [ 2 ] }} }}", 1
    )
    (folder / "config.pbtxt").write_text(text)
    problems = validate(folder)
    assert (
        "add/config.pbtxt: input 'x' has dims [4611686018427387904, 4611686018427387904, "
        "4611686018427387904, 4611686018427387904, 4611686018427387904, 4611686018427387904, "
        "4611686018427387904, 4611686018427387904, ... (40000 dims)], which hold more than "
        "9223372036854775807 values (Triton counts a tensor's values in 64 bits)"
    ) in problems
    assert all(len(p) < 500 for p in problems)


def test_a_config_over_a_megabyte_is_refused_unparsed(tmp_path: Path) -> None:
    folder = _onnx_folder(tmp_path / "add")
    padding = "# " + "x" * (1 << 20) + "\n"
    (folder / "config.pbtxt").write_text(padding + CONFIG.format(name="add"))
    assert validate(folder) == ["add/config.pbtxt: larger than 1048576 bytes"]


def test_saving_a_config_whose_dims_make_no_signature_lists_the_problem(tmp_path: Path) -> None:
    folder = _onnx_folder(tmp_path / "add")
    config = folder / "config.pbtxt"
    config.write_text(config.read_text().replace("dims: [ 4 ] }", "dims: [ -5 ] }", 1))
    # before: the signature read from config.pbtxt failed first, with a TensorSpec error
    with pytest.raises(ManifestError, match="not a valid Triton model folder") as err:
        save_model(folder, tmp_path / "saved")
    assert "add/config.pbtxt: input 'x' has dims [-5]; each dimension is -1" in str(err.value)


def test_a_reshape_holding_more_than_int64_values_is_reported_not_crashed(tmp_path: Path) -> None:
    folder = _onnx_folder(tmp_path / "add")
    text = CONFIG.format(name="add").replace(
        "dims: [ 4 ] }", "dims: [ 4 ] reshape { shape: [ 4611686018427387904, 4 ] } }", 1
    )
    (folder / "config.pbtxt").write_text(text)
    assert (
        "add/config.pbtxt: input 'x' reshape [4611686018427387904, 4] holds more than "
        "9223372036854775807 values but dims [4] hold 4"
    ) in validate(folder)


# names as config.pbtxt spells them (\0 there is a NUL character)
@pytest.mark.parametrize(
    "name", ["/dev/zero", "../../../etc/passwd", "..", "sub/model.onnx", "\\0"]
)
def test_default_model_filename_must_name_a_file_of_the_version_folder(
    tmp_path: Path, name: str
) -> None:
    folder = _onnx_folder(tmp_path / "add")
    config = folder / "config.pbtxt"
    config.write_text(config.read_text() + f'default_model_filename: "{name}"\n')
    # before: /dev/zero was read by onnx.load until memory ran out
    expected = (
        "add/config.pbtxt: default_model_filename: expected a plain file name inside the "
        "version folder (no '/', '\\' or '..'), got "
    )
    problems = validate(folder)
    assert len(problems) == 1 and problems[0].startswith(expected), problems
    with pytest.raises(ManifestError, match="not a valid Triton model folder") as err:
        save_model(folder, tmp_path / "saved")
    assert expected in str(err.value)
    assert not (tmp_path / "saved").exists()


def test_loading_refuses_a_default_model_filename_out_of_the_version_folder(
    saved_onnx: Path,
) -> None:
    config = saved_onnx / "add" / "config.pbtxt"
    config.write_text(config.read_text() + 'default_model_filename: "/proc/self/environ"\n')
    with pytest.raises(ManifestError, match="default_model_filename: expected a plain file name"):
        flavorkit.load_model(saved_onnx)


def test_loading_a_config_that_does_not_parse_names_the_file_and_key(saved_onnx: Path) -> None:
    (saved_onnx / "add" / "config.pbtxt").write_text("backend: {{{\n")
    with pytest.raises(ManifestError) as err:
        flavorkit.load_model(saved_onnx)
    assert re.search(
        r"add/config\.pbtxt, key 'flavors\.triton\.data': not a Triton model configuration: 1:",
        str(err.value),
    )


# -- files that are not regular files ----------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_validate_never_reads_a_fifo_or_a_device_in_place_of_a_file(
    tmp_path: Path, exported: Path
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(exported, repo)
    plan = repo / "iris" / "1" / "flavorkit_backend.json"
    plan.unlink()
    os.mkfifo(plan)  # opening it for reading would wait for a writer forever
    onnx_folder = _onnx_folder(repo / "add")
    (onnx_folder / "1" / "model.onnx").unlink()
    (onnx_folder / "1" / "model.onnx").symlink_to("/dev/zero")  # read without end
    problems = validate(repo)
    assert "add/1/model.onnx: is a character device, expected a regular file" in problems
    assert "iris/1/flavorkit_backend.json: is a FIFO, expected a regular file" in problems


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_saving_a_folder_with_a_fifo_refuses_it_by_name(tmp_path: Path) -> None:
    folder = _onnx_folder(tmp_path / "add")
    os.mkfifo(folder / "1" / "pipe")
    with pytest.raises(
        ManifestError, match=r"1/pipe is a FIFO; expected regular files and folders"
    ):
        save_model(folder, tmp_path / "saved")
    assert not (tmp_path / "saved").exists()


def test_saving_a_folder_whose_links_loop_refuses_it_before_copying(tmp_path: Path) -> None:
    folder = _onnx_folder(tmp_path / "add")
    # two links to "." made the copy grow without end (half a GB in 30 s)
    (folder / "1" / "a").symlink_to(".")
    (folder / "1" / "b").symlink_to(".")
    with pytest.raises(ManifestError, match=r"1/a links to a folder; expected regular files"):
        save_model(folder, tmp_path / "saved")
    assert not (tmp_path / "saved").exists()


def test_exporting_a_model_folder_with_a_fifo_or_a_folder_link_is_refused(
    tmp_path: Path, sklearn_model: tuple[Path, Any]
) -> None:
    folder = tmp_path / "model"
    shutil.copytree(sklearn_model[0], folder)
    (folder / "loop").symlink_to(".")
    with pytest.raises(ManifestError, match="loop links to a folder"):
        export(folder, tmp_path / "repo")
    (folder / "loop").unlink()
    if hasattr(os, "mkfifo"):
        os.mkfifo(folder / "pipe")
        with pytest.raises(ManifestError, match="pipe is a FIFO"):
            export(folder, tmp_path / "repo")
    assert not (tmp_path / "repo" / "model").exists()


# -- the plan of a Python-backend folder ----------------------------------------------


def _set(path: list[Any], value: Any) -> Callable[[Any], Any]:
    def change(plan: Any) -> Any:
        target = plan
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return plan

    return change


PLANS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "nested deeper than the parser follows": (
        lambda plan: "[" * 100_000 + "]" * 100_000,
        "unreadable (nested deeper than a JSON reader follows)",
    ),
    "not an object": (lambda plan: [1, 2], "the plan: expected a JSON object, got list [1, 2]"),
    "model out of the version folder": (
        _set(["model"], "../../.."),
        "'model': expected a plain file name inside the version folder (no '/', '\\' or '..'), "
        "got '../../..'",
    ),
    "model an absolute path": (_set(["model"], "/etc"), "'model': expected a plain file name"),
    "environment a list": (
        _set(["environment"], ["/usr/lib"]),
        "'environment': expected an object, got list ['/usr/lib']",
    ),
    "site dirs not paths": (
        _set(["environment", "site_dirs"], [1, {"a": 2}]),
        "'environment.site_dirs': expected a list of folder paths, got list [1, {'a': 2}]",
    ),
    "input a string": (_set(["inputs", 0], "x"), "'inputs[0]': expected an object, got str 'x'"),
    "output name a number": (
        _set(["outputs", 0, "name"], 7),
        "'outputs[0].name': expected a string, got int 7",
    ),
    "shape a number": (
        _set(["inputs", 0, "shape"], 4),
        "'inputs[0].shape': expected a list of sizes (-1 for any), got int 4",
    ),
    "shape of huge sizes": (
        _set(["inputs", 0, "shape"], [-1, 2**70]),
        "'inputs[0].shape': expected a list of sizes (-1 for any), got list "
        "[-1, 1180591620717411303424]",
    ),
}


@pytest.mark.parametrize("case", sorted(PLANS))
def test_a_hostile_plan_is_reported_with_the_field_not_crashed(
    tmp_path: Path, exported: Path, case: str
) -> None:
    change, message = PLANS[case]
    repo = tmp_path / "repo"
    shutil.copytree(exported, repo)
    path = repo / "iris" / "1" / "flavorkit_backend.json"
    changed = change(json.loads(path.read_text()))
    path.write_text(changed if isinstance(changed, str) else json.dumps(changed))
    problems = validate(repo)
    assert any(p.startswith(f"iris/1/flavorkit_backend.json: {message}") for p in problems), (
        problems
    )


# -- a Python backend flavorkit did not write ------------------------------------------


def test_a_forged_python_backend_runs_nothing_from_the_folder_and_keeps_the_callers_opt_in(
    tmp_path: Path,
    exported: Path,
    custom_model: tuple[Path, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    marker = tmp_path / "ran"
    repo = tmp_path / "repo"
    export(custom_model[0], repo, allow_unsafe=True)
    version = repo / "scorer" / "1"
    # model.py and a site-packages folder with a .pth file both run code when Triton
    # loads them; the in-process load must do neither
    (version / "model.py").write_text(f"open({str(marker)!r}, 'w').write('model.py')\n")
    evil = tmp_path / "site-packages"
    evil.mkdir()
    (evil / "evil.pth").write_text(f"import os; open({str(marker)!r}, 'w').write('pth')\n")
    plan = json.loads((version / "flavorkit_backend.json").read_text())
    plan["allow_unsafe"] = True  # recorded by the "exporter": for Triton only
    plan["environment"]["site_dirs"] = [str(evil)]
    (version / "flavorkit_backend.json").write_text(json.dumps(plan))
    save_model(repo / "scorer", tmp_path / "saved")
    assert validate(repo) == []
    forget_this_module(monkeypatch)
    with pytest.raises(UnsafeFormatError):
        flavorkit.load_model(tmp_path / "saved")
    loaded = flavorkit.load_model(tmp_path / "saved", allow_unsafe=True)
    assert loaded.predict(custom_model[1])["score"].shape == (8,)
    assert not marker.exists()
    assert str(evil) not in sys.path


def test_a_model_folder_linking_back_to_the_saved_folder_is_refused_not_recursed(
    python_copy: Path,
) -> None:
    inner = python_copy / "iris" / "1" / "model"
    shutil.rmtree(inner)
    inner.symlink_to("../..")  # the saved folder itself: each load loaded it again
    with pytest.raises(ManifestError) as err:
        flavorkit.load_model(python_copy)
    assert "key 'flavors.triton.data': 'iris/1/model' leads to " in str(err.value)
    assert "expected the flavorkit model folder inside the version folder" in str(err.value)


def test_triton_folders_nested_in_one_another_load_to_a_bounded_depth(
    tmp_path: Path, saved_python: Path, sklearn_model: tuple[Path, np.ndarray]
) -> None:
    path, X = sklearn_model
    inner = saved_python
    for level in range(1, 6):
        outer = tmp_path / f"level{level}"
        shutil.copytree(saved_python, outer)
        shutil.rmtree(outer / "iris" / "1" / "model")
        shutil.copytree(inner, outer / "iris" / "1" / "model")
        inner = outer
        if level == 1:  # one Triton folder inside another: an export of a saved Triton model
            expected = flavorkit.load_model(path).predict(X)
            np.testing.assert_array_equal(flavorkit.load_model(outer).predict(X), expected)
    manifest = yaml.safe_load((inner / "MLmodel").read_text())
    assert manifest["flavors"]["triton"]["data"] == "iris"
    with pytest.raises(ManifestError, match="nested more than 4 levels deep") as err:
        flavorkit.load_model(inner)
    assert "expected at most 4" in str(err.value)


# -- ONNX files --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "why"),
    [
        ("../../../secret.bin", "expected a relative path inside the ONNX file's folder"),
        ("{secret}", "expected a relative path inside the ONNX file's folder"),
        ("link.bin", "it is a link that leads outside the ONNX file's folder"),
        ("pipe.bin", "it is a FIFO, expected a regular file"),
        ("missing.bin", "no such file beside the ONNX file"),
    ],
)
def test_onnx_external_data_outside_its_folder_is_refused_before_onnxruntime_reads_it(
    tmp_path: Path, saved_onnx: Path, location: str, why: str
) -> None:
    import onnx

    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(4, dtype=np.float32).tobytes())
    location = location.format(secret=secret)
    version = saved_onnx / "add" / "1"
    (version / "link.bin").symlink_to(secret)
    if hasattr(os, "mkfifo"):
        os.mkfifo(version / "pipe.bin")
    onnx.save(_onnx_model(location), version / "model.onnx")
    message = f"tensor 'w' keeps its data in external file {location!r}: {why}"
    with pytest.raises(ManifestError) as err:
        flavorkit.load_model(saved_onnx)
    assert f"add/1/model.onnx, key 'flavors.triton.data': {message}" in str(err.value)
    assert f"add/1/model.onnx: {message}" in validate(saved_onnx / "add")


def test_onnx_external_data_beside_the_model_loads(tmp_path: Path, saved_onnx: Path) -> None:
    import onnx

    version = saved_onnx / "add" / "1"
    (version / "w.bin").write_bytes(np.full(4, 2, dtype=np.float32).tobytes())
    onnx.save(_onnx_model("w.bin"), version / "model.onnx")
    assert validate(saved_onnx / "add") == []
    got = flavorkit.load_model(saved_onnx).predict(np.zeros((2, 4), dtype=np.float32))
    np.testing.assert_array_equal(got, np.full((2, 4), 2, dtype=np.float32))


def test_an_onnx_file_that_is_not_onnx_is_refused_by_name(saved_onnx: Path) -> None:
    onnx_file = saved_onnx / "add" / "1" / "model.onnx"
    onnx_file.write_bytes(b"\x08\x07not a protobuf" * 50)
    with pytest.raises(
        ManifestError, match=r"model\.onnx: not a readable ONNX model \(DecodeError"
    ):
        flavorkit.load_model(saved_onnx)
