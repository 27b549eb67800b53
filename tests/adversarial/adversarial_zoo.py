"""The zoo: one hostile model folder per attack class, built from a folder a flavor really saved.

Each :class:`Attack` edits a fresh copy of a pristine folder (see
``adversarial_folders``) inside a :class:`Sandbox`: a temporary root
holding the model folder, an ``outside`` folder with a secret file and
victims a gadget would delete, and a ``scratch`` folder for the temporary
files libraries write. Every folder is probed in a worker process;
``blocking`` says whether its access watch blocks what it reports (content
attacks) or only records it, so that a hang, an endless read or a gadget's
side effect really happens and is seen (code execution, FIFOs, devices).
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from adversarial_folders import ARTIFACT, KINDS, PATH_KEYS, SECTION

SECRET = "FLAVORKIT-ADVERSARIAL-SECRET-7c1e"
PWNED = "PWNED"
# the first line of /etc/passwd on every Linux system; info must never print it
PASSWD_MARK = "root:x:0:0"


@dataclass
class Sandbox:
    """The folders of one attack: ``root/model`` (or ``root/m``), ``outside`` and ``scratch``."""

    root: Path
    folder: Path
    outside: Path
    scratch: Path

    @property
    def secret(self) -> Path:
        """A regular file outside the model folder, holding :data:`SECRET`."""
        return self.outside / "secret.txt"

    @property
    def victim_dir(self) -> Path:
        """A folder (with a file) that a gadget would remove."""
        return self.outside / "victim_dir"

    @property
    def victim_file(self) -> Path:
        """A file that a gadget would unlink."""
        return self.outside / "victim.txt"

    @classmethod
    def create(cls, root: Path, pristine: Path, folder_name: str = "model") -> Sandbox:
        box = cls(root, root / folder_name, root / "outside", root / "scratch")
        box.outside.mkdir(parents=True)
        box.scratch.mkdir()
        box.secret.write_text(SECRET + "\n", encoding="utf-8")
        box.victim_dir.mkdir()
        (box.victim_dir / "keep.txt").write_text("keep me\n", encoding="utf-8")
        box.victim_file.write_text("keep me\n", encoding="utf-8")
        shutil.copytree(pristine, box.folder, symlinks=True)
        return box


Build = Callable[[Sandbox, str], None]


@dataclass(frozen=True)
class Attack:
    """One attack class: ``build(sandbox, kind)`` spoils ``sandbox.folder`` of flavor ``kind``."""

    name: str
    doc: str
    build: Build
    kinds: tuple[str, ...] = KINDS
    blocking: bool = True
    folder_name: str = "model"
    bound_s: float = 10.0


# -- editing helpers ---------------------------------------------------------------------


def read_manifest(folder: Path) -> Any:
    return yaml.safe_load((folder / "MLmodel").read_text(encoding="utf-8"))


def write_manifest(folder: Path, data: Any) -> None:
    text = yaml.safe_dump(data, default_flow_style=False, sort_keys=False, width=1 << 30)
    (folder / "MLmodel").write_text(text, encoding="utf-8")


def set_keys(folder: Path, *pairs: tuple[tuple[str, ...], Any]) -> None:
    data = read_manifest(folder)
    for keys, value in pairs:
        node = data
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
    write_manifest(folder, data)


def append_raw(folder: Path, text: str) -> None:
    """Append raw YAML text (a top-level key) to MLmodel."""
    with open(folder / "MLmodel", "a", encoding="utf-8") as fh:
        fh.write(text)


def replace(path: Path, how: str, target: Path | str | None = None) -> None:
    """Replace ``path`` by a symlink (to ``target``), a FIFO, a self-loop or a folder."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()
    if how == "symlink":
        os.symlink(os.fspath(target), path)
    elif how == "loop":
        os.symlink(path.name, path)
    elif how == "fifo":
        os.mkfifo(path)
    elif how == "dir":
        path.mkdir()


def insert_bytes(path: Path, data: bytes, at: int = 0) -> None:
    content = path.read_bytes()
    path.write_bytes(content[:at] + data + content[at:])


def flip(path: Path, offset: int, bit: int = 0) -> None:
    content = bytearray(path.read_bytes())
    content[offset % len(content)] ^= 1 << bit
    path.write_bytes(bytes(content))


def rewrite_zip(path: Path, edit: Callable[[str, bytes], bytes]) -> None:
    with zipfile.ZipFile(path) as archive:
        entries = [(info, archive.read(info.filename)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w") as archive:
        for info, payload in entries:
            archive.writestr(info, edit(info.filename, payload))


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def artifact(box: Sandbox, kind: str) -> Path:
    return box.folder / ARTIFACT[kind]


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data), encoding="utf-8")


# -- code execution (probed in a worker; side effects are looked for) ------------------------


def _pt2_expr_str(box: Sandbox, kind: str) -> None:
    payload = "__import__('os').system('touch PWNED') or Symbol("

    def edit(name: str, data: bytes) -> bytes:
        if name.endswith("models/model.json"):
            text = data.decode("utf-8")
            assert '"expr_str": "Symbol(' in text, "the export has no symbolic size to poison"
            return text.replace('"expr_str": "Symbol(', f'"expr_str": "{payload}').encode()
        return data

    rewrite_zip(artifact(box, kind), edit)


def _custom_gadget(record: Callable[[Sandbox], Any]) -> Build:
    def build(box: Sandbox, kind: str) -> None:
        write_json(box.folder / "python_model.json", record(box))

    return build


def _cwd_package(box: Sandbox) -> None:
    """The model folder is ``m/`` in the current directory and ships ``m/helper.py``."""
    (box.folder / "helper.py").write_text(
        "import pathlib\npathlib.Path('PWNED').write_text('helper.py ran')\nclass M:\n    pass\n",
        encoding="utf-8",
    )


def _custom_cwd_module(box: Sandbox, kind: str) -> None:
    _cwd_package(box)
    write_json(box.folder / "python_model.json", {"class": "m.helper:M", "state": {}})


def _xgboost_cwd_module(box: Sandbox, kind: str) -> None:
    _cwd_package(box)
    set_keys(box.folder, (("flavors", "xgboost", "model_class"), "m.helper.M"))


def _torch_factory_pytest(box: Sandbox, kind: str) -> None:
    (box.folder / "conftest.py").write_text(
        "import pathlib\npathlib.Path('PWNED').write_text('conftest.py ran')\n", encoding="utf-8"
    )
    set_keys(box.folder, (("flavors", "pytorch", "factory"), "pytest:main"))


EXEC_ATTACKS = [
    Attack(
        "pt2_expr_str_payload",
        "a torch.export archive whose symbolic size expression calls os.system",
        _pt2_expr_str,
        kinds=("pytorch_export",),
        blocking=False,
    ),
    Attack(
        "custom_datasource_gadget",
        "python_model.json names numpy's DataSource, whose __del__ removes _destpath",
        _custom_gadget(
            lambda box: {
                "class": "numpy.lib._datasource:DataSource",
                "state": {"_istmpdest": True, "_destpath": str(box.victim_dir)},
            }
        ),
        kinds=("custom",),
        blocking=False,
    ),
    Attack(
        "custom_tempfile_gadget",
        "python_model.json names tempfile's _TemporaryFileCloser, whose __del__ unlinks name",
        _custom_gadget(
            lambda box: {
                "class": "tempfile:_TemporaryFileCloser",
                "state": {"file": "not a file", "name": str(box.victim_file), "delete": True},
            }
        ),
        kinds=("custom",),
        blocking=False,
    ),
    Attack(
        "custom_booster_handle_gadget",
        "python_model.json names xgboost's Booster with a forged handle its __del__ frees",
        _custom_gadget(lambda box: {"class": "xgboost.core:Booster", "state": {"handle": 4096}}),
        kinds=("custom",),
        blocking=False,
    ),
    Attack(
        "custom_class_from_cwd_folder",
        "the folder is m/ in the current directory, ships m/helper.py and names m.helper:M",
        _custom_cwd_module,
        kinds=("custom",),
        blocking=False,
        folder_name="m",
    ),
    Attack(
        "xgboost_class_from_cwd_folder",
        "the folder is m/ in the current directory, ships m/helper.py; model_class m.helper.M",
        _xgboost_cwd_module,
        kinds=("xgboost",),
        blocking=False,
        folder_name="m",
    ),
    Attack(
        "torch_factory_pytest_main",
        "a state_dict factory naming pytest:main, with a conftest.py in the folder",
        _torch_factory_pytest,
        kinds=("pytorch_state_dict",),
        blocking=False,
    ),
]


# -- files that block or never end (probed in a worker) ---------------------------------------


def _special(relative: str | None, how: str, target: str | None = None) -> Build:
    """Replace a file (the model file for ``None``) by ``how``; a symlink without ``target``
    points at the sandbox's secret file."""

    def build(box: Sandbox, kind: str) -> None:
        path = box.folder / (relative or ARTIFACT[kind])
        replace(path, how, target or box.secret)

    return build


DEVICE_ATTACKS = [
    Attack(
        "fifo_mlmodel",
        "MLmodel is a FIFO",
        _special("MLmodel", "fifo"),
        kinds=("custom",),
        blocking=False,
    ),
    Attack("fifo_artifact", "the model file is a FIFO", _special(None, "fifo"), blocking=False),
    Attack(
        "fifo_requirements",
        "requirements.txt is a FIFO",
        _special("requirements.txt", "fifo"),
        kinds=("custom", "sklearn"),
        blocking=False,
    ),
    Attack(
        "fifo_input_example",
        "input_example.json and serving_input_example.json are FIFOs",
        lambda box, kind: (
            [
                replace(box.folder / name, "fifo")
                for name in ("input_example.json", "serving_input_example.json")
            ]
            and None
        ),
        kinds=("custom",),
        blocking=False,
    ),
    Attack(
        "fifo_python_env",
        "python_env.yaml is a FIFO",
        _special("python_env.yaml", "fifo"),
        kinds=("custom",),
        blocking=False,
    ),
    Attack(
        "dev_zero_mlmodel",
        "MLmodel is a symlink to /dev/zero",
        _special("MLmodel", "symlink", "/dev/zero"),
        kinds=("custom",),
        blocking=False,
    ),
    Attack(
        "dev_zero_artifact",
        "the model file is a symlink to /dev/zero",
        _special(None, "symlink", "/dev/zero"),
        blocking=False,
    ),
    Attack(
        "dev_zero_requirements",
        "requirements.txt is a symlink to /dev/zero",
        _special("requirements.txt", "symlink", "/dev/zero"),
        kinds=("custom",),
        blocking=False,
    ),
    Attack(
        "dev_zero_input_example",
        "input_example.json is a symlink to /dev/zero",
        _special("input_example.json", "symlink", "/dev/zero"),
        kinds=("custom",),
        blocking=False,
    ),
]


# -- malformed content (probed in this process, under a blocking watch) -------------------------


def _non_utf8(relative: str) -> Build:
    def build(box: Sandbox, kind: str) -> None:
        insert_bytes(box.folder / relative, b"# \xff\xfe\x80 latin-1: caf\xe9\n")

    return build


def _nested_metadata(box: Sandbox, kind: str) -> None:
    append_raw(box.folder, f"metadata: {nested(10_000)}\n")


def _yaml_bomb(box: Sandbox, kind: str) -> None:
    # nine levels of ten aliases: a billion leaves to anything that walks it as a tree
    lines = ["bomb:", "  l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 10):
        refs = ", ".join([f"*l{level - 1}"] * 10)
        lines.append(f"  l{level}: &l{level} [{refs}]")
    append_raw(box.folder, "\n".join(lines) + "\n")


def _signature_part(part: str, value: str) -> Build:
    def build(box: Sandbox, kind: str) -> None:
        set_keys(box.folder, (("signature", part), value))

    return build


def _many_columns(box: Sandbox, kind: str) -> None:
    columns = [{"type": "double", "name": f"c{i}", "required": True} for i in range(50_000)]
    set_keys(box.folder, (("signature", "inputs"), json.dumps(columns)))


def _config(value: Any) -> Build:
    def build(box: Sandbox, kind: str) -> None:
        set_keys(box.folder, (("flavors", "python_function", "config"), value))

    return build


def _python_model_json(record: Any) -> Build:
    def build(box: Sandbox, kind: str) -> None:
        (box.folder / "python_model.json").write_text(
            record if isinstance(record, str) else json.dumps(record), encoding="utf-8"
        )

    return build


def _truncate(fraction: float) -> Build:
    def build(box: Sandbox, kind: str) -> None:
        path = artifact(box, kind)
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * fraction)])

    return build


def _truncate_file(relative: str) -> Build:
    def build(box: Sandbox, kind: str) -> None:
        path = box.folder / relative
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])

    return build


def _string_in_unsigned_example(box: Sandbox, kind: str) -> None:
    data = read_manifest(box.folder)
    del data["signature"]["inputs"]
    write_manifest(box.folder, data)
    path = box.folder / "serving_input_example.json"
    body = json.loads(path.read_text(encoding="utf-8"))
    body["inputs"][0][2] = "MLmodel"
    write_json(path, body)


def _bit_flips(where: str) -> Build:
    def build(box: Sandbox, kind: str) -> None:
        path = artifact(box, kind)
        size = path.stat().st_size
        offsets = (
            [size // 3, size // 2, 2 * size // 3] if where == "middle" else [size - 10, size - 30]
        )
        for offset in offsets:
            flip(path, offset, 2)

    return build


def _long_path(box: Sandbox, kind: str) -> None:
    set_keys(box.folder, *((keys, "a" * 5_000) for keys in PATH_KEYS[kind]))


def _symlink_artifact_out(box: Sandbox, kind: str) -> None:
    replace(artifact(box, kind), "symlink", box.secret)


def _symlink_mlmodel_out(box: Sandbox, kind: str) -> None:
    outside_copy = box.outside / "MLmodel"
    shutil.copy(box.folder / "MLmodel", outside_copy)
    replace(box.folder / "MLmodel", "symlink", outside_copy)


def _symlink_data_dir_out(box: Sandbox, kind: str) -> None:
    """For torch: the data/ folder is a link to a copy outside the model folder."""
    data = box.folder / "data"
    shutil.copytree(data, box.outside / "data")
    replace(data, "symlink", box.outside / "data")


def _requirements_lines(box: Sandbox, kind: str) -> None:
    lines = [f"package-{i}==1.{i}" for i in range(100_000)]
    (box.folder / "requirements.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _huge_manifest(box: Sandbox, kind: str) -> None:
    # 20 MB of small list items: the slowest shape for a YAML parser
    with open(box.folder / "MLmodel", "a", encoding="utf-8") as fh:
        fh.write("padding:\n")
        fh.write("- 12345678\n" * (20 * 1024 * 1024 // 11))


def _section_lists(box: Sandbox, kind: str) -> None:
    data = read_manifest(box.folder)
    section = data["flavors"][SECTION[kind]]
    for key, value in list(section.items()):
        if key not in ("loader_module", "env"):
            section[key] = [value]
    write_manifest(box.folder, data)


def _nested_example(box: Sandbox, kind: str) -> None:
    for name in ("input_example.json", "serving_input_example.json"):
        (box.folder / name).write_text(nested(100_000), encoding="utf-8")


def _manifest_text(text: str) -> Build:
    def build(box: Sandbox, kind: str) -> None:
        (box.folder / "MLmodel").write_text(text, encoding="utf-8")

    return build


CONTENT_ATTACKS = [
    Attack("mlmodel_non_utf8", "MLmodel holds bytes that are not UTF-8", _non_utf8("MLmodel")),
    Attack(
        "requirements_non_utf8",
        "requirements.txt holds bytes that are not UTF-8",
        _non_utf8("requirements.txt"),
    ),
    Attack(
        "python_env_non_utf8",
        "python_env.yaml holds bytes that are not UTF-8",
        _non_utf8("python_env.yaml"),
    ),
    Attack("conda_non_utf8", "conda.yaml holds bytes that are not UTF-8", _non_utf8("conda.yaml")),
    Attack(
        "input_example_non_utf8",
        "input_example.json holds bytes that are not UTF-8",
        _non_utf8("input_example.json"),
        kinds=("custom", "sklearn"),
    ),
    Attack(
        "mlmodel_not_a_mapping",
        "MLmodel is a YAML list",
        _manifest_text("- a\n- b\n"),
        kinds=("custom",),
    ),
    Attack(
        "mlmodel_flavors_wrong_type",
        "flavors is a list of strings",
        _manifest_text("flavors: [python_function]\n"),
        kinds=("custom",),
    ),
    Attack(
        "mlmodel_nested_yaml",
        "MLmodel nests a value 10,000 levels deep",
        _nested_metadata,
        kinds=("custom", "sklearn"),
    ),
    Attack(
        "mlmodel_yaml_bomb",
        "MLmodel holds a billion-leaf alias bomb",
        _yaml_bomb,
        kinds=("custom",),
    ),
    Attack(
        "signature_nested_json",
        "signature.inputs nests 100,000 levels deep",
        _signature_part("inputs", nested(100_000)),
        kinds=("custom", "pytorch_export"),
    ),
    Attack(
        "signature_nested_objects",
        "signature.params nests objects 100,000 levels deep",
        _signature_part("params", '{"a":' * 100_000 + "1" + "}" * 100_000),
        kinds=("custom",),
    ),
    Attack(
        "signature_wrong_types",
        "signature.inputs is JSON of the wrong shape",
        _signature_part("inputs", '{"type": "tensor", "tensor-spec": "float32"}'),
        kinds=("custom", "xgboost"),
    ),
    Attack(
        "signature_50000_columns",
        "the signature declares 50,000 columns (loads fast: linear duplicate check)",
        _many_columns,
        kinds=("custom",),
        bound_s=20.0,
    ),
    Attack("pyfunc_config_string", "python_function.config is a string", _config("device=cpu")),
    Attack("pyfunc_config_list", "python_function.config is a list", _config(["device", "cpu"])),
    Attack(
        "pyfunc_config_nested",
        "python_function.config nests a mapping in a key",
        _config({"device": {"cuda": [1, 2]}}),
        kinds=("pytorch_export", "custom"),
    ),
    Attack(
        "custom_class_not_string",
        "python_model.json's class is a number",
        _python_model_json({"class": 5, "state": {}}),
        kinds=("custom",),
    ),
    Attack(
        "custom_class_without_colon",
        "python_model.json's class has no colon",
        _python_model_json({"class": "adversarial_models.Scale", "state": {}}),
        kinds=("custom",),
    ),
    Attack(
        "custom_class_not_a_model",
        "python_model.json names a class that is no PythonModel",
        _python_model_json({"class": "collections:OrderedDict", "state": {}}),
        kinds=("custom",),
    ),
    Attack(
        "custom_class_is_a_function",
        "python_model.json names a function",
        _python_model_json({"class": "os:getcwd", "state": {}}),
        kinds=("custom",),
    ),
    Attack(
        "custom_state_not_mapping",
        "python_model.json's state is a string",
        _python_model_json({"class": "adversarial_models:Scale", "state": "k=2"}),
        kinds=("custom",),
    ),
    Attack(
        "custom_state_list_of_pairs",
        "python_model.json's state is a list",
        _python_model_json({"class": "adversarial_models:Scale", "state": [["k", 2]]}),
        kinds=("custom",),
    ),
    Attack(
        "custom_state_shadows_predict",
        "python_model.json's state sets predict to a number",
        _python_model_json({"class": "adversarial_models:Scale", "state": {"predict": 5}}),
        kinds=("custom",),
    ),
    Attack(
        "custom_record_is_a_list",
        "python_model.json is a JSON list",
        _python_model_json(["adversarial_models:Scale", {}]),
        kinds=("custom",),
    ),
    Attack(
        "custom_record_nested",
        "python_model.json nests 100,000 levels deep",
        _python_model_json(nested(100_000)),
        kinds=("custom",),
    ),
    Attack(
        "flavor_section_wrong_types",
        "every value of the flavor's section is a list",
        _section_lists,
    ),
    Attack("artifact_truncated", "the model file is cut in half", _truncate(0.5)),
    Attack("artifact_empty", "the model file is empty", _truncate(0.0)),
    Attack(
        "artifact_bit_flips_middle",
        "bits flipped in the middle of the model file",
        _bit_flips("middle"),
    ),
    Attack(
        "artifact_bit_flips_tail",
        "bits flipped near the end (an archive's directory)",
        _bit_flips("tail"),
    ),
    Attack(
        "artifact_symlink_loop", "the model file is a symlink to itself", _special(None, "loop")
    ),
    Attack("artifact_is_a_folder", "the model file is a folder", _special(None, "dir")),
    Attack("path_value_5000_chars", "the MLmodel path keys hold 5,000 characters", _long_path),
    Attack(
        "artifact_symlink_out",
        "the model file is a symlink to a file outside the folder",
        _symlink_artifact_out,
    ),
    Attack(
        "torch_data_dir_symlink_out",
        "data/ is a symlink to a copy outside the folder",
        _symlink_data_dir_out,
        kinds=("pytorch_export", "pytorch_state_dict"),
    ),
    Attack(
        "mlmodel_symlink_out",
        "MLmodel is a symlink to a copy outside the folder",
        _symlink_mlmodel_out,
        kinds=("custom",),
    ),
    Attack(
        "requirements_etc_passwd",
        "requirements.txt is a symlink to /etc/passwd (info must not print it)",
        _special("requirements.txt", "symlink", "/etc/passwd"),
        kinds=("custom", "sklearn"),
    ),
    Attack(
        "requirements_symlink_loop",
        "requirements.txt is a symlink to itself",
        _special("requirements.txt", "loop"),
        kinds=("custom",),
    ),
    Attack(
        "requirements_100000_lines",
        "requirements.txt has 100,000 lines",
        _requirements_lines,
        kinds=("custom",),
        bound_s=20.0,
    ),
    Attack("mlmodel_20_mb", "MLmodel is 20 MB", _huge_manifest, kinds=("custom",), bound_s=20.0),
    Attack(
        "input_example_nested",
        "the input examples nest 100,000 levels deep",
        _nested_example,
        kinds=("custom",),
    ),
    Attack(
        "serving_example_symlink_out",
        "serving_input_example.json is a symlink to a file outside the folder",
        _special("serving_input_example.json", "symlink"),
        kinds=("custom", "sklearn"),
    ),
    Attack(
        "serving_example_string_unsigned",
        "no input signature, and a string among the serving example's numbers (serve --check "
        "must still print one line)",
        _string_in_unsigned_example,
        kinds=("xgboost",),
    ),
    Attack(
        "serving_example_truncated",
        "serving_input_example.json is cut short (validate passes: serve --check must work)",
        _truncate_file("serving_input_example.json"),
        kinds=("custom", "pytorch_export"),
    ),
]

ATTACKS = EXEC_ATTACKS + DEVICE_ATTACKS + CONTENT_ATTACKS


def grid(attacks: list[Attack]) -> list[tuple[Attack, str]]:
    """Every (attack, kind) pair the attacks apply to."""
    return [(attack, kind) for attack in attacks for kind in attack.kinds]
