"""Importing ``skops.io`` fast: its trusted estimator list, decided per type, exactly.

When ``skops.io`` is first imported it computes its default trusted types;
the scikit-learn estimator names come from ``sklearn.utils.all_estimators``,
which walks every scikit-learn package with ``pkgutil.walk_packages`` and
imports each public module (pytest comes along, through
``sklearn.utils._testing``). The walk also imports
``sklearn.externals.array_api_compat.torch``, and so all of PyTorch when it
is installed. A process that loads one LogisticRegression pays for all of
it: about half a second and 30 MiB on top of PyTorch's 1.2 s and 180 MiB.

The rule the walk applies is a rule about one class: a class is a trusted
estimator when some public, walked scikit-learn module exposes it under a
public name, it derives from ``BaseEstimator`` (and is not that class) and
it is not abstract. :func:`skops_io` imports ``skops.io`` with the walk
replaced by an empty answer and puts :class:`EstimatorNames` in place of
the list; the list fills itself in two ways:

- inside :func:`quick` (the plugin's own calls), :func:`settle` decides the
  scikit-learn names a file holds by that rule, importing only the public
  modules the walk would have imported on the way. A name the rule does
  not accept makes the list run the real walk once, so every answer is the
  walk's answer: trust is neither widened nor narrowed. :func:`audit`
  settles the names of the file's objects (read from ``schema.json``)
  before skops builds its tree, so the tree it checks reads the list that
  the walk would have given;
- anywhere else (skops used directly by other code in the process), the
  first read of the list runs the real walk, so skops behaves as it always
  does.

The walk, when it runs, still keeps the array-API wrapper (and PyTorch) out:
it runs with that one package unimportable for the walking thread only. When
PyTorch is already imported nothing is hidden.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import sys
import threading
import zipfile
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from importlib.abc import MetaPathFinder
from types import ModuleType
from typing import Any

from flavorkit_sklearn import _archive

# the vendored array-API wrapper of PyTorch; importing it imports torch
HIDDEN = "sklearn.externals.array_api_compat.torch"

_lock = threading.Lock()
_walk_lock = threading.RLock()
# inside the plugin's own skops calls: the list answers with what is settled so far
_QUICK: ContextVar[bool] = ContextVar("flavorkit_sklearn_quick_trust", default=False)


class _HideDuringImport(MetaPathFinder):
    """Refuses :data:`HIDDEN` and its submodules, to the thread that installed it only."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if threading.get_ident() == self.thread and (
            fullname == HIDDEN or fullname.startswith(HIDDEN + ".")
        ):
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


@contextlib.contextmanager
def _torch_hidden() -> Iterator[None]:
    if "torch" in sys.modules:
        yield
        return
    finder = _HideDuringImport()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


def walk() -> list[str]:
    """The estimator names skops trusts, computed as skops computes them (the full walk)."""
    from sklearn.utils.discovery import all_estimators

    with _torch_hidden():
        found = all_estimators()
    names = (f"{cls.__module__}.{cls.__qualname__}" for _, cls in found)
    return [name for name in names if name.startswith("sklearn.")]


class EstimatorNames(list):  # type: ignore[type-arg]
    """skops's ``SKLEARN_ESTIMATOR_TYPE_NAMES``, filled by :func:`settle` or by the walk.

    skops reads it in one place, ``SKLEARN_ESTIMATOR_TYPE_NAMES + ...`` when
    it builds an object node; outside :func:`quick` every read completes it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.decided: dict[str, bool] = {}
        self.complete = False

    def finish(self) -> None:
        """Run the walk (once): the list becomes exactly skops's."""
        with _walk_lock:
            if self.complete:
                return
            names = walk()
            # one assignment: a reader in another thread sees the old list or the new one
            list.__setitem__(self, slice(None), names)
            self.decided = dict.fromkeys(names, True)
            self.complete = True

    def _read(self) -> None:
        if not self.complete and not _QUICK.get():
            self.finish()

    def __add__(self, other: Iterable[str]) -> list[str]:  # type: ignore[override]
        self._read()
        return [*list.__iter__(self), *other]

    def __iter__(self) -> Iterator[str]:
        self._read()
        return list.__iter__(self)

    def __len__(self) -> int:
        self._read()
        return list.__len__(self)

    def __contains__(self, name: object) -> bool:
        self._read()
        return list.__contains__(self, name)

    def __getitem__(self, index: Any) -> Any:
        self._read()
        return list.__getitem__(self, index)

    def __eq__(self, other: object) -> bool:
        self._read()
        return list(list.__iter__(self)) == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        self._read()
        return list.__repr__(self)

    def settle(self, names: Iterable[str]) -> None:
        """Decide each scikit-learn name in ``names``; run the walk if the rule says no to one."""
        with _walk_lock:
            if self.complete:
                return
            for name in names:
                if not name.startswith("sklearn.") or name in self.decided:
                    continue
                if not is_walked_estimator(name):
                    self.finish()  # the walk has the last word on a no
                    return
                self.decided[name] = True
                list.append(self, name)


def is_walked_estimator(name: str) -> bool:
    """Whether the walk lists the class ``name`` (``module.Class``); False when unsure.

    Imports only the public scikit-learn modules on the path to the class,
    each of which the walk imports too (a module the walk's ``pkgutil``
    cannot list, in a folder without ``__init__.py``, is not imported). True
    means: one of those modules exposes the class under a public name, and
    the class derives from ``BaseEstimator``, is not abstract, and is
    exposed under a name other than ``BaseEstimator``. The class is looked
    up in its module's namespace, never through a module ``__getattr__``
    (scikit-learn's raise ``ImportError`` for some names). ``name`` comes
    from a file, so anything but ASCII identifiers is a no.
    """
    from sklearn.utils.discovery import _MODULE_TO_IGNORE

    if not name.isascii():
        return False
    module_name, _, class_name = name.rpartition(".")
    parts = module_name.split(".")
    if parts[0] != "sklearn" or len(parts) < 2 or not all(p.isidentifier() for p in parts):
        return False
    if not class_name.isidentifier():
        return False
    walked = []  # the module's public ancestors: what the walk imports on the way
    for depth in range(2, len(parts) + 1):
        if parts[depth - 1].startswith("_") or parts[depth - 1] in _MODULE_TO_IGNORE:
            break
        walked.append(".".join(parts[:depth]))
    if not walked:
        return False
    try:
        for module in walked:
            if module not in sys.modules:
                spec = importlib.util.find_spec(module)
                if spec is None or not spec.has_location or spec.origin is None:
                    return False  # missing, or a namespace folder pkgutil does not list
            importlib.import_module(module)
    except Exception:
        return False
    defining = sys.modules.get(module_name)
    cls = vars(defining).get(class_name) if defining is not None else None
    if not isinstance(cls, type) or f"{cls.__module__}.{cls.__qualname__}" != name:
        return False
    from sklearn.base import BaseEstimator

    if not issubclass(cls, BaseEstimator) or getattr(cls, "__abstractmethods__", None):
        return False
    return any(_exposes(sys.modules[module], cls) for module in walked)


def _exposes(module: ModuleType, cls: type) -> bool:
    """Whether ``module`` holds ``cls`` under a public name other than ``BaseEstimator``."""
    return any(
        value is cls and not key.startswith("_") and key != "BaseEstimator"
        for key, value in vars(module).items()
    )


@contextlib.contextmanager
def quick() -> Iterator[None]:
    """The plugin's own skops calls: the trusted list answers with what is settled so far."""
    token = _QUICK.set(True)
    try:
        yield
    finally:
        _QUICK.reset(token)


@dataclass(frozen=True)
class Audit:
    """What a skops file needs: its untrusted types and every module it names."""

    untrusted: list[str]
    modules: frozenset[str]


def audit(skops: ModuleType, file: Any) -> Audit:
    """``skops.io.get_untrusted_types(file=file)``'s answer, without the walk when it can.

    ``skops`` is ``skops.io`` as :func:`skops_io` imported it; ``file`` is a
    path or an open binary file. It is read as hostile first
    (:mod:`flavorkit_sklearn._archive`: zip bombs, entries named twice, type
    checks that would never finish raise ``SkopsFileError``). The names of
    the file's objects are settled before skops builds its tree, so the
    answer is the one the walked list gives, for every kind of node.
    """
    from skops.io import _audit, _utils

    names = _names()
    with zipfile.ZipFile(file) as archive:
        _archive.check_archive(archive)
        if hasattr(_utils, "read_schema"):  # skops >= 0.16 checks the protocol there
            schema, context = _utils.read_schema(archive)
        else:
            schema = json.loads(archive.read(_archive.SCHEMA))
            context = _utils.LoadContext(src=archive, protocol=schema["protocol"])
        found = _archive.scan(schema)
        if names is not None and not names.complete:
            names.settle(sorted(found.objects))
        with quick():
            tree = _audit.get_tree(schema, context, trusted=None)
            _archive.check_walk(tree, _audit.Node, found.nodes)
            untrusted = tree.get_unsafe_set()
    return Audit(sorted(untrusted), frozenset(found.modules))


def untrusted_types(skops: ModuleType, file: Any) -> list[str]:
    """What ``skops.io.get_untrusted_types(file=file)`` answers (see :func:`audit`)."""
    return audit(skops, file).untrusted


def _names() -> EstimatorNames | None:
    trusted = sys.modules.get("skops.io._trusted_types")
    names = getattr(trusted, "SKLEARN_ESTIMATOR_TYPE_NAMES", None)
    return names if isinstance(names, EstimatorNames) else None


def skops_io() -> ModuleType:
    """``skops.io``, imported (once) without walking scikit-learn; its trust unchanged."""
    module = sys.modules.get("skops.io")
    if module is not None and not _initializing(module):
        return module
    with _lock:
        if "skops.io" in sys.modules:
            import skops.io

            return skops.io
        import sklearn.utils

        real = sklearn.utils.all_estimators
        thread = threading.get_ident()

        def no_walk(type_filter: Any = None) -> list[Any]:
            # only skops's import, in this thread, is answered without the walk
            if threading.get_ident() == thread:
                return []
            return real(type_filter)

        sklearn.utils.all_estimators = no_walk
        try:
            import skops.io
            from skops.io import _trusted_types
        finally:
            sklearn.utils.all_estimators = real
        empty = _trusted_types.SKLEARN_ESTIMATOR_TYPE_NAMES
        names = EstimatorNames()
        # every skops module that bound the list by name reads ours instead
        for module_name, module in list(sys.modules.items()):
            if module_name.startswith("skops.") and (
                getattr(module, "SKLEARN_ESTIMATOR_TYPE_NAMES", None) is empty
            ):
                module.SKLEARN_ESTIMATOR_TYPE_NAMES = names
        return skops.io


def _initializing(module: ModuleType) -> bool:
    """Whether another thread is still executing ``module`` (then the import lock waits for it)."""
    return bool(getattr(getattr(module, "__spec__", None), "_initializing", False))
