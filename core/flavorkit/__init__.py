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
    "AnyType": "flavorkit._schema",
    "Array": "flavorkit._schema",
    "ColSpec": "flavorkit._schema",
    "DataType": "flavorkit._schema",
    "FlavorInfo": "flavorkit._plugins",
    "Map": "flavorkit._schema",
    "Model": "flavorkit._manifest",
    "ModelSignature": "flavorkit._schema",
    "Object": "flavorkit._schema",
    "ParamSchema": "flavorkit._schema",
    "ParamSpec": "flavorkit._schema",
    "Property": "flavorkit._schema",
    "PyFuncModel": "flavorkit._pyfunc",
    "PythonModel": "flavorkit._custom",
    "PythonModelContext": "flavorkit._custom",
    "Schema": "flavorkit._schema",
    "SchemaEnforcementError": "flavorkit.exceptions",
    "TensorSpec": "flavorkit._schema",
    "infer_signature": "flavorkit._infer",
    "list_flavors": "flavorkit._plugins",
    "load_model": "flavorkit._api",
    "load_native": "flavorkit._api",
    "save_model": "flavorkit._api",
}

__all__ = sorted([*_EXPORTS, "__version__", "hookimpl"])


__getattr__ = lazy_exports("flavorkit", _EXPORTS, globals())


def __dir__() -> list[str]:
    return __all__
