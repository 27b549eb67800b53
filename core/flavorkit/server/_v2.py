"""The Open Inference Protocol (KServe V2) as Triton and MLServer speak it over HTTP/REST.

A V2 request names its tensors: ``{"id", "parameters", "inputs": [{"name",
"shape", "datatype", "data", "parameters"}], "outputs": [{"name"}]}``. How
the inputs become the model's input follows MLServer's codecs (its
``content_type`` names):

- the request's content type: ``pd`` (every input is a column of one
  DataFrame; the default for a column signature), ``np`` (the one input as an
  ndarray; the default for one unnamed tensor), ``dict`` (name -> ndarray;
  the default for named tensors), ``str`` (the one ``BYTES`` input as a list
  of str);
- an input's content type says how its elements are read: ``np`` (numbers,
  or text as the column's own type reads it), ``str`` (UTF-8 text),
  ``base64`` (bytes as base64 text), ``datetime`` (ISO 8601 text),
  ``pd_json`` (each element JSON text: the complex columns).

A ``pd`` request becomes table rows, exactly as a ``dataframe_split`` body:
the same lossless conversion, and it joins micro-batches with them. Tensors
go through the same exact conversion as ``inputs`` bodies. The request's
``parameters`` other than the protocol's own (``content_type``, Triton's
``binary_data_output``, ``sequence_*``, ``priority``, ``timeout``,
``headers``, ``triton_*``) are the model's params.

Triton's binary tensor extension is read (a request with an
``Inference-Header-Content-Length`` header); answers are always JSON, which
tritonclient reads as well. Names: see :class:`V2Model`.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flavorkit.enforce._columns import not_year_first
from flavorkit.exceptions import PayloadError, SchemaEnforcementError
from flavorkit.io import Limits, Parsed, Rows, is_column_schema, rows_input
from flavorkit.signature import DataType

if TYPE_CHECKING:
    import numpy as np

    from flavorkit.api._pyfunc import PyFuncModel
    from flavorkit.signature import Schema

# V2 datatype -> numpy dtype name
DATATYPES = {
    "BOOL": "bool",
    "UINT8": "uint8",
    "UINT16": "uint16",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "FP16": "float16",
    "FP32": "float32",
    "FP64": "float64",
    "BYTES": "object",
}
_NUMPY_TO_V2 = {v: k for k, v in DATATYPES.items() if k != "BYTES"}
# a column type -> (V2 datatype, the content type its elements are read with)
COLUMN_TYPES: dict[DataType, tuple[str, str]] = {
    DataType.boolean: ("BOOL", "np"),
    DataType.integer: ("INT32", "np"),
    DataType.long: ("INT64", "np"),
    DataType.float: ("FP32", "np"),
    DataType.double: ("FP64", "np"),
    DataType.string: ("BYTES", "str"),
    DataType.binary: ("BYTES", "base64"),
    DataType.datetime: ("BYTES", "datetime"),
}
REQUEST_CONTENT_TYPES = ("pd", "np", "dict", "str")
INPUT_CONTENT_TYPES = ("np", "str", "base64", "datetime", "pd_json")
# request parameters that belong to the protocol, not to the model
RESERVED_PARAMS = frozenset(
    {
        "content_type",
        "headers",
        "binary_data_output",
        "sequence_id",
        "sequence_start",
        "sequence_end",
        "priority",
        "timeout",
    }
)
_REQUEST_KEYS = ("id", "parameters", "inputs", "outputs")
_INPUT_KEYS = ("name", "shape", "datatype", "data", "parameters")
_INPUT_KEY_SET = frozenset(_INPUT_KEYS)
_INT_RANGES = {
    "INT8": (-(2**7), 2**7 - 1),
    "INT16": (-(2**15), 2**15 - 1),
    "INT32": (-(2**31), 2**31 - 1),
    "INT64": (-(2**63), 2**63 - 1),
    "UINT8": (0, 2**8 - 1),
    "UINT16": (0, 2**16 - 1),
    "UINT32": (0, 2**32 - 1),
    "UINT64": (0, 2**64 - 1),
}
_EXACT = 2**53  # the integers a double holds exactly
_INDEXED = re.compile(r"input-(\d+)")
HEADER_LENGTH = "inference-header-content-length"


def _datatype_of(dtype: np.dtype) -> str:
    """The V2 datatype of a numpy dtype (text, bytes and objects are ``BYTES``)."""
    return _NUMPY_TO_V2.get(dtype.name, "BYTES")


@dataclass
class _Input:
    """What the server knows of one declared input: its spec and how its elements are read."""

    name: str
    position: int
    spec: Any
    datatype: str
    content_type: str
    column: bool


@dataclass
class V2Model:
    """The served model as the V2 endpoints describe it.

    Input names are the signature's (``input-0``, ``input-1`` ... for unnamed
    specs), output names the output schema's (``output-0`` ... for unnamed
    ones); a prediction with no names of its own (an array, a list) is the
    one output ``output-0`` unless the output schema names its single spec.
    Columns are tensors of shape ``[-1, 1]``.
    """

    name: str
    version: str
    platform: str
    inputs: list[_Input]
    outputs: list[dict[str, Any]]
    content_type: str | None
    schema: Schema | None
    single_output: str = "output-0"
    by_name: dict[str, _Input] = field(default_factory=dict)

    @classmethod
    def of(cls, model: PyFuncModel, name: str, version: str) -> V2Model:
        """The V2 view of ``model`` served as ``name`` version ``version``."""
        signature = model.signature
        schema = signature.inputs if signature is not None else None
        inputs = (
            [_declared(spec, i, "input-") for i, spec in enumerate(schema.inputs)] if schema else []
        )
        outputs_schema = signature.outputs if signature is not None else None
        outputs = []
        single = "output-0"
        if outputs_schema is not None:
            declared = [_declared(s, i, "output-") for i, s in enumerate(outputs_schema.inputs)]
            outputs = [_tensor_metadata(d) for d in declared]
            if len(declared) == 1 and outputs_schema.inputs[0].name is not None:
                single = declared[0].name
        if schema is None:
            content_type = None
        elif is_column_schema(schema):
            content_type = "pd"
        else:
            content_type = "dict" if schema.has_input_names() else "np"
        return cls(
            name=name,
            version=version,
            platform=f"flavorkit_{model.flavor}",
            inputs=inputs,
            outputs=outputs,
            content_type=content_type,
            schema=schema,
            single_output=single,
            by_name={i.name: i for i in inputs},
        )

    def metadata(self) -> dict[str, Any]:
        """The body of ``GET /v2/models/{name}``."""
        out: dict[str, Any] = {
            "name": self.name,
            "versions": [self.version],
            "platform": self.platform,
            "inputs": [_tensor_metadata(i) for i in self.inputs],
            "outputs": self.outputs,
        }
        if self.content_type is not None:
            out["parameters"] = {"content_type": self.content_type}
        return out


def _declared(spec: Any, i: int, prefix: str) -> _Input:
    from flavorkit.signature import ColSpec

    name = str(spec.name) if spec.name is not None else f"{prefix}{i}"
    if isinstance(spec, ColSpec):
        if isinstance(spec.type, DataType) and spec.type in COLUMN_TYPES:
            datatype, content = COLUMN_TYPES[spec.type]
        else:
            datatype, content = "BYTES", "pd_json"
        return _Input(name, i, spec, datatype, content, True)
    return _Input(name, i, spec, _datatype_of(spec.type), "np", False)


def _tensor_metadata(declared: _Input) -> dict[str, Any]:
    shape = [-1, 1] if declared.column else [int(d) for d in declared.spec.shape]
    return {
        "name": declared.name,
        "datatype": declared.datatype,
        "shape": shape,
        "parameters": {"content_type": declared.content_type},
    }


@dataclass
class V2Request(Parsed):
    """A parsed V2 inference request: the model's input plus what the answer echoes."""

    model: V2Model | None = None
    request_id: str | None = None
    # the outputs asked for by name, in order; None: every output
    outputs: list[str] | None = None
    # any input arrived as binary data (Triton's extension): its floats may be infinite
    binary: bool = False
    # outputs answered as binary data: the request's binary_data_output, and each
    # requested output's own binary_data
    binary_output: bool = False
    binary_outputs: dict[str, bool] = field(default_factory=dict)


class BinaryAnswer(bytes):
    """A V2 answer with binary tensor data after its JSON part (``header_length`` bytes)."""

    header_length: int


# ---------------------------------------------------------------- requests


def _kind(value: Any) -> str:
    from flavorkit.io._json import json_kind

    return json_kind(value)


def parse_request(
    body: bytes, header_length: int | None, model: V2Model, limits: Limits
) -> V2Request:
    """A V2 inference request body as a ``V2Request`` (not yet validated against the signature).

    ``header_length`` is the ``Inference-Header-Content-Length`` header: the
    JSON part's length, binary tensor data after it. Raises ``PayloadError``
    (``PayloadTooLargeError`` over ``limits``) or ``SchemaEnforcementError``.
    """
    from flavorkit.io._json import load_json

    binary = b""
    if header_length is not None:
        if header_length > len(body):
            raise PayloadError(
                f"the {HEADER_LENGTH} header says the JSON part has {header_length} bytes, "
                f"the body has {len(body)}",
                field=HEADER_LENGTH,
            )
        body, binary = body[:header_length], body[header_length:]
    payload = load_json(body)
    if not isinstance(payload, dict):
        raise PayloadError(
            f"the V2 request must be a JSON object with 'inputs', got a JSON {_kind(payload)}",
            field="body",
        )
    unknown = [k for k in payload if k not in _REQUEST_KEYS]
    if unknown:
        raise PayloadError(
            f"the V2 request has unknown key(s) {_names(unknown)}; "
            f"allowed: {', '.join(_REQUEST_KEYS)}",
            field=str(unknown[0])[:100],
        )
    request_id = payload.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise PayloadError(f"'id' must be a string, got a JSON {_kind(request_id)}", field="id")
    parameters = _parameters(payload.get("parameters"), "parameters")
    content_type = parameters.get("content_type")
    if content_type is not None and content_type not in REQUEST_CONTENT_TYPES:
        raise PayloadError(
            f"'parameters.content_type' {str(content_type)[:50]!r} is not a request content "
            f"type; use one of {', '.join(REQUEST_CONTENT_TYPES)}",
            field="parameters.content_type",
        )
    params = {
        k: v
        for k, v in parameters.items()
        if k not in RESERVED_PARAMS and not k.startswith("triton_")
    }
    outputs, binary_outputs = _requested_outputs(payload.get("outputs"))
    binary_output = parameters.get("binary_data_output", False)
    if type(binary_output) is not bool:
        raise PayloadError(
            "'parameters.binary_data_output' must be true or false, "
            f"got a JSON {_kind(binary_output)}",
            field="parameters.binary_data_output",
        )
    raw = payload.get("inputs")
    if not isinstance(raw, list) or not raw:
        got = "an empty list" if raw == [] else f"a JSON {_kind(raw)}"
        raise PayloadError(
            f"'inputs' must be a non-empty list of input tensors, got {got}", field="inputs"
        )
    tensors = _read_inputs(raw, memoryview(binary), limits)
    content_type = content_type or model.content_type or ("np" if len(tensors) == 1 else "dict")
    if content_type == "pd":
        request = _table(tensors, model)
    else:
        request = V2Request(data=_tensors(tensors, model, content_type))
    request.params = params or None
    request.model = model
    request.request_id = request_id
    request.outputs = outputs
    request.binary = bool(binary)
    request.binary_output = binary_output
    request.binary_outputs = binary_outputs
    return request


def _names(names: list[Any]) -> str:
    from flavorkit.enforce._values import names_preview

    return names_preview([str(n) for n in names])


def _parameters(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError(
            f"'{where}' must be a JSON object, got a JSON {_kind(value)}", field=where
        )
    return value


def _requested_outputs(value: Any) -> tuple[list[str] | None, dict[str, bool]]:
    """The names of the outputs asked for (None: all), and those with their own binary_data."""
    if value is None:
        return None, {}
    if not isinstance(value, list):
        raise PayloadError(
            f"'outputs' must be a list of {{\"name\": ...}} objects, got a JSON {_kind(value)}",
            field="outputs",
        )
    names: list[str] = []
    seen: set[str] = set()
    binary = {}
    for i, item in enumerate(value):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str):
            raise PayloadError(
                f"'outputs' item {i} must be an object with a string 'name'", field="outputs"
            )
        if name in seen:
            # each copy would be answered in full: a short request for a large answer
            raise PayloadError(
                f"'outputs' asks for output {name[:100]!r} twice (item {i}); ask for each "
                "output once",
                field="outputs",
            )
        flag = _parameters(item.get("parameters"), f"outputs[{i}].parameters").get("binary_data")
        if flag is not None:
            if type(flag) is not bool:
                raise PayloadError(
                    f"'outputs[{i}].parameters.binary_data' must be true or false, "
                    f"got a JSON {_kind(flag)}",
                    field="outputs",
                )
            binary[name] = flag
        names.append(name)
        seen.add(name)
    return names, binary


@dataclass(slots=True)
class _Tensor:
    """One request input, its elements flat (a list, or an ndarray when sent as binary)."""

    name: str
    shape: list[int]
    datatype: str
    values: Any
    content_type: str | None


def _label(name: str) -> str:
    return f"input {name[:100]!r}"


def _read_inputs(raw: list[Any], binary: memoryview, limits: Limits) -> list[_Tensor]:
    tensors: list[_Tensor] = []
    seen: set[str] = set()
    offset = 0
    rows = cells = 0
    keys, elements = _INPUT_KEY_SET, _ELEMENTS
    for i, item in enumerate(raw):
        if type(item) is not dict:
            raise PayloadError(
                f"'inputs' item {i} must be a JSON object, got a JSON {_kind(item)}",
                field="inputs",
            )
        name = item.get("name")
        if type(name) is not str or not name:
            raise PayloadError(f"'inputs' item {i} needs a non-empty string 'name'", field="inputs")
        if not keys.issuperset(item):
            unknown = [k for k in item if k not in keys]
            raise PayloadError(
                f"{_label(name)} has unknown key(s) {_names(unknown)}; "
                f"allowed: {', '.join(_INPUT_KEYS)}",
                field=name,
            )
        if name in seen:
            raise PayloadError(f"{_label(name)} is given twice; send each input once", field=name)
        seen.add(name)
        shape = item.get("shape")
        count = _count(shape)
        if count < 0:
            raise PayloadError(
                f"{_label(name)}: 'shape' must be a list of 1 to {_MAX_DIMS} non-negative "
                f"integers, got {_shape_preview(shape)}",
                field=name,
            )
        if count > _MAX_ELEMENTS:
            raise PayloadError(
                f"{_label(name)}: 'shape' {_shape_preview(shape)} has more elements than a "
                f"tensor can hold (its non-zero dimensions multiply past {_MAX_ELEMENTS})",
                field=name,
            )
        datatype = item.get("datatype")
        if type(datatype) is not str or datatype not in elements:
            shown = str(datatype)[:30] if isinstance(datatype, str) else f"a JSON {_kind(datatype)}"
            raise PayloadError(
                f"{_label(name)}: 'datatype' {shown!r} is not a V2 datatype this server reads; "
                f"use one of {', '.join(DATATYPES)}",
                field=name,
            )
        parameters = item.get("parameters")
        content_type = size = None
        if parameters is not None:
            _parameters(parameters, f"inputs[{i}].parameters")
            content_type = parameters.get("content_type")
            if content_type is not None and content_type not in INPUT_CONTENT_TYPES:
                raise PayloadError(
                    f"{_label(name)}: content_type {str(content_type)[:50]!r} is not an input "
                    f"content type; use one of {', '.join(INPUT_CONTENT_TYPES)}",
                    field=name,
                )
            size = parameters.get("binary_data_size")
        if shape[0] > rows:
            rows = shape[0]
        cells += count
        if size is not None:
            limits.check(rows, cells)  # before the binary data is decoded
            if "data" in item:
                raise PayloadError(
                    f"{_label(name)} has both 'data' and binary data (binary_data_size); send one",
                    field=name,
                )
            if type(size) is not int or size < 0 or offset + size > len(binary):
                raise PayloadError(
                    f"{_label(name)}: binary_data_size {size!r} does not fit the "
                    f"{len(binary)} bytes of binary data after the JSON part",
                    field=name,
                )
            values: Any = _from_binary(binary[offset : offset + size], datatype, count, name)
            offset += size
        else:
            values = item.get("data", _MISSING)
            if type(values) is not list or (values and type(values[0]) is list):
                if values is _MISSING:
                    raise PayloadError(f"{_label(name)} has no 'data'", field=name)
                values = _flat(values, name)
            if len(values) != count:
                raise PayloadError(
                    f"{_label(name)}: 'data' has {len(values)} elements, its shape {shape} "
                    f"needs {count}",
                    field=name,
                )
            # one element of an allowed type other than int (which has a range): nothing to check
            if count != 1 or type(values[0]) not in elements[datatype][0] or type(values[0]) is int:
                _check_elements(values, datatype, name)
        tensors.append(_Tensor(name, shape, datatype, values, content_type))
    limits.check(rows, cells)
    if offset != len(binary):
        raise PayloadError(
            f"the body has {len(binary) - offset} bytes of binary data that no input claims "
            "(binary_data_size)",
            field="body",
        )
    return tensors


_MISSING = object()


# the most dimensions a shape may have (numpy's own limit is 64, or 32 before numpy 2)
_MAX_DIMS = 32
# the most elements a tensor may claim, counting its non-zero dimensions only (numpy refuses
# an empty array whose other dimensions multiply past its byte index, 8 bytes an element)
_MAX_ELEMENTS = 2**59


def _count(shape: Any) -> int:
    """The element count of a V2 ``shape`` (1 to ``_MAX_DIMS`` non-negative ints); -1 if not one.

    Past ``_MAX_ELEMENTS`` (its non-zero dimensions multiplied) the count is
    ``_MAX_ELEMENTS + 1``, even with a zero dimension: a hostile shape costs
    no big-integer arithmetic, and no reshape fails on it later.
    """
    if type(shape) is not list or not shape:
        return -1
    if len(shape) > _MAX_DIMS or not all(type(d) is int and d >= 0 for d in shape):
        return -1
    capacity = 1
    for d in shape:
        if d > 1:
            capacity *= d
            if capacity > _MAX_ELEMENTS:
                return _MAX_ELEMENTS + 1
    return 0 if 0 in shape else capacity


def _shape_preview(shape: Any) -> str:
    """A hostile ``shape`` for a message: its JSON kind, or its first dimensions."""
    if type(shape) is not list:
        return f"a JSON {_kind(shape)}"
    if not shape:
        return "an empty list"
    shown = ", ".join(_dim_preview(d) for d in shape[:_MAX_DIMS])
    more = f", ... ({len(shape)} dimensions)" if len(shape) > _MAX_DIMS else ""
    return f"[{shown}{more}]"


def _dim_preview(dim: Any) -> str:
    if type(dim) is not int:
        return f"a JSON {_kind(dim)}"
    return str(dim) if abs(dim) < 2**63 else "an integer beyond 64 bits"


def _flat(data: Any, name: str) -> list[Any]:
    """The elements of ``data`` in row-major order (V2 sends them flat; nested lists are read)."""
    if type(data) is not list:
        return [data]
    flat = data
    while flat and type(flat[0]) is list:
        if not all(type(x) is list for x in flat):
            raise PayloadError(f"{_label(name)}: 'data' mixes lists and values", field=name)
        flat = list(itertools.chain.from_iterable(flat))
    return flat


_NONE = type(None)
# what each datatype's elements may be in JSON (a null stands for a missing value)
_ELEMENTS = {
    "BYTES": (frozenset({str, _NONE}), "text"),
    "BOOL": (frozenset({bool, _NONE}), "true or false"),
    **{fp: (frozenset({float, int, _NONE}), "numbers") for fp in ("FP16", "FP32", "FP64")},
    **{k: (frozenset({int, _NONE}), "integers") for k in _INT_RANGES},
}


def _check_elements(values: list[Any], datatype: str, name: str) -> None:
    """Every element is what ``datatype`` holds: its kind, and integers within its range."""
    allowed, what = _ELEMENTS[datatype]
    kinds = set(map(type, values))
    if not kinds <= allowed:
        bad = next(i for i, v in enumerate(values) if type(v) not in allowed)
        raise PayloadError(
            f"{_label(name)}: datatype {datatype} holds {what}, but element {bad} of 'data' "
            f"is a JSON {_kind(values[bad])}",
            field=name,
        )
    if int not in kinds:
        return
    if datatype.startswith("FP"):
        # a JSON integer a double cannot hold exactly is not an FP value
        lo, hi = -_EXACT, _EXACT
        ints = [v for v in values if type(v) is int]
    else:
        lo, hi = _INT_RANGES[datatype]
        ints = values if _NONE not in kinds else [v for v in values if v is not None]
    if ints and (min(ints) < lo or max(ints) > hi):
        at = next(i for i, v in enumerate(values) if type(v) is int and not lo <= v <= hi)
        if datatype.startswith("FP"):
            raise PayloadError(
                f"{_label(name)}: element {at} of 'data' is an integer too large for "
                f"{datatype} to hold exactly",
                field=name,
            )
        raise PayloadError(
            f"{_label(name)}: element {at} of 'data' is outside the range of {datatype}",
            field=name,
        )


def _from_binary(buf: memoryview, datatype: str, count: int, name: str) -> Any:
    """Elements sent as Triton binary data: little-endian numbers, or length-prefixed bytes."""
    import numpy as np

    label = _label(name)
    if datatype != "BYTES":
        dtype = np.dtype(DATATYPES[datatype]).newbyteorder("<")
        if len(buf) != count * dtype.itemsize:
            raise PayloadError(
                f"{label}: {len(buf)} bytes of binary data, its shape and {datatype} need "
                f"{count * dtype.itemsize}",
                field=name,
            )
        if datatype == "BOOL":
            # a bool is one byte, 0 or 1: numpy would keep any other byte as a "true"
            # that is not equal to True
            raw = np.frombuffer(buf, dtype=np.uint8)
            if raw.size and int(raw.max()) > 1:
                at = int(np.argmax(raw > 1))
                raise PayloadError(
                    f"{label}: element {at} of the binary BOOL data is the byte {int(raw[at])}; "
                    "a BOOL is one byte, 0 (false) or 1 (true)",
                    field=name,
                )
        return np.frombuffer(buf, dtype=dtype).astype(dtype.newbyteorder("="))
    out: list[bytes] = []
    at = 0
    end = len(buf)
    while at < end:
        if len(out) == count:
            # stop at the claimed count (bounded by the limits): a body of empty elements
            # must not cost a loop and a list as long as the body
            raise PayloadError(
                f"{label}: the binary data holds more elements than the {count} its shape needs",
                field=name,
            )
        if at + 4 > end:
            raise PayloadError(
                f"{label}: the binary BYTES data is cut short: element {len(out)} has "
                f"{end - at} of the 4 bytes of its length",
                field=name,
            )
        size = int.from_bytes(buf[at : at + 4], "little")
        if at + 4 + size > end:
            raise PayloadError(
                f"{label}: the binary BYTES data is cut short: element {len(out)} says it has "
                f"{size} bytes, {end - at - 4} are left",
                field=name,
            )
        out.append(bytes(buf[at + 4 : at + 4 + size]))
        at += 4 + size
    if len(out) != count:
        raise PayloadError(
            f"{label}: the binary data holds {len(out)} elements, its shape needs {count}",
            field=name,
        )
    return out


def _elements(tensor: _Tensor, reading: str, label: str, *, to_bytes: bool = False) -> list[Any]:
    """A tensor's elements as Python values, its text read as the content type ``reading`` says.

    Numbers pass through. Text: ``str`` as is (``to_bytes``: its UTF-8 bytes),
    ``base64`` decoded to bytes, ``pd_json`` decoded JSON; others (``datetime``)
    stay text for the column's own reading. Binary ``BYTES`` elements are
    UTF-8 text, or the bytes themselves for a bytes reading.
    """
    values = tensor.values
    name = tensor.name
    if tensor.datatype != "BYTES":
        return values if isinstance(values, list) else values.tolist()
    raw = bool(values) and isinstance(values[0], bytes)
    if reading == "base64":
        if raw and tensor.content_type is None:
            return values  # sent as bytes already
        return [_b64(v, i, label, name) for i, v in enumerate(values)]
    if raw:
        if to_bytes:
            return values
        values = [_utf8(v, i, label, name) for i, v in enumerate(values)]
    if reading == "pd_json":
        from flavorkit.io._json import load_json

        out = []
        for i, v in enumerate(values):
            try:
                out.append(None if v is None else load_json(v))
            except PayloadError as exc:
                raise PayloadError(
                    f"{label}: element {i} is not JSON text (content_type 'pd_json'): {exc}",
                    field=name,
                ) from None
        return out
    if to_bytes:
        return [None if v is None else v.encode() for v in values]
    return values


def _b64(value: Any, i: int, label: str, name: str) -> bytes | None:
    if value is None:
        return None
    try:
        text = value if isinstance(value, (bytes, str)) else str(value)
        if isinstance(text, str):
            text = "".join(text.split())
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise PayloadError(
            f"{label}: element {i} is not base64 text (content_type 'base64')", field=name
        ) from None


def _utf8(value: bytes, i: int, label: str, name: str) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError(
            f"{label}: element {i} is not UTF-8 text; send bytes with content_type 'base64'",
            field=name,
        ) from None


def _not_text(label: str, given: str, datatype: str, name: str) -> PayloadError:
    return PayloadError(
        f"{label}: content_type {given!r} reads text, but the datatype is {datatype}; "
        "send BYTES, or content_type 'np' (or none)",
        field=name,
    )


def _column_reading(tensor: _Tensor, declared: _Input | None) -> str:
    """The content type a column input's text is read with; refuses one its column cannot take."""
    label = f"input {tensor.name[:100]!r}"
    given = tensor.content_type
    if tensor.datatype != "BYTES":
        if given not in (None, "np"):
            raise _not_text(label, given, tensor.datatype, tensor.name)
        return "np"
    own = declared.content_type if declared is not None else "str"
    if given in (None, "np"):
        return own
    if declared is None or given == own or given == "pd_json":
        return given
    if given == "str" and own == "base64":
        return "str"  # a binary column given text: its UTF-8 bytes
    col_type = declared.spec.type
    column = col_type.name if isinstance(col_type, DataType) else str(col_type)
    raise PayloadError(
        f"{label}: content_type {given!r} does not fit column {declared.name!r} of type "
        f"{column}; send content_type {own!r} (or none)",
        field=tensor.name,
    )


def _table(tensors: list[_Tensor], model: V2Model) -> V2Request:
    """Inputs as the columns of one table: rows, typed and checked as a ``dataframe_split``."""
    n = tensors[0].shape[0]
    columns = []
    for t in tensors:
        shape = t.shape
        if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
            raise PayloadError(
                f"{_label(t.name)}: shape {shape} is not a column; with content type 'pd' every "
                "input is one column of shape [N, 1] (or [N])",
                field=t.name,
            )
        if shape[0] != n:
            raise PayloadError(
                f"{_label(t.name)} has {shape[0]} rows, input {tensors[0].name[:100]!r} has "
                f"{n}; every column needs the same number of rows",
                field=t.name,
            )
        if t.datatype != "BYTES" and t.content_type in (None, "np") and type(t.values) is list:
            columns.append(t.values)  # JSON numbers: typed as the column declares, later
            continue
        declared = model.by_name.get(t.name)
        reading = _column_reading(t, declared)
        to_bytes = reading == "str" and declared is not None and declared.content_type == "base64"
        columns.append(_elements(t, reading, _label(t.name), to_bytes=to_bytes))
    rows = [list(r) for r in zip(*columns, strict=True)]
    schema = model.schema
    names: tuple[str, ...] | None = tuple(t.name for t in tensors)
    if schema is not None and not schema.has_input_names() and is_column_schema(schema):
        # unnamed columns go by position: input-0, input-1 ... in that order
        order = [_INDEXED.fullmatch(t.name) for t in tensors]
        if all(order):
            ranks = sorted(range(len(tensors)), key=lambda i: int(order[i].group(1)))  # type: ignore[union-attr]
            rows = [[r[i] for i in ranks] for r in rows]
        names = None
    table = Rows(names, rows)
    if is_column_schema(schema):
        return V2Request(rows=table)
    return V2Request(data=rows_input(table, schema))


def _tensors(tensors: list[_Tensor], model: V2Model, content_type: str) -> Any:
    """Inputs as ndarrays (``np``: the one input; ``dict``: by name) or ``str``: a list of str."""
    if content_type in ("np", "str") and len(tensors) != 1:
        raise PayloadError(
            f"content type {content_type!r} takes one input, the request has {len(tensors)} "
            f"({_names([t.name for t in tensors])}); send one input, or content type 'dict'",
            field="inputs",
        )
    schema = model.schema
    unnamed = schema is not None and not schema.has_input_names() and not is_column_schema(schema)
    out = {}
    for t in tensors:
        label = f"input {t.name[:100]!r}"
        declared = model.by_name.get(t.name)
        if declared is None and unnamed and len(tensors) == 1:
            declared = model.inputs[0]
        if content_type == "str":
            if t.datatype != "BYTES":
                raise PayloadError(
                    f"{label}: content type 'str' takes BYTES, the datatype is {t.datatype}",
                    field=t.name,
                )
            given = t.content_type
            return _elements(t, "str" if given in (None, "np") else given, label)
        out[t.name] = _array(t, declared, label)
    if content_type == "np":
        return next(iter(out.values()))
    return out


def _array(t: _Tensor, declared: _Input | None, label: str) -> np.ndarray:
    """One input as an ndarray of its declared dtype (converted exactly), in its shape."""
    import numpy as np

    from flavorkit.io._convert import typed_array

    given = t.content_type
    dtype = None
    if declared is not None and not declared.column:
        dtype = declared.spec.type
    elif t.datatype != "BYTES":
        dtype = np.dtype(DATATYPES[t.datatype])
    if t.datatype == "BYTES":
        reading = given if given not in (None, "np") else "str"
        values = _elements(t, reading, label, to_bytes=dtype is not None and dtype.kind == "S")
        if reading == "datetime":
            import pandas as pd

            # "" is no date here either: a missing value is a null
            bad = not_year_first(values, empty_is_missing=False)
            if bad is not None:
                raise SchemaEnforcementError(
                    f"{label}: element {bad} is not an ISO 8601 datetime (content_type "
                    "'datetime'): it must start with the year; send null for a missing value",
                    field=t.name,
                    expected="datetime",
                    actual="string",
                )
            try:
                arr = pd.to_datetime(pd.Series(values, dtype=object), format="ISO8601").to_numpy()
            except (ValueError, TypeError, OverflowError):
                raise SchemaEnforcementError(
                    f"{label}: expected ISO 8601 datetimes (content_type 'datetime'), "
                    "got text that does not parse as one",
                    field=t.name,
                    expected="datetime",
                    actual="string",
                ) from None
            return arr.reshape(t.shape)
        arr = np.empty(len(values), dtype=object)
        arr[:] = values
        if dtype is not None and dtype.kind != "O":
            arr = _typed(typed_array, arr, dtype, t.name)
        return arr.reshape(t.shape)
    if given not in (None, "np"):
        raise _not_text(label, given, t.datatype, t.name)
    values = t.values
    if not isinstance(values, list):  # binary data: already the datatype's dtype
        if dtype is not None and values.dtype != dtype:
            values = _typed(typed_array, values, dtype, t.name)
        return values.reshape(t.shape)
    if any(v is None for v in values):
        raise PayloadError(
            f"{label}: 'data' holds a null; a {t.datatype} tensor needs a value in every element",
            field=t.name,
        )
    # JSON numbers go to the declared dtype as /invocations takes them: only when exact
    arr = _typed(typed_array, values, dtype, t.name)
    return arr.reshape(t.shape)


def _typed(convert: Any, value: Any, dtype: Any, name: str) -> Any:
    try:
        return convert(value, dtype, name)
    except ValueError as exc:
        if isinstance(exc, (PayloadError, SchemaEnforcementError)):
            raise
        raise PayloadError(str(exc), field=name) from None


# ---------------------------------------------------------------- responses


def encode_response(result: Any, request: V2Request) -> bytes:
    """The V2 answer to ``request`` for the model's ``result``: JSON, or JSON and binary data.

    Outputs go as Triton's binary tensor data when the request asks
    (``binary_data_output``, or an output's ``binary_data``); the answer is
    then a :class:`BinaryAnswer`.
    """
    from flavorkit.io._json import dump_json

    model = request.model
    assert model is not None
    outputs = _outputs(result, model.single_output)
    if request.outputs is not None:
        by_name = {o[0]["name"]: o for o in outputs}
        missing = [n for n in request.outputs if n not in by_name]
        if missing:
            raise PayloadError(
                f"the request asks for output(s) {_names(missing)}, which the model does not "
                f"give; it gives {_names(list(by_name))}",
                field="outputs",
            )
        outputs = [by_name[n] for n in request.outputs]
    tensors = []
    chunks = []
    default, chosen = request.binary_output, request.binary_outputs
    for tensor, values in outputs:
        if chosen.get(tensor["name"], default):
            raw = _binary_data(tensor, values)
            if raw is not None:
                tensor = {k: v for k, v in tensor.items() if k != "data"}
                tensor["parameters"] = {
                    **tensor.get("parameters", {}),
                    "binary_data_size": len(raw),
                }
                chunks.append(raw)
        tensors.append(tensor)
    document: dict[str, Any] = {"model_name": model.name, "model_version": model.version}
    if request.request_id is not None:
        document["id"] = request.request_id
    document["outputs"] = tensors
    header = dump_json(document)
    if not chunks:
        return header
    answer = BinaryAnswer(b"".join([header, *chunks]))
    answer.header_length = len(header)
    return answer


def _outputs(result: Any, single: str) -> list[tuple[dict[str, Any], Any]]:
    import pandas as pd

    if isinstance(result, pd.DataFrame):
        return [_tensor(str(c), result.iloc[:, i]) for i, c in enumerate(result.columns)]
    if isinstance(result, dict) and result:
        return [_tensor(str(k), v) for k, v in result.items()]
    return [_tensor(single, result)]


def _tensor(name: str, value: Any) -> tuple[dict[str, Any], Any]:
    """One output (name, datatype, shape: a 1-D prediction as ``[N, 1]``, flat JSON data),
    and its elements for binary data: a flat ndarray, or raw values for BYTES."""
    import numpy as np
    import pandas as pd

    from flavorkit.io import to_jsonable

    if isinstance(value, (pd.Series, pd.Index)):
        dtype = value.dtype
        if isinstance(dtype, np.dtype) and dtype.kind != "O":
            arr = value.to_numpy()
        else:  # nullable and extension dtypes: their values, missing ones as None
            arr = _objects(value.astype(object).where(value.notna(), None).tolist())
    elif isinstance(value, np.ndarray):
        arr = value
    else:
        try:
            arr = np.asarray(value)
        except ValueError:  # ragged
            arr = _objects(list(value))
        if arr.dtype.kind == "O" and arr.ndim > 1 and not isinstance(value, np.ndarray):
            arr = _objects(list(value))
    shape = list(arr.shape) if arr.ndim else [1]
    if len(shape) == 1:
        shape.append(1)
    flat = arr.reshape(-1)
    kind = arr.dtype.kind
    parameters = None
    values: Any = flat
    if kind in "biuf":
        datatype = _datatype_of(arr.dtype)
        if kind == "f" and not np.isfinite(flat).all():
            data = to_jsonable(flat.tolist())
        else:
            data = flat.tolist()
    elif kind == "M":
        datatype, parameters = "BYTES", {"content_type": "datetime"}
        data = values = [None if np.isnat(v) else str(v) for v in flat]
    elif kind == "U":
        datatype, parameters = "BYTES", {"content_type": "str"}
        data = values = flat.tolist()
    else:
        objects = flat.tolist()
        datatype, data, parameters = _object_tensor(objects)
        # binary data carries bytes as they are; every other kind as its JSON form
        values = objects if parameters == {"content_type": "base64"} else data
    out: dict[str, Any] = {"name": name, "datatype": datatype, "shape": shape, "data": data}
    if parameters:
        out["parameters"] = parameters
    return out, values


def _binary_data(tensor: dict[str, Any], values: Any) -> bytes | None:
    """An output's elements as Triton binary data; None when they have no binary form."""
    import numpy as np

    datatype = tensor["datatype"]
    if datatype == "BYTES":
        parts = []
        for v in values:
            raw = b"" if v is None else v.encode() if isinstance(v, str) else bytes(v)
            parts.append(len(raw).to_bytes(4, "little"))
            parts.append(raw)
        return b"".join(parts)
    dtype = np.dtype(DATATYPES[datatype]).newbyteorder("<")
    if isinstance(values, np.ndarray):
        return np.ascontiguousarray(values, dtype=dtype).tobytes()
    try:  # numbers an object output held (an INT64 output with a null has no binary form)
        return np.array(values, dtype=dtype).tobytes()
    except (TypeError, ValueError):
        return None


def _objects(values: list[Any]) -> Any:
    import numpy as np

    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr


def _object_tensor(values: list[Any]) -> tuple[str, list[Any], dict[str, Any] | None]:
    """Python objects as one V2 datatype: text, bytes, datetimes, numbers, or JSON text."""
    import datetime as dt

    from flavorkit.io import to_jsonable
    from flavorkit.io._json import dump_json

    present = [v for v in values if v is not None]
    kinds = {type(v) for v in present}
    if kinds <= {str}:
        return "BYTES", values, {"content_type": "str"}
    if kinds <= {bytes, bytearray}:
        return (
            "BYTES",
            [None if v is None else base64.b64encode(bytes(v)).decode("ascii") for v in values],
            {"content_type": "base64"},
        )
    if present and all(isinstance(v, (dt.datetime, dt.date)) for v in present):
        return "BYTES", to_jsonable(values), {"content_type": "datetime"}
    if kinds <= {bool}:
        return "BOOL", values, None
    if kinds <= {int} and all(-(2**63) <= v < 2**63 for v in present):
        return "INT64", values, None
    if kinds <= {int, float} and all(type(v) is float or abs(v) <= 2**53 for v in present):
        return "FP64", to_jsonable([None if v is None else float(v) for v in values]), None
    text = [None if v is None else dump_json(to_jsonable(v)).decode() for v in values]
    return "BYTES", text, {"content_type": "pd_json"}


# ---------------------------------------------------------------- the OpenAPI example


def example_request(model: PyFuncModel, v2: V2Model) -> dict[str, Any] | None:
    """A V2 request for the model's saved input example (the ``/docs`` page's example), or None."""
    import numpy as np
    import pandas as pd

    from flavorkit.io import to_jsonable

    try:
        example = model.input_example
    except Exception:  # a page example is optional; a broken one is left out
        return None
    if example is None:
        return None
    inputs = []
    declared = {i.name: i for i in v2.inputs}
    if isinstance(example, pd.DataFrame):
        for i, column in enumerate(example.columns):
            name = str(column) if not isinstance(column, int) else f"input-{column}"
            d = declared.get(name)
            values = to_jsonable(example.iloc[:, i].tolist())
            datatype = d.datatype if d is not None else _datatype_of(example.iloc[:, i].dtype)
            if d is not None and d.content_type == "pd_json":
                from flavorkit.io._json import dump_json

                values = [dump_json(v).decode() for v in values]
            elif d is not None and d.content_type == "base64":  # one line, as V2 clients send it
                values = [None if v is None else "".join(v.split()) for v in values]
            inputs.append(
                {"name": name, "shape": [len(example), 1], "datatype": datatype, "data": values}
            )
    elif isinstance(example, np.ndarray) and v2.inputs:
        d = v2.inputs[0]
        inputs.append(_example_tensor(d.name, example))
    elif isinstance(example, dict) and all(isinstance(v, np.ndarray) for v in example.values()):
        inputs = [_example_tensor(str(k), v) for k, v in example.items()]
    else:
        return None
    body: dict[str, Any] = {"inputs": inputs}
    params = model.input_example_params
    if params:
        body["parameters"] = to_jsonable(params)
    return body


def _example_tensor(name: str, array: Any) -> dict[str, Any]:
    from flavorkit.io import to_jsonable

    return {
        "name": name,
        "shape": list(array.shape),
        "datatype": _datatype_of(array.dtype),
        "data": to_jsonable(array.reshape(-1).tolist()),
    }
