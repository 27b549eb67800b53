"""onnxruntime, imported with its telemetry off unless the caller decided otherwise.

Importing onnxruntime (1.32) may write a device id and an event database under
``~/.cache/Microsoft/DeveloperTools`` (or ``$XDG_CACHE_HOME``) on Linux; whether
it does depends on the machine. A model load must not write into the user's
home, so the plugin sets
``ORT_DISABLE_TELEMETRY=1`` before its first import; a value the caller set
is kept, and an onnxruntime imported earlier by someone else is used as it is.
"""

from __future__ import annotations

import os
from types import ModuleType


def onnxruntime() -> ModuleType:
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    import onnxruntime

    return onnxruntime
