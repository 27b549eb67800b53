"""What the embedded registry answers beyond the shared ``ModelVersion``: models, alias moves."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from flavorkit.registry._backend import ModelVersion


@dataclass(frozen=True)
class RegisteredVersion(ModelVersion):
    """A version of the embedded registry, with who registered it, from where, and its size.

    ``source`` is where its files are (a local folder or an fsspec URL);
    ``registered_from`` is the URI it was registered from. Listings leave
    ``digests`` as ``None`` (reading them for thousands of versions is
    wasted work); ``get_version`` and the resolvers always carry them.
    """

    registered_from: str = ""
    created_by: str | None = None
    file_count: int = 0
    size_bytes: int = 0
    deleted_at: float | None = None
    deleted_by: str | None = None


@dataclass(frozen=True)
class RegisteredModel:
    """A registered model: its description, tags, aliases and versions at a glance."""

    name: str
    created: float
    updated: float
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    aliases: Mapping[str, int] = field(default_factory=dict)  # alias -> version
    latest_version: int | None = None  # the highest live version
    version_count: int = 0  # live versions
    deleted: bool = False


@dataclass(frozen=True)
class AliasChange:
    """One move of an alias: ``from_version`` is None when it was created, ``to_version`` when
    it was deleted; ``reason`` says why when nobody asked for it (its version was deleted)."""

    name: str
    alias: str
    from_version: int | None
    to_version: int | None
    who: str
    at: float  # seconds since the epoch
    reason: str | None = None
