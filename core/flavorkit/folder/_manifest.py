"""The ``MLmodel`` manifest: read, validate and write it as MLflow does.

Keys are written sorted (``yaml.safe_dump``), unknown keys survive a round
trip, and every problem is a ``ManifestError`` naming the file and the key.
"""

from __future__ import annotations

import functools
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flavorkit.exceptions import ManifestError
from flavorkit.folder._paths import MAX_MANIFEST_BYTES, load_yaml, read_text, relative_path

if TYPE_CHECKING:
    from flavorkit.signature import ModelSignature

MLMODEL = "MLmodel"

# Keys whose values are paths relative to the model folder; they must stay inside it.
PATH_KEYS = frozenset(
    {"data", "code", "model_path", "pickled_model", "model_data", "python_model", "model_code_path"}
)
_KNOWN = (
    "flavors",
    "utc_time_created",
    "model_uuid",
    "signature",
    "saved_input_example_info",
    "model_size_bytes",
    "metadata",
)


def _now() -> str:
    return str(datetime.now(timezone.utc).replace(tzinfo=None))


class Model:
    """The contents of one ``MLmodel`` file.

    ``flavors`` maps flavor names to their sections; every top-level key this
    class does not know is kept in ``extra`` and written back unchanged.
    """

    def __init__(
        self,
        flavors: dict[str, dict[str, Any]] | None = None,
        *,
        utc_time_created: str | None = None,
        model_uuid: str | None = None,
        signature: dict[str, Any] | None = None,
        saved_input_example_info: dict[str, Any] | None = None,
        model_size_bytes: int | None = None,
        metadata: dict[str, Any] | None = None,
        **extra: Any,
    ) -> None:
        self.flavors: dict[str, dict[str, Any]] = dict(flavors or {})
        self.utc_time_created = utc_time_created or _now()
        self.model_uuid = model_uuid if model_uuid is not None else uuid.uuid4().hex
        self.signature_dict = signature
        self.saved_input_example_info = saved_input_example_info
        self.model_size_bytes = model_size_bytes
        self.metadata = metadata
        self.extra: dict[str, Any] = extra
        self._signature: ModelSignature | None = None
        self._signature_read = False
        self._path: Any = None

    # -- reading -----------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> Model:
        """Read and validate ``path`` (a model folder or its ``MLmodel`` file).

        Raises ``ManifestError`` when the file is missing, not a regular file,
        larger than ``MAX_MANIFEST_BYTES``, not UTF-8, not YAML, or malformed.
        """
        file = Path(path)
        if file.is_dir():
            file = file / MLMODEL
        if not file.exists() and not file.is_symlink():
            raise ManifestError("no MLmodel file: this is not a model folder", path=file)
        if file.is_symlink():
            # MLmodel decides everything else: a link may only point inside the folder
            from flavorkit.folder._paths import model_file

            model_file(file.parent, file.name, key=MLMODEL)
        text = read_text(file, limit=MAX_MANIFEST_BYTES)
        return cls.from_dict(load_yaml(text, path=file), path=file)

    @classmethod
    def from_dict(cls, data: Any, *, path: Any = None) -> Model:
        """Build a ``Model`` from the parsed YAML, validating every key it uses."""
        if not isinstance(data, dict):
            raise ManifestError(
                f"expected a mapping at the top level, got {type(data).__name__}", path=path
            )
        flavors = data.get("flavors")
        if flavors is None:
            raise ManifestError("missing required key", path=path, key="flavors")
        if not isinstance(flavors, dict) or not flavors:
            raise ManifestError(
                f"expected a non-empty mapping of flavor sections, got {type(flavors).__name__}",
                path=path,
                key="flavors",
            )
        for name, section in flavors.items():
            _check_section(name, section, path)
        for key, kind in (
            ("signature", dict),
            ("saved_input_example_info", dict),
            ("metadata", dict),
        ):
            value = data.get(key)
            if value is not None and not isinstance(value, kind):
                raise ManifestError(
                    f"expected a mapping, got {type(value).__name__}", path=path, key=key
                )
        size = data.get("model_size_bytes")
        if size is not None and (not isinstance(size, int) or isinstance(size, bool)):
            raise ManifestError(
                f"expected an integer, got {type(size).__name__}", path=path, key="model_size_bytes"
            )
        info = data.get("saved_input_example_info") or {}
        for key in ("artifact_path", "serving_input_path"):
            if key in info:
                relative_path(info[key], path=path, key=f"saved_input_example_info.{key}")
        known = {k: data[k] for k in _KNOWN if k in data}
        extra = {k: v for k, v in data.items() if k not in _KNOWN}
        model = cls(**known, **extra)
        if "utc_time_created" in data:
            model.utc_time_created = data["utc_time_created"]
        if "model_uuid" in data:
            model.model_uuid = data["model_uuid"]
        model._path = path
        return model

    # -- writing -----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Return the manifest as plain data; ``None`` values of optional keys are left out."""
        out: dict[str, Any] = dict(self.extra)
        out["flavors"] = self.flavors
        out["utc_time_created"] = self.utc_time_created
        out["model_uuid"] = self.model_uuid
        for key in ("signature", "saved_input_example_info", "model_size_bytes", "metadata"):
            value = self.signature_dict if key == "signature" else getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    def to_yaml(self) -> str:
        """Serialise as MLflow does: block style, keys sorted."""
        import yaml

        return yaml.dump(self.to_dict(), Dumper=_dumper(), default_flow_style=False)

    def save(self, path: str | Path) -> None:
        """Write ``MLmodel`` into the folder ``path`` (or to the file ``path``)."""
        file = Path(path)
        if file.is_dir():
            file = file / MLMODEL
        file.write_text(self.to_yaml(), encoding="utf-8")

    # -- signature ---------------------------------------------------------
    @property
    def signature(self) -> ModelSignature | None:
        """The parsed signature, or ``None``; a malformed one raises ``ManifestError``."""
        if not self._signature_read:
            self._signature = self._parse_signature()
            self._signature_read = True
        return self._signature

    @signature.setter
    def signature(self, value: ModelSignature | None) -> None:
        self._signature = value
        self._signature_read = True
        self.signature_dict = value.to_dict() if value is not None else None

    def _parse_signature(self) -> ModelSignature | None:
        if not self.signature_dict:
            return None
        from flavorkit.signature import ModelSignature

        for part in ("inputs", "outputs", "params"):
            value = self.signature_dict.get(part)
            if value is not None and not isinstance(value, str):
                raise ManifestError(
                    f"expected a JSON string or null, got {type(value).__name__}",
                    path=self._path,
                    key=f"signature.{part}",
                )
        try:
            return ModelSignature.from_dict(self.signature_dict)
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
            text = str(exc)
            text = text if len(text) <= 300 else text[:297] + "..."
            raise ManifestError(
                f"invalid signature: {text}", path=self._path, key="signature"
            ) from None

    def __repr__(self) -> str:
        return f"Model(flavors={sorted(self.flavors)!r}, model_uuid={self.model_uuid!r})"


@functools.cache
def _dumper() -> Any:
    """A safe dumper that writes ``str`` subclasses (``torch.__version__``) as plain strings."""
    import yaml

    class Dumper(yaml.SafeDumper):
        def represent_data(self, data: Any) -> Any:
            if isinstance(data, str) and type(data) is not str:
                data = str(data)
            return super().represent_data(data)

    return Dumper


def _check_section(name: Any, section: Any, path: Any) -> None:
    key = f"flavors.{name}"
    if not isinstance(name, str):
        raise ManifestError("flavor names must be strings", path=path, key=key)
    if not isinstance(section, dict):
        raise ManifestError(f"expected a mapping, got {type(section).__name__}", path=path, key=key)
    for sub, value in section.items():
        if sub in PATH_KEYS and value is not None:
            relative_path(value, path=path, key=f"{key}.{sub}")
    if name == "python_function":
        loader = section.get("loader_module")
        if not isinstance(loader, str) or not loader:
            raise ManifestError(
                f"expected a module name, got {type(loader).__name__}",
                path=path,
                key=f"{key}.loader_module",
            )
        config = section.get("config")
        if config is not None and not isinstance(config, dict):
            raise ManifestError(
                f"expected a mapping, got {type(config).__name__}", path=path, key=f"{key}.config"
            )
        env = section.get("env")
        if isinstance(env, str):
            relative_path(env, path=path, key=f"{key}.env")
        elif isinstance(env, dict):
            for sub, value in env.items():
                relative_path(value, path=path, key=f"{key}.env.{sub}")
        elif env is not None:
            raise ManifestError(
                f"expected a path or a mapping, got {type(env).__name__}",
                path=path,
                key=f"{key}.env",
            )
        artifacts = section.get("artifacts") or {}
        if not isinstance(artifacts, dict):
            raise ManifestError("expected a mapping", path=path, key=f"{key}.artifacts")
        for art, entry in artifacts.items():
            if not isinstance(art, str) or not isinstance(entry, dict) or "path" not in entry:
                raise ManifestError(
                    "expected a mapping with a 'path'", path=path, key=f"{key}.artifacts.{art}"
                )
            relative_path(entry["path"], path=path, key=f"{key}.artifacts.{art}.path")


def named_paths(name: str, section: dict[str, Any]) -> list[tuple[str, str]]:
    """``(key, relative path)`` for each file a flavor section names."""
    out = [
        (f"flavors.{name}.{key}", value)
        for key, value in section.items()
        if key in PATH_KEYS and isinstance(value, str)
    ]
    for key, value in section.items():
        if isinstance(value, list):  # MLflow's extra_files: [{path: ...}, ...]
            out += [
                (f"flavors.{name}.{key}[{i}].path", item["path"])
                for i, item in enumerate(value)
                if isinstance(item, dict) and isinstance(item.get("path"), str)
            ]
    artifacts = section.get("artifacts")
    if isinstance(artifacts, dict):
        out += [
            (f"flavors.{name}.artifacts.{art}.path", entry["path"])
            for art, entry in artifacts.items()
            if isinstance(entry, dict) and isinstance(entry.get("path"), str)
        ]
    return out
