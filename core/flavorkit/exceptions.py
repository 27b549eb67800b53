"""Every error flavorkit raises on purpose.

Each one subclasses the builtin that fits (``ValueError`` for bad input,
``LookupError`` for something missing, ``PermissionError`` for a refusal) and
keeps the facts of the failure as attributes, so callers can react without
parsing messages.
"""

from __future__ import annotations

from typing import Any


class FlavorkitError(Exception):
    """Base class of all flavorkit errors."""


class ManifestError(FlavorkitError, ValueError):
    """An ``MLmodel`` file (or another file of a model folder) is malformed.

    ``path`` is the file, ``key`` the dotted key that is wrong (or ``None``).
    """

    def __init__(self, message: str, *, path: Any = None, key: str | None = None) -> None:
        where = f"{path}" if path is not None else "MLmodel"
        if key:
            where += f", key '{key}'"
        super().__init__(f"{where}: {message}")
        self.path = path
        self.key = key


class SignatureError(FlavorkitError, ValueError):
    """A signature, schema or type spec is invalid, or could not be inferred."""


class SchemaEnforcementError(FlavorkitError, ValueError):
    """Input data does not match the model's signature.

    ``field`` names the column, tensor or param; ``expected`` and ``actual``
    describe the declared and the received type or shape. The message never
    echoes the payload itself.
    """

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        expected: Any = None,
        actual: Any = None,
    ) -> None:
        super().__init__(message)
        self.field = field
        self.expected = expected
        self.actual = actual


class PayloadError(FlavorkitError, ValueError):
    """A request body or input file is malformed (not the model's data being of a wrong type).

    ``field`` names the part of the payload that is wrong (a key, ``"body"``).
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class EnvironmentBuildError(FlavorkitError, RuntimeError):
    """A model's environment could not be created (no matching Python, pip failed)."""


class PluginError(FlavorkitError, LookupError):
    """No installed plugin owns a flavor, or the plugin that does is broken."""


class UnsafeFormatError(FlavorkitError, PermissionError):
    """Loading would execute code from the model folder and the caller did not opt in."""

    def __init__(self, format_name: str, path: Any, detail: str = "") -> None:
        reason = detail or "loading it can run arbitrary code"
        super().__init__(
            f"refusing to load {format_name!r} data from {path}: {reason}. "
            "If you trust this model folder, pass allow_unsafe=True "
            "(or set FLAVORKIT_ALLOW_UNSAFE=1)."
        )
        self.format_name = format_name
        self.path = path
        self.detail = reason


class ModelLoadError(FlavorkitError, ValueError):
    """A flavor's loader failed on a model folder for a reason it did not name itself.

    Raised around any other exception from a plugin's load hook (a
    framework's deserializer rejecting a damaged file, say), so callers get
    one flavorkit error naming the flavor and the folder; the original is
    the ``__cause__``.
    """

    def __init__(self, flavor: str, path: Any, cause: BaseException) -> None:
        text = str(cause).strip().splitlines()
        detail = text[0][:300] if text else ""
        super().__init__(
            f"flavor {flavor!r} could not load the model at {path}: "
            f"{type(cause).__name__}{': ' + detail if detail else ''}"
        )
        self.flavor = flavor
        self.path = path


class ModelExistsError(FlavorkitError, FileExistsError):
    """``save_model`` was pointed at a non-empty folder without ``overwrite=True``."""


class LocationError(FlavorkitError, LookupError):
    """A model URI names something that cannot be found or fetched.

    An unknown registered model, version or alias, a deleted version, an
    unreachable store or missing credentials. ``uri`` is what was asked for.
    """

    def __init__(self, message: str, *, uri: str | None = None) -> None:
        super().__init__(f"{uri}: {message}" if uri else message)
        self.uri = uri


class DigestMismatchError(LocationError, ValueError):
    """A file of a registered version differs from the digest recorded when it was registered."""

    def __init__(
        self, file: str, expected: str, found: str | None, *, uri: str | None = None
    ) -> None:
        got = f"sha256 {found}" if found else "no such file"
        super().__init__(
            f"file {file!r} does not match the registered version: "
            f"expected sha256 {expected}, found {got}",
            uri=uri,
        )
        self.file = file
        self.expected = expected
        self.found = found


class EnvironmentMismatchWarning(UserWarning):
    """A loaded model recorded package versions that differ from the running environment."""


class SchemaWarning(UserWarning):
    """Enforcement dropped something the signature does not declare (a column, tensor or param)."""
