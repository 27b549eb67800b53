"""The public operations: save a model, load it (behind ``PyFuncModel`` or natively), list flavors.

``_save`` writes a folder through the plugin that claims the model and
places it atomically (``_place``); ``_load`` loads one through the plugin
that owns its flavor; ``_plugins`` finds and routes to the plugins;
``_validate`` checks a folder the way loading will read it.
"""

from __future__ import annotations

from flavorkit.api._load import load_model, load_native
from flavorkit.api._plugins import FlavorInfo, Registry, get_registry, list_flavors, use_registry
from flavorkit.api._pyfunc import PyFuncModel
from flavorkit.api._save import save_model

__all__ = [
    "FlavorInfo",
    "PyFuncModel",
    "Registry",
    "get_registry",
    "list_flavors",
    "load_model",
    "load_native",
    "save_model",
    "use_registry",
]
