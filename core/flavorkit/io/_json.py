"""JSON, strictly: payload text in, the top level of a payload checked, values back to JSON data.

What Python's ``json`` accepts but JSON or Unicode does not is refused with
a ``PayloadError`` that says where it is: ``NaN``/``Infinity`` tokens, a lone
UTF-16 surrogate escape, bytes that are not UTF-8, integers with more digits
than Python converts, nesting too deep. A number too large for a double
(``1e400``) parses as infinity; :func:`find_overflow` finds it where the
values are used.

The top level of a payload (FORMAT.md §8) is checked here for every front
end: a JSON object with exactly one of ``dataframe_split``,
``dataframe_records``, ``instances`` or ``inputs`` plus an optional
``params`` object, or a chat-style object (a ``messages``, ``prompt`` or
``input`` key and no format key) passed to the model whole.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import re
import sys
from collections.abc import Collection
from typing import Any

from flavorkit.enforce._values import names_preview

try:  # the serve extra's C parser: the same documents, several times faster
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson is optional
    _orjson = None
from flavorkit.exceptions import FlavorkitError, PayloadError, SchemaEnforcementError

FORMAT_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
CHAT_KEYS = ("messages", "prompt", "input")
# nesting of arrays and objects in a streamed value or a JSON Lines record; tensors and
# Array columns use fewer than 10
MAX_DEPTH = 100

OVERFLOW = "the number is too large for a 64-bit float (it overflows to infinity)"
_LONE = (
    "a lone UTF-16 surrogate escape (\\ud800-\\udfff), which is not valid Unicode; "
    "send valid UTF-8 text"
)
SURROGATE = f"the text holds {_LONE}"


# ---------------------------------------------------------------- the top level of a payload


def payload_form(keys: Collection[str]) -> str | None:
    """The format key of a payload object with these top-level ``keys``; None when chat-style.

    Raises ``PayloadError`` for no format key (and no chat key), several
    format keys, or keys other than the format key and ``params``.
    """
    present = [k for k in FORMAT_KEYS if k in keys]
    if not present and any(k in keys for k in CHAT_KEYS):
        return None
    if len(present) != 1:
        raise format_keys_error(present, keys)
    unknown = [k for k in keys if k not in FORMAT_KEYS and k != "params"]
    if unknown:
        raise unknown_keys_error(unknown, present[0])
    return present[0]


def not_an_object_error(kind: str) -> PayloadError:
    """The top level is a JSON ``kind`` (array, string, ...), not an object."""
    return PayloadError(
        f"the input must be a JSON object with one of the keys {list(FORMAT_KEYS)}, "
        f"got a JSON {kind}; bare lists and the 1.x forms were dropped in MLflow 2.0",
        field="body",
    )


def format_keys_error(present: list[str], keys: Collection[str]) -> PayloadError:
    """No format key, or several (``present``, in ``FORMAT_KEYS`` order)."""
    found = f"got {present}" if present else f"got keys {names_preview(list(keys))}"
    return PayloadError(
        f"the input must hold exactly one of the keys {list(FORMAT_KEYS)}, {found}", field="body"
    )


def unknown_keys_error(unknown: list[str], form: str) -> PayloadError:
    """Top-level keys beside the format key ``form`` that are not ``params``."""
    return PayloadError(
        f"unknown top-level key(s) {names_preview(unknown)}; allowed: {form!r} and 'params'",
        field=unknown[0][:100],
    )


def check_params(value: Any) -> dict[str, Any] | None:
    """The ``params`` object of a payload (None when absent); raises ``PayloadError``."""
    if value is not None and not isinstance(value, dict):
        raise PayloadError(
            f"'params' must be a JSON object, got a JSON {json_kind(value)}", field="params"
        )
    return value


def chat_params(payload: dict[str, Any], param_names: Collection[str]) -> dict[str, Any]:
    """The keys of a chat-style payload that the signature declares as params."""
    return {k: payload[k] for k in param_names if k in payload}


def json_kind(value: Any) -> str:
    """The JSON type of a parsed value, for messages: object, array, string, ..."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


# ---------------------------------------------------------------- reading JSON text


class _Constant(Exception):
    """``NaN``, ``Infinity`` or ``-Infinity`` in the text: Python accepts them, JSON does not."""


def _refuse_constant(token: str) -> Any:
    raise _Constant(token)


# one decoder for every document and line; it stops at the first NaN/Infinity token
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
# text that may hold a lone surrogate (a \ud800-\udfff escape: JSON allows it, Unicode does not)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
# orjson reads integer digits beyond 64 bits as a float, silently rounded: a body with a
# run of 19 digits takes the exact path (digits map to 1, the rest to 0, then one search)
_DIGITS = bytes(1 if 0x30 <= i <= 0x39 else 0 for i in range(256))
_NINETEEN_DIGITS = b"\x01" * 19
# text that may hold a number that overflows a double to infinity
_HUGE_NUMBER = re.compile(r"[eE][+]?0*[1-9][0-9]{2}|[0-9]{309}")


def _orjson_can_read(body: bytes | bytearray | memoryview | str) -> bool:
    if isinstance(body, str):
        return False  # text comes from files and tests; bodies come as bytes
    data = bytes(body) if isinstance(body, memoryview) else body
    # a backslash-u escape may be a lone surrogate, which the exact path finds and names
    return data.find(b"\\u") < 0 and data.translate(_DIGITS).find(_NINETEEN_DIGITS) < 0


def _constant(token: str) -> str:
    return f"{token} is not valid JSON (it has no NaN or Infinity); send null for a missing value"


def load_json(body: bytes | str) -> Any:
    """Parse a JSON document strictly: what ``json.loads`` accepts but JSON or Unicode does not
    is a ``PayloadError`` naming where it is (the path, such as ``dataframe_split.data[3][0]``).

    Refused: ``NaN``/``Infinity`` tokens, text or keys holding a lone UTF-16
    surrogate, bytes that are not UTF-8, integers with more digits than Python
    converts, and nesting deeper than the parser allows. The checks cost nothing
    for ordinary bodies: the tree is searched only when the text holds a
    suspicious token.
    """
    if _orjson is not None and _orjson_can_read(body):
        # orjson refuses what the checks below refuse (NaN, Infinity, bytes that are not
        # UTF-8); whatever it refuses takes the path that says why
        try:
            return _orjson.loads(body)
        except (_orjson.JSONDecodeError, TypeError):
            pass
    if isinstance(body, (bytes, bytearray, memoryview)):
        body = bytes(body)
        try:
            text = body.decode(json.detect_encoding(body))  # strict: no surrogates pass
        except (UnicodeDecodeError, LookupError):
            raise PayloadError(
                "the input is not valid JSON (its bytes are not valid UTF-8)", field="body"
            ) from None
    else:
        text = body
    try:
        payload = _DECODER.decode(text)
    except _Constant as exc:
        raise _constant_error(text, exc.args[0]) from None
    except json.JSONDecodeError as exc:
        raise PayloadError(
            f"the input is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
            field="body",
        ) from None
    except RecursionError:
        raise PayloadError(
            "the input nests arrays or objects too deeply for the JSON parser; "
            "send flat rows or tensors",
            field="body",
        ) from None
    except ValueError:  # int() refuses literals longer than sys.get_int_max_str_digits()
        raise PayloadError(
            f"the input is not valid JSON here: a number has more than {_int_digits()} digits",
            field="body",
        ) from None
    if text.find("\\") >= 0 and _SURROGATE_ESCAPE.search(text):
        path = _find(payload, _lone_surrogate, keys=True)
        if path is not None:
            raise _bad_value(payload, path, SURROGATE)
    return payload


def _int_digits() -> int:
    return getattr(sys, "get_int_max_str_digits", lambda: 4300)()


def _constant_error(text: str, token: str) -> PayloadError:
    why = _constant(token)
    try:
        payload = json.loads(text)  # again, keeping the constants, to say where they are
    except (ValueError, RecursionError):
        return PayloadError(f"the input: {why}", field="body")
    error = _bad_value(payload, _find(payload, _non_finite), why)
    assert isinstance(error, PayloadError)
    return error


def load_line(line: bytes, line_no: int, row: int) -> Any:
    """Parse one line of JSON Lines strictly, nested at most ``MAX_DEPTH`` levels.

    Errors are ``PayloadError`` naming the line and the data row (they
    differ by the blank lines) and, for a bad value, its top-level field.
    """
    where = f"line {line_no} (row {row})"
    field = f"line {line_no}"
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(
            f"{where} is not UTF-8 text (byte {exc.start + 1} of the line); "
            "save the input as UTF-8",
            field=field,
        ) from None
    try:
        value = _DECODER.decode(text)
    except _Constant as exc:
        raise PayloadError(f"{where}: {_constant(exc.args[0])}", field=field) from None
    except RecursionError:
        raise PayloadError(f"{where} nests deeper than {MAX_DEPTH} levels", field=field) from None
    except ValueError as exc:
        detail = (
            f"{exc.msg} at column {exc.colno}"
            if isinstance(exc, json.JSONDecodeError)
            else f"a number has more than {_int_digits()} digits"
        )
        raise PayloadError(f"{where} is not valid JSON ({detail})", field=field) from None
    problem = _line_problem(value, text)
    if problem is not None:
        raise PayloadError(f"{where}{problem}", field=field)
    return value


def _line_problem(value: Any, text: str) -> str | None:
    """What JSON or Unicode refuse in a parsed line, with its field; cheap for ordinary lines."""
    deep = text.count("[") + text.count("{") > MAX_DEPTH
    huge = _HUGE_NUMBER.search(text) is not None
    lone = "\\u" in text and _SURROGATE_ESCAPE.search(text) is not None
    if not (deep or huge or lone):
        return None
    stack: list[tuple[Any, int, Any]] = [(value, 0, None)]  # value, depth, top-level key
    while stack:
        item, depth, top = stack.pop()
        where = f": field {_name(top)}: " if top is not None else ": "
        if isinstance(item, (dict, list)):
            if depth >= MAX_DEPTH:
                return f"{where[:-2]} nests deeper than {MAX_DEPTH} levels"
            pairs = item.items() if isinstance(item, dict) else ((None, v) for v in item)
            for key, child in pairs:
                if lone and isinstance(key, str) and _lone_surrogate(key):
                    return f": the field name {_name(key)} holds {_LONE}"
                name = key if depth == 0 and isinstance(item, dict) else top
                stack.append((child, depth + 1, name))
        elif huge and _non_finite(item):
            return f"{where}{OVERFLOW}"
        elif lone and _lone_surrogate(item):
            return f"{where}{SURROGATE}"
    return None


def find_overflow(payload: Any, where: str) -> None:
    """Raise ``SchemaEnforcementError`` for a float in ``payload`` (params, say) that is not
    finite: after :func:`load_json`, only a number too large for a double (``1e400``) is one.
    """
    path = _find(payload, _non_finite)
    if path is not None:
        raise _bad_value({where: payload}, (where, *path), OVERFLOW, schema_error=True)


def _non_finite(value: Any) -> bool:
    return type(value) is float and value - value != 0.0


def _lone_surrogate(value: Any) -> bool:
    if type(value) is not str or value.isascii():
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _name(label: Any) -> str:
    return names_preview([label])[1:-1]


def _find(payload: Any, bad: Any, *, keys: bool = False) -> tuple[Any, ...] | None:
    """The path (keys and indexes) to the first value (or key) for which ``bad`` is true.

    Iterative, so a deeply nested body cannot exhaust the stack. A path ending in
    ``("key", i)`` means the ``i``-th key of the object at the path before it.
    """
    stack: list[tuple[Any, Any]] = [(payload, None)]
    while stack:
        value, link = stack.pop()
        if isinstance(value, dict):
            items = list(value.items())
            if keys:
                for i, (k, _) in enumerate(items):
                    if bad(k):
                        return (*_unlink(link), ("key", i))
            stack.extend((v, (link, k)) for k, v in reversed(items))
        elif isinstance(value, list):
            stack.extend((v, (link, i)) for i, v in reversed(list(enumerate(value))))
        elif bad(value):
            return _unlink(link)
    return None


def _unlink(link: Any) -> tuple[Any, ...]:
    out = []
    while link is not None:
        link, step = link
        out.append(step)
    return tuple(reversed(out))


def _render(path: tuple[Any, ...]) -> str:
    out = ""
    for step in path:
        if isinstance(step, tuple):
            out += f" (key {step[1]})"
        elif isinstance(step, int):
            out += f"[{step}]"
        else:
            name = step if step.isidentifier() and len(step) <= 40 else _name(step)
            out += f".{name}" if out else name
    return out or "the input"


def _bad_value(
    payload: Any, path: tuple[Any, ...] | None, why: str, *, schema_error: bool = False
) -> FlavorkitError:
    """The error for a bad value at ``path``, naming its column and row in a table."""
    path = path or ()
    where = _render(path)
    column, row = _table_cell(payload, path)
    if column is not None:
        where += f" (column {_name(column)}, row {row})"
    message = f"{where}: {why}"
    field = column if column is not None else where
    if schema_error:
        return SchemaEnforcementError(message, field=field, expected="a finite number")
    return PayloadError(message, field=field)


def _table_cell(payload: Any, path: tuple[Any, ...]) -> tuple[str | None, int | None]:
    """The column and row a path points into, for the table forms; (None, None) otherwise."""
    if any(isinstance(step, tuple) for step in path) or len(path) < 3:
        return None, None
    form, first, second = path[0], path[1], path[2]
    if form == "dataframe_split" and first == "data" and len(path) >= 4:
        columns = payload[form].get("columns")
        row, j = path[2], path[3]
        if isinstance(j, int) and isinstance(columns, list) and j < len(columns):
            return str(columns[j]), row
        return f"[{j}]", row
    if form in FORMAT_KEYS and isinstance(first, int) and isinstance(second, str):
        return second, first  # a list of records
    if form in ("inputs", "instances") and isinstance(first, str) and isinstance(second, int):
        return first, second  # a dict of columns
    return None, None


# ---------------------------------------------------------------- values back to JSON


def dump_json(document: Any) -> bytes:
    """Compact UTF-8 JSON of plain JSON data (``to_jsonable``'s output: no NaN left)."""
    if _orjson is not None:
        try:
            return _orjson.dumps(document)
        except TypeError:  # an integer beyond 64 bits
            pass
    return json.dumps(document, allow_nan=False, separators=(",", ":")).encode()


def to_jsonable(value: Any) -> Any:
    """``value`` as plain JSON data (strict: no NaN).

    NaN and infinities become ``null``, numpy scalars and arrays Python
    values and lists, bytes base64 text (``encodebytes``, as MLflow writes
    them), datetimes ISO 8601 text. Raises ``TypeError`` for anything else.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (bytes, bytearray)):
        return base64.encodebytes(bytes(value)).decode("ascii")
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(value, np.ndarray):
            return to_jsonable(value.tolist())
        if isinstance(value, np.datetime64):
            return None if np.isnat(value) else str(value)
        if isinstance(value, np.generic):
            return to_jsonable(value.item())
    pd = sys.modules.get("pandas")
    if pd is not None:
        if value is pd.NaT or value is pd.NA:
            return None
        if isinstance(value, pd.Timestamp):
            return value.isoformat()
    raise TypeError(f"cannot write a value of type {type(value).__name__} as JSON")
