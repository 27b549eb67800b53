"""The serve extra's fast JSON path (orjson) reads and writes exactly what the exact path does.

Each document is parsed twice, with orjson and without it: the values (and
their types) or the error messages must be the same. Integers beyond 64 bits
are the case orjson alone gets wrong (it reads them as rounded floats).
"""

from __future__ import annotations

import math

import pytest
from flavorkit.exceptions import PayloadError
from flavorkit.io import _json

pytest.importorskip("orjson")

DOCUMENTS = [
    b'{"a":1e400}',
    b'{"a":-0}',
    b'{"a":-0.0}',
    b'{"a":1,"a":2}',
    b'{"a":18446744073709551616}',
    b'{"a":-9223372036854775809}',
    b'{"a":[9223372036854775807,-9223372036854775808]}',
    b'{"a":123456789012345678901234567890}',
    b'\xef\xbb\xbf{"a":1}',
    b'{"a":"\\ud800"}',
    b'{"\\udc00":1}',
    b'{"a":"\\ud83d\\ude00"}',
    b'{"a":NaN}',
    b'{"a":-Infinity}',
    b'{"a":1.7976931348623157e308}',
    b'{"a":5e-324}',
    b'{"a":"\x01"}',
    b'{"a":1}x',
    b'{"\xff":1}',
    '{"a":"é"}'.encode("utf-16"),
    b'{"a":[0.1,1.0,true,null,"x"]}',
    b"[" * 300 + b"]" * 300,
]


def _parse(body: bytes) -> tuple[str, object]:
    try:
        return "ok", _json.load_json(body)
    except PayloadError as exc:
        return "error", str(exc)


@pytest.mark.parametrize("body", DOCUMENTS, ids=lambda b: repr(b[:30]))
def test_fast_and_exact_parsing_agree(body: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = _parse(body)
    monkeypatch.setattr(_json, "_orjson", None)
    exact = _parse(body)
    assert repr(fast) == repr(exact)


def test_integers_beyond_64_bits_keep_every_digit() -> None:
    value = _json.load_json(b'{"a":[18446744073709551617,1]}')["a"][0]
    assert type(value) is int and value == 2**64 + 1


@pytest.mark.parametrize(
    "document",
    [
        {"predictions": [1e16, 0.1, 1e-7, -0.0, 5e-324, 1.7976931348623157e308]},
        {"predictions": [2**63 - 1, -(2**63), 2**64 + 1]},
        {"predictions": {"x": ["é", "\u2028", None, True]}},
    ],
)
def test_fast_and_exact_writing_agree(document: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    fast = _json.dump_json(document)
    monkeypatch.setattr(_json, "_orjson", None)
    exact = _json.dump_json(document)
    back_fast, back_exact = json.loads(fast), json.loads(exact)
    assert back_fast == back_exact
    for a, b in zip(back_fast["predictions"], back_exact["predictions"], strict=True):
        assert type(a) is type(b)
        if isinstance(a, float):
            assert math.copysign(1, a) == math.copysign(1, b)
