"""The grammar of ``models:/`` and ``runs:/`` URIs, as MLflow parses them, and the names in them.

MLflow splits a models URI in two steps (``ModelsArtifactRepository.split_models_uri``
then ``_parse_model_uri``); this module does both at once and keeps MLflow's
answers, with three deliberate differences, each refused or resolved with a
message rather than guessed:

- ``models:/m-<32 hex>/sub/path`` is a logged model and a path inside it
  (MLflow misreads it as the *stage* ``sub`` of a model named ``m-<id>``);
- ``models://<authority>/...`` is accepted only with an empty authority
  (MLflow uses the authority for Databricks profiles, which flavorkit does not reach);
- sub-paths and run ids may not climb out of the folder they name (``..``, ``\\``).

Parsing is pure and cached: the same URI is parsed once per process.
"""

from __future__ import annotations

import functools
import re
import urllib.parse
from dataclasses import dataclass

from flavorkit.exceptions import LocationError

# MLflow 3 logged-model ids: "m-" + uuid4 hex
LOGGED_MODEL_ID = re.compile(r"^m-[0-9a-f]{32}$")
# MLflow's _RUN_ID_REGEX: run ids become folder names in MLflow's file store
RUN_ID = re.compile(r"^[a-zA-Z0-9][\w\-]{0,255}$")
# MLflow's _REGISTERED_MODEL_ALIAS_REGEX (non-empty here) and its reserved version aliases
ALIAS = re.compile(r"^[\w\-]{1,255}$", re.ASCII)
RESERVED_VERSION_ALIAS = re.compile(r"^[vV]\d+$")
MAX_NAME_LENGTH = 256
# versions are SQLite INTEGERs in both registries: a larger number can name no version
MAX_VERSION = 2**63 - 1
# a name, an alias and a path inside the model fit many times over; the parse cache stays small
MAX_URI_LENGTH = 8192

MODELS_FORMS = (
    "models:/<name>/<version>, models:/<name>@<alias>, models:/<name>/latest "
    "(each optionally followed by /<path inside the model>) or models:/<logged model id>"
)
RUNS_FORM = "runs:/<run_id>/<path inside the run's artifacts>"


@dataclass(frozen=True)
class ModelsUri:
    """One parsed ``models:/`` URI: exactly one of version, alias, latest, stage, model_id set."""

    uri: str
    name: str | None = None
    version: int | None = None
    alias: str | None = None
    latest: bool = False
    stage: str | None = None  # MLflow's deprecated stages ("Production"); see _resolve
    model_id: str | None = None  # MLflow 3 logged model, "m-<hex>"
    subpath: str = ""  # relative POSIX path inside the version's folder, "" for the folder

    @property
    def target(self) -> str:
        """What the URI asks for, in words, for messages."""
        if self.model_id is not None:
            return f"logged model {self.model_id!r}"
        if self.version is not None:
            return f"version {self.version} of model {self.name!r}"
        if self.alias is not None:
            return f"alias {self.alias!r} of model {self.name!r}"
        if self.stage is not None:
            return f"stage {self.stage!r} of model {self.name!r}"
        return f"the latest version of model {self.name!r}"


@dataclass(frozen=True)
class RunsUri:
    """One parsed ``runs:/`` URI: a run and a path among its artifacts ("" for all of them)."""

    uri: str
    run_id: str
    path: str = ""


def _bad(uri: str, problem: str, expected: str) -> LocationError:
    return LocationError(f"{problem}; expected {expected}", uri=uri)


def _split(uri: str, scheme: str, expected: str) -> str:
    """The URI's path without the leading slash, after the checks both schemes share."""
    if not isinstance(uri, str):
        raise TypeError(f"a {scheme}:/ URI must be a str, got {type(uri).__name__}")
    if len(uri) > MAX_URI_LENGTH:
        raise _bad(
            f"{uri[:60]}...",
            f"the URI has {len(uri):,} characters, more than the {MAX_URI_LENGTH:,} a model URI "
            "may have",
            expected,
        )
    if any(not c.isprintable() for c in uri):
        raise _bad(uri, "the URI contains control characters", expected)
    # MLflow parses with allow_fragments=False, so '#' belongs to the path, as here
    parsed = urllib.parse.urlparse(uri, allow_fragments=False)
    if parsed.scheme != scheme:
        raise _bad(uri, f"not a {scheme}:/ URI", expected)
    if parsed.netloc:
        if parsed.hostname == "databricks":
            raise _bad(
                uri,
                "Databricks registries (models://<profile>@databricks/...) are not supported",
                expected,
            )
        raise _bad(
            uri,
            f"{scheme}:// names an authority ({parsed.netloc!r}), which MLflow uses only for "
            f"Databricks profiles; did you mean {scheme}:/{parsed.netloc}{parsed.path}",
            expected,
        )
    if parsed.query or parsed.params:
        raise _bad(uri, "a query (?...) or ;params is not part of the grammar", expected)
    path = parsed.path.rstrip("/")  # MLflow strips trailing slashes too
    if not path.startswith("/") or len(path) <= 1 or path.startswith("//"):
        raise _bad(uri, "nothing after the scheme", expected)
    return path[1:]


def check_subpath(parts: list[str], uri: str, expected: str) -> str:
    """``parts`` joined as a relative POSIX path, refused if a segment is empty or climbs out."""
    for part in parts:
        if part in ("", ".", "..") or "\\" in part:
            raise _bad(
                uri,
                f"the path inside the model has a segment {part!r}; it must stay inside the folder",
                expected,
            )
    return "/".join(parts)


@functools.lru_cache(maxsize=1024)
def parse_models_uri(uri: str) -> ModelsUri:
    """Parse ``uri``; raises ``LocationError`` naming the URI and the accepted forms."""
    parts = _split(uri, "models", MODELS_FORMS).split("/")
    head = parts[0]
    if "@" in head:
        # models:/<name>@<alias>[/sub/path]; a name cannot contain '@' in a URI (as in MLflow)
        name, _, alias = head.rpartition("@")
        if not name.strip() or not alias.strip():
            raise _bad(uri, "an alias URI needs both a name and an alias around '@'", MODELS_FORMS)
        check_alias(alias, uri=uri)
        subpath = check_subpath(parts[1:], uri, MODELS_FORMS)
        return ModelsUri(uri, name=_uri_name(name, uri), alias=alias, subpath=subpath)
    if not head.strip():
        raise _bad(uri, "the model name is empty", MODELS_FORMS)
    if len(parts) == 1:
        # MLflow 3: a single segment is a logged model id
        return ModelsUri(uri, model_id=_uri_name(head, uri))
    suffix, rest = parts[1], parts[2:]
    if suffix.isascii() and suffix.isdigit():
        version = parse_version(suffix, uri)
        subpath = check_subpath(rest, uri, MODELS_FORMS)
        return ModelsUri(uri, name=_uri_name(head, uri), version=version, subpath=subpath)
    if suffix.lower() == "latest":
        subpath = check_subpath(rest, uri, MODELS_FORMS)
        return ModelsUri(uri, name=_uri_name(head, uri), latest=True, subpath=subpath)
    if LOGGED_MODEL_ID.match(head):
        # MLflow reads models:/m-<id>/MLmodel as stage 'MLmodel' and fails; this is the intent
        subpath = check_subpath(parts[1:], uri, MODELS_FORMS)
        return ModelsUri(uri, model_id=head, subpath=subpath)
    if not suffix.strip():
        raise _bad(uri, "empty version", MODELS_FORMS)
    subpath = check_subpath(rest, uri, MODELS_FORMS)
    return ModelsUri(uri, name=_uri_name(head, uri), stage=suffix, subpath=subpath)


@functools.lru_cache(maxsize=1024)
def parse_runs_uri(uri: str) -> RunsUri:
    """Parse ``runs:/<run_id>/<path>``; the path may be empty (the run's whole artifact root)."""
    parts = _split(uri, "runs", RUNS_FORM).split("/")
    run_id = parts[0]
    if not RUN_ID.match(run_id):
        raise _bad(
            uri,
            f"run id {run_id!r} is not one MLflow makes (letters, digits, '_' and '-')",
            RUNS_FORM,
        )
    return RunsUri(uri, run_id=run_id, path=check_subpath(parts[1:], uri, RUNS_FORM))


def check_version(version: int, *, name: str) -> int:
    """``version`` when a registry could number it (1 to 2**63-1); ``LocationError`` otherwise.

    SQLite raises ``OverflowError`` for a larger number; this says what was asked instead.
    """
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= MAX_VERSION:
        raise LocationError(
            f"registered model {name!r} has no version {str(version)[:30]!r}: versions are whole "
            f"numbers from 1 to {MAX_VERSION}",
            uri=f"models:/{name}/{str(version)[:30]}",
        )
    return version


def parse_version(text: str, uri: str) -> int:
    """The version number ``text`` (ASCII digits) names; ``LocationError`` outside 1..2**63-1."""
    digits = text.lstrip("0")
    # compare lengths first: int() of thousands of digits is refused by Python itself
    if len(digits) > len(str(MAX_VERSION)) or (digits and int(digits) > MAX_VERSION):
        raise _bad(
            uri,
            f"version {text[:30]}{'...' if len(text) > 30 else ''} is larger than any version "
            f"a registry numbers (at most {MAX_VERSION})",
            MODELS_FORMS,
        )
    if not digits:
        raise _bad(uri, "versions are numbered from 1", MODELS_FORMS)
    return int(digits)


def _uri_name(name: str, uri: str) -> str:
    """A name as a URI gives it: MLflow stores may hold names ``check_name`` would refuse.

    Only what can never be a registered name is refused here ('.', '..',
    blanks, over-long); a name is looked up, never joined to a path.
    """
    if not name.strip() or name in (".", "..") or len(name) > MAX_NAME_LENGTH:
        raise _bad(uri, f"{name!r} is not a model name", MODELS_FORMS)
    return name


def check_name(name: str, *, uri: str | None = None) -> str:
    """``name`` when it can name a registered model; ``LocationError`` (or ValueError) otherwise.

    MLflow refuses '/' and ':' and names that a path normalisation would change;
    flavorkit also refuses '\\', '@' (unaddressable by ``models:/name@alias``),
    control characters and surrounding blanks. Names never become file names in
    the embedded registry, but MLflow's file store uses them as folder names.
    """
    problem = None
    if not isinstance(name, str) or not name.strip():
        problem = "a model name must be a non-empty string"
    elif len(name) > MAX_NAME_LENGTH:
        problem = f"a model name has at most {MAX_NAME_LENGTH} characters"
    elif name != name.strip():
        problem = f"model name {name!r} starts or ends with blanks"
    elif any(c in name for c in "/\\:@") or not name.isprintable():
        problem = f"model name {name!r} may not contain '/', '\\', ':', '@' or control characters"
    elif name in (".", ".."):
        problem = f"model name {name!r} is a path component"
    if problem is None:
        return name
    if uri is not None:
        raise _bad(uri, problem, MODELS_FORMS)
    raise ValueError(problem)


def check_alias(alias: str, *, uri: str | None = None, reserved: bool = False) -> str:
    """``alias`` when it is a valid alias; with ``reserved``, also refuse MLflow's reserved ones.

    Like MLflow: letters, digits, '_' and '-', at most 255; ``latest`` (any case)
    and ``v<digits>`` are reserved for setting (they read as versions), though
    a URI may still name them (an MLflow store may hold them from older versions).
    """
    problem = None
    if not isinstance(alias, str) or not ALIAS.match(alias):
        problem = f"alias {alias!r} is not valid: aliases are 1 to 255 letters, digits, '_' or '-'"
    elif reserved and alias.lower() == "latest":
        problem = "alias 'latest' (any case) is reserved: models:/<name>/latest names the newest"
    elif reserved and RESERVED_VERSION_ALIAS.match(alias):
        problem = f"alias {alias!r} is reserved: v<digits> reads as a version number"
    if problem is None:
        return alias
    if uri is not None:
        raise _bad(uri, problem, MODELS_FORMS)
    raise ValueError(problem)
