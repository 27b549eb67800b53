"""``config.pbtxt``: written from a signature and read back with Triton's own protobuf schema.

The schema is ``inference.ModelConfig`` as ``tritonclient`` ships it
(``tritonclient.grpc.model_config_pb2``); text goes through protobuf's text
format both ways, so what the exporter writes is what Triton parses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flavorkit_triton._datatypes import WireTensor

CONFIG_FILE = "config.pbtxt"
# config.pbtxt is small; a bigger file is not a model configuration
MAX_CONFIG_BYTES = 1 << 20


def schema() -> Any:
    """The ``model_config_pb2`` module (Triton's model configuration schema)."""
    from tritonclient.grpc import model_config_pb2

    return model_config_pb2


@dataclass(frozen=True)
class Batching:
    """How Triton batches and runs the model.

    ``max_batch_size`` 0 turns Triton's batching off (dims then include the
    batch dimension); ``instances`` is the CPU instance count;
    ``dynamic_batching`` lets Triton join requests (needs
    ``max_batch_size > 0``).
    """

    max_batch_size: int = 8
    instances: int = 1
    dynamic_batching: bool = True

    def __post_init__(self) -> None:
        if self.max_batch_size < 0:
            raise ValueError(f"max_batch_size must be 0 or more, got {self.max_batch_size}")
        if self.instances < 1:
            raise ValueError(f"instances must be 1 or more, got {self.instances}")
        if self.dynamic_batching and self.max_batch_size == 0:
            raise ValueError(
                "dynamic batching needs max_batch_size > 0 (Triton joins requests along the "
                "batch dimension); pass --max-batch-size N or --no-dynamic-batching"
            )


def dims_of(tensor: WireTensor, batching: Batching) -> list[int]:
    """The ``dims`` of ``tensor`` in ``config.pbtxt``: without the batch dimension when batching.

    Raises ``ValueError`` for a tensor whose first dimension is fixed (it
    cannot be batched) when ``max_batch_size > 0``.
    """
    if batching.max_batch_size == 0:
        return list(tensor.shape)
    if tensor.shape[0] != -1:
        raise ValueError(
            f"tensor {tensor.name!r} has a fixed first dimension ({tensor.shape[0]}), so Triton "
            "cannot batch it: export with max_batch_size=0 (--max-batch-size 0)"
        )
    return list(tensor.shape[1:])


def build(
    name: str,
    inputs: list[WireTensor],
    outputs: list[WireTensor],
    batching: Batching,
    *,
    backend: str,
    reshape: bool = False,
    parameters: dict[str, str] | None = None,
) -> Any:
    """The ``ModelConfig`` message for a model named ``name`` run by ``backend``.

    With ``reshape``, a 1-D tensor (``[N, 1]`` on the wire) reaches the
    backend as ``[N]`` (Triton's ``reshape``): a model file such as ONNX
    declares its own shapes, which Triton checks against the config.
    """
    pb = schema()
    config = pb.ModelConfig(name=name, backend=backend, max_batch_size=batching.max_batch_size)
    for fields, tensors in ((config.input, inputs), (config.output, outputs)):
        for tensor in tensors:
            dims = dims_of(tensor, batching)
            entry = fields.add(
                name=tensor.name, data_type=pb.DataType.Value(tensor.data_type), dims=dims
            )
            if reshape and tensor.squeeze and not tensor.column:
                entry.reshape.shape.extend(dims[:-1])
                entry.reshape.SetInParent()
    config.instance_group.add(kind=pb.ModelInstanceGroup.KIND_CPU, count=batching.instances)
    if batching.dynamic_batching:
        config.dynamic_batching.SetInParent()
    for key, value in (parameters or {}).items():
        config.parameters[key].string_value = value
    return config


def to_text(config: Any, header: str = "") -> str:
    """``config`` in protobuf text format, after ``header`` as ``#`` comment lines."""
    from google.protobuf import text_format

    comments = "".join(f"# {line}\n" for line in header.splitlines())
    return comments + text_format.MessageToString(config)


def parse(text: str, where: str = CONFIG_FILE) -> Any:
    """Parse ``config.pbtxt`` text into a ``ModelConfig``.

    Raises ``ValueError`` with protobuf's line:column message, prefixed by
    ``where``.
    """
    from google.protobuf import text_format

    try:
        return text_format.Parse(text, schema().ModelConfig())
    except text_format.ParseError as exc:
        raise ValueError(f"{where}: not a Triton model configuration: {exc}") from None


def read(path: Path) -> Any:
    """Read and parse the ``config.pbtxt`` at ``path`` (bounded); raises ``ValueError``.

    Only a regular file is read: a FIFO or a device in its place is refused
    instead of read forever.
    """
    from flavorkit.exceptions import ManifestError
    from flavorkit.folder import open_regular

    try:
        with open_regular(path) as fh:
            data = fh.read(MAX_CONFIG_BYTES + 1)
    except ManifestError as exc:  # named after the file below, as the other errors are
        raise ValueError(f"{path.name}: {str(exc).removeprefix(f'{path}: ')}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ValueError(f"{path.name}: larger than {MAX_CONFIG_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = f"{exc.reason} at byte {exc.start}"
        raise ValueError(f"{path.name}: not UTF-8 text ({where})") from None
    return parse(text, path.name)


def type_name(data_type: int) -> str:
    """The name of a ``DataType`` value (``TYPE_FP32``)."""
    return str(schema().DataType.Name(data_type))
