"""Checking an xgboost model file before xgboost reads it.

xgboost's own readers trust the file: a truncated or bit-flipped UBJSON file
makes them read past the end of the buffer, and a tree whose child, parent,
feature or category indices are out of range makes loading or predicting
index outside its arrays. Both crash the process (or hang it), so a hostile
folder could take down whatever loads it. Before xgboost sees a byte, this
module

- parses the file itself (UBJSON with every length checked against what is
  left, or strict JSON), refusing truncation, unknown markers, duplicate
  keys, trailing bytes and nesting deeper than real models use;
- checks what xgboost indexes without checking: the learner's parameters,
  every tree (array lengths, a single tree shape reachable from the root,
  feature and category indices in range), the tree groups and iteration
  boundaries, the linear model's weights, DART's drop weights and the
  categorical re-coding tables.

What fails is a ``ManifestError`` naming the file and the ``MLmodel`` key.
Models this module cannot vouch for (multi-target trees, whose layout it
does not check) are an ``UnsafeFormatError`` unless the caller opted in to
unsafe loading. Nothing here imports xgboost; numpy is imported when a file
is checked.
"""

from __future__ import annotations

import json
import math
import re
import struct
from pathlib import Path
from typing import Any

from flavorkit.exceptions import ManifestError, UnsafeFormatError

# The largest model file read (xgboost itself holds the whole file in memory).
MAX_MODEL_BYTES = 4 * 1024**3
# Real models nest about 8 levels (learner, booster, model, trees, tree, array).
MAX_NESTING = 64
# xgboost keeps categories as float-exact integers and a bit per category per split.
MAX_CATEGORY = 1 << 24
MAX_CATEGORY_BITS = 1 << 31  # over all categorical splits of a model: 256 MiB of bit fields
INT32_MAX = 2**31 - 1
# xgboost allocates num_feature values per thread and the outputs per row when it
# predicts: far beyond real models, these bounds keep that in memory and in seconds
MAX_FEATURES = 1 << 24
MAX_OUTPUTS = 1 << 16
_ROOT_PARENT = 0x7FFFFFFF  # the root's parent as saved (kInvalidNodeId without its flag bit)
_DELETED = 0xFFFFFFFF  # a pruned node: split index 0x7FFFFFFF with default_left set
_INTEGER = re.compile(r"-?[0-9]{1,19}")


class _Bad(Exception):
    """A definite defect; the message says where in the model document."""


class _Unverified(Exception):
    """A part of the model this module does not check (not a defect)."""


def check(data: bytes, *, path: Path, key: str, allow_unsafe: bool) -> None:
    """Check the model file ``data`` (read from ``path``, named by ``key``) for xgboost.

    Raises ``ManifestError`` when it is not a well-formed xgboost JSON or
    UBJSON model, and ``UnsafeFormatError`` when it holds parts that are not
    checked (multi-target trees) and ``allow_unsafe`` is false.
    """
    try:
        document = parse(data)
        _Model(document).check()
    except _Bad as exc:
        raise ManifestError(f"is not a valid xgboost model ({exc})", path=path, key=key) from None
    except _Unverified as exc:
        if not allow_unsafe:
            raise UnsafeFormatError(
                "xgboost",
                path,
                detail=f"{exc}, which flavorkit does not check, and xgboost's reader can "
                "crash the process on a damaged one",
            ) from None


# -- parsing -------------------------------------------------------------------------


def parse(data: bytes) -> Any:
    """The document in ``data``, told apart as xgboost tells JSON from UBJSON.

    Both start with ``{``; JSON continues (after spaces) with ``"``, UBJSON
    with a letter (the key's length marker). Typed UBJSON arrays become
    numpy arrays, everything else plain Python values.
    """
    if len(data) < 2 or data[:1] != b"{":
        raise _Bad("expected a JSON or UBJSON object, as xgboost writes, at the start")
    rest = data[1:].lstrip(b" \t\n\r\v\f")
    if rest[:1] == b'"':
        return _parse_json(data)
    if rest[:1].isalpha():
        return _UBJ(data).document()
    raise _Bad("expected a JSON or UBJSON object, as xgboost writes, at the start")


def _parse_json(data: bytes) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Bad(f"JSON that is not UTF-8 (byte {exc.start})") from None

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in pairs:
            if name in out:  # xgboost keeps the first, Python the last: refuse both
                raise ValueError(f"duplicate key {name[:60]!r}")
            out[name] = value
        return out

    try:
        document = json.loads(text, object_pairs_hook=unique)
    except RecursionError:
        raise _Bad(f"JSON nested deeper than {MAX_NESTING} levels") from None
    except ValueError as exc:
        raise _Bad(f"invalid JSON: {str(exc)[:160]}") from None
    _check_nesting(document)
    return document


def _check_nesting(document: Any) -> None:
    stack = [(document, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth >= MAX_NESTING:
            raise _Bad(f"nested deeper than {MAX_NESTING} levels")
        stack.extend((child, depth + 1) for child in children)


# marker -> struct format of the scalar that follows (big-endian, as UBJSON stores them)
_SCALARS = {
    ord("i"): ">b",
    ord("U"): ">B",
    ord("I"): ">h",
    ord("l"): ">i",
    ord("L"): ">q",
    ord("C"): ">b",  # xgboost reads a char as a signed integer
    ord("d"): ">f",
    ord("D"): ">d",
}
# typed-array marker -> numpy dtype of its elements
_TYPED = {"d": ">f4", "D": ">f8", "i": "i1", "U": "u1", "I": ">i2", "l": ">i4", "L": ">i8"}


class _UBJ:
    """A strict reader of the UBJSON subset xgboost reads, every length checked."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def document(self) -> Any:
        value = self.value(0)
        if self.pos != len(self.data):
            raise _Bad(f"{len(self.data) - self.pos} bytes after the end of the model")
        if not isinstance(value, dict):
            raise _Bad("expected an object at the top level")
        return value

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise _Bad(f"the file ends early (at byte {self.pos})")
        self.pos += 1
        return self.data[self.pos - 1]

    def peek(self) -> int:
        if self.pos >= len(self.data):
            raise _Bad(f"the file ends early (at byte {self.pos})")
        return self.data[self.pos]

    def take(self, n: int) -> bytes:
        if n < 0 or n > len(self.data) - self.pos:
            raise _Bad(f"a length of {n} at byte {self.pos} runs past the end of the file")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def scalar(self, marker: int) -> Any:
        fmt = _SCALARS[marker]
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def count(self) -> int:
        at = self.pos
        if self.byte() != ord("L"):
            raise _Bad(f"expected a length (marker L) at byte {at}")
        n = self.scalar(ord("L"))
        if n < 0 or n > len(self.data) - self.pos:
            raise _Bad(f"a length of {n} at byte {at} runs past the end of the file")
        return int(n)

    def string(self) -> str:
        at = self.pos
        raw = self.take(self.count())
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _Bad(f"a string at byte {at} is not UTF-8") from None

    def value(self, depth: int) -> Any:
        if depth > MAX_NESTING:
            raise _Bad(f"nested deeper than {MAX_NESTING} levels")
        at = self.pos
        marker = self.byte()
        if marker == ord("{"):
            out: dict[str, Any] = {}
            while self.peek() != ord("}"):
                name = self.string()
                if name in out:
                    raise _Bad(f"duplicate key {name[:60]!r} at byte {at}")
                out[name] = self.value(depth + 1)
            self.pos += 1
            return out
        if marker == ord("["):
            return self.array(depth)
        if marker in _SCALARS:
            return self.scalar(marker)
        if marker == ord("S"):
            return self.string()
        if marker in (ord("T"), ord("F")):
            return marker == ord("T")
        if marker == ord("Z"):
            return None
        raise _Bad(f"unknown marker {bytes([marker])!r} at byte {at}")

    def array(self, depth: int) -> Any:
        import numpy as np

        if self.peek() == ord("$"):
            self.pos += 1
            kind = chr(self.byte())
            if kind not in _TYPED:
                raise _Bad(f"unsupported typed array {kind!r} at byte {self.pos - 1}")
            if self.byte() != ord("#"):
                raise _Bad(f"expected the length of a typed array at byte {self.pos - 1}")
            dtype = np.dtype(_TYPED[kind])
            n = self.count()
            raw = self.take(n * dtype.itemsize)
            return np.frombuffer(raw, dtype=dtype).astype(dtype.newbyteorder("="))
        if self.peek() == ord("#"):
            self.pos += 1
            return [self.value(depth + 1) for _ in range(self.count())]
        items = []
        while self.peek() != ord("]"):
            items.append(self.value(depth + 1))
        self.pos += 1
        return items


# -- checking ------------------------------------------------------------------------


def _kind(value: Any) -> str:
    return "a typed array" if hasattr(value, "dtype") else type(value).__name__


class _Model:
    """The checks, one method per part of the model document."""

    def __init__(self, document: Any) -> None:
        self.doc = document
        self.num_feature = 0
        self.outputs = 1
        self.category_bits = 0

    # helpers: each raises _Bad naming the dotted place in the document
    def obj(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _Bad(f"{where}: expected an object, got {_kind(value)}")
        return value

    def get(self, obj: dict[str, Any], name: str, where: str) -> Any:
        if name not in obj:
            raise _Bad(f"{where}: missing {name!r}")
        return obj[name]

    def text(self, value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise _Bad(f"{where}: expected a string, got {_kind(value)}")
        return value

    def int_text(self, value: Any, where: str, low: int, high: int) -> int:
        """An integer parameter, which xgboost stores as a decimal string."""
        text = self.text(value, where)
        if not _INTEGER.fullmatch(text) or not low <= int(text) <= high:
            raise _Bad(f"{where}: expected an integer from {low} to {high}, got {text[:40]!r}")
        return int(text)

    def ints(self, value: Any, where: str, low: int, high: int, dtypes: tuple[str, ...]) -> Any:
        """An integer array (typed with one of ``dtypes``, or a list of ints) within bounds."""
        import numpy as np

        if isinstance(value, np.ndarray):
            if value.dtype.name not in dtypes:
                wanted = "/".join(dtypes) if dtypes else "untyped"
                raise _Bad(f"{where}: expected {wanted} values, got {value.dtype.name}")
            out = value.astype(np.int64)
        elif isinstance(value, list):
            if not all(type(v) is int for v in value):
                raise _Bad(f"{where}: expected integers")
            if value and not (low <= min(value) and max(value) <= high):
                raise _Bad(f"{where}: values outside {low}..{high}")
            out = np.array(value, dtype=np.int64)
        else:
            raise _Bad(f"{where}: expected an array, got {_kind(value)}")
        if out.size and (int(out.min()) < low or int(out.max()) > high):
            raise _Bad(f"{where}: values outside {low}..{high}")
        return out

    def floats(self, value: Any, where: str, dtypes: tuple[str, ...] = ("float32",)) -> int:
        """A float array (typed, or a list of numbers); returns its length."""
        import numpy as np

        if isinstance(value, np.ndarray):
            if value.dtype.name not in dtypes:
                raise _Bad(f"{where}: expected {'/'.join(dtypes)} values, got {value.dtype.name}")
            return int(value.size)
        if isinstance(value, list):
            if not all(type(v) in (float, int) for v in value):
                raise _Bad(f"{where}: expected numbers")
            return len(value)
        raise _Bad(f"{where}: expected an array, got {_kind(value)}")

    def length(self, value: Any, n: int, where: str) -> None:
        if len(value) != n:
            raise _Bad(f"{where}: expected {n} values, got {len(value)}")

    # the parts
    def check(self) -> None:
        doc = self.obj(self.doc, "the model")
        version = self.get(doc, "version", "the model")
        if not (
            isinstance(version, list)
            and len(version) == 3
            and all(type(v) is int and 0 <= v <= INT32_MAX for v in version)
        ):
            raise _Bad("version: expected three integers")
        learner = self.obj(self.get(doc, "learner", "the model"), "learner")
        self.learner_params(self.obj(self.get(learner, "learner_model_param", "learner"), "lmp"))
        objective = self.obj(self.get(learner, "objective", "learner"), "learner.objective")
        self.text(self.get(objective, "name", "learner.objective"), "learner.objective.name")
        self.booster(self.obj(self.get(learner, "gradient_booster", "learner"), "booster"))
        attributes = self.obj(self.get(learner, "attributes", "learner"), "learner.attributes")
        for name, value in attributes.items():
            self.text(value, f"learner.attributes.{name[:40]}")
        self.attributes(attributes)
        for name in ("feature_names", "feature_types"):
            values = learner.get(name, [])
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise _Bad(f"learner.{name}: expected an array of strings")
            if values and len(values) != self.num_feature:
                raise _Bad(f"learner.{name}: expected {self.num_feature}, got {len(values)}")

    def learner_params(self, params: dict[str, Any]) -> None:
        where = "learner.learner_model_param"
        self.num_feature = self.int_text(
            self.get(params, "num_feature", where), f"{where}.num_feature", 0, MAX_FEATURES
        )
        num_class = self.int_text(
            self.get(params, "num_class", where), f"{where}.num_class", 0, MAX_OUTPUTS
        )
        num_target = 1
        if "num_target" in params:
            num_target = self.int_text(params["num_target"], f"{where}.num_target", 1, MAX_OUTPUTS)
        if num_class > 1 and num_target > 1:
            raise _Bad(f"{where}: both num_class and num_target above 1")
        if "boost_from_average" in params:
            self.int_text(params["boost_from_average"], f"{where}.boost_from_average", 0, 1)
        self.outputs = max(num_class, num_target, 1)
        base = self.text(self.get(params, "base_score", where), f"{where}.base_score")
        try:
            scores = json.loads(base)
        except (ValueError, RecursionError):
            raise _Bad(f"{where}.base_score: expected a number or a list of numbers") from None
        scores = scores if isinstance(scores, list) else [scores]
        if not scores or not all(
            type(s) in (int, float) and math.isfinite(s) and abs(s) <= 3.4e38 for s in scores
        ):
            raise _Bad(f"{where}.base_score: expected finite numbers")
        if len(scores) not in (1, num_class, num_target):
            raise _Bad(f"{where}.base_score: expected 1 or {self.outputs} values")

    def attributes(self, attributes: dict[str, str]) -> None:
        # read by xgboost's Python package while loading (scikit_learn) or predicting
        meta = attributes.get("scikit_learn")
        if meta is not None:
            try:
                parsed = json.loads(meta)
            except (ValueError, RecursionError):
                parsed = None
            if not isinstance(parsed, dict):
                raise _Bad("learner.attributes.scikit_learn: expected a JSON object")
            _check_nesting(parsed)
        for name in ("best_iteration", "best_ntree_limit"):
            if name in attributes:
                self.int_text(attributes[name], f"learner.attributes.{name}", 0, INT32_MAX)
        if "best_score" in attributes:
            try:
                float(attributes["best_score"])
            except ValueError:
                raise _Bad("learner.attributes.best_score: expected a number") from None

    def booster(self, booster: dict[str, Any]) -> None:
        where = "learner.gradient_booster"
        name = self.text(self.get(booster, "name", where), f"{where}.name")
        if name == "gbtree":
            self.gbtree(self.obj(self.get(booster, "model", where), f"{where}.model"))
        elif name == "dart":
            inner = self.obj(self.get(booster, "gbtree", where), f"{where}.gbtree")
            if self.get(inner, "name", f"{where}.gbtree") != "gbtree":
                raise _Bad(f"{where}.gbtree.name: expected 'gbtree'")
            model = self.obj(self.get(inner, "model", f"{where}.gbtree"), f"{where}.model")
            n_trees = self.gbtree(model)
            drops = self.get(booster, "weight_drop", where)
            if not isinstance(drops, list):
                raise _Bad(f"{where}.weight_drop: expected an array, got {_kind(drops)}")
            self.floats(drops, f"{where}.weight_drop")
            self.length(drops, n_trees, f"{where}.weight_drop")
        elif name == "gblinear":
            model = self.obj(self.get(booster, "model", where), f"{where}.model")
            weights = self.get(model, "weights", f"{where}.model")
            n = self.floats(weights, f"{where}.model.weights")
            if n != (self.num_feature + 1) * self.outputs:
                raise _Bad(
                    f"{where}.model.weights: expected {(self.num_feature + 1) * self.outputs} "
                    f"values ({self.num_feature} features + bias, {self.outputs} outputs), got {n}"
                )
            rounds = model.get("boosted_rounds", 0)
            if type(rounds) is not int or not 0 <= rounds <= INT32_MAX:
                raise _Bad(f"{where}.model.boosted_rounds: expected a non-negative integer")
        else:
            raise _Bad(f"{where}.name: expected gbtree, dart or gblinear, got {name[:40]!r}")

    def gbtree(self, model: dict[str, Any]) -> int:
        """Check a tree ensemble; returns its number of trees."""
        import numpy as np

        where = "gradient_booster.model"
        param = self.obj(self.get(model, "gbtree_model_param", where), f"{where}.param")
        n_trees = self.int_text(
            self.get(param, "num_trees", where), f"{where}.num_trees", 0, INT32_MAX
        )
        if "num_parallel_tree" in param:
            # xgboost multiplies it by the outputs in 32 bits
            self.int_text(
                param["num_parallel_tree"],
                f"{where}.num_parallel_tree",
                1,
                INT32_MAX // self.outputs,
            )
        trees = self.get(model, "trees", where)
        if not isinstance(trees, list):
            raise _Bad(f"{where}.trees: expected an array, got {_kind(trees)}")
        self.length(trees, n_trees, f"{where}.trees")
        info = self.ints(
            self.get(model, "tree_info", where), f"{where}.tree_info", 0, self.outputs - 1, ()
        )
        self.length(info, n_trees, f"{where}.tree_info")
        if "iteration_indptr" in model:
            indptr = self.ints(
                model["iteration_indptr"], f"{where}.iteration_indptr", 0, n_trees, ()
            )
            if not len(indptr) or indptr[0] != 0 or indptr[-1] != n_trees:
                raise _Bad(f"{where}.iteration_indptr: expected 0 ... {n_trees}")
            if np.any(np.diff(indptr) < 0):
                raise _Bad(f"{where}.iteration_indptr: expected non-decreasing values")
        seen = np.zeros(n_trees, dtype=bool)
        for index, tree in enumerate(trees):
            tree = self.obj(tree, f"{where}.trees[{index}]")
            tree_id = self.get(tree, "id", f"{where}.trees[{index}]")
            if type(tree_id) is not int or not 0 <= tree_id < n_trees or seen[tree_id]:
                raise _Bad(f"{where}.trees[{index}].id: expected a distinct id below {n_trees}")
            seen[tree_id] = True
            _Tree(self, tree, f"tree {index}").check()
        if "cats" in model:
            self.categories(self.obj(model["cats"], f"{where}.cats"))
        return n_trees

    def categories(self, cats: dict[str, Any]) -> None:
        """The re-coding tables of categorical features (xgboost 3)."""
        import numpy as np

        where = "gradient_booster.model.cats"
        columns = self.get(cats, "enc", where)
        if not isinstance(columns, list):
            raise _Bad(f"{where}.enc: expected an array, got {_kind(columns)}")
        counts = []
        for index, column in enumerate(columns):
            at = f"{where}.enc[{index}]"
            column = self.obj(column, at)
            values = self.get(column, "values", at)
            if "offsets" in column:  # strings: a byte buffer and where each name starts
                size = len(self.ints(values, f"{at}.values", -128, 127, ("int8",)))
                offsets = self.ints(column["offsets"], f"{at}.offsets", 0, size, ("int32",))
                if len(offsets) and (offsets[0] != 0 or offsets[-1] != size):
                    raise _Bad(f"{at}.offsets: expected 0 ... {size}")
                if np.any(np.diff(offsets) < 0):
                    raise _Bad(f"{at}.offsets: expected non-decreasing values")
                if not len(offsets) and size:
                    raise _Bad(f"{at}.offsets: missing for {size} bytes")
                counts.append(max(len(offsets) - 1, 0))
            else:
                kind = self.get(column, "type", at)
                if type(kind) is not int or not 7 <= kind <= 16:  # xgboost's typed-array kinds
                    raise _Bad(f"{at}.type: expected a typed-array kind")
                if isinstance(values, np.ndarray):
                    counts.append(int(values.size))
                elif isinstance(values, list) and all(type(v) is int for v in values):
                    counts.append(len(values))
                else:
                    raise _Bad(f"{at}.values: expected an array of integers")
        if columns and len(columns) != self.num_feature:
            raise _Bad(f"{where}.enc: expected {self.num_feature} features, got {len(columns)}")
        total = sum(counts)
        segments = self.ints(
            self.get(cats, "feature_segments", where),
            f"{where}.feature_segments",
            0,
            total,
            ("int32",),
        )
        if columns or len(segments):
            expected = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])
            if len(segments) != len(expected) or np.any(segments != expected):
                raise _Bad(f"{where}.feature_segments: do not match the categories")
        order = self.ints(
            self.get(cats, "sorted_idx", where), f"{where}.sorted_idx", 0, INT32_MAX, ("int32",)
        )
        self.length(order, total, f"{where}.sorted_idx")
        start = 0
        for count in counts:  # each feature's slice orders its own categories
            part = order[start : start + count]
            if count and not np.array_equal(np.sort(part), np.arange(count)):
                raise _Bad(f"{where}.sorted_idx: not an ordering of each feature's categories")
            start += count


class _Tree:
    """One scalar regression tree (``RegTree``), as xgboost loads and walks it."""

    FLOATS = ("loss_changes", "sum_hessian", "base_weights", "split_conditions")

    def __init__(self, model: _Model, tree: dict[str, Any], where: str) -> None:
        self.m = model
        self.tree = tree
        self.where = where

    def field(self, name: str) -> Any:
        return self.m.get(self.tree, name, self.where)

    def check(self) -> None:
        import numpy as np

        m, where = self.m, self.where
        param = m.obj(self.field("tree_param"), f"{where}.tree_param")
        n = m.int_text(m.get(param, "num_nodes", where), f"{where}.num_nodes", 1, INT32_MAX)
        m.int_text(m.get(param, "num_feature", where), f"{where}.num_feature", 0, MAX_FEATURES)
        deleted = m.int_text(
            m.get(param, "num_deleted", where), f"{where}.num_deleted", 0, INT32_MAX
        )
        leaf_size = 1
        if "size_leaf_vector" in param:
            leaf_size = m.int_text(
                param["size_leaf_vector"], f"{where}.size_leaf_vector", 0, INT32_MAX
            )
        if leaf_size > 1:
            raise _Unverified("the model holds multi-target trees (size_leaf_vector > 1)")
        for name in self.FLOATS:
            count = m.floats(self.field(name), f"{where}.{name}")
            if count != n:
                raise _Bad(f"{where}.{name}: expected {n} values, got {count}")
        i32 = ("int32",)
        left = m.ints(self.field("left_children"), f"{where}.left_children", -1, n - 1, i32)
        right = m.ints(self.field("right_children"), f"{where}.right_children", -1, n - 1, i32)
        parents = m.ints(self.field("parents"), f"{where}.parents", -(2**31), INT32_MAX, i32)
        split = m.ints(
            self.field("split_indices"),
            f"{where}.split_indices",
            -(2**31),
            2**32 - 1,
            ("int32", "int64"),
        )
        flags = self.field("default_left")
        default_left = (
            self.bools(flags, f"{where}.default_left")
            if isinstance(flags, list)
            else m.ints(flags, f"{where}.default_left", 0, 255, ("uint8",))
        )
        for name, values in (
            ("left_children", left),
            ("right_children", right),
            ("parents", parents),
            ("split_indices", split),
            ("default_left", default_left),
        ):
            m.length(values, n, f"{where}.{name}")
        # what xgboost makes of the saved values (RegTree::Node)
        sindex = (split & 0xFFFFFFFF) | (np.where(default_left == 1, 1, 0) << 31)
        is_deleted = sindex == _DELETED
        if parents[0] & 0x7FFFFFFF != _ROOT_PARENT:
            raise _Bad(f"{where}.parents: the root has a parent")
        masked = parents & 0x7FFFFFFF
        if n > 1 and np.any(masked[1:] >= n):
            raise _Bad(f"{where}.parents: a parent outside the tree")
        internal = self.shape(left, right, masked, is_deleted)
        if int(is_deleted.sum()) != deleted:
            raise _Bad(f"{where}.num_deleted: expected {int(is_deleted.sum())}")
        if np.any(internal & ((split & 0x7FFFFFFF) >= m.num_feature)):
            raise _Bad(f"{where}.split_indices: a feature index beyond {m.num_feature} features")
        if "split_type" in self.tree:
            self.categorical(n, internal)

    def bools(self, values: list[Any], where: str) -> Any:
        import numpy as np

        if not all(type(v) is bool or (type(v) is int and v in (0, 1)) for v in values):
            raise _Bad(f"{where}: expected booleans")
        return np.array([int(v) for v in values], dtype=np.int64)

    def shape(self, left: Any, right: Any, parents: Any, deleted: Any) -> Any:
        """Check that the nodes in use form one tree from the root; returns its splits.

        Every node in use but the root is the child of exactly one split,
        whose index its parent entry holds; following parents from any node
        in use reaches the root (no cycles); pruned (deleted) nodes are
        nobody's child. Vectorised: the parents are followed by doubling.
        """
        import numpy as np

        n = len(left)
        used = ~deleted
        if not used[0]:
            raise _Bad(f"{self.where}: the root is marked deleted")
        internal = used & (left != -1)
        if np.any(internal & ((right == -1) | (left == 0) | (right == 0))):
            raise _Bad(f"{self.where}: a split without two children")
        nodes = np.flatnonzero(internal)
        children = np.concatenate([left[nodes], right[nodes]])
        owners = np.concatenate([nodes, nodes])
        if np.unique(children).size != children.size or np.any(parents[children] != owners):
            raise _Bad(f"{self.where}: children and parents do not form a tree")
        if np.any(deleted[children]):
            raise _Bad(f"{self.where}: a node in use is marked deleted")
        listed = np.zeros(n, dtype=bool)
        listed[children] = True
        if np.any(used[1:] & ~listed[1:]):
            raise _Bad(f"{self.where}: a node neither in the tree nor deleted")
        ancestor = np.where(used, parents, 0)
        ancestor[0] = 0
        for _ in range(max(n - 1, 1).bit_length()):
            ancestor = ancestor[ancestor]
        if np.any(ancestor != 0):
            raise _Bad(f"{self.where}: children and parents form a cycle")
        return internal

    def categorical(self, n: int, internal: Any) -> None:
        import numpy as np

        m, where = self.m, self.where
        types = m.ints(self.field("split_type"), f"{where}.split_type", 0, 1, ("uint8",))
        m.length(types, n, f"{where}.split_type")
        nodes = m.ints(
            self.field("categories_nodes"), f"{where}.categories_nodes", 0, n - 1, ("int32",)
        )
        starts = m.ints(
            self.field("categories_segments"), f"{where}.categories_segments", 0, 2**62, ("int64",)
        )
        sizes = m.ints(
            self.field("categories_sizes"), f"{where}.categories_sizes", 1, 2**62, ("int64",)
        )
        cats = m.ints(
            self.field("categories"), f"{where}.categories", 0, MAX_CATEGORY - 1, ("int32",)
        )
        m.length(starts, len(nodes), f"{where}.categories_segments")
        m.length(sizes, len(nodes), f"{where}.categories_sizes")
        if np.any(np.diff(nodes) <= 0):
            raise _Bad(f"{where}.categories_nodes: expected increasing node indices")
        is_cat = types == 1
        listed = np.zeros(n, dtype=bool)
        listed[nodes] = True
        if np.any(listed != is_cat) or np.any(is_cat & ~internal):
            raise _Bad(f"{where}.split_type: categorical splits do not match categories_nodes")
        if np.any(starts + sizes > len(cats)):
            raise _Bad(f"{where}.categories_segments: a segment beyond the categories")
        for start, size in zip(starts.tolist(), sizes.tolist(), strict=True):
            m.category_bits += int(cats[start : start + size].max()) + 1
        if m.category_bits > MAX_CATEGORY_BITS:
            raise _Bad(f"{where}.categories: more than {MAX_CATEGORY_BITS} category bits")
