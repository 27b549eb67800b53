"""What an MLflow tracking server's JSON answers must hold, checked field by field.

A server is read as hostile input: a field missing, of another type, a
number that is no number, a file name that would leave its folder. The
checks raise ``Malformed`` naming the field, what MLflow sends there and
what came; the backend turns it into a ``LocationError`` naming the server
and the URI asked for.
"""

from __future__ import annotations

from typing import Any

from flavorkit.exceptions import LocationError
from flavorkit.registry._uris import MAX_VERSION


def checked_name(name: object, where: str, *, uri: str) -> str:
    """A file or folder name from a server's listing, refused when it could leave the folder."""
    if (
        not isinstance(name, str)
        or name in ("", ".", "..")
        or "/" in name
        or "\\" in name
        or not name.isprintable()
    ):
        raise LocationError(
            f"the server listed an unsafe file name {name!r} under {where!r}; refusing to "
            "download it",
            uri=uri,
        )
    return name


def timestamp(found: dict[str, Any], key: str, *, where: str) -> float:
    """Seconds since the epoch from a field in milliseconds (0 when absent)."""
    if found.get(key) in (None, ""):
        return 0.0
    return integer(found, key, where=where, maximum=2**63 - 1) / 1000


def field(found: dict[str, Any], key: str, kind: type | tuple[type, ...], *, where: str) -> Any:
    """``found[key]`` when it is a ``kind``; else ``Malformed`` naming the field and what came."""
    if not isinstance(found, dict):
        raise Malformed(where, "an object", f"{type(found).__name__} {found!r:.80}")
    value = found.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        expected = (
            kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        )
        got = "nothing" if value is None else f"{type(value).__name__} {value!r:.80}"
        raise Malformed(f"{where}.{key}", expected, got)
    return value


def optional(found: dict[str, Any], key: str, kind: type, *, where: str) -> Any:
    """``found[key]`` as ``field`` checks it, or ``None`` when absent or empty."""
    if isinstance(found, dict) and found.get(key) in (None, ""):
        return None
    return field(found, key, kind, where=where)


def integer(found: dict[str, Any], key: str, *, where: str, maximum: int = MAX_VERSION) -> int:
    """An integer field, which MLflow's JSON spells as a number or a string of digits."""
    value = field(found, key, (int, str), where=where)
    text = str(value)
    if not (text.isascii() and text.isdigit()) or len(text) > 19 or int(text) > maximum:
        raise Malformed(f"{where}.{key}", f"a whole number from 0 to {maximum}", f"{value!r:.80}")
    return int(text)


def file_size(size: object, name: str, *, uri: str) -> int | None:
    """A listed file's size in bytes (``None`` when not given); ``LocationError`` for garbage."""
    if size is None or size == "":
        return None
    text = str(size)
    if isinstance(size, bool) or not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise LocationError(
            f"the server listed {name!r} with file_size {size!r:.40}; expected a number of bytes",
            uri=uri,
        )
    return int(text)


class Malformed(Exception):
    """A server's answer lacks a field or has one of the wrong type (turned into LocationError)."""

    def __init__(self, field: str, expected: str, got: str) -> None:
        super().__init__(f"{field}: expected {expected}, got {got}")
