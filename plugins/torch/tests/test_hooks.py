"""The hook functions called directly, with a temporary folder in place of the core."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
import torch_models
from conftest import assert_close, reference
from flavorkit.exceptions import ManifestError, SchemaEnforcementError, SignatureError

from flavorkit_torch import hooks

OPTS = {"allow_unsafe": False, "model_config": {}}


def _persist(model: Any, path: Path, example: Any = None, **options: Any) -> dict[str, Any]:
    result = hooks.flavorkit_persist(
        model=model, path=path, flavor=None, options=options, input_example=example, signature=None
    )
    assert options == {}, "the hook pops every option it understands"
    return result


def test_hooks_flavors_names_pytorch() -> None:
    assert hooks.flavorkit_flavors() == ["pytorch"]


def test_hooks_persist_declines_other_objects(tmp_path: Path) -> None:
    assert _persist(object(), tmp_path) is None
    assert list(tmp_path.iterdir()) == []


def test_hooks_persist_named_flavor_rejects_other_objects(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"builtins\.object"):
        hooks.flavorkit_persist(
            model=object(),
            path=tmp_path,
            flavor="pytorch",
            options={},
            input_example=None,
            signature=None,
        )


def test_hooks_persist_export_result(tmp_path: Path, mlp: Any, x4: np.ndarray) -> None:
    result = _persist(mlp, tmp_path, x4, batch_size=7)
    assert result["flavor"] == "pytorch"
    assert result["conf"] == {
        "model_data": "data",
        "pytorch_version": str(torch.__version__),
        "serialization_format": "export",
        "batch_size": 7,
    }
    assert result["pyfunc"] == {
        "loader_module": "flavorkit_torch",
        "data": "data",
        "config": {"device": None},
    }
    params = {p.name: (p.dtype.name, p.default) for p in result["params"]}
    assert params == {"device": ("string", None), "batch_size": ("long", 7)}
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["model.pt2"]


def test_hooks_persist_rejects_unknown_format(tmp_path: Path, mlp: Any) -> None:
    with pytest.raises(ValueError, match="serialization_format: expected one of"):
        _persist(mlp, tmp_path, serialization_format="onnx")


@pytest.mark.parametrize("value", [0, -3, 2.5, True, "8"])
def test_hooks_persist_rejects_bad_batch_size(tmp_path: Path, mlp: Any, value: Any) -> None:
    with pytest.raises(SchemaEnforcementError, match="batch_size"):
        _persist(mlp, tmp_path, batch_size=value)


def test_hooks_persist_factory_only_for_state_dict(
    tmp_path: Path, mlp: Any, x4: np.ndarray
) -> None:
    with pytest.raises(ValueError, match="factory= applies to serialization_format='state_dict'"):
        _persist(mlp, tmp_path, x4, factory="torch_models:MLP", serialization_format="export")


def test_hooks_persist_factory_implies_state_dict(tmp_path: Path, mlp: Any, x4: np.ndarray) -> None:
    conf = _persist(mlp, tmp_path, x4, factory="torch_models:MLP")["conf"]
    assert conf["serialization_format"] == "state_dict" and conf["factory"] == "torch_models:MLP"


def test_hooks_persist_export_without_example_needs_signature(tmp_path: Path, mlp: Any) -> None:
    with pytest.raises(SignatureError, match="needs an input_example or a tensor signature"):
        _persist(mlp, tmp_path, serialization_format="export")


def test_hooks_persist_export_from_tensor_signature(
    tmp_path: Path, mlp: Any, x4: np.ndarray
) -> None:
    from flavorkit import ModelSignature, Schema, TensorSpec

    signature = ModelSignature(inputs=Schema([TensorSpec(np.dtype("float32"), (-1, 4))]))
    result = hooks.flavorkit_persist(
        model=mlp,
        path=tmp_path,
        flavor="pytorch",
        options={},
        input_example=None,
        signature=signature,
    )
    assert result["conf"]["serialization_format"] == "export"
    module = hooks.flavorkit_load(path=tmp_path, conf=result["conf"], options=OPTS)
    assert_close(reference(module, x4), reference(mlp, x4))


def test_hooks_persist_factory_that_builds_wrong_module(tmp_path: Path, mlp: Any) -> None:
    with pytest.raises(ValueError, match="do not match"):
        _persist(mlp, tmp_path, serialization_format="state_dict", factory="torch_models:DictOut")


def test_hooks_persist_local_class_asks_for_factory(tmp_path: Path) -> None:
    class Local(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

    with pytest.raises(ValueError, match="cannot be imported"):
        _persist(Local(), tmp_path)


def test_hooks_load_detects_format_without_key(tmp_path: Path, mlp: Any, x4: np.ndarray) -> None:
    conf = _persist(mlp, tmp_path, x4)["conf"]
    del conf["serialization_format"]
    module = hooks.flavorkit_load(path=tmp_path, conf=conf, options=OPTS)
    assert_close(reference(module, x4), reference(mlp, x4))


def test_hooks_load_missing_file_names_key(tmp_path: Path, mlp: Any, x4: np.ndarray) -> None:
    conf = _persist(mlp, tmp_path, x4)["conf"]
    conf["serialization_format"] = "state_dict"
    with pytest.raises(ManifestError, match=r"model\.safetensors is missing"):
        hooks.flavorkit_load(path=tmp_path, conf=conf, options=OPTS)


def test_hooks_load_refuses_model_data_outside_folder(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="outside the model folder"):
        hooks.flavorkit_load(path=tmp_path / "m", conf={"model_data": "../.."}, options=OPTS)


def test_hooks_load_unknown_format_names_key(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    with pytest.raises(ManifestError, match="serialization_format"):
        hooks.flavorkit_load(path=tmp_path, conf={"serialization_format": "onnx"}, options=OPTS)


def test_hooks_predict_returns_numpy_structures(tmp_path: Path, x4: np.ndarray) -> None:
    model = torch_models.trained(torch_models.DictOut())
    out = hooks.flavorkit_predict(model=model, data=x4, params={}, conf={})
    assert sorted(out) == ["logits", "probs"] and all(
        isinstance(v, np.ndarray) for v in out.values()
    )
    assert_close(out, reference(model, x4))


def test_hooks_predict_tuple_output_becomes_list(x4: np.ndarray) -> None:
    class Pair(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return x.sum(dim=1), x * 2

    out = hooks.flavorkit_predict(model=Pair(), data=x4, params={"batch_size": 2}, conf={})
    assert isinstance(out, list) and len(out) == 2
    np.testing.assert_allclose(out[0], x4.sum(axis=1), rtol=1e-6)
    np.testing.assert_array_equal(out[1], x4 * 2)


def test_hooks_predict_named_inputs_by_name(x4: np.ndarray) -> None:
    model = torch_models.trained(torch_models.TwoInputs())
    data = {"extra": np.ones((5, 5), np.float32), "numeric": x4[:, :3].copy()}
    out = hooks.flavorkit_predict(model=model, data=data, params={}, conf={})
    assert_close(out, reference(model, data))


def test_hooks_predict_runs_in_eval_mode_and_inference_mode(mlp: Any, x4: np.ndarray) -> None:
    seen: list[tuple[bool, bool]] = []

    class Spy(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.append((self.training, torch.is_inference_mode_enabled()))
            return x

    hooks.flavorkit_predict(model=Spy().train(), data=x4, params={}, conf={})
    assert seen == [(False, True)]
    first = hooks.flavorkit_predict(model=mlp, data=x4, params={}, conf={})
    second = hooks.flavorkit_predict(model=mlp, data=x4, params={}, conf={})
    np.testing.assert_array_equal(first, second)  # dropout is off


def test_hooks_predict_dataframe_and_float64_are_cast(mlp: Any, x4: np.ndarray) -> None:
    frame = pd.DataFrame(x4.astype(np.float64))
    from_frame = hooks.flavorkit_predict(model=mlp, data=frame, params={}, conf={})
    from_array = hooks.flavorkit_predict(model=mlp, data=x4, params={}, conf={})
    np.testing.assert_array_equal(from_frame, from_array)
    assert from_frame.dtype == np.float32


def test_hooks_predict_dataframe_of_array_cells(x4: np.ndarray) -> None:
    model = torch_models.trained(torch_models.CNN())
    images = np.random.default_rng(0).normal(size=(3, 1, 8, 8)).astype(np.float32)
    frame = pd.DataFrame({"image": list(images)})
    out = hooks.flavorkit_predict(model=model, data=frame, params={}, conf={})
    assert_close(out, reference(model, images))


def test_hooks_predict_text_column_is_named(mlp: Any) -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"], "c": [1.0, 2.0], "d": [0.0, 1.0]})
    with pytest.raises(SchemaEnforcementError, match="column 'b'") as info:
        hooks.flavorkit_predict(model=mlp, data=frame, params={}, conf={})
    assert info.value.field == "b"


def test_hooks_predict_rejects_unsupported_input(mlp: Any) -> None:
    with pytest.raises(TypeError, match=r"got builtins\.set"):
        hooks.flavorkit_predict(model=mlp, data={1, 2}, params={}, conf={})


def test_hooks_predict_read_only_array_is_accepted(mlp: Any, x4: np.ndarray) -> None:
    frozen = x4.copy()
    frozen.flags.writeable = False
    out = hooks.flavorkit_predict(model=mlp, data=frozen, params={}, conf={})
    assert_close(out, reference(mlp, x4))


def test_hooks_predict_scalar_output_cannot_be_split(x4: np.ndarray) -> None:
    class Total(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.sum()

    with pytest.raises(ValueError, match="returns a scalar"):
        hooks.flavorkit_predict(model=Total(), data=x4, params={"batch_size": 2}, conf={})
    whole = hooks.flavorkit_predict(model=Total(), data=x4, params={}, conf={})
    assert whole.shape == () and np.isclose(whole, x4.sum(), rtol=1e-5)


def test_hooks_predict_uses_section_batch_size(x4: np.ndarray) -> None:
    calls: list[int] = []

    class Spy(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            calls.append(x.shape[0])
            return x

    hooks.flavorkit_predict(model=Spy(), data=x4, params={}, conf={"batch_size": 2})
    assert calls == [2, 2, 1]


@pytest.mark.parametrize(
    ("fmt", "extra"), [("export", []), ("state_dict", ["safetensors"]), ("pickle", [])]
)
def test_hooks_detect_environment_pins(
    tmp_path: Path, mlp: Any, fmt: str, extra: list[str]
) -> None:
    conf = _persist(mlp, tmp_path, np.zeros((2, 4), np.float32), serialization_format=fmt)["conf"]
    pins = hooks.flavorkit_detect_environment(path=tmp_path, conf=conf)
    names = sorted(pin.split("==")[0] for pin in pins)
    assert names == sorted(["torch", *extra])
    assert f"torch=={str(torch.__version__).split('+')[0]}" in pins
    assert all("+" not in pin for pin in pins)


def test_hooks_persist_export_refuses_model_that_fixes_batch(
    tmp_path: Path, x4: np.ndarray
) -> None:
    class FixedBatch(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.reshape(5, 4) * 2  # only works for 5 rows

    with pytest.raises(RuntimeError, match=r"torch\.export could not export FixedBatch"):
        _persist(FixedBatch(), tmp_path, x4)
