"""Saved input examples read back: typed exactly by the signature, older MLflow forms unwrapped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import flavorkit
import numpy as np
import pandas as pd
import pytest
import yaml
from _serving_models import save_doubler
from flavorkit import ColSpec, ModelSignature, Schema
from flavorkit.exceptions import ManifestError


class Identity(flavorkit.PythonModel):
    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        return model_input


def rewrite(path: Path, example: Any, **info: Any) -> None:
    """Replace the saved example of the model at ``path`` (as another writer would have)."""
    (path / "input_example.json").write_text(json.dumps(example))
    manifest = yaml.safe_load((path / "MLmodel").read_text())
    manifest["saved_input_example_info"].update(info)
    (path / "MLmodel").write_text(yaml.safe_dump(manifest))


SCHEMA = Schema(
    [
        ColSpec("integer", "i"),
        ColSpec("float", "f"),
        ColSpec("long", "n", required=False),
        ColSpec("binary", "b"),
        ColSpec("datetime", "t"),
    ]
)


def save_typed(path: Path) -> Path:
    example = pd.DataFrame(
        {
            "i": np.array([1, 2], dtype=np.int32),
            "f": np.array([0.5, 0.1], dtype=np.float32),
            "n": pd.array([3, None], dtype="Int64"),
            "b": [b"\x00\x01", b"x"],
            "t": pd.to_datetime(["2024-01-02T03:04:05", "2024-02-03T00:00:00"]),
        }
    )
    flavorkit.save_model(
        Identity(), path, signature=ModelSignature(inputs=SCHEMA), input_example=example
    )
    return path


def test_example_is_read_back_with_the_declared_types(tmp_path: Path) -> None:
    frame = flavorkit.load_model(save_typed(tmp_path / "m")).input_example
    dtypes = frame.dtypes.astype(str).tolist()
    assert dtypes[:4] == ["int32", "float32", "Int64", "object"]
    assert dtypes[4].startswith("datetime64")
    assert frame["n"].isna().tolist() == [False, True]
    assert frame["b"].tolist() == [b"\x00\x01", b"x"]
    assert frame["f"].tolist() == np.array([0.5, 0.1], dtype=np.float32).tolist()


@pytest.mark.parametrize(
    ("column", "value", "says"),
    [
        ("i", 2.5, "not whole"),
        ("i", 2**31, "outside the range of integer"),
        ("n", 2**63, "beyond 64 bits"),
        ("f", "x", "a mix of value types"),
        ("b", "%%%", "not valid base64"),
    ],
)
def test_example_value_that_does_not_fit_is_an_error_naming_the_column(
    tmp_path: Path, column: str, value: Any, says: str
) -> None:
    path = save_typed(tmp_path / "m")
    body = json.loads((path / "input_example.json").read_text())
    body["data"][1][body["columns"].index(column)] = value
    (path / "input_example.json").write_text(json.dumps(body))
    with pytest.raises(ManifestError) as info:
        _ = flavorkit.load_model(path).input_example
    message = str(info.value)
    assert f"'{column}'" in message and says in message, message


def test_ndarray_example_converts_exactly(tmp_path: Path) -> None:
    path = save_doubler(tmp_path / "doubler")  # float32 (-1, 3)
    rewrite(path, [[1, 2, 3], [4, 5, 2**25 + 1]])
    with pytest.raises(ManifestError, match="float32"):
        _ = flavorkit.load_model(path).input_example


@pytest.mark.parametrize("params", [None, {"k": 1}], ids=["plain", "with-params"])
def test_tf_serving_ndarray_example_of_mlflow_2_9_is_unwrapped(tmp_path: Path, params: Any) -> None:
    path = save_doubler(tmp_path / "doubler")
    expected = flavorkit.load_model(path).input_example
    body: Any = {"inputs": expected.tolist()}  # MLflow 1.x-2.9 wrote tensors as TF serving input
    info: dict[str, Any] = {"type": "ndarray", "format": "tf-serving"}
    if params is not None:
        body = {"inputs": body, "params": params}
        info["params"] = "true"
    rewrite(path, body, **info)
    model = flavorkit.load_model(path)
    assert model.input_example.dtype == np.float32
    np.testing.assert_array_equal(model.input_example, expected)
    assert model.input_example_params == params


def test_tf_serving_dict_of_tensors_and_instances_are_unwrapped(tmp_path: Path) -> None:
    path = save_doubler(tmp_path / "doubler")
    rewrite(path, {"inputs": {"x": [[1.0, 2.0, 3.0]]}}, format="tf-serving")
    assert list(flavorkit.load_model(path).input_example) == ["x"]
    rewrite(path, {"instances": [{"x": [1.0, 2.0, 3.0]}, {"x": [4.0, 5.0, 6.0]}]})
    example = flavorkit.load_model(path).input_example
    np.testing.assert_array_equal(example["x"], [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
