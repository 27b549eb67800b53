"""Helpers shared by column, tensor and params enforcement.

The warning every enforcement step uses when it drops something, the short
preview of client-sent names for messages, and dtype tests. Exact casts and
null tests are :mod:`flavorkit.signature._exact`'s.

numpy and pandas are imported inside the functions, so importing this module
is cheap.
"""

from __future__ import annotations

import warnings
from typing import Any

from flavorkit.exceptions import SchemaWarning


def _warn(message: str, category: type[Warning] = SchemaWarning) -> None:
    """Warn the caller of ``PyFuncModel.predict``; drops use SchemaWarning (a UserWarning)."""
    warnings.warn(message, category, stacklevel=4)


def names_preview(names: Any, limit: int = 10, width: int = 40) -> str:
    """Up to ``limit`` names for a message, each cut to ``width`` characters, then "and N more".

    Names can come from a client (column names, keys): an error must stay short
    whatever they send, so neither their number nor their length is echoed in full.
    """
    names = list(names) if not isinstance(names, (list, tuple)) else names
    shown = []
    for name in names[:limit]:
        text = name if isinstance(name, str) else str(name)
        shown.append(repr(text[:width] + "...") if len(text) > width else repr(text))
    more = len(names) - len(shown)
    return f"[{', '.join(shown)}]" + (f" and {more} more" if more > 0 else "")


def _is_extension(dtype: Any) -> bool:
    import pandas as pd

    return isinstance(dtype, pd.api.extensions.ExtensionDtype)


def _is_object(dtype: Any) -> bool:
    """Whether ``dtype`` is numpy's object dtype (not a pandas extension dtype)."""
    import numpy as np

    return isinstance(dtype, np.dtype) and dtype.kind == "O"
