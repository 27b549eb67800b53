"""Hostile archives, weights and device names that got past the loader's checks.

Each attack here ran code, allocated memory out of proportion to the file,
loaded tampered weights as garbage, or broke a served model for every later
request before the check it now meets. Every refusal is a flavorkit error
naming the file (or param) and the field, what was expected and what came.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import struct
import subprocess
import sys
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import flavorkit
import numpy as np
import pytest
import torch
import torch_models
from conftest import copy_folder
from flavorkit.exceptions import ManifestError, SchemaEnforcementError

import flavorkit_torch
from flavorkit_torch import _device, _export

WEIGHTS = "model/data/weights/model_weights_config.json"
SAMPLES = "model/data/sample_inputs/model.pt"


def _archive_of(folder: Path) -> Path:
    return folder / "data" / "model.pt2"


def _entries(archive: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(archive) as source:
        return {name: source.read(name) for name in source.namelist()}


def _write(
    archive: Path, entries: list[tuple[str, bytes]], deflated: frozenset[str] = frozenset()
) -> None:
    with warnings.catch_warnings(), zipfile.ZipFile(archive, "w") as target:
        warnings.simplefilter("ignore")
        for name, payload in entries:
            method = zipfile.ZIP_DEFLATED if name in deflated else zipfile.ZIP_STORED
            target.writestr(name, payload, compress_type=method)


class _MakeDir:
    """Unpickling this makes the directory ``path``: a visible trace of code run by a load."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (self.path,))


def _torch_pickle(value: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


# -- names that differ in case only: torch reads another entry than the one checked --


def _case_variant_archive(archive: Path, marker: Path) -> None:
    """A weights config beside the checked one, differing in case, naming a code pickle."""
    entries = _entries(archive)
    config = json.loads(entries[WEIGHTS])
    config["config"]["net.0.bias"] = {
        "path_name": "evil",
        "is_param": True,
        "use_pickle": True,
        "tensor_meta": None,
    }
    ordered: list[tuple[str, bytes]] = []
    for name, payload in entries.items():
        if name == WEIGHTS:
            # torch's zip reader (miniz) looks names up without case: it finds this one
            ordered.append((WEIGHTS.replace("/model_", "/MODEL_"), json.dumps(config).encode()))
        ordered.append((name, payload))
    ordered.append(("model/data/weights/evil", _torch_pickle(_MakeDir(marker))))
    _write(archive, ordered)


def test_hostile_case_variant_entry_is_refused_before_torch_unpickles_it(
    saved: Any, tmp_path: Path
) -> None:
    folder = copy_folder(saved("mlp", "export").path, tmp_path)
    marker = tmp_path / "PWNED"
    _case_variant_archive(_archive_of(folder), marker)
    with pytest.raises(ManifestError, match="differ only in case") as info:
        flavorkit.load_model(folder)
    message = str(info.value)
    assert str(_archive_of(folder)) in message and "MODEL_weights_config.json" in message
    assert not marker.exists()
    assert any("differ only in case" in p for p in _export.check_archive(_archive_of(folder)))
    # the attack is real: torch itself reads the variant and runs its pickle
    # (the load fails after the pickle ran: only that matters here)
    with warnings.catch_warnings(), contextlib.suppress(Exception):
        warnings.simplefilter("ignore")
        torch.export.load(_archive_of(folder))
    assert marker.is_dir()


def test_hostile_case_variant_anywhere_in_the_archive_is_refused(
    saved: Any, tmp_path: Path
) -> None:
    folder = copy_folder(saved("mlp", "export").path, tmp_path)
    entries = _entries(_archive_of(folder))
    _write(_archive_of(folder), [*entries.items(), ("model/Archive_Format", b"pt2")])
    with pytest.raises(ManifestError, match="'model/archive_format' and 'model/Archive_Format'"):
        flavorkit.load_model(folder)


# -- raw tensors whose metadata does not fit their record ------------------------


def _meta(fqn: str, **fields: Any) -> Callable[[dict[str, Any]], None]:
    def edit(config: dict[str, Any]) -> None:
        config[fqn]["tensor_meta"].update(fields)

    return edit


def _share_record_other_dtype(config: dict[str, Any]) -> None:
    config["net.0.bias"]["path_name"] = config["net.0.weight"]["path_name"]
    config["net.0.bias"]["tensor_meta"]["dtype"] = 6  # HALF
    config["net.0.bias"]["tensor_meta"]["requires_grad"] = False


def _ints(*values: int) -> list[dict[str, int]]:
    return [{"as_int": v} for v in values]


# (edit of the weights config, the field the error's key ends with, words of the message)
TENSOR_ATTACKS: dict[str, tuple[Callable[[dict[str, Any]], None], str, str]] = {
    "size_past_record": (
        _meta("net.0.weight", sizes=_ints(2**20, 4)),
        "tensor_meta",
        "reach 4,194,304 torch.float32 elements; expected at most the 64",
    ),
    "offset_past_record": (
        _meta("net.0.weight", storage_offset={"as_int": 10**6}),
        "tensor_meta",
        "reach 1,000,064",
    ),
    "overflowing_sizes": (
        _meta("net.0.weight", sizes=_ints(2**62, 2**62), strides=_ints(2**62, 2**62)),
        "tensor_meta",
        "reach about 2**124",
    ),
    "negative_offset": (
        _meta("net.0.weight", storage_offset={"as_int": -5}),
        "tensor_meta.storage_offset",
        'expected {"as_int": n} with a whole number n >= 0',
    ),
    "negative_stride": (
        _meta("net.0.weight", strides=_ints(-4, 1)),
        "tensor_meta.strides",
        "n >= 0",
    ),
    "symbolic_size": (
        _meta("net.0.weight", sizes=[{"as_expr": {"expr_str": "s0"}}, {"as_int": 4}]),
        "tensor_meta.sizes",
        "as_expr",
    ),
    # stride 0 repeats 16 bytes 2**40 times: the first forward pass asks for terabytes
    "repeated_record": (
        _meta("net.0.weight", sizes=_ints(2**40, 4), strides=_ints(0, 1)),
        "tensor_meta.sizes",
        "more than 100 times the archive's size",
    ),
    "sizes_without_strides": (
        _meta("net.0.weight", strides=_ints(4)),
        "tensor_meta.strides",
        "has 2 sizes but 1 strides",
    ),
    "meta_device": (
        _meta("net.0.weight", device={"type": "meta", "index": None}),
        "tensor_meta.device",
        "on the device 'meta'; expected one of cpu, cuda, mps, xpu",
    ),
    "named_device": (
        _meta("net.0.weight", device={"type": "os.system", "index": None}),
        "tensor_meta.device",
        "'os.system'",
    ),
    "unknown_dtype": (
        _meta("net.0.weight", dtype=0),
        "tensor_meta.dtype",
        "dtype code 0, which is no torch dtype",
    ),
    "integer_requires_grad": (
        _meta("net.0.weight", dtype=5),
        "tensor_meta.requires_grad",
        "requires grad, which a torch.int64 tensor cannot",
    ),
    "record_not_whole_elements": (
        _meta("net.3.bias", dtype=8, requires_grad=False),  # 4 bytes of float64
        "tensor_meta.dtype",
        "record of 4 bytes is not a whole number of torch.float64 elements",
    ),
    "shared_record_other_dtype": (
        _share_record_other_dtype,
        "tensor_meta.dtype",
        "shares the record 'weight_0' with 'net.0.weight' but has the dtype torch.float16",
    ),
}


@pytest.mark.parametrize("attack", sorted(TENSOR_ATTACKS))
def test_hostile_tensor_meta_is_refused_naming_tensor_and_field(
    saved: Any, tmp_path: Path, attack: str
) -> None:
    edit, field, words = TENSOR_ATTACKS[attack]
    folder = copy_folder(saved("mlp", "export").path, tmp_path)
    entries = _entries(_archive_of(folder))
    document = json.loads(entries[WEIGHTS])
    edit(document["config"])
    entries[WEIGHTS] = json.dumps(document).encode()
    _write(_archive_of(folder), list(entries.items()))
    with pytest.raises(ManifestError) as info:
        flavorkit.load_model(folder)
    message = str(info.value)
    assert words in message, message
    assert info.value.key is not None and info.value.key.endswith(field), info.value.key
    assert "config['net." in info.value.key
    assert WEIGHTS in message and str(_archive_of(folder)) in message
    assert len(message) < 1000
    assert _export.check_archive(_archive_of(folder)) != []


def test_hostile_repeated_tensor_in_a_pickle_is_refused(saved: Any, tmp_path: Path) -> None:
    folder = copy_folder(saved("mlp", "export").path, tmp_path)
    entries = _entries(_archive_of(folder))
    # a plain tensor pickle (weights_only loads it) of 4 bytes standing for 4 TiB
    entries[SAMPLES] = _torch_pickle(((torch.zeros(1).expand(2**40),), {}))
    _write(_archive_of(folder), list(entries.items()))
    with pytest.raises(ManifestError, match=r"shape \[1099511627776\]: .* more than 100 times"):
        flavorkit.load_model(folder)


# -- many small entries that each stay under the ratio ---------------------------


def test_hostile_many_small_bombs_are_refused_together(saved: Any, tmp_path: Path) -> None:
    folder = copy_folder(saved("mlp", "export").path, tmp_path)
    entries = _entries(_archive_of(folder))
    # a MiB of zeros deflates to 1 KiB: under the per-entry slack, 1000 times over in all
    bombs = [(f"model/extra/notes_{i}.txt", b"\0" * (1024 * 1024)) for i in range(4)]
    _write(_archive_of(folder), [*entries.items(), *bombs], frozenset(n for n, _ in bombs))
    assert _archive_of(folder).stat().st_size < 64 * 1024
    with pytest.raises(ManifestError, match=r"inflate to [\d,]+ bytes, more than 100 times"):
        flavorkit.load_model(folder)


# -- safetensors headers that relabel the weights --------------------------------


def _relabel(file: Path, name: str, dtype: str) -> None:
    data = file.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    header[name]["dtype"] = dtype
    text = json.dumps(header).encode()
    file.write_bytes(struct.pack("<Q", len(text)) + text + data[8 + length :])


def test_hostile_safetensors_dtype_lie_is_refused(tmp_path: Path, x4: np.ndarray) -> None:
    folder = tmp_path / "m"
    flavorkit_torch.save_model(torch_models.trained(torch_models.MLP()), folder)
    file = folder / "data" / "model.safetensors"
    _relabel(file, "net.0.weight", "I32")  # same size: only the values turn to garbage
    with pytest.raises(ManifestError) as info:
        flavorkit.load_model(folder).predict(x4)
    message = str(info.value)
    assert "'net.0.weight' is 'I32' in the file, expected F32" in message, message
    assert str(file) in message and info.value.key == "flavors.pytorch.model_data"


def test_hostile_state_dict_of_other_dtype_is_refused_at_save(tmp_path: Path) -> None:
    # loading would cast it back to float32 silently: a model unlike the saved one
    with pytest.raises(ValueError, match=r"weight 'net\.0\.bias' is F32, but the model's is F16"):
        flavorkit_torch.save_model(torch_models.MLP().half(), tmp_path / "m")
    assert not (tmp_path / "m").exists()


# -- device names from a request or a folder ----------------------------------------


@pytest.mark.parametrize("fmt", ["state_dict", "export"])
@pytest.mark.parametrize(
    ("device", "words"),
    [
        ("meta", "'meta' holds no data (moving the model there would wipe its weights"),
        ("privateuseone", "'privateuseone' is not a device models run on here"),
        ("hpu", "'hpu' is not a device models run on here"),
        ("xla", "'xla' is not a device models run on here"),
        ("lazy", "'lazy' is not a device models run on here"),
        ("cpu:7", "'cpu:7' names a cpu device other than the one there is"),
    ],
)
def test_hostile_device_param_is_refused_and_the_model_keeps_working(
    saved: Any, fmt: str, device: str, words: str
) -> None:
    item = saved("mlp", fmt)
    loaded = flavorkit.load_model(item.path)
    before = loaded.predict(item.case.batch)
    with pytest.raises(SchemaEnforcementError, match=r"params\['device'\]") as info:
        loaded.predict(item.case.batch, params={"device": device})
    assert words in str(info.value) and "; expected 'cpu'" in str(info.value)
    # a request for 'meta' used to move the shared module there in place, wiping its weights
    np.testing.assert_array_equal(loaded.predict(item.case.batch), before)


def test_hostile_device_indices_do_not_multiply_exported_modules(saved: Any) -> None:
    module = flavorkit_torch.load_model(saved("mlp", "export").path)
    assert _device.place(module, _device.resolve("cpu:0")) is module
    for index in (1, 100):
        with pytest.raises(SchemaEnforcementError, match="other than the one there is"):
            _device.resolve(f"cpu:{index}")


@pytest.mark.parametrize("fmt", ["state_dict", "export"])
def test_hostile_device_in_folder_config_is_refused_at_load(
    saved: Any, tmp_path: Path, fmt: str
) -> None:
    import yaml

    folder = copy_folder(saved("mlp", fmt).path, tmp_path)
    manifest = yaml.safe_load((folder / "MLmodel").read_text())
    manifest["flavors"]["python_function"]["config"] = {"device": "xla"}
    (folder / "MLmodel").write_text(yaml.safe_dump(manifest))
    with pytest.raises(SchemaEnforcementError, match="'xla' is not a device models run on here"):
        flavorkit.load_model(folder)


# -- node metadata torch resolves while reading --------------------------------------

PROGRAM = "model/models/model.json"
_LOAD_REPORTING_IMPORTS = """
import sys
import flavorkit
from flavorkit.exceptions import ManifestError
try:
    flavorkit.load_model(sys.argv[1])
except ManifestError as exc:
    print("refused:", exc)
print("imported:", "torch._inductor" in sys.modules)
"""


def _with_source_fn_stack(folder: Path, value: str) -> None:
    entries = _entries(_archive_of(folder))
    document = json.loads(entries[PROGRAM])
    document["graph_module"]["graph"]["nodes"][0]["metadata"]["source_fn_stack"] = value
    entries[PROGRAM] = json.dumps(document).encode()
    _write(_archive_of(folder), list(entries.items()))


def test_hostile_source_fn_stack_cannot_choose_a_torch_import(saved: Any, tmp_path: Path) -> None:
    # torch resolves the target with hasattr, which on torch runs its module __getattr__:
    # the lazy import of torch._inductor (seconds and hundreds of MiB) at the file's choice
    folder = copy_folder(saved("mlp", "export").path, tmp_path)
    _with_source_fn_stack(folder, "linear,torch._inductor.config")
    run = [sys.executable, "-c", _LOAD_REPORTING_IMPORTS, str(folder)]
    out = subprocess.run(run, capture_output=True, text=True, check=True).stdout
    assert "refused:" in out and "torch._inductor" in out and "__getattr__" in out, out
    assert out.strip().endswith("imported: False"), out


def test_source_fn_stack_as_torch_writes_it_still_loads(
    saved: Any, tmp_path: Path, x4: np.ndarray
) -> None:
    folder = copy_folder(saved("mlp", "export").path, tmp_path)
    _with_source_fn_stack(folder, "linear,torch.nn.modules.linear.Linear;add,_operator.add")
    original = flavorkit.load_model(saved("mlp", "export").path).predict(x4)
    np.testing.assert_array_equal(flavorkit.load_model(folder).predict(x4), original)
