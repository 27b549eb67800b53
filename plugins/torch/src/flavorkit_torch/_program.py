"""Checking the JSON of a ``.pt2`` archive against torch's schema before torch reads it.

``torch.export.load`` turns ``models/*.json`` into Python objects trusting
every value: it does not check that an int field holds an int, it passes
expression strings to ``sympy.sympify`` (``eval``), pastes guards and names
into Python source it ``exec``s, and resolves operator names with
``getattr`` on ``torch``, ``operator`` and ``math``. A tampered archive can
use each of those to run code.

``check_document`` walks a decoded document alongside the dataclasses of
``torch._export.serde.schema`` (the format's own definition), so every value
has the type the schema declares, and checks the strings that reach code:

- every ``expr_str`` is a symbolic shape expression (``_expressions``);
- every ``guards_code`` entry is a guard over input sizes;
- every operator (``Node.target``, ``Argument.as_operator``) resolves, as
  torch resolves it, to a registered torch operator, a higher-order operator
  or one of the few Python builtins torch writes (``operator.getitem`` ...),
  and not to one that reads or writes files (``aten::save``,
  ``aten::from_file``);
- names that become Python identifiers in generated code (node, argument
  and input names) are identifiers, and names of weights and submodules are
  dotted identifiers, so no name can be pasted into code as code.

``code=False`` skips the expression, guard and operator checks (the caller
opted in to code from the folder); the type and name checks always run.
Each problem is a ``ManifestError`` naming the archive entry and the field.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import keyword
import re
import types
import typing
from pathlib import Path
from typing import Any

from flavorkit.exceptions import ManifestError
from flavorkit.folder import load_json

from flavorkit_torch import _expressions

# the largest integer any field may hold (torch sizes and strides are int64)
MAX_INT = 2**63
MAX_NAME_CHARS = 1024

# fields whose value becomes a Python identifier in code torch generates ("" allowed: unset)
_IDENTIFIER_FIELDS = {
    ("TensorArgument", "name"),
    ("SymIntArgument", "as_name"),
    ("SymFloatArgument", "as_name"),
    ("SymBoolArgument", "as_name"),
    ("GraphArgument", "name"),
    ("CustomObjArgument", "name"),
    ("TokenArgument", "name"),
    ("NamedArgument", "name"),
    ("Node", "name"),
    ("InputToConstantInputSpec", "name"),
    ("UserInputMutationSpec", "user_input_name"),
    ("GradientToUserInputSpec", "user_input_name"),
    ("ModuleCallSignature", "forward_arg_names"),
    ("NamedTupleDef", "field_names"),
}
# dict fields whose keys are such names
_IDENTIFIER_KEYS = {
    ("Graph", "tensor_values"),
    ("Graph", "sym_int_values"),
    ("Graph", "sym_float_values"),
    ("Graph", "sym_bool_values"),
    ("Graph", "custom_obj_values"),
}
# fields naming weights, buffers, submodules and classes: dotted names ("net.0.weight")
_DOTTED_FIELDS = {
    ("InputToParameterSpec", "parameter_name"),
    ("InputToBufferSpec", "buffer_name"),
    ("InputToTensorConstantSpec", "tensor_constant_name"),
    ("InputToCustomObjSpec", "custom_obj_name"),
    ("BufferMutationSpec", "buffer_name"),
    ("GradientToParameterSpec", "parameter_name"),
    ("ParameterMutationSpec", "parameter_name"),
    ("ModuleCallEntry", "fqn"),
    ("CustomObjArgument", "class_fqn"),
}
_DOTTED_KEYS = {("GraphModule", "treespec_namedtuple_fields"), ("PayloadConfig", "config")}
_OPERATOR_FIELDS = {("Node", "target"), ("Argument", "as_operator")}
# strings holding JSON that torch decodes and walks recursively
_JSON_FIELDS = {("ModuleCallSignature", "in_spec"), ("ModuleCallSignature", "out_spec")}
_METADATA = {("Node", "metadata"), ("GraphModule", "metadata")}
_JSON_METADATA = frozenset({"custom", "from_node"})
_DOTTED = re.compile(r"[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*")
_PATH_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,254}")
_OPERATOR_NAME = re.compile(r"#?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*){0,7}")

# Operators torch registers that reach the file system or TorchScript internals: a
# program never needs them, and with a file name from the archive they read or write files.
_DENIED_OPERATORS = frozenset({"aten::save", "aten::from_file"})
_DENIED_NAMESPACES = frozenset({"prim", "debugprims"})


def check_document(
    data: Any, schema_class: str, *, file: Path, entry: str, code: bool = True
) -> None:
    """Check the decoded JSON ``data`` of ``entry`` against the schema class ``schema_class``.

    ``schema_class`` is the name of a dataclass of ``torch._export.serde.schema``
    (``"ExportedProgram"``, ``"PayloadConfig"``). Raises ``ManifestError`` naming
    ``file``, ``entry`` and the field.
    """
    from torch._export.serde import schema

    _Checker(file, entry, code).value(data, getattr(schema, schema_class), [], None)


class _Checker:
    def __init__(self, file: Path, entry: str, code: bool) -> None:
        self.file = file
        self.entry = entry
        self.code = code

    def fail(self, where: list[str], reason: str) -> typing.NoReturn:
        field = _format_path(where)
        raise ManifestError(
            f"archive entry {self.entry!r}: {reason}", path=self.file, key=field or None
        )

    # -- types ------------------------------------------------------------------

    def value(self, data: Any, tp: Any, where: list[str], owner: tuple[str, str] | None) -> None:
        """Check ``data`` against the type ``tp``; ``owner`` is (class, field) of a leaf."""
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            return self.value(data, typing.get_args(tp)[0], where, owner)
        if origin in (typing.Union, types.UnionType):
            options = [t for t in typing.get_args(tp) if t is not type(None)]
            if data is None:
                return None
            if len(options) != 1:
                self.fail(where, "unexpected union type in torch's schema")
            return self.value(data, options[0], where, owner)
        if origin is list:
            if not isinstance(data, list):
                self.fail(where, f"expected a list, got {_kind(data)}")
            (item,) = typing.get_args(tp)
            for index, element in enumerate(data):
                self.value(element, item, [*where, f"[{index}]"], owner)
            return None
        if origin is dict:
            if not isinstance(data, dict):
                self.fail(where, f"expected an object, got {_kind(data)}")
            _key_type, item = typing.get_args(tp)
            for key, element in data.items():
                self.key(key, where, owner)
                self.value(element, item, [*where, _key(key)], owner)
                if owner in _METADATA and key in _JSON_METADATA and isinstance(element, str):
                    self.embedded_json(element, [*where, _key(key)])
                if owner in _METADATA and key == "source_fn_stack" and isinstance(element, str):
                    reason = check_source_fn_stack(element)
                    if reason is not None:
                        self.fail([*where, _key(key)], reason)
            return None
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            return self.record(data, tp, where)
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            members = {member.value for member in tp}
            if type(data) is not int or data not in members:
                self.fail(where, f"expected a {tp.__name__} code, got {_show_value(data)}")
            return None
        if tp is bool:
            if not isinstance(data, bool):
                self.fail(where, f"expected true or false, got {_kind(data)}")
            return None
        if tp is int:
            if type(data) is not int:
                self.fail(where, f"expected an integer, got {_kind(data)}")
            if abs(data) > MAX_INT:
                self.fail(where, "the integer is larger than 2**63")
            return None
        if tp is float:
            if type(data) not in (int, float):
                self.fail(where, f"expected a number, got {_kind(data)}")
            if type(data) is int and abs(data) > MAX_INT:
                self.fail(where, "the integer is larger than 2**63")
            return None
        if tp is str:
            if not isinstance(data, str):
                self.fail(where, f"expected a string, got {_kind(data)}")
            return self.string(data, where, owner)
        self.fail(where, f"unexpected type {tp!r} in torch's schema")

    def record(self, data: Any, cls: type, where: list[str]) -> None:
        if not isinstance(data, dict):
            self.fail(where, f"expected an object ({cls.__name__}), got {_kind(data)}")
        hints = _hints(cls)
        if issubclass(cls, _union_base()):
            if len(data) != 1:
                self.fail(where, f"expected one of {cls.__name__}'s fields, got {len(data)}")
            (name,) = data
            if name not in hints:
                self.fail(where, f"{_show_key(name)} is not a field of {cls.__name__}")
            return self.value(data[name], hints[name], [*where, name], (cls.__name__, name))
        for name, tp in hints.items():
            if name in data:
                self.value(data[name], tp, [*where, name], (cls.__name__, name))
        if cls.__name__ == "ExportedProgram":
            self.range_constraints(data.get("range_constraints"), [*where, "range_constraints"])
            if self.code:
                for index, guard in enumerate(data.get("guards_code") or []):
                    reason = _expressions.check_guard(guard)
                    if reason is not None:
                        self.fail([*where, "guards_code", f"[{index}]"], self.refused(reason))
        return None

    # -- strings that reach code ------------------------------------------------

    def embedded_json(self, text: str, where: list[str]) -> None:
        """JSON torch decodes from a string field (and walks recursively): strict and shallow."""
        try:
            load_json(text, path=self.file)
        except ManifestError as exc:
            reason = str(exc).split(": ", 1)[-1]
            self.fail(where, f"the JSON in this string {reason}")

    def string(self, text: str, where: list[str], owner: tuple[str, str] | None) -> None:
        if owner is None:
            return
        if owner in _JSON_FIELDS:
            self.embedded_json(text, where)
        elif owner in _IDENTIFIER_FIELDS:
            if text and not _identifier(text):
                self.fail(where, f"{_show_text(text)} is not a Python identifier")
        elif owner in _DOTTED_FIELDS:
            if text and not _dotted(text):
                self.fail(where, f"{_show_text(text)} is not a dotted name like 'net.0.weight'")
        elif owner == ("PayloadMeta", "path_name"):
            if not _PATH_NAME.fullmatch(text):
                self.fail(where, f"{_show_text(text)} is not a file name of the archive")
        elif owner == ("SymExpr", "expr_str"):
            if self.code:
                reason = _expressions.check_sympy(text)
                if reason is not None:
                    self.fail(where, self.refused(reason, "a symbolic shape expression"))
        elif owner in _OPERATOR_FIELDS and self.code:
            reason = check_operator(text)
            if reason is not None:
                self.fail(where, reason)

    def key(self, key: str, where: list[str], owner: tuple[str, str] | None) -> None:
        if owner in _IDENTIFIER_KEYS:
            if not _identifier(key):
                self.fail([*where, _key(key)], f"{_show_text(key)} is not a Python identifier")
        elif owner in _DOTTED_KEYS:
            if not _dotted(key):
                self.fail([*where, _key(key)], f"{_show_text(key)} is not a dotted name")
        elif len(key) > MAX_NAME_CHARS:
            self.fail(where, f"a key is {len(key):,} characters long")

    def range_constraints(self, ranges: Any, where: list[str]) -> None:
        # the keys are symbol names: torch parses the digits of unbacked ones and loops that often
        for name in ranges or {}:
            reason = _expressions.check_symbol_name(name)
            if reason is not None:
                self.fail([*where, _key(name)], reason)

    def refused(self, reason: str, what: str = "a guard on the input sizes") -> str:
        return (
            f"not {what} as torch writes it ({reason}); torch would run this string as "
            "code, so the archive is refused. If you trust this model folder, pass "
            "allow_unsafe=True"
        )


def check_operator(text: str) -> str | None:
    """Why the operator name ``text`` does not resolve to a torch operator, or ``None``."""
    if not _OPERATOR_NAME.fullmatch(text):
        return f"{_show_text(text)} is not an operator name"
    if text.startswith("#"):
        return f"{_show_text(text)} is an extension operator, which this loader does not allow"
    target = _resolve(text)
    if target is None:
        return (
            f"{_show_text(text)} is not a registered torch operator (a custom operator's "
            "library must be loaded before the model)"
        )
    import torch

    if isinstance(target, torch._ops.OpOverload):
        name = target._schema.name
        if name in _DENIED_OPERATORS or name.split("::")[0] in _DENIED_NAMESPACES:
            return f"{_show_text(text)} reads or writes files or runs TorchScript internals"
        return None
    if isinstance(target, torch._ops.HigherOrderOperator):
        return None
    if any(target is allowed for allowed in _allowed_callables()):
        return None
    return (
        f"{_show_text(text)} names {type(target).__name__} {getattr(target, '__name__', '')!r}, "
        "not a torch operator; torch would call it when the model runs"
    )


def _resolve(text: str) -> Any:
    """Resolve ``text`` as ``torch._export.serde.serialize`` does; ``None`` when it cannot."""
    import math
    import operator

    import torch

    parts = text.split(".")
    roots = {"_operator": operator, "torch": torch, "math": math}
    if parts[0] not in roots or any(part.startswith("__") for part in parts):
        return None
    target: Any = roots[parts[0]]
    for part in parts[1:]:
        target = _attribute(target, part)
        if target is None:
            return None
    return target


def _attribute(target: Any, name: str) -> Any:
    """``getattr(target, name)`` when it imports nothing; ``None`` when absent or when it would.

    A module's missing attribute goes to its ``__getattr__``, and torch's
    imports its lazy submodules there (``torch._inductor``, ``torch.onnx``):
    a name from the archive must not choose what is imported. torch's
    operator namespaces (``torch.ops.aten``) are modules too, but their
    ``__getattr__`` only looks operators up in the registry.
    """
    if _plain_module(target):
        return vars(target).get(name)
    try:
        return getattr(target, name)
    except Exception:  # torch.ops namespaces raise more than AttributeError
        return None


def check_source_fn_stack(text: str) -> str | None:
    """Why torch's reading of a node's ``source_fn_stack`` metadata could import, or ``None``.

    torch writes ``name,target;name,target`` and resolves each target under
    ``torch``, ``_operator`` or ``math`` with ``hasattr``, which on a module
    runs its ``__getattr__`` (an import, for torch's lazy submodules); other
    targets stay strings. Each target is walked here first without it.
    """
    import math
    import operator

    import torch

    for item in text.split(";"):
        _, comma, target = item.partition(",")
        if not comma or "," in target:
            return f"{_show_text(item)} is not 'node name,target' as torch writes it"
        if target.startswith("#"):
            return f"{_show_text(target)} is an extension operator, which this loader refuses"
        if target.startswith("torch.nn"):  # torch's own split: torch.nn, then the rest
            root, names = torch.nn, target.split(".")[2:]
        elif target.startswith("torch"):
            root, names = torch, target.split(".")[1:]
        elif target.startswith("_operator"):
            root, names = operator, target.split(".")[1:]
        elif target.startswith("math"):
            root, names = math, target.split(".")[1:]
        else:
            continue  # kept as a string
        found: Any = root
        for part in names:
            if _plain_module(found) and part not in vars(found):
                if "__getattr__" in vars(found):  # torch's hasattr would call it
                    return (
                        f"{_show_text(target)} would make torch look up "
                        f"{_show_text(found.__name__ + '.' + part)} through the module's "
                        "__getattr__, which imports torch's lazy submodules, while reading "
                        "the archive"
                    )
                break  # hasattr is false: torch keeps the string
            found = _attribute(found, part)
            if found is None:
                break
    return None


def _plain_module(target: Any) -> bool:
    """A module whose missing names go to a module ``__getattr__`` (not an operator namespace)."""
    import torch

    return isinstance(target, types.ModuleType) and not isinstance(
        target, (torch._ops._Ops, torch._ops._OpNamespace)
    )


@functools.cache
def _allowed_callables() -> tuple[Any, ...]:
    """The Python functions torch writes as graph targets (symbolic size arithmetic)."""
    import math
    import operator

    import torch

    names = [
        "getitem",
        "eq",
        "ne",
        "le",
        "ge",
        "lt",
        "gt",
        "neg",
        "pos",
        "not_",
        "abs",
        "mul",
        "add",
        "sub",
        "floordiv",
        "mod",
        "pow",
        "truediv",
        "and_",
        "or_",
        "lshift",
        "rshift",
    ]
    allowed: list[Any] = [getattr(operator, name) for name in names]
    allowed += [math.ceil, math.floor, math.trunc]
    for name in ("sym_not", "sym_int", "sym_float", "sym_ite", "sym_max", "sym_min", "sym_sqrt"):
        if hasattr(torch, name):
            allowed.append(getattr(torch, name))
    for name in ("sym_sum", "_sym_sqrt"):
        if hasattr(torch, name):
            allowed.append(getattr(torch, name))
    # the other torch functions torch's own verifier allows in a graph
    for path in (
        "torch.autograd.grad_mode.set_grad_enabled",
        "torch._C._set_grad_enabled",
        "torch.amp.autocast_mode._enter_autocast",
        "torch.amp.autocast_mode._exit_autocast",
        "torch.fx.experimental.symbolic_shapes.cast_symbool_to_symint_guardless",
        "torch._functorch.predispatch._add_batch_dim",
        "torch._functorch.predispatch._remove_batch_dim",
        "torch._functorch.predispatch._vmap_increment_nesting",
        "torch._functorch.predispatch._vmap_decrement_nesting",
        "torch._functorch.predispatch.lazy_load_decompositions",
    ):
        target = _resolve(path)
        if target is not None:
            allowed.append(target)
    return tuple(allowed)


@functools.cache
def _union_base() -> type:
    from torch._export.serde.union import _Union

    return _Union


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    from torch._export.serde import schema

    return typing.get_type_hints(cls, globalns=vars(schema))


def _identifier(text: str) -> bool:
    return len(text) <= MAX_NAME_CHARS and text.isidentifier() and not keyword.iskeyword(text)


def _dotted(text: str) -> bool:
    return len(text) <= MAX_NAME_CHARS and _DOTTED.fullmatch(text) is not None


def _key(key: str) -> str:
    return f"[{_show_text(key)}]"


def _format_path(where: list[str]) -> str:
    out = ""
    for part in where:
        out += part if part.startswith("[") or not out else "." + part
    return out


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}.get(
        type(value), f"a {type(value).__name__}"
    )


def _show_value(value: Any) -> str:
    return _show_text(value) if isinstance(value, str) else _kind(value)


def _show_key(key: str) -> str:
    return _show_text(key)


def _show_text(text: str) -> str:
    return repr(text) if len(text) <= 60 else repr(text[:57]) + "..."
