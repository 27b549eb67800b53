"""``flavorkit validate REPO``: a zoo of broken Triton repositories, each refused by name.

Every case starts from a repository ``export`` wrote (valid), breaks one
thing, and asserts the problem line ``validate`` reports for it.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from flavorkit_triton import export, validate


@pytest.fixture(scope="module")
def exported(
    tmp_path_factory: pytest.TempPathFactory,
    sklearn_model: tuple[Path, Any],
    torch_model: tuple[Path, Any],
) -> Path:
    repo = tmp_path_factory.mktemp("valid") / "repo"
    export(sklearn_model[0], repo)
    export(torch_model[0], repo, name="mlp-onnx", onnx=True)
    return repo


@pytest.fixture
def repo(exported: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "repo"
    shutil.copytree(exported, copy)
    return copy


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def _config(repo: Path, old: str, new: str, model: str = "iris") -> None:
    _edit(repo / model / "config.pbtxt", old, new)


def _plan(repo: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = repo / "iris" / "1" / "flavorkit_backend.json"
    plan = json.loads(path.read_text())
    change(plan)
    path.write_text(json.dumps(plan))


ZOO: dict[str, tuple[Callable[[Path], None], str]] = {
    "syntax error": (
        lambda r: _config(r, 'name: "iris"', 'name "iris" {'),
        r"iris/config.pbtxt: not a Triton model configuration: 2:6",
    ),
    "unknown field": (
        lambda r: _config(r, "max_batch_size: 8", "max_batch: 8"),
        r'iris/config.pbtxt: not a Triton model configuration: .*has no field named "max_batch"',
    ),
    "name differs from folder": (
        lambda r: _config(r, 'name: "iris"', 'name: "lily"'),
        r"iris/config.pbtxt: name 'lily' differs from its folder 'iris' "
        r"\(Triton requires them equal\)",
    ),
    "no backend": (
        lambda r: _config(r, 'backend: "python"', ""),
        r"iris/config.pbtxt: names neither a backend nor a platform",
    ),
    "backend and platform disagree": (
        lambda r: _config(
            r, 'backend: "python"', 'backend: "python"\nplatform: "onnxruntime_onnx"'
        ),
        r"iris/config.pbtxt: backend 'python' does not run platform 'onnxruntime_onnx' "
        r"\(expected backend 'onnxruntime'\)",
    ),
    "empty dims": (
        lambda r: _config(r, "dims: 4\n", ""),
        r"iris/config.pbtxt: input 'input-0' has empty dims; Triton needs at least one "
        r"dimension \(one value per batch row is dims: \[1\]\)",
    ),
    "zero dim": (
        lambda r: _config(r, "dims: 4\n", "dims: 0\n"),
        r"iris/config.pbtxt: input 'input-0' has dims \[0\]; each dimension is -1 \(any size\) "
        r"or positive",
    ),
    "input twice": (
        lambda r: _config(
            r,
            "input {",
            'input {\n  name: "input-0"\n  data_type: TYPE_FP64\n  dims: 4\n}\ninput {',
        ),
        r"iris/config.pbtxt: input 'input-0' is declared twice",
    ),
    "no data type": (
        lambda r: _config(r, "data_type: TYPE_INT64\n", ""),
        r"iris/config.pbtxt: output 'output-0' has no data_type \(e.g. TYPE_FP32\)",
    ),
    "nameless output": (
        lambda r: _config(r, 'name: "output-0"\n', ""),
        r"iris/config.pbtxt: output 0 has no name",
    ),
    "dynamic batching without batching": (
        lambda r: (
            _config(r, "max_batch_size: 8", "max_batch_size: 0"),
            _config(r, "dims: 4\n", "dims: -1\n  dims: 4\n"),
            _config(r, "dims: 1\n", "dims: -1\n  dims: 1\n"),
        ),
        r"iris/config.pbtxt: dynamic_batching needs max_batch_size > 0",
    ),
    "batch dimension in dims while batching": (
        lambda r: _config(r, "dims: 4\n", "dims: -1\n  dims: 4\n"),
        r"iris/1: input 'input-0' has dims \[-1, 4\] but the model's signature gives \[4\] "
        r"\(with max_batch_size 8 the dims leave out the batch dimension\)",
    ),
    "batch dimension missing without batching": (
        lambda r: (
            _config(r, "max_batch_size: 8", "max_batch_size: 0"),
            _config(r, "dynamic_batching {\n}\n", ""),
        ),
        r"iris/1: input 'input-0' has dims \[4\] but the model's signature gives \[-1, 4\] "
        r"\(with max_batch_size 0 the dims include the batch dimension\)",
    ),
    "type differs from the signature": (
        lambda r: _config(r, "TYPE_FP64", "TYPE_FP32"),
        r"iris/1: input 'input-0' is TYPE_FP32 in config.pbtxt but the model's signature "
        r"gives TYPE_FP64",
    ),
    "input the model does not have": (
        lambda r: _config(r, 'name: "input-0"', 'name: "features"'),
        r"iris/1: the model's input 'input-0' is not in config.pbtxt",
    ),
    "negative max batch size": (
        lambda r: (
            _config(r, "max_batch_size: 8", "max_batch_size: -2"),
            _config(r, "dynamic_batching {\n}\n", ""),
        ),
        r"iris/config.pbtxt: max_batch_size is -2; expected 0 or more",
    ),
    "reshape of another size": (
        lambda r: _config(r, "dims: 4\n", "dims: 4\n  reshape {\n    shape: 5\n  }\n"),
        r"iris/config.pbtxt: input 'input-0' reshape \[5\] holds 5 values but dims \[4\] hold 4",
    ),
    "non-numeric version folder": (
        lambda r: (r / "iris" / "latest").mkdir(),
        r"iris/latest: not a version folder \(Triton loads numeric folders, e.g. 1/\)",
    ),
    "no version folder": (
        lambda r: shutil.rmtree(r / "iris" / "1"),
        r"iris: no version folder \(a numeric folder such as 1/ with the model\)",
    ),
    "backend file missing": (
        lambda r: (r / "iris" / "1" / "model.py").unlink(),
        r"iris/1: no model.py; backend 'python' loads model.py from each version",
    ),
    "default file name missing": (
        lambda r: _config(
            r, 'backend: "python"', 'backend: "python"\ndefault_model_filename: "serve.py"'
        ),
        r"iris/1: no serve.py; backend 'python' loads serve.py \(default_model_filename\)",
    ),
    "version policy names a missing version": (
        lambda r: _config(
            r,
            "max_batch_size: 8",
            "max_batch_size: 8\nversion_policy {\n  specific {\n    versions: 3\n  }\n}",
        ),
        r"iris/config.pbtxt: version_policy names version 3, which has no folder",
    ),
    "plan unreadable": (
        lambda r: (r / "iris" / "1" / "flavorkit_backend.json").write_text("{not json"),
        r"iris/1/flavorkit_backend.json: unreadable \(JSONDecodeError: ",
    ),
    "model folder missing": (
        lambda r: shutil.rmtree(r / "iris" / "1" / "model"),
        r"iris/1/model: no flavorkit model folder \(no MLmodel\)",
    ),
    "environment not on this machine": (
        lambda r: _plan(r, lambda p: p["environment"].update(site_dirs=["/nowhere/site"])),
        r"iris/1/flavorkit_backend.json: the Python environment's site-packages /nowhere/site "
        r"do not exist on this machine \(export with --python-env\)",
    ),
    "model folder without config": (
        lambda r: (r / "stray" / "1").mkdir(parents=True),
        r"stray: no config.pbtxt \(each model folder needs one\)",
    ),
    "onnx rank includes the batch twice": (
        lambda r: _config(r, "dims: 4\n", "dims: -1\n  dims: 4\n", model="mlp-onnx"),
        r"mlp-onnx/1: input 'input-0' has rank 2 in model.onnx but config.pbtxt gives 3 "
        r"\(with max_batch_size > 0 Triton adds the batch dimension to dims\)",
    ),
    "onnx input name not in the graph": (
        lambda r: _config(r, 'name: "input-0"', 'name: "x"', model="mlp-onnx"),
        r"mlp-onnx/1: config.pbtxt input 'x' is not a graph input of model.onnx "
        r"\(it has \['input-0'\]\)",
    ),
    "onnx file damaged": (
        lambda r: (r / "mlp-onnx" / "1" / "model.onnx").write_bytes(b"\x08\x07garbage"),
        r"mlp-onnx/1/model.onnx: not a readable ONNX model",
    ),
}


def test_the_exported_repository_is_valid(repo: Path) -> None:
    assert validate(repo) == []
    assert validate(repo / "iris") == []  # one model folder alone


@pytest.mark.parametrize("case", sorted(ZOO))
def test_broken_repository_is_refused_with_its_message(repo: Path, case: str) -> None:
    breaks, message = ZOO[case]
    breaks(repo)
    problems = validate(repo)
    assert any(re.fullmatch(message, p) or re.match(message, p) for p in problems), problems


def test_cli_validate_lists_the_problems_and_exits_1(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from flavorkit.cli import main

    assert main(["validate", str(repo)]) == 0
    assert capsys.readouterr().out.strip() == f"{repo}: ok"
    _config(repo, 'name: "iris"', 'name: "lily"')
    (repo / "iris" / "1" / "model.py").unlink()
    assert main(["validate", str(repo)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"{repo}: 2 problem(s)"
    assert err[1:] == [
        "  - iris/config.pbtxt: name 'lily' differs from its folder 'iris' "
        "(Triton requires them equal)",
        "  - iris/1: no model.py; backend 'python' loads model.py from each version",
    ]


def test_a_folder_that_is_no_repository_is_left_to_the_core(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from flavorkit.cli import main

    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(ValueError, match="not a Triton model repository"):
        validate(tmp_path / "empty")
    assert main(["validate", str(tmp_path / "empty")]) == 1
    assert "MLmodel" in capsys.readouterr().err
