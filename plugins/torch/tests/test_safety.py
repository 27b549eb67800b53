"""Loading runs no code from the folder unless the caller opts in."""

from __future__ import annotations

import io
import json
import operator
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Any

import flavorkit
import numpy as np
import pytest
import safetensors.torch
import torch
from flavorkit.exceptions import PluginError, UnsafeFormatError

import flavorkit_torch
from flavorkit_torch import _export, hooks

OPTS = {"allow_unsafe": False, "model_config": {}}


class _Payload:
    """Unpickling this calls a function: what a tampered archive would smuggle in."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (operator.add, (1, 2))


def _code_pickle() -> bytes:
    buffer = io.BytesIO()
    torch.save(_Payload(), buffer)
    return buffer.getvalue()


def _rewrite(archive: Path, replace: dict[str, bytes]) -> None:
    with zipfile.ZipFile(archive) as source:
        entries = {name: source.read(name) for name in source.namelist()}
    entries.update(replace)
    with zipfile.ZipFile(archive, "w") as target:
        for name, payload in entries.items():
            target.writestr(name, payload)


def _entry(archive: Path, suffix: str) -> str:
    with zipfile.ZipFile(archive) as source:
        (name,) = [n for n in source.namelist() if n.endswith(suffix)]
    return name


def test_safety_pickle_refused_without_opt_in(
    tmp_path: Path, mlp: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLAVORKIT_ALLOW_UNSAFE", raising=False)
    flavorkit_torch.save_model(mlp, tmp_path / "m", serialization_format="pickle")
    with pytest.raises(UnsafeFormatError) as info:
        flavorkit.load_model(tmp_path / "m")
    message = str(info.value)
    assert message.startswith("refusing to load 'pickle' data from ")
    assert "model.pth" in message and "runs code from the file when it is loaded" in message
    assert "allow_unsafe=True" in message and "FLAVORKIT_ALLOW_UNSAFE=1" in message
    assert info.value.format_name == "pickle"


def test_safety_pickle_opt_in_by_environment(
    tmp_path: Path, mlp: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    flavorkit_torch.save_model(mlp, tmp_path / "m", serialization_format="pickle")
    monkeypatch.setenv("FLAVORKIT_ALLOW_UNSAFE", "1")
    assert isinstance(flavorkit_torch.load_model(tmp_path / "m"), torch.nn.Module)


def test_safety_clean_export_archive_has_no_findings(saved: Any) -> None:
    assert _export.check_archive(saved("two_inputs", "export").path / "data" / "model.pt2") == []


def test_safety_export_with_code_in_sample_inputs_is_refused(saved: Any, tmp_path: Path) -> None:
    folder = tmp_path / "m"
    (folder / "data").mkdir(parents=True)
    archive = folder / "data" / "model.pt2"
    archive.write_bytes((saved("mlp", "export").path / "data" / "model.pt2").read_bytes())
    _rewrite(archive, {_entry(archive, "sample_inputs/model.pt"): _code_pickle()})
    assert any("sample_inputs" in p for p in _export.check_archive(archive))
    with pytest.raises(UnsafeFormatError, match=r"'export'.*unpickles"):
        hooks.flavorkit_load(path=folder, conf={"serialization_format": "export"}, options=OPTS)


def test_safety_export_with_pickled_weight_is_refused(saved: Any, tmp_path: Path) -> None:
    archive = tmp_path / "model.pt2"
    archive.write_bytes((saved("mlp", "export").path / "data" / "model.pt2").read_bytes())
    config_name = _entry(archive, "model_weights_config.json")
    with zipfile.ZipFile(archive) as source:
        config = json.loads(source.read(config_name))
    fqn, meta = next(iter(config["config"].items()))
    meta["use_pickle"] = True
    weight = config_name.rsplit("/", 1)[0] + "/" + meta["path_name"]
    _rewrite(archive, {config_name: json.dumps(config).encode(), weight: _code_pickle()})
    assert _export.check_archive(archive) == [f"{fqn!r} is not plain tensor data"]


def test_safety_not_an_archive_is_reported(tmp_path: Path) -> None:
    (tmp_path / "model.pt2").write_bytes(b"not a zip")
    assert _export.check_archive(tmp_path / "model.pt2")[0].startswith("not a readable pt2 archive")


def _weights_folder(tmp_path: Path, factory: str) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path / "m"
    (folder / "data").mkdir(parents=True)
    safetensors.torch.save_model(torch.nn.Linear(2, 1), str(folder / "data" / "model.safetensors"))
    return folder, {"serialization_format": "state_dict", "factory": factory}


@pytest.mark.parametrize("factory", ["os:getcwd", "builtins:object", "subprocess:Popen"])
def test_safety_factory_from_standard_library_is_refused(tmp_path: Path, factory: str) -> None:
    folder, conf = _weights_folder(tmp_path, factory)
    with pytest.raises(ValueError, match="names the standard library"):
        hooks.flavorkit_load(path=folder, conf=conf, options={**OPTS, "allow_unsafe": True})


@pytest.mark.parametrize("factory", ["no_colon", "a:b:c", ":Name", "mod:"])
def test_safety_malformed_factory_is_rejected(tmp_path: Path, factory: str) -> None:
    folder, conf = _weights_folder(tmp_path, factory)
    with pytest.raises(ValueError, match="expected 'module:callable'"):
        hooks.flavorkit_load(path=folder, conf=conf, options=OPTS)


def test_safety_missing_factory_module_says_how_to_ship_it(tmp_path: Path) -> None:
    folder, conf = _weights_folder(tmp_path, "surely_not_installed_pkg:Net")
    with pytest.raises(PluginError, match="code_paths"):
        hooks.flavorkit_load(path=folder, conf=conf, options=OPTS)


def test_safety_factory_building_other_shapes_names_key(tmp_path: Path) -> None:
    folder, conf = _weights_folder(tmp_path, "torch_models:MLP")
    with pytest.raises(flavorkit.exceptions.ManifestError, match=r"flavors\.pytorch\.factory"):
        hooks.flavorkit_load(path=folder, conf=conf, options=OPTS)


_SHIPPED_MODULE = """
import torch

class ShippedNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 2)

    def forward(self, x):
        return self.linear(x)
"""

_LOAD_SHIPPED = """
import sys
import numpy as np
import flavorkit
from flavorkit.exceptions import PluginError, UnsafeFormatError
try:
    flavorkit.load_model(sys.argv[1], allow_unsafe=False)
except UnsafeFormatError as exc:
    print("refused:", exc.format_name)
assert "shipped_net" not in sys.modules, "refusing must not import the shipped code"
out = flavorkit.load_model(sys.argv[1], allow_unsafe=True).predict(np.load(sys.argv[2]))
np.save(sys.argv[3], out)
"""


def test_safety_factory_shipped_in_folder_needs_opt_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, x4: np.ndarray
) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "shipped_net.py").write_text(textwrap.dedent(_SHIPPED_MODULE))
    monkeypatch.syspath_prepend(str(source))
    import shipped_net  # type: ignore[import-not-found]

    model = shipped_net.ShippedNet()
    flavorkit_torch.save_model(model, tmp_path / "m", code_paths=[source / "shipped_net.py"])
    monkeypatch.delitem(sys.modules, "shipped_net")
    assert (tmp_path / "m" / "code" / "shipped_net.py").is_file()
    np.save(tmp_path / "in.npy", x4)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FLAVORKIT_ALLOW_UNSAFE")}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _LOAD_SHIPPED,
            str(tmp_path / "m"),
            str(tmp_path / "in.npy"),
            str(tmp_path / "out.npy"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "refused: state_dict factory code"
    with torch.no_grad():
        expected = model(torch.from_numpy(x4)).numpy()
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, rtol=0, atol=1e-6)
