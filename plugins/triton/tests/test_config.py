"""Signature types -> Triton data types, dims and batching, and config.pbtxt round trips."""

from __future__ import annotations

import numpy as np
import pytest
from flavorkit import (
    Array,
    ColSpec,
    DataType,
    Map,
    ModelSignature,
    Object,
    Property,
    Schema,
    TensorSpec,
)
from flavorkit.exceptions import SignatureError

from flavorkit_triton._config import Batching, build, dims_of, parse, to_text
from flavorkit_triton._datatypes import wire_tensors


@pytest.mark.parametrize(
    ("column_type", "triton", "text"),
    [
        (DataType.boolean, "TYPE_BOOL", None),
        (DataType.integer, "TYPE_INT32", None),
        (DataType.long, "TYPE_INT64", None),
        (DataType.float, "TYPE_FP32", None),
        (DataType.double, "TYPE_FP64", None),
        (DataType.string, "TYPE_STRING", "str"),
        (DataType.binary, "TYPE_STRING", "bytes"),
    ],
)
def test_column_types_map_to_triton_types(column_type: DataType, triton: str, text: str) -> None:
    (tensor,) = wire_tensors(Schema([ColSpec(column_type, "c")]), "input-", "input")
    got = (tensor.name, tensor.data_type, tensor.shape, tensor.text)
    assert got == ("c", triton, (-1, 1), text)
    assert tensor.column and tensor.squeeze


@pytest.mark.parametrize(
    ("dtype", "triton"),
    [
        ("bool", "TYPE_BOOL"),
        ("uint8", "TYPE_UINT8"),
        ("uint16", "TYPE_UINT16"),
        ("uint32", "TYPE_UINT32"),
        ("uint64", "TYPE_UINT64"),
        ("int8", "TYPE_INT8"),
        ("int16", "TYPE_INT16"),
        ("int32", "TYPE_INT32"),
        ("int64", "TYPE_INT64"),
        ("float16", "TYPE_FP16"),
        ("float32", "TYPE_FP32"),
        ("float64", "TYPE_FP64"),
        ("str", "TYPE_STRING"),
        ("object", "TYPE_STRING"),
        ("bytes", "TYPE_STRING"),
    ],
)
def test_tensor_dtypes_map_directly(dtype: str, triton: str) -> None:
    (tensor,) = wire_tensors(Schema([TensorSpec(np.dtype(dtype), (-1, 3))]), "input-", "input")
    assert (tensor.name, tensor.data_type, tensor.shape) == ("input-0", triton, (-1, 3))
    assert not tensor.squeeze


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (ColSpec(DataType.datetime, "when"), "input column 'when' has type datetime"),
        (ColSpec(Array(DataType.long), "tags"), "input column 'tags' has type Array"),
        (ColSpec(Object([Property("a", DataType.long)]), "obj"), "column 'obj' has type Object"),
        (ColSpec(Map(DataType.double), "m"), "input column 'm' has type Map"),
        (TensorSpec(np.dtype("datetime64[ns]"), (-1, 2), "t"), "tensor 't' has dtype datetime64"),
        (TensorSpec(np.dtype("complex128"), (-1,), "z"), "tensor 'z' has dtype complex128"),
        (TensorSpec(np.dtype("float32"), (), "s"), "tensor 's' is a scalar"),
    ],
)
def test_types_without_a_triton_equivalent_are_refused_by_name(spec: object, message: str) -> None:
    with pytest.raises(SignatureError, match=r"no Triton|scalar") as err:
        wire_tensors(Schema([spec]), "input-", "input")  # type: ignore[list-item]
    assert message in str(err.value)


def test_unnamed_specs_get_the_v2_names_and_1d_tensors_become_n_by_1() -> None:
    inputs = wire_tensors(Schema([ColSpec("double"), ColSpec("string")]), "input-", "input")
    outputs = wire_tensors(Schema([TensorSpec(np.dtype("int64"), (-1,))]), "output-", "output")
    assert [t.name for t in inputs] == ["input-0", "input-1"]
    assert [t.key for t in inputs] == [None, None]
    assert (outputs[0].name, outputs[0].shape, outputs[0].squeeze) == ("output-0", (-1, 1), True)


def test_dims_leave_out_the_batch_dimension_only_when_batching() -> None:
    (tensor,) = wire_tensors(Schema([TensorSpec(np.dtype("float32"), (-1, 3, -1))]), "in-", "in")
    assert dims_of(tensor, Batching(max_batch_size=4)) == [3, -1]
    assert dims_of(tensor, Batching(max_batch_size=0, dynamic_batching=False)) == [-1, 3, -1]


def test_a_fixed_first_dimension_cannot_be_batched() -> None:
    (tensor,) = wire_tensors(Schema([TensorSpec(np.dtype("float32"), (2, 3), "x")]), "in-", "in")
    with pytest.raises(ValueError, match=r"'x' has a fixed first dimension \(2\)"):
        dims_of(tensor, Batching(max_batch_size=4))
    assert dims_of(tensor, Batching(max_batch_size=0, dynamic_batching=False)) == [2, 3]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_batch_size": -1}, "max_batch_size must be 0 or more, got -1"),
        ({"instances": 0}, "instances must be 1 or more, got 0"),
        ({"max_batch_size": 0, "dynamic_batching": True}, "dynamic batching needs max_batch_size"),
    ],
)
def test_batching_options_are_checked(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Batching(**kwargs)  # type: ignore[arg-type]


def _signature() -> ModelSignature:
    return ModelSignature(
        Schema([ColSpec("double", "x"), ColSpec("string", "city"), ColSpec("boolean", "ok")]),
        Schema([ColSpec("string", "label"), ColSpec("double", "score")]),
    )


@pytest.mark.parametrize(
    "batching",
    [Batching(), Batching(0, 3, False), Batching(64, 2, True)],
    ids=["default", "unbatched", "batched"],
)
def test_generated_configs_round_trip_through_the_protobuf_parser(batching: Batching) -> None:
    signature = _signature()
    inputs = wire_tensors(signature.inputs, "input-", "input")
    outputs = wire_tensors(signature.outputs, "output-", "output")
    config = build("m", inputs, outputs, batching, backend="python")
    text = to_text(config, "a header\nof two lines")
    assert text.startswith("# a header\n# of two lines\n")
    parsed = parse(text)
    assert parsed == config
    assert to_text(parsed, "a header\nof two lines") == text
    assert parsed.max_batch_size == batching.max_batch_size
    assert parsed.instance_group[0].count == batching.instances
    assert parsed.HasField("dynamic_batching") is batching.dynamic_batching
    dims = [1] if batching.max_batch_size else [-1, 1]
    assert [list(i.dims) for i in parsed.input] == [dims] * 3


def test_reshape_lets_a_model_file_see_1d_tensors_as_1d() -> None:
    inputs = wire_tensors(Schema([TensorSpec(np.dtype("float32"), (-1,), "x")]), "i-", "input")
    outputs = wire_tensors(Schema([TensorSpec(np.dtype("float32"), (-1,))]), "output-", "output")
    config = build("m", inputs, outputs, Batching(), backend="onnxruntime", reshape=True)
    assert list(config.input[0].dims) == [1] and config.input[0].HasField("reshape")
    assert list(config.input[0].reshape.shape) == []
    assert parse(to_text(config)) == config


def test_unparseable_config_text_is_refused_with_protobufs_position() -> None:
    with pytest.raises(ValueError, match=r"config.pbtxt: not a Triton model configuration: 1:1"):
        parse("nme: 'x'")
    with pytest.raises(ValueError, match=r"2:15 .*Couldn.t parse integer: \"four\""):
        parse('name: "x"\ninput { dims: "four" }')
