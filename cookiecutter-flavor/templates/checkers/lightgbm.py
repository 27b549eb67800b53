"""Checking a LightGBM model file (its text format) before LightGBM reads it.

LightGBM's reader trusts the file: it scans for ``=`` and line ends without
bounds, parses trees in parallel at the offsets ``tree_sizes`` gives (a
parse error there aborts the process), indexes parameter lines it expects to
hold a ``:``, and follows child indices and category tables without checking
them when it predicts. A truncated or bit-flipped file can therefore crash
or hang the process that loads it. Before LightGBM sees a byte, this module
checks that the file is exactly what LightGBM writes:

- UTF-8 text of ``\\n``-ended lines in LightGBM's order: the header, the
  trees, ``end of trees``, the feature importances, the parameters (and a
  parser section, and the ``pandas_categorical`` line the Python package
  adds);
- every header value, with ``tree_sizes`` matching the byte size of each
  tree and the objective one LightGBM knows, with the number of classes the
  header declares;
- every tree: its keys in LightGBM's order, each array as long as the
  number of leaves says and made of numbers, split features inside the
  feature range, children that make one binary tree reachable from the root,
  and categorical splits whose tables are in range.

What fails is a ``ManifestError`` naming the file and the ``MLmodel`` key.
Linear trees (``linear_tree=True``), whose extra arrays this module does not
check, are an ``UnsafeFormatError`` unless the caller opted in to unsafe
loading. Nothing here imports LightGBM.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

from flavorkit.exceptions import ManifestError, UnsafeFormatError

# The largest model file read (LightGBM itself holds the whole text in memory).
MAX_MODEL_BYTES = 4 * 1024**3
# Bounds far beyond real models that keep loading and predicting in memory and in seconds.
MAX_FEATURES = 1 << 24
MAX_CLASSES = 1 << 16
MAX_LEAVES = 1 << 17  # LightGBM's own limit on num_leaves
MAX_CATEGORY_WORDS = 1 << 26  # 32-bit words of category bitsets over a tree: 256 MiB
INT32_MAX = 2**31 - 1

_INT = re.compile(r"[-+]?[0-9]{1,10}")
_FLOAT = re.compile(
    r"[-+]?(?:[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]{1,4})?|\.[0-9]+(?:[eE][-+]?[0-9]{1,4})?"
    r"|inf|infinity|nan)",
    re.IGNORECASE,
)
_NAME = re.compile(r"[^\s=]{1,1000}")
_FEATURE_INFO = re.compile(r"none|\[[^\s:\]]+:[^\s:\]]+\]|-?[0-9]{1,10}(?::-?[0-9]{1,10})*")
_PARAMETER = re.compile(r"\[[A-Za-z0-9_]{1,100}: [^\n]*\]")
_IMPORTANCE = re.compile(r"[^\s=]{1,1000}=[0-9]{1,20}")
_OBJECTIVES = frozenset(
    {
        "regression",
        "regression_l1",
        "quantile",
        "huber",
        "fair",
        "poisson",
        "binary",
        "lambdarank",
        "rank_xendcg",
        "multiclass",
        "multiclassova",
        "cross_entropy",
        "cross_entropy_lambda",
        "mape",
        "gamma",
        "tweedie",
        "custom",
    }
)
_MULTICLASS = frozenset({"multiclass", "multiclassova"})
# a tree's keys, in the order LightGBM writes them; ``None``: an array of that many values
_TREE_KEYS = (
    "num_leaves",
    "num_cat",
    "split_feature",
    "split_gain",
    "threshold",
    "decision_type",
    "left_child",
    "right_child",
    "leaf_value",
    "leaf_weight",
    "leaf_count",
    "internal_value",
    "internal_weight",
    "internal_count",
)
_LINEAR_KEYS = ("leaf_const", "num_features", "leaf_features", "leaf_coeff")


class _Bad(Exception):
    """A definite defect; the message says where in the model text."""


class _Unverified(Exception):
    """A part of the model this module does not check (not a defect)."""


def check(data: bytes, *, path: Path, key: str, allow_unsafe: bool) -> None:
    """Check the model file ``data`` (read from ``path``, named by ``key``) for LightGBM.

    Raises ``ManifestError`` when it is not a well-formed LightGBM text model,
    and ``UnsafeFormatError`` when it holds parts that are not checked (linear
    trees) and ``allow_unsafe`` is false.
    """
    try:
        _Model(_lines(data)).check()
    except _Bad as exc:
        raise ManifestError(f"is not a valid LightGBM model ({exc})", path=path, key=key) from None
    except _Unverified as exc:
        if not allow_unsafe:
            raise UnsafeFormatError(
                "lightgbm",
                path,
                detail=f"{exc}, which flavorkit does not check, and LightGBM's reader can "
                "crash the process on a damaged one",
            ) from None


def _lines(data: bytes) -> list[str]:
    """The file's lines: strict UTF-8, ``\\n`` line ends, no control characters."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Bad(f"byte {exc.start} is not UTF-8 text") from None
    bad = re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text)
    if bad is not None:
        raise _Bad(f"character {bad.start()} is a control character")
    if not text.endswith("\n"):
        raise _Bad("the text does not end with a line end, as LightGBM writes it")
    return text[:-1].split("\n")


def _int(text: str, where: str, low: int = -INT32_MAX - 1, high: int = INT32_MAX) -> int:
    if not _INT.fullmatch(text):
        raise _Bad(f"{where}: expected an integer, got {text[:40]!r}")
    value = int(text)
    if not low <= value <= high:
        raise _Bad(f"{where}: expected an integer from {low} to {high}, got {value}")
    return value


def _float(text: str, where: str) -> float:
    if not _FLOAT.fullmatch(text):
        raise _Bad(f"{where}: expected a number, got {text[:40]!r}")
    return float(text)


def _array(text: str, count: int, where: str) -> list[str]:
    """``count`` space-separated values (``""`` for none), as LightGBM writes arrays."""
    values = text.split(" ") if text else []
    if len(values) != count:
        raise _Bad(f"{where}: expected {count} values, got {len(values)}")
    return values


class _Model:
    """The whole model text, checked front to back."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.at = 0

    def _next(self, what: str) -> str:
        if self.at >= len(self.lines):
            raise _Bad(f"the text ends before {what}")
        line = self.lines[self.at]
        self.at += 1
        return line

    def check(self) -> None:
        if self._next("the model type") != "tree":
            raise _Bad("line 1: expected 'tree', the model type LightGBM writes first")
        header = self._header()
        sizes = header["tree_sizes"]
        num_trees = len(sizes)
        if num_trees % header["num_tree_per_iteration"]:
            raise _Bad(
                f"tree_sizes: {num_trees} trees are not a whole number of iterations of "
                f"{header['num_tree_per_iteration']} trees"
            )
        if self._next("the trees") != "":
            raise _Bad(f"line {self.at}: expected an empty line before the trees")
        for index, size in enumerate(sizes):
            start = self.at
            _Tree(self, index, header["num_features"]).check()
            written = sum(len(line) + 1 for line in self.lines[start : self.at])
            if written != size:
                raise _Bad(
                    f"tree_sizes: tree {index} takes {written} bytes, the header says {size}"
                )
        if self._next("'end of trees'") != "end of trees":
            raise _Bad(f"line {self.at}: expected 'end of trees' after {num_trees} trees")
        self._rest()

    def _header(self) -> dict[str, Any]:
        values: dict[str, str] = {}
        flags: set[str] = set()
        while True:
            line = self._next("the header's tree_sizes")
            name, sep, value = line.partition("=")
            if not sep:
                if line != "average_output":
                    raise _Bad(
                        f"line {self.at}: expected key=value in the header, got {line[:40]!r}"
                    )
                flags.add(line)
            elif name in values:
                raise _Bad(f"line {self.at}: {name} appears twice")
            elif name not in (
                "version",
                "num_class",
                "num_tree_per_iteration",
                "label_index",
                "max_feature_idx",
                "objective",
                "feature_names",
                "monotone_constraints",
                "feature_infos",
                "tree_sizes",
            ):
                raise _Bad(f"line {self.at}: {name[:40]!r} is not a key LightGBM writes")
            else:
                values[name] = value
            if name == "tree_sizes":
                break
        for required in ("version", "num_class", "label_index", "max_feature_idx"):
            if required not in values:
                raise _Bad(f"the header has no {required}")
        if values["version"] not in ("v2", "v3", "v4"):
            raise _Bad(f"version: expected v2, v3 or v4, got {values['version'][:20]!r}")
        num_class = _int(values["num_class"], "num_class", 1, MAX_CLASSES)
        per_iteration = _int(
            values.get("num_tree_per_iteration", values["num_class"]),
            "num_tree_per_iteration",
            1,
            MAX_CLASSES,
        )
        if per_iteration != num_class:
            raise _Bad(
                f"num_tree_per_iteration: expected {num_class} (num_class), got {per_iteration}"
            )
        _int(values["label_index"], "label_index", 0, INT32_MAX)
        num_features = _int(values["max_feature_idx"], "max_feature_idx", 0, MAX_FEATURES - 1) + 1
        names = _array(values.get("feature_names", ""), num_features, "feature_names")
        for name in names:
            if not _NAME.fullmatch(name):
                raise _Bad(f"feature_names: {name[:40]!r} is not a feature name")
        infos = _array(values.get("feature_infos", ""), num_features, "feature_infos")
        for info in infos:
            if not _FEATURE_INFO.fullmatch(info):
                raise _Bad(f"feature_infos: {info[:40]!r} is not a feature range or category list")
        if "monotone_constraints" in values:
            for value in _array(
                values["monotone_constraints"], num_features, "monotone_constraints"
            ):
                _int(value, "monotone_constraints", -1, 1)
        if "objective" in values:
            _objective(values["objective"], num_class)
        elif num_class != 1:
            raise _Bad("the header declares classes but no objective")
        sizes = [
            _int(v, "tree_sizes", 1, INT32_MAX)
            for v in (values["tree_sizes"].split(" ") if values["tree_sizes"] else [])
        ]
        return {
            "num_features": num_features,
            "num_tree_per_iteration": per_iteration,
            "tree_sizes": sizes,
        }

    def _expected(self, section: str, line: str) -> bool:
        """Whether ``line`` is a line of ``section`` (or the last line the Python package adds)."""
        if section == "importance":
            return bool(_IMPORTANCE.fullmatch(line))
        if section == "parameters":
            # LightGBM indexes the part after ':' of each line without checking it is there
            return bool(_PARAMETER.fullmatch(line))
        if section == "parser":
            return True  # JSON text LightGBM keeps as it is
        # JSON the Python package parses, with its own errors
        return line.startswith("pandas_categorical:") and self.at == len(self.lines)

    def _rest(self) -> None:
        """What follows the trees: importances, parameters, a parser, pandas_categorical."""
        section = "importances"
        while self.at < len(self.lines):
            line = self._next("the end")
            if line == "":
                continue
            if section == "importances" and line == "feature_importances:":
                section = "importance"
            elif section in ("importances", "importance") and line == "parameters:":
                section = "parameters"
            elif section == "parameters" and line == "end of parameters":
                section = "after parameters"
            elif section in ("importance", "after parameters") and line == "parser:":
                section = "parser"
            elif section == "parser" and line == "end of parser":
                section = "after parser"
            elif not self._expected(section, line):
                raise _Bad(f"line {self.at}: {line[:40]!r} is not what LightGBM writes there")
        if section in ("parameters", "parser"):
            raise _Bad(f"the {section} section is not closed")


def _objective(text: str, num_class: int) -> None:
    """The objective as LightGBM writes it: a name and its ``key:value`` settings."""
    parts = text.split(" ")
    name = parts[0]
    if name not in _OBJECTIVES:
        raise _Bad(f"objective: {name[:40]!r} is not an objective LightGBM knows")
    settings: dict[str, str] = {}
    for part in parts[1:]:
        if part == "sqrt":
            continue
        key, sep, value = part.partition(":")
        if not sep or key not in ("sigmoid", "num_class") or key in settings:
            raise _Bad(f"objective: {part[:40]!r} is not a setting LightGBM writes")
        settings[key] = value
    if "sigmoid" in settings and not _float(settings["sigmoid"], "objective sigmoid") > 0:
        raise _Bad("objective: sigmoid must be greater than zero")
    if name in _MULTICLASS:
        declared = _int(settings.get("num_class", ""), "objective num_class", 1, MAX_CLASSES)
        if declared != num_class:
            raise _Bad(f"objective: num_class:{declared} differs from num_class={num_class}")
    elif num_class != 1 and name != "custom":
        raise _Bad(f"objective: {name} predicts one value, but num_class={num_class}")


class _Tree:
    """One ``Tree=<index>`` block: its keys in order, then two empty lines."""

    def __init__(self, model: _Model, index: int, num_features: int) -> None:
        self.model = model
        self.index = index
        self.num_features = num_features

    def _line(self, key: str) -> str:
        line = self.model._next(f"tree {self.index}'s {key}")
        name, sep, value = line.partition("=")
        if name != key or not sep:
            raise _Bad(
                f"line {self.model.at}: expected {key}= in tree {self.index}, got {line[:40]!r}"
            )
        return value

    def _where(self, key: str) -> str:
        return f"tree {self.index} {key}"

    def check(self) -> None:
        model = self.model
        if model._next(f"tree {self.index}") != f"Tree={self.index}":
            raise _Bad(f"line {model.at}: expected Tree={self.index}")
        leaves = _int(self._line("num_leaves"), self._where("num_leaves"), 1, MAX_LEAVES)
        nodes = leaves - 1
        num_cat = _int(self._line("num_cat"), self._where("num_cat"), 0, nodes)
        features = [
            _int(v, self._where("split_feature"), 0, self.num_features - 1)
            for v in _array(self._line("split_feature"), nodes, self._where("split_feature"))
        ]
        del features  # in range is all prediction needs
        for v in _array(self._line("split_gain"), nodes, self._where("split_gain")):
            _float(v, self._where("split_gain"))
        thresholds = [
            _float(v, self._where("threshold"))
            for v in _array(self._line("threshold"), nodes, self._where("threshold"))
        ]
        decisions = [
            _int(v, self._where("decision_type"), 0, 11)
            for v in _array(self._line("decision_type"), nodes, self._where("decision_type"))
        ]
        left = [
            _int(v, self._where("left_child"), -leaves, nodes - 1)
            for v in _array(self._line("left_child"), nodes, self._where("left_child"))
        ]
        right = [
            _int(v, self._where("right_child"), -leaves, nodes - 1)
            for v in _array(self._line("right_child"), nodes, self._where("right_child"))
        ]
        for key in ("leaf_value", "leaf_weight"):
            text = self._line(key)
            if key == "leaf_weight" and leaves == 1 and not text:
                continue  # a one-leaf tree has none; LightGBM does not read it then
            for v in _array(text, leaves, self._where(key)):
                _float(v, self._where(key))
        for v in _array(self._line("leaf_count"), leaves, self._where("leaf_count")):
            _int(v, self._where("leaf_count"), 0, INT32_MAX)
        for key in ("internal_value", "internal_weight"):
            for v in _array(self._line(key), nodes, self._where(key)):
                _float(v, self._where(key))
        for v in _array(self._line("internal_count"), nodes, self._where("internal_count")):
            _int(v, self._where("internal_count"), 0, INT32_MAX)
        if num_cat:
            self._categories(num_cat, thresholds, decisions)
        elif any(d & 1 for d in decisions):
            raise _Bad(f"tree {self.index}: a categorical split in a tree with num_cat=0")
        for decision in decisions:
            if (decision >> 2) & 3 == 3:
                raise _Bad(f"tree {self.index} decision_type: {decision} has no missing type")
        linear = _int(self._line("is_linear"), self._where("is_linear"), 0, 1)
        if linear:
            for key in _LINEAR_KEYS:
                self._line(key)
            raise _Unverified(f"tree {self.index} is a linear tree")
        _float(self._line("shrinkage"), self._where("shrinkage"))
        for _ in range(2):
            if model._next(f"the end of tree {self.index}") != "":
                raise _Bad(f"line {model.at}: expected an empty line after tree {self.index}")
        if nodes:
            _one_tree(left, right, leaves, self.index)

    def _categories(self, num_cat: int, thresholds: list[float], decisions: list[int]) -> None:
        bounds = [
            _int(v, self._where("cat_boundaries"), 0, MAX_CATEGORY_WORDS)
            for v in _array(
                self._line("cat_boundaries"), num_cat + 1, self._where("cat_boundaries")
            )
        ]
        if bounds[0] != 0 or any(b < a for a, b in itertools.pairwise(bounds)):
            raise _Bad(f"tree {self.index} cat_boundaries: expected rising offsets from 0")
        for v in _array(self._line("cat_threshold"), bounds[-1], self._where("cat_threshold")):
            _int(v, self._where("cat_threshold"), 0, 2**32 - 1)
        for node, (threshold, decision) in enumerate(zip(thresholds, decisions, strict=True)):
            if decision & 1 and not (threshold.is_integer() and 0 <= threshold < num_cat):
                raise _Bad(
                    f"tree {self.index} threshold: node {node} names category table "
                    f"{threshold}, not one of 0 to {num_cat - 1}"
                )


def _one_tree(left: list[int], right: list[int], leaves: int, index: int) -> None:
    """The children make one binary tree: every node and leaf reached once from node 0."""
    seen_nodes = [False] * len(left)
    seen_leaves = [False] * leaves
    seen_nodes[0] = True
    stack = [0]
    while stack:
        node = stack.pop()
        for child in (left[node], right[node]):
            if child < 0:
                leaf = ~child
                if seen_leaves[leaf]:
                    raise _Bad(f"tree {index}: leaf {leaf} is reached twice")
                seen_leaves[leaf] = True
            else:
                if seen_nodes[child]:
                    raise _Bad(f"tree {index}: node {child} is reached twice")
                seen_nodes[child] = True
                stack.append(child)
    if not all(seen_nodes) or not all(seen_leaves):
        raise _Bad(f"tree {index}: some nodes or leaves are not reached from the root")
