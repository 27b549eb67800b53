"""Errors of a task said of its partition and rows, and read back on the driver."""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any

from flavorkit.batch._engines._workers import WorkerEnvironmentError
from flavorkit.exceptions import FlavorkitError
from flavorkit.io._chunks import one_line

if TYPE_CHECKING:
    pass

MARKER = "[flavorkit-error] "


def where(partition: int | None) -> str:
    return "" if partition is None else f"partition {partition}, "


def mark(exc: FlavorkitError, partition: int | None, *, facts: bool = True) -> FlavorkitError:
    """``exc`` said of ``partition``, its facts on a last line that :func:`recover` reads back.

    Engines pass a task's error to the driver as text (Spark) or pickled
    (Dask); either way the driver can rebuild the flavorkit error with its
    class, ``field``, ``expected``, ``actual``, ``rows`` and ``partition``.
    """
    message = f"{where(partition)}{one_line(str(exc))}"
    out = exc.__class__.__new__(exc.__class__)
    out.__dict__.update(exc.__dict__)
    out.partition = partition  # type: ignore[attr-defined]
    if not facts:
        out.args = (message,)
        return out
    record = {
        "error": type(exc).__name__,
        "message": message,
        "partition": partition,
        **{
            name: _plain(getattr(exc, name))
            for name in ("field", "expected", "actual", "rows")
            if getattr(exc, name, None) is not None
        },
    }
    out.args = (f"{message}\n{MARKER}{json.dumps(record, default=str)}",)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


def recover(text: str) -> FlavorkitError | None:
    """The flavorkit error whose marker line is in ``text`` (an engine's error message); or None."""
    from flavorkit import exceptions

    at = text.rfind(MARKER)
    if at < 0:
        return None
    line = text[at + len(MARKER) :].split("\n", 1)[0].strip()
    with contextlib.suppress(ValueError):
        facts = json.JSONDecoder().raw_decode(line)[0]
        if not isinstance(facts, dict):
            return None
        cls = getattr(exceptions, str(facts.get("error")), None)
        if not (isinstance(cls, type) and issubclass(cls, FlavorkitError)):
            cls = FlavorkitError
        out = cls.__new__(cls)
        out.args = (str(facts.get("message", "")),)
        for name in ("field", "expected", "actual", "partition"):
            setattr(out, name, facts.get(name))
        rows = facts.get("rows")
        out.rows = tuple(rows) if isinstance(rows, list) else rows  # type: ignore[attr-defined]
        return out
    return None


def _rebuild_error(cls: type, args: tuple[Any, ...], state: dict[str, Any]) -> BaseException:
    out = cls.__new__(cls)
    out.args = args
    out.__dict__.update(state)
    return out


def _reduce_error(exc: BaseException) -> tuple[Any, ...]:
    return (_rebuild_error, (type(exc), exc.args, dict(exc.__dict__)))


_registered = False


def picklable_errors() -> None:
    """Make every flavorkit error pickle as itself, whatever its constructor takes.

    Dask sends a task's exception to the client pickled; an error whose
    ``__init__`` wants more than a message (``UnsafeFormatError``,
    ``ModelLoadError``) would otherwise fail to unpickle there.
    """
    global _registered
    if _registered:
        return
    import copyreg

    from flavorkit import exceptions

    for obj in [*vars(exceptions).values(), WorkerEnvironmentError]:
        if isinstance(obj, type) and issubclass(obj, FlavorkitError):
            copyreg.pickle(obj, _reduce_error)
    _registered = True
