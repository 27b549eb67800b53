"""The public surface: ``__all__`` is pinned, names resolve, classes say ``flavorkit.X``."""

from __future__ import annotations

import flavorkit

EXPECTED = [
    "AnyType",
    "Array",
    "ColSpec",
    "DataType",
    "FlavorInfo",
    "Map",
    "Model",
    "ModelSignature",
    "Object",
    "ParamSchema",
    "ParamSpec",
    "Property",
    "PyFuncModel",
    "PythonModel",
    "PythonModelContext",
    "Schema",
    "SchemaEnforcementError",
    "TensorSpec",
    "__version__",
    "hookimpl",
    "infer_signature",
    "list_flavors",
    "load_model",
    "load_native",
    "register_model",
    "save_model",
]


def test_all_is_pinned_and_sorted() -> None:
    assert flavorkit.__all__ == sorted(EXPECTED)


def test_every_public_name_resolves() -> None:
    for name in flavorkit.__all__:
        assert getattr(flavorkit, name) is not None, name


def test_classes_report_public_module() -> None:
    assert flavorkit.Schema.__module__ == "flavorkit"
    assert repr(flavorkit.PyFuncModel).startswith("<class 'flavorkit.PyFuncModel'")


def test_unknown_attribute_raises_attribute_error() -> None:
    try:
        flavorkit.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("expected AttributeError")
