"""The MLmodel manifest: round trips, unknown keys, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from flavorkit import Model
from flavorkit.exceptions import ManifestError

MLFLOW_SKLEARN = """\
flavors:
  python_function:
    env: {conda: conda.yaml, virtualenv: python_env.yaml}
    loader_module: mlflow.sklearn
    model_path: model.skops
    predict_fn: predict
    python_version: 3.11.7
  sklearn:
    code: null
    pickled_model: model.skops
    serialization_format: skops
    sklearn_version: 1.9.1
    skops_trusted_types: null
is_signature_from_type_hint: false
mlflow_version: 3.17.2
model_id: null
model_size_bytes: 10678
model_uuid: 2c50c322c564430bae347898c13e510b
prompts: null
signature:
  inputs: '[{"type": "integer", "name": "a", "required": true}, {"type": "double",
    "name": "b", "required": true}]'
  outputs: '[{"type": "long", "required": true}]'
  params: null
type_hint_from_example: false
utc_time_created: '2026-11-25 22:29:16.249164'
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "MLmodel").write_text(text)
    return tmp_path


def test_manifest_mlflow_file_round_trips_unchanged(tmp_path: Path) -> None:
    model = Model.load(write(tmp_path, MLFLOW_SKLEARN))
    assert yaml.safe_load(model.to_yaml()) == yaml.safe_load(MLFLOW_SKLEARN)


def test_manifest_keeps_unknown_keys(tmp_path: Path) -> None:
    model = Model.load(write(tmp_path, MLFLOW_SKLEARN))
    assert model.extra["mlflow_version"] == "3.17.2"
    assert model.extra["model_id"] is None
    model.save(tmp_path)
    assert Model.load(tmp_path).extra["is_signature_from_type_hint"] is False


def test_manifest_writes_keys_sorted(tmp_path: Path) -> None:
    text = Model({"b": {}, "a": {}}, metadata={"z": 1}).to_yaml()
    keys = [line.split(":")[0] for line in text.splitlines() if not line.startswith(" ")]
    assert keys == sorted(keys)


def test_manifest_reads_signature(tmp_path: Path) -> None:
    signature = Model.load(write(tmp_path, MLFLOW_SKLEARN)).signature
    assert signature is not None
    assert signature.inputs.input_names() == ["a", "b"]


def test_manifest_legacy_env_string_accepted(tmp_path: Path) -> None:
    model = Model.load(
        write(
            tmp_path,
            "flavors:\n  python_function:\n    loader_module: m\n"
            "    env: conda.yaml\n    data: model.pkl\n",
        )
    )
    assert model.flavors["python_function"]["env"] == "conda.yaml"


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        ("flavors: [unclosed", None, "not valid YAML"),
        ("- a\n- b\n", None, "expected a mapping at the top level"),
        ("model_uuid: x\n", "flavors", "missing required key"),
        ("flavors: {}\n", "flavors", "non-empty mapping"),
        ("flavors: {sklearn: 3}\n", "flavors.sklearn", "expected a mapping, got int"),
        (
            "flavors: {python_function: {env: x}}\n",
            "flavors.python_function.loader_module",
            "expected a module name",
        ),
        (
            "flavors: {sklearn: {pickled_model: ../../etc/passwd}}\n",
            "flavors.sklearn.pickled_model",
            "outside the model folder",
        ),
        (
            "flavors: {sklearn: {pickled_model: /etc/passwd}}\n",
            "flavors.sklearn.pickled_model",
            "outside the model folder",
        ),
        (
            "flavors: {python_function: {loader_module: m, artifacts: {a: {path: ../x}}}}\n",
            "flavors.python_function.artifacts.a.path",
            "outside",
        ),
        ("flavors: {s: {}}\nsignature: [1]\n", "signature", "expected a mapping"),
        ("flavors: {s: {}}\nmodel_size_bytes: big\n", "model_size_bytes", "expected an integer"),
        (
            "flavors: {s: {}}\nsaved_input_example_info: {artifact_path: /tmp/x.json}\n",
            "saved_input_example_info.artifact_path",
            "outside",
        ),
    ],
)
def test_manifest_malformed_names_file_and_key(
    tmp_path: Path, text: str, key: str | None, fragment: str
) -> None:
    with pytest.raises(ManifestError) as info:
        Model.load(write(tmp_path, text))
    message = str(info.value)
    assert str(tmp_path / "MLmodel") in message
    assert fragment in message
    assert info.value.key == key
    if key:
        assert f"key '{key}'" in message


def test_manifest_missing_file_is_a_manifest_error(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no MLmodel file"):
        Model.load(tmp_path)


def test_manifest_bad_signature_json_names_key(tmp_path: Path) -> None:
    model = Model.load(write(tmp_path, "flavors: {s: {}}\nsignature: {inputs: 5}\n"))
    with pytest.raises(ManifestError, match=r"signature\.inputs"):
        _ = model.signature
    model = Model.load(write(tmp_path, "flavors: {s: {}}\nsignature: {inputs: 'not json'}\n"))
    with pytest.raises(ManifestError, match="key 'signature'"):
        _ = model.signature


def test_manifest_writes_str_subclasses_as_plain_strings(tmp_path: Path) -> None:
    class Version(str):
        pass

    Model({"f": {"version": Version("2.13.0+cpu")}}).save(tmp_path)
    assert "!!python" not in (tmp_path / "MLmodel").read_text()
    assert Model.load(tmp_path).flavors["f"]["version"] == "2.13.0+cpu"
