"""The model folder: its manifest, and every file and class path it names, read as hostile input.

Plugins use these helpers for each path their ``MLmodel`` section names, so
that no flavor writes its own containment rules:

- ``model_file(folder, relative, key=...)`` resolves a path named in
  ``MLmodel`` to a regular file (or folder) inside the model folder, refusing
  absolute paths, ``..``, symlinks that leave the folder, FIFOs and devices;
- ``open_regular``, ``read_bytes``, ``read_text`` and ``load_json`` read such
  a file with bounds, so a hostile file cannot stall or exhaust a loader;
- ``import_object(spec, key=..., folder=..., allow_unsafe=...)`` imports a
  ``module:Name`` read from the folder only when the module comes from
  installed code, never from the folder itself or the current directory
  without the caller's opt-in; ``first_untrusted`` answers the same question
  without importing.

Each refusal is a ``flavorkit.exceptions.ManifestError`` (or
``UnsafeFormatError``) naming the file and the ``MLmodel`` key.
"""

from __future__ import annotations

from flavorkit.folder._imports import first_untrusted, import_object
from flavorkit.folder._paths import (
    MAX_JSON_BYTES,
    MAX_TEXT_BYTES,
    load_json,
    model_file,
    open_regular,
    read_bytes,
    read_text,
)

__all__ = [
    "MAX_JSON_BYTES",
    "MAX_TEXT_BYTES",
    "first_untrusted",
    "import_object",
    "load_json",
    "model_file",
    "open_regular",
    "read_bytes",
    "read_text",
]
