"""Grammars for the expression strings of a ``.pt2`` archive, checked without evaluating them.

``torch.export.load`` evaluates two kinds of strings from ``models/*.json``:

- symbolic shape expressions (every ``expr_str``), which it hands to
  ``sympy.sympify``, and ``sympify`` runs them through Python's ``eval``;
- the program's ``guards_code``, which ``ExportedProgram.module()`` pastes
  into Python source and ``exec``s, so the guards run on every call.

A tampered archive can put any Python there. Each string is parsed here with
``ast`` (parsing runs nothing) and accepted only when it is made of the
pieces torch itself writes: calls of sympy's and torch's shape functions,
symbol names, number literals and arithmetic for expressions; comparisons
of input sizes for guards. Powers and shifts take small literal exponents
only, so no string can make sympy or a guard compute a number with billions
of digits. Each check returns why a string is refused, or ``None``.
"""

from __future__ import annotations

import ast
import re

# the longest expression or guard accepted, and the most AST nodes and nesting in one
MAX_EXPRESSION_CHARS = 65_536
MAX_NODES = 20_000
MAX_NESTING = 64
# the largest literal accepted, and the largest literal exponent or shift
MAX_LITERAL = 2**64
MAX_EXPONENT = 64

# Called in expressions: what sympy's srepr() writes for torch's shape arithmetic, and
# torch.utils._sympy.functions (the names torch's deserializer passes to sympify).
SYMPY_FUNCTIONS = frozenset(
    {
        # sympy core
        "Symbol",
        "Integer",
        "Float",
        "Rational",
        "Add",
        "Mul",
        "Pow",
        "Mod",
        "Max",
        "Min",
        "Abs",
        "floor",
        "ceiling",
        "Eq",
        "Ne",
        "Lt",
        "Le",
        "Gt",
        "Ge",
        "Equality",
        "Unequality",
        "StrictLessThan",
        "LessThan",
        "StrictGreaterThan",
        "GreaterThan",
        "And",
        "Or",
        "Not",
        "Piecewise",
        "ExprCondPair",
        "BooleanTrue",
        "BooleanFalse",
        # torch.utils._sympy.functions
        "FloorDiv",
        "ModularIndexing",
        "Where",
        "PythonMod",
        "CleanDiv",
        "CeilToInt",
        "FloorToInt",
        "CeilDiv",
        "LShift",
        "RShift",
        "PowByNatural",
        "FloatPow",
        "FloatTrueDiv",
        "IntTrueDiv",
        "IsNonOverlappingAndDenseIndicator",
        "TruncToFloat",
        "TruncToInt",
        "RoundToInt",
        "RoundDecimal",
        "ToFloat",
        "Identity",
    }
)
# Functions whose second argument is an exponent or a left shift: it must be a small literal.
_POWERS = frozenset({"Pow", "PowByNatural", "FloatPow", "LShift"})
# Names allowed as values (not called): sympy's constants as srepr() writes them.
_SYMPY_ATOMS = frozenset({"oo", "zoo", "nan", "true", "false"})
# keyword arguments of the calls above (Symbol's assumptions, Float's precision)
_ASSUMPTIONS = frozenset(
    {
        "positive",
        "negative",
        "nonpositive",
        "nonnegative",
        "integer",
        "real",
        "finite",
        "infinite",
        "zero",
        "nonzero",
        "even",
        "odd",
        "rational",
        "irrational",
        "commutative",
        "extended_real",
        "extended_positive",
        "extended_negative",
        "extended_nonnegative",
        "extended_nonpositive",
        "evaluate",
    }
)
MAX_PRECISION = 1024

# a symbol torch names (s0, s77, u3, zuf0 ...): letters then at most six digits
SYMBOL_NAME = re.compile(r"[a-z]{1,8}[0-9]{1,6}")
# the name inside Symbol('...') may be any short identifier
_SYMBOL_ARGUMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_FLOAT_TEXT = re.compile(
    r"[-+]?(?:[0-9]{1,400}(?:\.[0-9]{0,400})?|\.[0-9]{1,400})(?:[eE][-+]?[0-9]{1,4})?"
)

# Guards: Python over the inputs (L['x'].size()[0]), as torch's PythonPrinter writes them.
_GUARD_FUNCTIONS = frozenset(
    {"abs", "max", "min", "round", "int", "float", "IsNonOverlappingAndDenseIndicator"}
)
_GUARD_MATH = frozenset(
    {
        "floor",
        "ceil",
        "trunc",
        "sqrt",
        "isnan",
        "isinf",
        "inf",
        "nan",
        "cos",
        "cosh",
        "acos",
        "sin",
        "sinh",
        "asin",
        "tan",
        "tanh",
        "atan",
        "log2",
        "exp",
        "log",
    }
)
_GUARD_TORCH = frozenset(
    {"sym_float", "sym_int", "sym_sqrt", "_sym_sqrt", "sym_max", "sym_min", "sym_ite", "sym_not"}
)
_TENSOR_METHODS = frozenset({"size", "stride", "storage_offset", "dim", "numel"})
_INPUT_KEY = re.compile(r"[A-Za-z0-9_]{1,256}")
# characters a guard never needs: they would let the text leave the expression it is pasted into
_GUARD_FORBIDDEN = re.compile(r"[^ -~]|[#\\\";`$]")

_BINOPS = (
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.FloorDiv,
    ast.Mod,
    ast.Pow,
    ast.BitAnd,
    ast.BitOr,
    ast.BitXor,
    ast.LShift,
    ast.RShift,
)
_UNARYOPS = (ast.USub, ast.UAdd, ast.Not, ast.Invert)
_CMPOPS = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE)


class _Refused(Exception):
    """Why a string is refused; raised inside the walk, returned by the checks."""


def check_sympy(text: str) -> str | None:
    """Why ``text`` is not a symbolic shape expression torch writes, or ``None`` when it is."""
    try:
        tree = _parse(text)
        _Walk(_sympy_node).run(tree)
    except _Refused as exc:
        return str(exc)
    return None


def check_guard(text: str) -> str | None:
    """Why ``text`` is not a guard torch writes (a check on input sizes), or ``None``."""
    bad = _GUARD_FORBIDDEN.search(text)
    if bad is not None:
        return f"it contains the character {bad.group()!r}, which no guard needs"
    try:
        tree = _parse(text)
        _Walk(_guard_node).run(tree)
    except _Refused as exc:
        return str(exc)
    return None


def check_symbol_name(text: str) -> str | None:
    """Why ``text`` is not a symbol name as torch writes them (``s0``, ``u12``), or ``None``."""
    if SYMBOL_NAME.fullmatch(text):
        return None
    return f"{_show(text)} is not a symbol name (letters then at most six digits, like 's0')"


def _parse(text: str) -> ast.Expression:
    if len(text) > MAX_EXPRESSION_CHARS:
        raise _Refused(f"it is {len(text):,} characters; the limit is {MAX_EXPRESSION_CHARS:,}")
    if "\x00" in text:
        raise _Refused("it contains a NUL character")
    try:
        return ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise _Refused("it is not a Python expression") from None


class _Walk:
    """Visits every node once, bounding the count and the nesting."""

    def __init__(self, check: object) -> None:
        self.check = check
        self.count = 0

    def run(self, tree: ast.Expression) -> None:
        stack: list[tuple[ast.AST, int]] = [(tree.body, 0)]
        while stack:
            node, depth = stack.pop()
            self.count += 1
            if self.count > MAX_NODES:
                raise _Refused(f"it has more than {MAX_NODES:,} parts")
            if depth > MAX_NESTING:
                raise _Refused(f"it nests deeper than {MAX_NESTING} levels")
            children = self.check(node)  # type: ignore[operator]
            stack.extend((child, depth + 1) for child in children)


# -- sympy expressions ----------------------------------------------------------


def _sympy_node(node: ast.AST) -> list[ast.AST]:
    """Check one node of an expression; return the children still to check."""
    if isinstance(node, ast.Constant):
        _literal(node.value, allow_str=False)
        return []
    if isinstance(node, ast.Name):
        if node.id in _SYMPY_ATOMS or SYMBOL_NAME.fullmatch(node.id):
            return []
        raise _Refused(f"the name {_show(node.id)} is not a symbol or a sympy constant")
    if isinstance(node, ast.Call):
        return _sympy_call(node)
    if isinstance(node, ast.BinOp) and isinstance(node.op, _BINOPS):
        if isinstance(node.op, (ast.Pow, ast.LShift)):
            _small_exponent(node.left, node.right)
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, _UNARYOPS):
        return [node.operand]
    if isinstance(node, ast.Compare) and all(isinstance(op, _CMPOPS) for op in node.ops):
        return [node.left, *node.comparators]
    raise _Refused(f"it contains {_describe(node)}, which symbolic shape expressions never do")


def _sympy_call(node: ast.Call) -> list[ast.AST]:
    func = node.func
    if not isinstance(func, ast.Name):
        raise _Refused(f"it calls {_describe(func)}; only shape functions may be called")
    name = func.id
    if name not in SYMPY_FUNCTIONS:
        raise _Refused(f"it calls {_show(name)}, which is not a sympy or torch shape function")
    for arg in node.args:
        if isinstance(arg, ast.Starred):
            raise _Refused(f"it passes *arguments to {name}")
    for keyword in node.keywords:
        _keyword(name, keyword)
    if name == "Symbol":
        if len(node.args) != 1:
            raise _Refused(f"{name}() takes one name")
        (arg,) = node.args
        if not (
            isinstance(arg, ast.Constant)
            and isinstance(arg.value, str)
            and _SYMBOL_ARGUMENT.fullmatch(arg.value)
        ):
            raise _Refused(f"{name}() is given {_describe(arg)}, not a short identifier")
        return []
    if name == "Float":
        if node.args and isinstance(node.args[0], ast.Constant):
            value = node.args[0].value
            if isinstance(value, str):
                if not _FLOAT_TEXT.fullmatch(value):
                    raise _Refused("Float() is given a string that is not a decimal number")
                return list(node.args[1:])
        return list(node.args)
    if name in _POWERS:
        if len(node.args) != 2:
            raise _Refused(f"{name}() takes two arguments")
        _small_exponent(node.args[0], node.args[1])
    return list(node.args)


def _keyword(function: str, keyword: ast.keyword) -> None:
    if keyword.arg is None:
        raise _Refused(f"it passes **arguments to {function}")
    value = keyword.value
    if keyword.arg == "precision" and function == "Float":
        if (
            isinstance(value, ast.Constant)
            and type(value.value) is int
            and 1 <= value.value <= MAX_PRECISION
        ):
            return
        raise _Refused(f"Float() precision must be an integer from 1 to {MAX_PRECISION}")
    if keyword.arg not in _ASSUMPTIONS:
        raise _Refused(f"{function}() is given the keyword {_show(keyword.arg)}")
    if not (isinstance(value, ast.Constant) and isinstance(value.value, bool)):
        raise _Refused(f"{function}({keyword.arg}=...) must be True or False")


def _small_exponent(base: ast.AST, exponent: ast.AST) -> None:
    """Powers and shifts: the exponent is a literal of at most MAX_EXPONENT; a constant base
    is a plain literal too, so no power of powers can be folded into a huge number."""
    value = _literal_value(exponent)
    if value is None or abs(value) > MAX_EXPONENT:
        raise _Refused(
            f"a power or shift takes a literal exponent of at most {MAX_EXPONENT}, "
            f"got {_describe(exponent)}"
        )
    if _literal_value(base) is None and not _has_symbol(base):
        raise _Refused("a power or shift of a computed constant (only literals may be raised)")


def _literal_value(node: ast.AST) -> int | float | None:
    """The number a literal (``3``, ``-3``, ``Integer(3)``, ``Integer(-3)``) stands for."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _literal_value(node.operand)
        return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value  # type: ignore[no-any-return]
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("Integer", "Float")
        and len(node.args) == 1
        and not node.keywords
    ):
        return _literal_value(node.args[0])
    return None


def _has_symbol(node: ast.AST) -> bool:
    for child in ast.walk(node):
        if isinstance(child, ast.Name) and SYMBOL_NAME.fullmatch(child.id):
            return True
        if (
            isinstance(child, ast.Call)
            and isinstance(child.func, ast.Name)
            and child.func.id == "Symbol"
        ):
            return True
    return False


def _literal(value: object, *, allow_str: bool) -> None:
    if isinstance(value, bool) or value is None:
        if value is None:
            raise _Refused("it contains None")
        return
    if type(value) is int:
        if abs(value) > MAX_LITERAL:
            raise _Refused(f"it contains an integer larger than 2**64 ({len(str(value))} digits)")
        return
    if type(value) is float:
        return
    if isinstance(value, str) and allow_str:
        return
    raise _Refused(f"it contains a {type(value).__name__} literal")


# -- guards ---------------------------------------------------------------------


def _guard_node(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.Constant):
        _literal(node.value, allow_str=False)
        return []
    if isinstance(node, ast.BoolOp):
        return list(node.values)
    if isinstance(node, ast.Compare) and all(isinstance(op, _CMPOPS) for op in node.ops):
        return [node.left, *node.comparators]
    if isinstance(node, ast.BinOp) and isinstance(node.op, _BINOPS):
        if isinstance(node.op, (ast.Pow, ast.LShift)):
            value = _literal_value(node.right)
            if value is None or abs(value) > MAX_EXPONENT:
                raise _Refused(
                    f"a power or shift takes a literal exponent of at most {MAX_EXPONENT}"
                )
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, _UNARYOPS):
        return [node.operand]
    if isinstance(node, ast.IfExp):
        return [node.test, node.body, node.orelse]
    if isinstance(node, ast.Subscript) or (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in _TENSOR_METHODS
    ):
        return _input_source(node)
    if isinstance(node, ast.Attribute):
        _module_attribute(node)
        return []
    if isinstance(node, ast.Call):
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise _Refused("it passes keyword or * arguments")
        func = node.func
        if isinstance(func, ast.Name):
            if func.id not in _GUARD_FUNCTIONS:
                raise _Refused(f"it calls {_show(func.id)}, which guards never call")
        else:
            _module_attribute(func)
        return list(node.args)
    raise _Refused(f"it contains {_describe(node)}, which guards never do")


def _module_attribute(node: ast.AST) -> None:
    """``math.floor``, ``torch.sym_float`` ...: an allowed attribute of math or torch."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        module, attr = node.value.id, node.attr
        if (module == "math" and attr in _GUARD_MATH) or (
            module == "torch" and attr in _GUARD_TORCH
        ):
            return
        raise _Refused(f"it uses {_show(module + '.' + attr)}, which guards never use")
    raise _Refused(f"it contains {_describe(node)}, which guards never do")


def _input_source(node: ast.AST) -> list[ast.AST]:
    """``L['x']``, ``L['x'][0]``, ``L['x'].size()[1]``: an input or a size of one.

    Returns the index expressions of calls (none) to check further.
    """
    current = node
    while True:
        if isinstance(current, ast.Subscript):
            key = current.slice
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                if not _INPUT_KEY.fullmatch(key.value):
                    raise _Refused(f"it indexes an input with {_show(key.value)}")
            elif _literal_value(key) is None or isinstance(_literal_value(key), float):
                raise _Refused(f"it indexes with {_describe(key)}, not a literal key")
            current = current.value
        elif isinstance(current, ast.Call):
            func = current.func
            if not (isinstance(func, ast.Attribute) and func.attr in _TENSOR_METHODS):
                raise _Refused(f"it calls {_describe(func)} on an input")
            if current.keywords or len(current.args) > 1:
                raise _Refused(f".{func.attr}() takes at most one index")
            if current.args and type(_literal_value(current.args[0])) is not int:
                raise _Refused(f".{func.attr}() takes a literal index")
            current = func.value
        elif isinstance(current, ast.Name):
            if current.id != "L":
                raise _Refused(f"the name {_show(current.id)} is not an input")
            return []
        else:
            raise _Refused(f"it contains {_describe(current)} where an input is expected")


# -- messages -------------------------------------------------------------------


def _show(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:37]) + "..."


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return f"the name {_show(node.id)}"
    if isinstance(node, ast.Constant):
        return f"a {type(node.value).__name__} literal"
    if isinstance(node, ast.Attribute):
        return f"an attribute access (.{node.attr[:40]})"
    names = {
        ast.Lambda: "a lambda",
        ast.Subscript: "an index",
        ast.Call: "a call",
        ast.BoolOp: "'and'/'or'",
        ast.NamedExpr: "an assignment",
        ast.ListComp: "a comprehension",
        ast.GeneratorExp: "a comprehension",
    }
    for kind, text in names.items():
        if isinstance(node, kind):
            return text
    return f"a {type(node).__name__} expression"
