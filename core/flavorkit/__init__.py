"""flavorkit: package models as MLflow-format folders and load them behind one predict contract.

``import flavorkit`` stays light: public names are resolved from their
modules on first use, and no framework, pandas or numpy is imported until a
function needs it.
"""

from __future__ import annotations

from flavorkit._lazy import lazy_exports
from flavorkit.hookspecs import hookimpl as hookimpl

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS: dict[str, str] = {
    "AnyType": "flavorkit.signature",
    "Array": "flavorkit.signature",
    "ColSpec": "flavorkit.signature",
    "DataType": "flavorkit.signature",
    "FlavorInfo": "flavorkit.api",
    "Map": "flavorkit.signature",
    "Model": "flavorkit.folder._manifest",
    "ModelSignature": "flavorkit.signature",
    "Object": "flavorkit.signature",
    "ParamSchema": "flavorkit.signature",
    "ParamSpec": "flavorkit.signature",
    "Property": "flavorkit.signature",
    "PyFuncModel": "flavorkit.api",
    "PythonModel": "flavorkit.custom",
    "PythonModelContext": "flavorkit.custom",
    "Schema": "flavorkit.signature",
    "SchemaEnforcementError": "flavorkit.exceptions",
    "TensorSpec": "flavorkit.signature",
    "infer_signature": "flavorkit.signature",
    "list_flavors": "flavorkit.api",
    "load_model": "flavorkit.api",
    "load_native": "flavorkit.api",
    "register_model": "flavorkit.registry",
    "save_model": "flavorkit.api",
}

__all__ = sorted([*_EXPORTS, "__version__", "hookimpl"])


__getattr__ = lazy_exports("flavorkit", _EXPORTS, globals())


def __dir__() -> list[str]:
    return __all__
