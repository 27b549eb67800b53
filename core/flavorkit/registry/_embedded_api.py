"""The embedded registry's operations as functions, each on the registry ``registry_uri`` names.

``registry_uri=None`` is ``FLAVORKIT_REGISTRY_URI``, else the per-user
registry, as for ``models:/`` URIs; a URI naming an MLflow store is refused
(flavorkit reads MLflow registries, it does not change them).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from flavorkit.registry._embedded_types import AliasChange, RegisteredModel, RegisteredVersion
from flavorkit.registry._resolve import embedded_registry

RegistryUri = str | os.PathLike[str] | None


def register_model(
    source_uri: str | os.PathLike[str],
    name: str,
    *,
    tags: Mapping[str, str] | None = None,
    description: str | None = None,
    registry_uri: RegistryUri = None,
) -> RegisteredVersion:
    """Copy the model at ``source_uri`` (a folder or any model URI) in as the next version of
    ``name``, recording the sha256 of every file; returns the new, immutable version."""
    return embedded_registry(registry_uri).register_model(
        source_uri, name, tags=tags, description=description
    )


def set_alias(
    name: str, alias: str, version: int, *, registry_uri: RegistryUri = None
) -> AliasChange | None:
    """Point ``alias`` at ``version`` (kept in the alias history); ``None`` if it did already."""
    return embedded_registry(registry_uri).set_alias(name, alias, version)


def delete_alias(name: str, alias: str, *, registry_uri: RegistryUri = None) -> AliasChange:
    """Remove ``alias`` from ``name`` (recorded in the alias history)."""
    return embedded_registry(registry_uri).delete_alias(name, alias)


def alias_history(
    name: str, alias: str | None = None, *, registry_uri: RegistryUri = None
) -> list[AliasChange]:
    """Who moved which alias of ``name`` from which version to which, and when; oldest first."""
    return embedded_registry(registry_uri).alias_history(name, alias)


def set_tag(
    name: str, key: str, value: str, *, version: int | None = None, registry_uri: RegistryUri = None
) -> None:
    """Tag the model ``name``, or with ``version`` one of its versions."""
    embedded_registry(registry_uri).set_tag(name, key, value, version=version)


def delete_tag(
    name: str, key: str, *, version: int | None = None, registry_uri: RegistryUri = None
) -> None:
    """Remove a tag from the model ``name`` or one of its versions."""
    embedded_registry(registry_uri).delete_tag(name, key, version=version)


def set_description(
    name: str, text: str | None, *, version: int | None = None, registry_uri: RegistryUri = None
) -> None:
    """Describe the model ``name`` or one of its versions (``None`` clears it)."""
    embedded_registry(registry_uri).set_description(name, text, version=version)


def get_model(name: str, *, registry_uri: RegistryUri = None) -> RegisteredModel:
    """The registered model ``name``: description, tags, aliases, latest version."""
    return embedded_registry(registry_uri).get_model(name)


def search_models(
    pattern: str | None = None,
    *,
    tags: Mapping[str, str | None] | None = None,
    include_deleted: bool = False,
    registry_uri: RegistryUri = None,
) -> list[RegisteredModel]:
    """Models whose name matches the SQL LIKE ``pattern`` and that carry every tag in ``tags``."""
    return embedded_registry(registry_uri).search_models(
        pattern, tags=tags, include_deleted=include_deleted
    )


def search_versions(
    pattern: str | None = None,
    *,
    tags: Mapping[str, str | None] | None = None,
    include_deleted: bool = False,
    registry_uri: RegistryUri = None,
) -> list[RegisteredVersion]:
    """Versions of the models matching ``pattern`` that carry every tag in ``tags``."""
    return embedded_registry(registry_uri).search_versions(
        pattern, tags=tags, include_deleted=include_deleted
    )


def list_versions(
    name: str,
    *,
    tags: Mapping[str, str | None] | None = None,
    include_deleted: bool = False,
    registry_uri: RegistryUri = None,
) -> list[RegisteredVersion]:
    """The versions of ``name`` carrying every tag in ``tags``, oldest first."""
    return embedded_registry(registry_uri).list_versions(
        name, tags=tags, include_deleted=include_deleted
    )


def delete_version(name: str, version: int, *, registry_uri: RegistryUri = None) -> None:
    """Soft-delete one version: it stops resolving and its number is never reused."""
    embedded_registry(registry_uri).delete_version(name, version)


def delete_model(name: str, *, registry_uri: RegistryUri = None) -> None:
    """Soft-delete a model and every version of it."""
    embedded_registry(registry_uri).delete_model(name)
