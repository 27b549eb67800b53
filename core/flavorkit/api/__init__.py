"""The public operations: save a model, load it (behind ``PyFuncModel`` or natively), list flavors.

``_save`` writes a folder through the plugin that claims the model and
places it atomically (``_place``); ``_load`` loads one through the plugin
that owns its flavor; ``_plugins`` finds and routes to the plugins;
``_validate`` checks a folder the way loading will read it.
"""

from __future__ import annotations

from flavorkit._lazy import lazy_exports

# imported on first use: loading a model never imports the save path, and back
_EXPORTS = {
    "FlavorInfo": "flavorkit.api._plugins",
    "PyFuncModel": "flavorkit.api._pyfunc",
    "Registry": "flavorkit.api._plugins",
    "get_registry": "flavorkit.api._plugins",
    "list_flavors": "flavorkit.api._plugins",
    "load_model": "flavorkit.api._load",
    "load_native": "flavorkit.api._load",
    "save_model": "flavorkit.api._save",
    "use_registry": "flavorkit.api._plugins",
}

__all__ = sorted(_EXPORTS)

# classes show as ``flavorkit.X``, the path users import them by
__getattr__ = lazy_exports("flavorkit.api", _EXPORTS, globals(), shown_as="flavorkit")


def __dir__() -> list[str]:
    return __all__
