"""A model folder is hostile input: tampered, damaged and malformed folders end in flavorkit errors.

Every attack here either ran code, read outside the folder, hung, or ended in
a framework's own exception before the loader checked its input.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import random
import sys
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import flavorkit
import numpy as np
import pytest
import torch
import torch_models
import yaml
from conftest import assert_close, copy_folder, reference
from flavorkit import cli
from flavorkit.exceptions import (
    FlavorkitError,
    ManifestError,
    ModelLoadError,
    PluginError,
    UnsafeFormatError,
)

import flavorkit_torch
from flavorkit_torch import _archive, _export, _expressions, hooks

OPTS = {"allow_unsafe": False, "model_config": {}}
PAYLOAD = "__import__('os').system('touch PWNED')"
PROGRAM = "model/models/model.json"


# -- helpers --------------------------------------------------------------------


def _entries(archive: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(archive) as source:
        return {name: source.read(name) for name in source.namelist()}


def _write(
    archive: Path,
    entries: dict[str, bytes] | list[tuple[str, bytes]],
    *,
    compress: dict[str, int] | None = None,
    comment: bytes = b"",
) -> None:
    items = entries.items() if isinstance(entries, dict) else entries
    with warnings.catch_warnings(), zipfile.ZipFile(archive, "w") as target:
        warnings.simplefilter("ignore")  # duplicate names, on purpose
        for name, payload in items:
            target.writestr(name, payload, compress_type=(compress or {}).get(name, 0))
        target.comment = comment


def _edit_program(archive: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    entries = _entries(archive)
    document = json.loads(entries[PROGRAM])
    edit(document)
    entries[PROGRAM] = json.dumps(document).encode()
    _write(archive, entries)


def _items(value: Any) -> Iterator[tuple[dict[str, Any], str, Any]]:
    """Every (mapping, key, value) of a decoded JSON document."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, child in list(item.items()):
                yield item, key, child
                stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)


def _archive_of(folder: Path) -> Path:
    return folder / "data" / "model.pt2"


def _section(folder: Path) -> dict[str, Any]:
    return yaml.safe_load((folder / "MLmodel").read_text())["flavors"]["pytorch"]


def _set_section(folder: Path, **values: Any) -> None:
    manifest = yaml.safe_load((folder / "MLmodel").read_text())
    manifest["flavors"]["pytorch"].update(values)
    (folder / "MLmodel").write_text(yaml.safe_dump(manifest))


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current directory, where a payload's ``touch PWNED`` would land."""
    here = tmp_path / "cwd"
    here.mkdir()
    monkeypatch.chdir(here)
    return here


# -- 1. strings torch evaluates: shape expressions, guards, operators, names -----


def _payload_in_expression(document: dict[str, Any]) -> None:
    for item, key, value in _items(document):
        if key == "expr_str":
            item[key] = value.replace("Symbol(", f"{PAYLOAD} or Symbol(", 1)


def _payload_in_guard(document: dict[str, Any]) -> None:
    document["guards_code"] = [f"{PAYLOAD} or True"]


def _payload_as_operator(document: dict[str, Any]) -> None:
    graph = document["graph_module"]["graph"]
    graph["tensor_values"]["evil"] = graph["tensor_values"]["x"]
    graph["nodes"].insert(
        0,
        {
            "target": "torch.os.system",
            "inputs": [{"name": "command", "arg": {"as_string": "touch PWNED"}, "kind": 1}],
            "outputs": [{"as_tensor": {"name": "evil"}}],
            "metadata": {},
            "name": "evil",
        },
    )


def _file_operator(document: dict[str, Any]) -> None:
    node = document["graph_module"]["graph"]["nodes"][0]
    node["target"] = "torch.ops.aten.from_file.default"


def _payload_in_input_name(document: dict[str, Any]) -> None:
    for item, key, value in _items(document):
        if value == "x":
            item[key] = f"x=1;{PAYLOAD}"


def _payload_in_weight_name(document: dict[str, Any]) -> None:
    for item, key, value in _items(document):
        if value == "net.0.weight":
            item[key] = f'net.0")or {PAYLOAD} or getattr(self,"net'


def _payload_in_forward_args(document: dict[str, Any]) -> None:
    for item, key, _value in _items(document):
        if key == "forward_arg_names":
            item[key] = [f"x={PAYLOAD}"]


def _hint_of_wrong_type(document: dict[str, Any]) -> None:
    for item, key, _value in _items(document):
        if key == "hint":
            item[key] = {"as_int": "7"}


def _endless_symbol_counter(document: dict[str, Any]) -> None:
    # torch loops once per unbacked symbol index it finds in these keys
    document["range_constraints"] = {"u99999999999": {"min_val": 0, "max_val": None}}


def _huge_power(document: dict[str, Any]) -> None:
    for item, key, _value in _items(document):
        if key == "expr_str":
            item[key] = "Pow(Integer(10), Integer(1000000000))"


def _deep_metadata(document: dict[str, Any]) -> None:
    # a string torch decodes as JSON and then walks recursively
    document["graph_module"]["graph"]["nodes"][0]["metadata"]["from_node"] = "[" * 5000 + "]" * 5000


TAMPERED = {
    "expression": (_payload_in_expression, "expr_str", True),
    "guard": (_payload_in_guard, "guards_code[0]", True),
    "operator": (_payload_as_operator, "nodes[0].target", True),
    "file_operator": (_file_operator, "nodes[0].target", True),
    "input_name": (_payload_in_input_name, ".name", False),
    "weight_name": (_payload_in_weight_name, "parameter_name", False),
    "forward_args": (_payload_in_forward_args, "forward_arg_names[0]", False),
    "hint_type": (_hint_of_wrong_type, "hint.as_int", True),
    "symbol_counter": (_endless_symbol_counter, "range_constraints", True),
    "huge_power": (_huge_power, "expr_str", True),
    "deep_metadata": (_deep_metadata, "metadata['from_node']", True),
}


@pytest.mark.parametrize("attack", sorted(TAMPERED))
def test_adversarial_tampered_program_is_refused_naming_entry_and_field(
    saved: Any, tmp_path: Path, cwd: Path, attack: str
) -> None:
    edit, field, hides_value = TAMPERED[attack]
    folder = copy_folder(saved("mlp", "export").path, tmp_path)
    _edit_program(_archive_of(folder), edit)
    with pytest.raises(ManifestError) as info:
        flavorkit.load_model(folder).predict(np.zeros((3, 4), np.float32))
    message = str(info.value)
    assert info.value.key is not None and field in info.value.key, message
    assert PROGRAM in message and str(_archive_of(folder)) in message
    if hides_value:
        assert "touch PWNED" not in message and "1000000000" not in message
    assert len(message) < 1000
    assert _export.check_archive(_archive_of(folder)) != []
    assert not (cwd / "PWNED").exists()


def _refusals(folder: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """How each entry point answered for ``folder``: the error type, 'refused' or 'loaded'."""
    out = {}
    for name, load in (
        ("load_model", flavorkit.load_model),
        ("load_native", flavorkit.load_native),
    ):
        try:
            load(folder)
            out[name] = "loaded"
        except FlavorkitError as exc:
            out[name] = type(exc).__name__
    for name, argv in (
        ("validate", ["validate", str(folder)]),
        ("serve_check", ["serve", "--check", str(folder)]),
    ):
        rc = cli.main(argv)
        err = capsys.readouterr().err
        out[name] = "refused" if rc != 0 and "archive entry" in err else f"{rc}: {err}"
    return out


@pytest.mark.parametrize("attack", ["expression", "guard"])
def test_adversarial_code_in_archive_refused_by_every_entry_point(
    saved: Any, tmp_path: Path, cwd: Path, capsys: pytest.CaptureFixture[str], attack: str
) -> None:
    folder = copy_folder(saved("mlp", "export").path, tmp_path)
    _edit_program(_archive_of(folder), TAMPERED[attack][0])
    assert _refusals(folder, capsys) == {
        "load_model": "ManifestError",
        "load_native": "ManifestError",
        "validate": "refused",
        "serve_check": "refused",
    }
    assert not (cwd / "PWNED").exists()


def test_adversarial_clean_archives_pass_every_check(saved: Any, tmp_path: Path) -> None:
    folders = [saved(name, "export").path for name in ("mlp", "cnn", "two_inputs", "dict_out")]
    derived = torch_models.trained(torch_models.DerivedDims())
    rows = {"x": np.ones((3, 4), np.float32), "y": np.ones((5, 4), np.float32)}
    flavorkit.save_model(derived, tmp_path / "derived", input_example=rows)
    branching = torch_models.trained(torch_models.Branching())
    flavorkit.save_model(branching, tmp_path / "branching", input_example=np.ones((3, 4), "f4"))
    folders += [tmp_path / "derived", tmp_path / "branching"]
    for folder in folders:
        assert _export.check_archive(_archive_of(folder)) == [], folder
    expressions = [
        value
        for folder in folders
        for _item, key, value in _items(json.loads(_entries(_archive_of(folder))[PROGRAM]))
        if key == "expr_str"
    ]
    assert any("FloorDiv" in e for e in expressions) and any("Mod(" in e for e in expressions)
    other = {"x": np.ones((4, 4), np.float32), "y": np.ones((3, 4), np.float32)}
    assert_close(
        flavorkit.load_model(tmp_path / "derived").predict(other), reference(derived, other)
    )
    for sign in (1, -1):
        x = sign * np.ones((5, 4), np.float32)
        loaded = flavorkit.load_model(tmp_path / "branching")
        assert_close(loaded.predict(x), reference(branching, x))


def test_adversarial_clean_archive_loads_with_opt_in(saved: Any) -> None:
    item = saved("mlp", "export")
    module = flavorkit_torch.load_model(item.path, allow_unsafe=True)
    assert_close(reference(module, item.case.batch), reference(item.model, item.case.batch))


ACCEPTED_EXPRESSIONS = [
    "Symbol('s77', positive=True, integer=True)",
    "Add(Mul(Integer(2), Symbol('s17', positive=True, integer=True)), Integer(-1))",
    "FloorDiv(Mul(Integer(4), Symbol('s1', integer=True)), Integer(3))",
    "Mod(Add(Symbol('s1', integer=True), Integer(2)), Integer(5))",
    "Pow(Symbol('s0', integer=True), Integer(2))",
    "Max(Integer(1), Symbol('s0'))",
    "Float('1.5', precision=53)",
    "StrictLessThan(Symbol('s0'), Integer(3))",
    "2*s0 + s1",
    "s0 // 2",
    "-oo",
]
REFUSED_EXPRESSIONS = [
    PAYLOAD,
    f"{PAYLOAD} or Symbol('s0')",
    "Symbol('s0').__class__",
    "Symbol('s0')[0]",
    "(lambda: 1)()",
    "[s0 for s0 in ()]",
    "Symbol('s0', **{'a': 1})",
    "Symbol(*['s0'])",
    "Symbol('os.system')",
    "Symbol('s0', dummy_index=1)",
    "eval('1')",
    "exec",
    "Pow(Integer(10), Integer(1000000000))",
    "Integer(10) ** Integer(100000)",
    "Pow(Pow(Integer(10), Integer(60)), Integer(60))",
    "LShift(Integer(1), Integer(4000000000))",
    "Pow(Integer(2), Symbol('s0'))",
    "Float('1e999999999')",
    "Float('1.5', precision=1000000000)",
    "Integer(" + "9" * 30 + ")",
    "1j",
    "Symbol('s0')\nimport os",
    "s0; s1",
    "Add(s0, " * 100 + "s1" + ")" * 100,
    "Add(" + "s0, " * 30_000 + "s1)",
]


@pytest.mark.parametrize("text", ACCEPTED_EXPRESSIONS)
def test_adversarial_expression_grammar_accepts_torch_expressions(text: str) -> None:
    assert _expressions.check_sympy(text) is None


@pytest.mark.parametrize("text", REFUSED_EXPRESSIONS, ids=lambda t: t[:30])
def test_adversarial_expression_grammar_refuses_the_rest(text: str) -> None:
    reason = _expressions.check_sympy(text)
    assert reason is not None and len(reason) < 200


ACCEPTED_GUARDS = [
    "L['numeric'].size()[0] == L['extra'].size()[0]",
    "((4*L['y'].size()[0] + 8*L['x'].size()[0]) // 3) > L['y'].size()[0] + 2*L['x'].size()[0]",
    "(1 + ((L['y'].size()[0] + 2*L['x'].size()[0]) % 5)) != 1",
    "math.floor(L['x'].size()[0] / 2) >= 1 and L['x'].stride()[0] == 4",
    "max(L['x'].size()[0], 2) <= 2**10",
]
REFUSED_GUARDS = [
    f"{PAYLOAD} or True",
    "L['x'].__class__ == 1",
    "L['x'].size()[0] == 1 # comment",
    'L["x"].size()[0] == 1',
    "L['x\\''].size()[0] == 1",
    "open('x') == 1",
    "(lambda: 1)() == 1",
    "2 ** 10 ** 10 == 1",
    "[x for x in L] == 1",
    "L['x'].size()[0] == 1; import os",
    "math.__dict__ == 1",
    "torch.load == 1",
    "L.x == 1",
    "G['x'] == 1",
]


@pytest.mark.parametrize("text", ACCEPTED_GUARDS)
def test_adversarial_guard_grammar_accepts_torch_guards(text: str) -> None:
    assert _expressions.check_guard(text) is None


@pytest.mark.parametrize("text", REFUSED_GUARDS, ids=lambda t: t[:30])
def test_adversarial_guard_grammar_refuses_the_rest(text: str) -> None:
    assert _expressions.check_guard(text) is not None


# -- 1. (bounded) the archive itself: size limits, zip bombs, zip tricks ---------


def _zip_attack(name: str, archive: Path) -> None:
    entries = _entries(archive)
    if name == "zip_bomb":
        entries["model/extra/notes.txt"] = b"\0" * (32 * 1024 * 1024)
        _write(archive, entries, compress={"model/extra/notes.txt": zipfile.ZIP_DEFLATED})
    elif name == "duplicate_entry":
        evil = json.loads(entries[PROGRAM])
        _payload_in_expression(evil)
        _write(archive, [*entries.items(), (PROGRAM, json.dumps(evil).encode())])
    elif name == "comment":
        _write(archive, entries, comment=b"written by hand")
    elif name == "prefix":
        _write(archive, entries)
        archive.write_bytes(b"#!/bin/sh\n" + archive.read_bytes())
    elif name == "stray_model":
        entries["model/models/notes.txt"] = b"hello"
        _write(archive, entries)
    elif name == "non_utf8_program":
        entries[PROGRAM] = entries[PROGRAM].replace(b'"x"', b'"\xff\xfe"', 1)
        _write(archive, entries)
    elif name == "non_utf8_extra":
        entries["model/extra/notes.txt"] = b"\x80\xff\xfe"
        _write(archive, entries)
    elif name == "deep_json":
        entries[PROGRAM] = entries[PROGRAM][:-1] + b', "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"
        _write(archive, entries)
    elif name == "empty_weight_of_huge_size":
        config_name = "model/data/weights/model_weights_config.json"
        config = json.loads(entries[config_name])
        meta = next(iter(config["config"].values()))
        meta["tensor_meta"]["sizes"] = [{"as_int": 2**40}]
        entries[f"model/data/weights/{meta['path_name']}"] = b""
        entries[config_name] = json.dumps(config).encode()
        _write(archive, entries)
    else:  # pragma: no cover
        raise AssertionError(name)


ZIP_ATTACKS = {
    "zip_bomb": "zip bomb",
    "duplicate_entry": "twice",
    "comment": "zip comment",
    "prefix": "does not start as a zip",
    "stray_model": "models/ holds",
    "non_utf8_program": "not UTF-8",
    "non_utf8_extra": "not UTF-8",
    "deep_json": "nests deeper",
    "empty_weight_of_huge_size": "claims",
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("attack", sorted(ZIP_ATTACKS))
def test_adversarial_malformed_archive_is_refused(
    saved: Any, tmp_path: Path, cwd: Path, attack: str
) -> None:
    folder = copy_folder(saved("mlp", "export").path, tmp_path)
    _zip_attack(attack, _archive_of(folder))
    with pytest.raises(ManifestError, match=ZIP_ATTACKS[attack]) as info:
        flavorkit.load_model(folder)
    assert str(_archive_of(folder)) in str(info.value)
    assert not (cwd / "PWNED").exists()


def _legacy_archive(program: torch.export.ExportedProgram) -> dict[str, bytes]:
    """The entries of the layout older torch releases wrote (top-level, no archive_format)."""
    from torch._export.serde.schema import SCHEMA_VERSION
    from torch._export.serde.serialize import serialize

    artifact = serialize(program)
    return {
        "version": ".".join(map(str, SCHEMA_VERSION)).encode(),
        "serialized_exported_program.json": artifact.exported_program,
        "serialized_state_dict.pt": artifact.state_dict,
        "serialized_constants.pt": artifact.constants,
        "serialized_example_inputs.pt": artifact.example_inputs,
    }


def test_adversarial_legacy_layout_is_checked_like_the_current_one(
    saved: Any, tmp_path: Path, cwd: Path
) -> None:
    item = saved("mlp", "export")
    folder = copy_folder(item.path, tmp_path)
    legacy = _legacy_archive(torch.export.load(_archive_of(folder)))
    _write(_archive_of(folder), legacy)
    assert _export.check_archive(_archive_of(folder)) == []
    loaded = flavorkit.load_model(folder)
    assert_close(loaded.predict(item.case.batch), reference(item.model, item.case.batch))

    program = json.loads(legacy["serialized_exported_program.json"])
    _payload_in_expression(program)
    tampered = {**legacy, "serialized_exported_program.json": json.dumps(program).encode()}
    _write(_archive_of(folder), tampered)
    with pytest.raises(ManifestError, match=r"serialized_exported_program\.json") as info:
        flavorkit.load_model(folder)
    assert info.value.key is not None and info.value.key.endswith("expr_str")

    code = {**legacy, "serialized_state_dict.json": pickle.dumps(os.getcwd)}
    del code["serialized_state_dict.pt"]
    _write(_archive_of(folder), code)
    with pytest.raises(UnsafeFormatError, match=r"serialized_state_dict\.json"):
        flavorkit.load_model(folder)

    _write(_archive_of(folder), [("extra_files/archive_format", b"pt2"), *legacy.items()])
    with pytest.raises(ManifestError, match="never writes first"):
        flavorkit.load_model(folder)
    assert not (cwd / "PWNED").exists()


def test_adversarial_oversized_program_is_refused(
    saved: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = copy_folder(saved("mlp", "export").path, tmp_path)
    monkeypatch.setattr(_archive, "MAX_GRAPH_BYTES", 1000)
    with pytest.raises(ManifestError, match=r"model\.json' is [\d,]+ bytes; the limit is 1,000"):
        flavorkit.load_model(folder)


def test_adversarial_aoti_library_needs_opt_in(saved: Any, tmp_path: Path) -> None:
    folder = copy_folder(saved("mlp", "export").path, tmp_path)
    entries = _entries(_archive_of(folder))
    entries["model/data/aotinductor/model/model.so"] = b"\x7fELF not really"
    _write(_archive_of(folder), entries)
    with pytest.raises(UnsafeFormatError, match="AOTInductor compiled code"):
        flavorkit.load_model(folder)


def _laughs() -> bytes:
    """A few hundred bytes that unpickle into a structure of 2**64 shared parts."""
    value: list[Any] = []
    for _ in range(64):
        value = [value, value]
    buffer = io.BytesIO()
    torch.save(((value,), {}), buffer)
    return buffer.getvalue()


@pytest.mark.timeout(60)
def test_adversarial_exponential_sample_inputs_need_opt_in(saved: Any, tmp_path: Path) -> None:
    folder = copy_folder(saved("mlp", "export").path, tmp_path)
    entries = _entries(_archive_of(folder))
    entries["model/data/sample_inputs/model.pt"] = _laughs()
    _write(_archive_of(folder), entries)
    with pytest.raises(UnsafeFormatError, match="sample_inputs"):
        flavorkit.load_model(folder)


# -- 2. state_dict factories --------------------------------------------------------


def _weights_folder(tmp_path: Path, factory: str, code: dict[str, str] | None = None) -> Path:
    folder = tmp_path / "m"
    flavorkit_torch.save_model(torch_models.MLP(), folder)
    _set_section(folder, factory=factory)
    for name, text in (code or {}).items():
        (folder / name).write_text(text)
    return folder


CONFTEST = "import pathlib\npathlib.Path('PWNED').touch()\n"


@pytest.mark.timeout(60)
def test_adversarial_factory_pytest_main_is_not_called(tmp_path: Path, cwd: Path) -> None:
    folder = _weights_folder(tmp_path, "pytest:main")
    (cwd / "conftest.py").write_text(CONFTEST)  # what pytest.main() in this folder would import
    (folder / "conftest.py").write_text(CONFTEST)
    os.chdir(folder)
    with pytest.raises(ManifestError, match=r"not marked with @flavorkit_torch\.factory") as info:
        flavorkit.load_model(folder)
    assert info.value.key == "flavors.pytorch.factory"
    assert not (folder / "PWNED").exists() and not (cwd / "PWNED").exists()


def test_adversarial_unmarked_function_is_refused_before_it_is_called(tmp_path: Path) -> None:
    folder = _weights_folder(tmp_path, "torch_models:unmarked_build")
    torch_models.CALLS.clear()
    with pytest.raises(ManifestError, match="not marked"):
        flavorkit.load_model(folder)
    assert torch_models.CALLS == []


@pytest.mark.parametrize(
    "factory", ["flavorkit:PythonModel", "numpy:ndarray", "flavorkit_torch:__version__"]
)
def test_adversarial_factory_that_is_not_a_module_class_is_refused(
    tmp_path: Path, factory: str
) -> None:
    folder = _weights_folder(tmp_path, factory)
    with pytest.raises(ManifestError, match=r"a factory must be a torch\.nn\.Module subclass"):
        flavorkit.load_model(folder)


def test_adversarial_factory_from_current_directory_needs_opt_in(
    tmp_path: Path, cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _weights_folder(tmp_path, "planted_net:Net")
    (cwd / "planted_net.py").write_text(CONFTEST + "import torch\nNet = torch.nn.Linear\n")
    monkeypatch.syspath_prepend(str(cwd))
    with pytest.raises(UnsafeFormatError, match="state_dict factory code"):
        flavorkit.load_model(folder)
    assert "planted_net" not in sys.modules
    assert not (cwd / "PWNED").exists()


def test_adversarial_factory_object_and_marked_function_round_trip(
    tmp_path: Path, x4: np.ndarray
) -> None:
    model = torch_models.trained(torch_models.build_needs_args())
    flavorkit_torch.save_model(model, tmp_path / "f", factory=torch_models.build_needs_args)
    assert _section(tmp_path / "f")["factory"] == "torch_models:build_needs_args"
    assert_close(flavorkit.load_model(tmp_path / "f").predict(x4), reference(model, x4))
    mlp = torch_models.trained(torch_models.MLP())
    flavorkit_torch.save_model(mlp, tmp_path / "c", factory=torch_models.MLP)
    assert _section(tmp_path / "c")["factory"] == "torch_models:MLP"
    assert_close(flavorkit.load_model(tmp_path / "c").predict(x4), reference(mlp, x4))


def test_adversarial_unmarked_factory_is_refused_at_save(tmp_path: Path) -> None:
    torch_models.CALLS.clear()
    with pytest.raises(ValueError, match=r"marked with @flavorkit_torch\.factory"):
        flavorkit_torch.save_model(
            torch_models.MLP(), tmp_path / "m", factory="torch_models:unmarked_build"
        )
    assert torch_models.CALLS == [] and not (tmp_path / "m").exists()


def test_adversarial_factory_mark_takes_functions_only() -> None:
    with pytest.raises(TypeError, match="marks plain functions"):
        flavorkit_torch.factory(torch_models.MLP)  # type: ignore[type-var]

    def build() -> torch.nn.Module:
        return torch_models.MLP()

    assert flavorkit_torch.factory(build) is build
    assert flavorkit_torch._factory.is_factory(build)
    assert not flavorkit_torch._factory.is_factory(torch_models.unmarked_build)


# -- 3. damaged archives ------------------------------------------------------------


def _damages(size: int, seed: int) -> list[tuple[str, int, int]]:
    """Truncations and single-bit flips at spread and seeded offsets of a file of ``size``."""
    rng = random.Random(seed)
    cuts = {0, 1, 4, 8, 30, size // 2, size - 22, size - 1}
    cuts |= {rng.randrange(size) for _ in range(40)}
    damages = [("truncate", cut, 0) for cut in sorted(c for c in cuts if 0 <= c < size)]
    offsets = {rng.randrange(size) for _ in range(160)} | set(range(0, min(size, 64), 7))
    damages += [("flip", offset, 1 << rng.randrange(8)) for offset in sorted(offsets)]
    return damages


def _damage(file: Path, original: bytes, kind: str, offset: int, bit: int) -> None:
    if kind == "truncate":
        file.write_bytes(original[:offset])
    else:
        data = bytearray(original)
        data[offset] ^= bit
        file.write_bytes(bytes(data))


@pytest.mark.timeout(240)
@pytest.mark.parametrize(
    ("fmt", "file_name"), [("export", "model.pt2"), ("state_dict", "model.safetensors")]
)
def test_adversarial_damaged_file_loads_or_fails_with_flavorkit_error(
    saved: Any, tmp_path: Path, cwd: Path, fmt: str, file_name: str
) -> None:
    folder = copy_folder(saved("mlp", fmt).path, tmp_path)
    file = folder / "data" / file_name
    original = file.read_bytes()
    outcomes: dict[str, int] = {}
    for kind, offset, bit in _damages(len(original), seed=len(original)):
        _damage(file, original, kind, offset, bit)
        try:
            flavorkit.load_native(folder, suppress_warnings=True)
            outcome = "loaded"
        except ModelLoadError as exc:  # the core's catch-all: the plugin let something through
            raise AssertionError(f"{kind} at {offset}: {exc}") from exc
        except FlavorkitError as exc:
            outcome = type(exc).__name__
            assert str(file) in str(exc), f"{kind} at {offset}: {exc}"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert outcomes.get("ManifestError", 0) > 0, outcomes
    assert not (cwd / "PWNED").exists()


# -- 4. paths the section names ---------------------------------------------------


@pytest.mark.timeout(20)
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("with_format_key", [True, False])
def test_adversarial_fifo_in_place_of_archive_is_refused(
    saved: Any, tmp_path: Path, with_format_key: bool
) -> None:
    folder = copy_folder(saved("mlp", "export").path, tmp_path)
    _archive_of(folder).unlink()
    os.mkfifo(_archive_of(folder))
    conf = _section(folder)
    if not with_format_key:
        del conf["serialization_format"]
    with pytest.raises(ManifestError, match="is a FIFO, expected a regular file"):
        hooks.flavorkit_load(path=folder, conf=conf, options=OPTS)
    assert cli.main(["validate", str(folder)]) == 1


def test_adversarial_symlink_to_archive_outside_is_refused(saved: Any, tmp_path: Path) -> None:
    folder = copy_folder(saved("mlp", "export").path, tmp_path)
    outside = tmp_path / "outside.pt2"
    _archive_of(folder).rename(outside)
    _archive_of(folder).symlink_to(outside)
    with pytest.raises(ManifestError, match="leads outside the model folder") as info:
        flavorkit.load_model(folder)
    assert info.value.key == "flavors.pytorch.model_data"


def test_adversarial_symlink_loop_is_refused(saved: Any, tmp_path: Path) -> None:
    folder = copy_folder(saved("mlp", "export").path, tmp_path)
    _archive_of(folder).unlink()
    _archive_of(folder).symlink_to("model.pt2")
    with pytest.raises(ManifestError, match="cannot be resolved"):
        flavorkit.load_model(folder)


def test_adversarial_symlinked_data_folder_outside_is_refused(saved: Any, tmp_path: Path) -> None:
    folder = copy_folder(saved("mlp", "export").path, tmp_path)
    (folder / "data").rename(tmp_path / "elsewhere")
    (folder / "data").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ManifestError, match="outside the model folder"):
        flavorkit.load_model(folder)


def test_adversarial_symlinked_code_folder_outside_is_refused(tmp_path: Path) -> None:
    folder = _weights_folder(tmp_path, "torch_models:MLP")
    (tmp_path / "elsewhere").mkdir()
    (folder / "code").symlink_to(tmp_path / "elsewhere")
    _set_section(folder, code="code")
    with pytest.raises(ManifestError, match="outside the model folder") as info:
        flavorkit.load_model(folder)
    assert info.value.key == "flavors.pytorch.code"


def test_adversarial_pickle_info_outside_or_not_utf8_is_refused(tmp_path: Path, mlp: Any) -> None:
    flavorkit_torch.save_model(mlp, tmp_path / "m", serialization_format="pickle")
    info = tmp_path / "m" / "data" / "pickle_module_info.txt"
    info.write_bytes(b"pick\xffle")
    with pytest.raises(ManifestError, match="not UTF-8"):
        flavorkit.load_model(tmp_path / "m", allow_unsafe=True)
    (tmp_path / "secret.txt").write_text("pickle")
    info.unlink()
    info.symlink_to(tmp_path / "secret.txt")
    with pytest.raises(ManifestError, match="leads outside the model folder"):
        flavorkit.load_model(tmp_path / "m", allow_unsafe=True)


# -- 5. MLmodel values of the wrong type or size ------------------------------------

BAD_VALUES = [
    ("batch_size", "big"),
    ("batch_size", 0),
    ("batch_size", 2**64),
    ("batch_size", True),
    ("batch_size", 1.5),
    ("serialization_format", 5),
    ("serialization_format", "x" * 5000),
    ("model_data", 5),
    ("model_data", ["data"]),
    ("model_data", "/etc"),
    ("model_data", "../elsewhere"),
    ("model_data", "d" * 5000),
    ("code", 7),
    ("factory", {"module": "torch_models"}),
    ("pytorch_version", ["2"]),
    ("extra_files", "notes.txt"),
    ("extra_files", [{"path": "/etc/passwd"}]),
    ("extra_files", [{"path": 5}]),
]


@pytest.mark.parametrize(("key", "value"), BAD_VALUES, ids=lambda v: repr(v)[:20])
def test_adversarial_wrong_section_value_names_the_key(
    saved: Any, tmp_path: Path, key: str, value: Any
) -> None:
    folder = copy_folder(saved("mlp", "export").path, tmp_path)
    _set_section(folder, **{key: value})
    with pytest.raises(ManifestError) as info:
        flavorkit.load_model(folder)
    assert info.value.key is not None and info.value.key.startswith(f"flavors.pytorch.{key}")
    assert len(str(info.value)) < 1000


def test_adversarial_missing_factory_module_is_a_plugin_error(tmp_path: Path) -> None:
    folder = _weights_folder(tmp_path, "surely_not_installed_pkg:Net")
    with pytest.raises(PluginError, match="code_paths"):
        flavorkit.load_model(folder)


def test_adversarial_damaged_safetensors_header_names_file(tmp_path: Path, mlp: Any) -> None:
    flavorkit_torch.save_model(mlp, tmp_path / "m")
    file = tmp_path / "m" / "data" / "model.safetensors"
    data = file.read_bytes()
    file.write_bytes(data[:8] + b"\xff" * 16 + data[24:])
    with pytest.raises(ManifestError, match="is damaged") as info:
        flavorkit.load_model(tmp_path / "m")
    assert str(file) in str(info.value)


def test_adversarial_pickled_payload_is_still_reported(saved: Any, tmp_path: Path) -> None:
    # the checks above run before the existing pickle checks, which still apply
    folder = copy_folder(saved("mlp", "export").path, tmp_path)
    entries = _entries(_archive_of(folder))
    entries["model/data/sample_inputs/model.pt"] = pickle.dumps(os.getcwd)
    _write(_archive_of(folder), entries)
    assert any("sample_inputs" in p for p in _export.check_archive(_archive_of(folder)))
