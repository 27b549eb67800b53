"""The Open Inference Protocol (V2) endpoints against a hostile client.

Every hostile request to ``/v2/models/{name}/infer`` must be answered with a
4xx and exactly ``{"error": message}``, the message naming the field; never a
500, never a traceback (or an ERROR line) in the server's log, never work or
memory that follows a claimed size (a shape, a length prefix) rather than
the bytes actually sent, never an answer larger than what was asked once.
The servers are the ones ``tests/_v2_servers.py`` starts (real
``flavorkit serve`` subprocesses): ``linear`` (two columns, a 64 KiB body
limit), ``kinds`` (a column of every type) and ``echo`` (no signature: the
tensor content types, the default limits).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:  # the serving tests' models, servers and helpers
    sys.path.insert(0, str(TESTS))

from _serving_models import Server  # noqa: E402
from _v2_servers import (  # noqa: E402  (the fixtures are used by name)
    column,
    echo,
    folders,
    kinds,
    kinds_path,
    linear,
    linear_inputs,
    linear_path,
    logs,
)

__all__ = ["echo", "folders", "kinds", "kinds_path", "linear", "linear_path", "logs"]

HEADER = "Inference-Header-Content-Length"


def infer(
    server: Server,
    model: str,
    body: Any,
    headers: dict[str, Any] | None = None,
    *,
    path: str | None = None,
) -> tuple[httpx.Response, str]:
    """POST a body (JSON data, or bytes as they are) to ``model``'s infer path (or ``path``);
    the answer and what the server logged while answering it."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    start = len(server.log())
    url = server.url + (path or f"/v2/models/{model}/infer")
    # a generous bound: every refusal here takes milliseconds; the hostile shapes and
    # length prefixes used to take minutes
    answer = httpx.post(url, content=content, headers=headers, timeout=30)
    return answer, server.log()[start:]


def refused(
    server: Server,
    model: str,
    body: Any,
    headers: dict[str, Any] | None = None,
    *,
    status: int = 400,
    path: str | None = None,
) -> str:
    """The error message of a refused request: the status, the V2 error shape, a quiet log."""
    answer, log = infer(server, model, body, headers, path=path)
    assert answer.status_code == status, answer.text[:2000]
    assert answer.headers["content-type"] == "application/json"
    error = answer.json()
    assert list(error) == ["error"], error
    assert "ERROR" not in log and "Traceback" not in log, log[-3000:]
    return str(error["error"])


def binary_body(inputs: list[dict[str, Any]], data: bytes) -> tuple[bytes, dict[str, str]]:
    """A Triton binary request: the JSON part, then ``data``, and its length header."""
    head = json.dumps({"inputs": inputs}).encode()
    return head + data, {HEADER: str(len(head))}


def binary_input(name: str, shape: list[int], datatype: str, size: Any) -> dict[str, Any]:
    return {
        "name": name,
        "shape": shape,
        "datatype": datatype,
        "parameters": {"binary_data_size": size},
    }


def tensor(shape: Any, data: list[Any], datatype: str = "FP32", **parameters: Any) -> Any:
    item: dict[str, Any] = {"name": "x", "shape": shape, "datatype": datatype, "data": data}
    if parameters:
        item["parameters"] = parameters
    return {"inputs": [item]}


# -- shapes ---------------------------------------------------------------------------


def test_v2_shape_with_thousands_of_huge_dimensions_is_refused_at_once(echo: Server) -> None:
    # 200 000 dimensions of 2**62 (4 MB): multiplying them out took minutes of CPU
    shape = [2**62] * 200_000
    message = refused(echo, "echo", tensor(shape, [1.0]))
    assert message.startswith(
        "input 'x': 'shape' must be a list of 1 to 32 non-negative integers, "
        "got [4611686018427387904, "
    )
    assert message.endswith(", ... (200000 dimensions)]")
    assert len(message) < 1000  # the shape is not echoed whole


SHAPES = [
    # more dimensions than numpy holds: was "the request could not be read (ValueError)"
    (
        [1] * 100,
        "input 'x': 'shape' must be a list of 1 to 32 non-negative integers, got [1, 1, ",
    ),
    # a product past any index
    (
        [2**62, 2**62],
        "input 'x': 'shape' [4611686018427387904, 4611686018427387904] has more elements "
        "than a tensor can hold (its non-zero dimensions multiply past 576460752303423488)",
    ),
    # no elements, but dimensions numpy cannot reshape to: was a ValueError
    (
        [0, 2**62, 5],
        "input 'x': 'shape' [0, 4611686018427387904, 5] has more elements than a tensor",
    ),
    ([0, 10**30], "input 'x': 'shape' [0, an integer beyond 64 bits] has more elements"),
    ([-1, 1], "input 'x': 'shape' must be a list of 1 to 32 non-negative integers, got [-1, 1]"),
    ([], "input 'x': 'shape' must be a list of 1 to 32 non-negative integers, got an empty list"),
    ("2", "input 'x': 'shape' must be a list of 1 to 32 non-negative integers, got a JSON string"),
    (
        [1.0, True, None],
        "input 'x': 'shape' must be a list of 1 to 32 non-negative integers, "
        "got [a JSON number, a JSON boolean, a JSON null]",
    ),
]


@pytest.mark.parametrize(("shape", "message"), SHAPES)
def test_v2_hostile_shapes_are_refused_naming_the_shape(
    echo: Server, shape: Any, message: str
) -> None:
    data = [] if isinstance(shape, list) and 0 in shape else [1.0]
    assert refused(echo, "echo", tensor(shape, data)).startswith(message)


# -- Triton's binary tensor data ------------------------------------------------------


def test_v2_binary_bytes_past_the_shape_stop_at_the_claimed_count(echo: Server) -> None:
    # one element claimed, a million empty ones sent (4 MB): the parser looped over all
    # of them, building a list as long, before comparing with the shape
    body, headers = binary_body([binary_input("x", [1], "BYTES", 4_000_000)], bytes(4_000_000))
    assert refused(echo, "echo", body, headers) == (
        "input 'x': the binary data holds more elements than the 1 its shape needs"
    )


def test_v2_binary_bytes_length_prefix_that_lies_is_refused(echo: Server) -> None:
    prefix = (2**32 - 1).to_bytes(4, "little")
    body, headers = binary_body([binary_input("x", [1], "BYTES", 8)], prefix + b"abcd")
    assert refused(echo, "echo", body, headers) == (
        "input 'x': the binary BYTES data is cut short: element 0 says it has 4294967295 "
        "bytes, 4 are left"
    )
    body, headers = binary_body([binary_input("x", [2], "BYTES", 7)], b"\x01\x00\x00\x00a\x00\x00")
    assert refused(echo, "echo", body, headers) == (
        "input 'x': the binary BYTES data is cut short: element 1 has 2 of the 4 bytes of "
        "its length"
    )


def test_v2_binary_bool_bytes_other_than_0_and_1_are_refused(echo: Server) -> None:
    # numpy kept the byte 2 as a "true" that is not equal to True
    body, headers = binary_body([binary_input("x", [3], "BOOL", 3)], b"\x00\x01\x02")
    assert refused(echo, "echo", body, headers) == (
        "input 'x': element 2 of the binary BOOL data is the byte 2; a BOOL is one byte, "
        "0 (false) or 1 (true)"
    )


BINARY_SIZES = [
    (-8, "input 'x': binary_data_size -8 does not fit the 8 bytes of binary data"),
    (True, "input 'x': binary_data_size True does not fit the 8 bytes of binary data"),
    (8.0, "input 'x': binary_data_size 8.0 does not fit the 8 bytes of binary data"),
    ("8", "input 'x': binary_data_size '8' does not fit the 8 bytes of binary data"),
    (2**70, f"input 'x': binary_data_size {2**70} does not fit the 8 bytes of binary data"),
    (4, "input 'x': 4 bytes of binary data, its shape and FP64 need 8"),
    (0, "input 'x': 0 bytes of binary data, its shape and FP64 need 8"),
]


@pytest.mark.parametrize(("size", "message"), BINARY_SIZES)
def test_v2_binary_data_sizes_that_do_not_fit_are_refused(
    echo: Server, size: Any, message: str
) -> None:
    body, headers = binary_body([binary_input("x", [1], "FP64", size)], bytes(8))
    assert refused(echo, "echo", body, headers).startswith(message)


def test_v2_binary_data_sizes_that_sum_past_the_body_or_leave_bytes_are_refused(
    echo: Server,
) -> None:
    two = [binary_input("x", [1], "FP64", 8), binary_input("y", [1], "FP64", 8)]
    body, headers = binary_body(two, bytes(12))
    assert refused(echo, "echo", body, headers) == (
        "input 'y': binary_data_size 8 does not fit the 12 bytes of binary data after the JSON part"
    )
    body, headers = binary_body(two[:1], bytes(12))
    assert refused(echo, "echo", body, headers) == (
        "the body has 4 bytes of binary data that no input claims (binary_data_size)"
    )
    both = {**binary_input("x", [1], "FP64", 8), "data": [1.0]}
    body, headers = binary_body([both], bytes(8))
    assert refused(echo, "echo", body, headers) == (
        "input 'x' has both 'data' and binary data (binary_data_size); send one"
    )


HEADER_VALUES = ["-1", "+5", "1 2", "1e3", "0x10", "5.0", "", "9" * 20]


@pytest.mark.parametrize("value", HEADER_VALUES)
def test_v2_header_lengths_that_are_not_a_byte_count_are_refused(
    linear: Server, value: str
) -> None:
    body = json.dumps({"inputs": linear_inputs([1.0], [1])}).encode()
    message = refused(linear, "linear", body, {HEADER: value})
    assert message.startswith(
        "the inference-header-content-length header must be the JSON part's length in bytes"
    ), message


def test_v2_header_length_past_the_body_is_refused(linear: Server) -> None:
    body = json.dumps({"inputs": linear_inputs([1.0], [1])}).encode()
    assert refused(linear, "linear", body, {HEADER: str(len(body) + 1)}) == (
        f"the inference-header-content-length header says the JSON part has {len(body) + 1} "
        f"bytes, the body has {len(body)}"
    )


@pytest.mark.parametrize("value", [b"\xb2", b"1\xb9"])
def test_v2_header_length_of_non_ascii_digits_is_refused(linear: Server, value: bytes) -> None:
    body = json.dumps({"inputs": linear_inputs([1.0], [1])}).encode()
    message = refused(linear, "linear", body, {HEADER: value})
    assert message.startswith("the inference-header-content-length header must be")


# -- outputs, parameters, id -------------------------------------------------------------


def test_v2_an_output_asked_for_twice_is_refused(kinds: Server) -> None:
    # each copy was answered in full: 100 000 names of 20 bytes asked for 100 000 answers
    body = {
        "inputs": [column("name", "BYTES", ["ab"])],
        "outputs": [{"name": "upper"}] * 100_000,
    }
    assert refused(kinds, "kinds", body) == (
        "'outputs' asks for output 'upper' twice (item 1); ask for each output once"
    )


OUTPUTS = [
    ({"name": 1}, "'outputs' item 0 must be an object with a string 'name'"),
    ("upper", "'outputs' item 0 must be an object with a string 'name'"),
    (
        {"name": "upper", "parameters": {"binary_data": "yes"}},
        "'outputs[0].parameters.binary_data' must be true or false, got a JSON string",
    ),
    (
        {"name": "upper", "parameters": [1]},
        "'outputs[0].parameters' must be a JSON object, got a JSON array",
    ),
]


@pytest.mark.parametrize(("output", "message"), OUTPUTS)
def test_v2_hostile_outputs_are_refused_naming_them(
    linear: Server, output: Any, message: str
) -> None:
    body = {"inputs": linear_inputs([1.0], [1]), "outputs": [output]}
    assert refused(linear, "linear", body) == message


def test_v2_unknown_outputs_are_named_without_echoing_them_whole(linear: Server) -> None:
    body = {"inputs": linear_inputs([1.0], [1]), "outputs": [{"name": "x" * 30_000}]}
    message = refused(linear, "linear", body)
    assert message.startswith("the request asks for output(s) ['xxxxxxxx")
    assert message.endswith("], which the model does not give; it gives ['output-0']")
    assert len(message) < 300


PARAMETERS = [
    (b'{"scale": NaN}', "parameters.scale: NaN is not valid JSON"),
    (b'{"scale": Infinity}', "parameters.scale: Infinity is not valid JSON"),
    (b'{"scale": 1e999}', "params.scale: the number is too large for a 64-bit float"),
    (b'{"scale": {"a": {"b": 1}}}', "Invalid parameters found: 'scale': expected double, got"),
    (b'{"content_type": {"a": 1}}', "'parameters.content_type' \"{'a': 1}\" is not a request"),
    (b'{"binary_data_output": "true"}', "'parameters.binary_data_output' must be true or false"),
    (b"[1]", "'parameters' must be a JSON object, got a JSON array"),
]


@pytest.mark.parametrize(("parameters", "message"), PARAMETERS)
def test_v2_hostile_parameters_are_refused_naming_them(
    linear: Server, parameters: bytes, message: str
) -> None:
    inputs = json.dumps(linear_inputs([1.0], [1])).encode()
    body = b'{"inputs": ' + inputs + b', "parameters": ' + parameters + b"}"
    assert refused(linear, "linear", body).startswith(message)


def test_v2_request_id_is_echoed_as_valid_json_or_refused(linear: Server) -> None:
    hostile = 'a"b\\c\x00\n\u2028</script>\U0001f600'
    answer, _ = infer(linear, "linear", {"id": hostile, "inputs": linear_inputs([1.0], [1])})
    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == hostile
    inputs = json.dumps(linear_inputs([1.0], [1])).encode()
    lone = b'{"id": "\\ud800", "inputs": ' + inputs + b"}"
    assert refused(linear, "linear", lone).startswith("id: the text holds a lone UTF-16 surrogate")
    for bad in ({"a": 1}, ["x"], 5):
        body = {"id": bad, "inputs": linear_inputs([1.0], [1])}
        assert refused(linear, "linear", body).startswith("'id' must be a string, got a JSON ")


# -- content types and their codecs --------------------------------------------------------


@pytest.mark.parametrize("text", ["now", "today", "NaT", "NaN", ""])
def test_v2_datetime_codec_refuses_what_is_not_iso_8601(echo: Server, text: str) -> None:
    # pandas reads "now"/"today" as the clock and "NaT"/"NaN"/"" as missing values
    body = tensor([2], ["2020-01-01", text], "BYTES", content_type="datetime")
    assert refused(echo, "echo", body) == (
        "input 'x': element 1 is not an ISO 8601 datetime (content_type 'datetime'): it must "
        "start with the year; send null for a missing value"
    )


CODECS = [
    (
        ["99999-99-99"],
        "datetime",
        "input 'x': expected ISO 8601 datetimes (content_type 'datetime'), got text that does "
        "not parse as one",
    ),
    (["@@@"], "base64", "input 'x': element 0 is not base64 text (content_type 'base64')"),
    (["YQ"], "base64", "input 'x': element 0 is not base64 text (content_type 'base64')"),
    (
        ["[" * 5000 + "]" * 5000],
        "pd_json",
        "input 'x': element 0 is not JSON text (content_type 'pd_json'): the input nests",
    ),
    (
        ['{"a": NaN}'],
        "pd_json",
        "input 'x': element 0 is not JSON text (content_type 'pd_json'): a: NaN is not valid",
    ),
    (
        ["9" * 5000],
        "pd_json",
        "input 'x': element 0 is not JSON text (content_type 'pd_json'): the input is not valid "
        "JSON here: a number has more than 4300 digits",
    ),
    (["x"], "xml", "input 'x': content_type 'xml' is not an input content type; use one of np"),
]


@pytest.mark.parametrize(("data", "codec", "message"), CODECS)
def test_v2_hostile_codec_payloads_are_refused_naming_the_input(
    echo: Server, data: list[Any], codec: str, message: str
) -> None:
    body = tensor([len(data)], data, "BYTES", content_type=codec)
    assert refused(echo, "echo", body).startswith(message)


def test_v2_base64_column_refuses_text_that_is_not_base64(kinds: Server) -> None:
    body = {"inputs": [column("blob", "BYTES", ["\u0661\u0662"])]}
    assert refused(kinds, "kinds", body) == (
        "input 'blob': element 0 is not base64 text (content_type 'base64')"
    )


def test_v2_deeply_nested_data_is_refused(echo: Server) -> None:
    nested = b"[" * 5000 + b"1" + b"]" * 5000
    body = b'{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":' + nested + b"}]}"
    assert refused(echo, "echo", body).startswith(
        "the input nests arrays or objects too deeply for the JSON parser"
    )


def test_v2_duplicate_and_too_many_inputs_are_refused(linear: Server) -> None:
    twice = [*linear_inputs([1.0], [1]), column("b", "INT64", [2])]
    assert refused(linear, "linear", {"inputs": twice}) == (
        "input 'b' is given twice; send each input once"
    )
    # hundreds of inputs the signature does not name: named in a bounded message
    many = {"inputs": [column(f"i{i}", "FP64", [1.0]) for i in range(600)]}
    message = refused(linear, "linear", many)
    assert message.startswith(
        "Model is missing inputs ['a', 'b']. The input also has 600 column(s) the signature "
        "does not name: ['i0', "
    )
    assert len(message) < 500


# -- paths --------------------------------------------------------------------------------


PATHS = [
    ("/v2/models/%2e%2e/infer", 404, "unknown model '..': this server serves the model"),
    ("/v2/models/lin%2Fear/infer", 404, "POST /v2/models/lin/ear/infer: Not Found"),
    ("/v2/models/linear%00/infer", 404, "unknown model 'linear\\x00': this server serves"),
    ("/v2/models/" + "a" * 5000 + "/infer", 404, "unknown model 'aaaa"),
    ("/v2/models/linear/versions/%2e%2e/infer", 404, "model 'linear' has no version '..'"),
    ("/v2/models/linear/versions/" + "9" * 5000 + "/infer", 404, "model 'linear' has no"),
]


@pytest.mark.parametrize(("path", "status", "message"), PATHS)
def test_v2_hostile_model_paths_are_a_bounded_404(
    linear: Server, path: str, status: int, message: str
) -> None:
    body = {"inputs": linear_inputs([1.0], [1])}
    error = refused(linear, "linear", body, status=status, path=path)
    assert error.startswith(message), error
    assert len(error) < 300


def test_v2_binary_tensors_that_add_up_are_still_read(echo: Server) -> None:
    # the bounds above leave well-formed binary data alone: BYTES at exactly the count
    # its shape needs, BOOL bytes of 0 and 1
    raw = b"".join(len(v).to_bytes(4, "little") + v for v in (b"ab", b"", "\u00e9".encode()))
    inputs = [binary_input("t", [3], "BYTES", len(raw)), binary_input("ok", [2], "BOOL", 2)]
    body, headers = binary_body(inputs, raw + b"\x01\x00")
    answer, _ = infer(echo, "echo", body, headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["outputs"][1]["data"] == [
        "t: ndarray object [3] ['ab', '', '\u00e9']",
        "ok: ndarray bool [2] [True, False]",
    ]
