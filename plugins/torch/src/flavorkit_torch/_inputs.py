"""Turning what predict receives into the tensors a module is called with.

Accepted: an ndarray (one positional input), a dict of ndarrays (named
inputs, passed as keyword arguments), a DataFrame or Series (converted to one
2-D array), a list (``numpy.asarray``) and torch tensors in place of any
array. Floating inputs are cast to the model's floating dtype, since a
float64 array against float32 weights would otherwise fail inside torch.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

from flavorkit.exceptions import SchemaEnforcementError

if TYPE_CHECKING:
    import numpy as np
    import torch

Inputs: TypeAlias = "np.ndarray | torch.Tensor | dict[str, np.ndarray | torch.Tensor]"


def as_inputs(data: Any) -> Inputs:
    """Normalise ``data`` to an array/tensor or a ``{name: array/tensor}`` dict.

    Raises ``SchemaEnforcementError`` (a ``ValueError``) naming the column or
    input that cannot become a tensor, ``TypeError`` for other objects.
    """
    import numpy as np

    torch = sys.modules.get("torch")
    if isinstance(data, np.ndarray) or (torch is not None and isinstance(data, torch.Tensor)):
        return data
    if isinstance(data, Mapping):
        return {str(name): _one(name, value) for name, value in data.items()}
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(data, pd.Series):
        data = data.to_frame()
    if pd is not None and isinstance(data, pd.DataFrame):
        return frame_to_array(data)
    if isinstance(data, (list, tuple)):
        return _one("input", data)
    raise TypeError(
        "pytorch models predict on an ndarray, a dict of ndarrays, a DataFrame or a list; "
        f"got {type(data).__module__}.{type(data).__qualname__}"
    )


def _one(name: Any, value: Any) -> Any:
    import numpy as np

    torch = sys.modules.get("torch")
    if isinstance(value, np.ndarray) or (torch is not None and isinstance(value, torch.Tensor)):
        return value
    try:
        array = np.asarray(value)
    except ValueError as exc:  # ragged nested lists
        raise SchemaEnforcementError(
            f"input {name!r}: cannot make an array of it ({exc})",
            field=str(name),
            expected="a rectangular array",
            actual=type(value).__name__,
        ) from None
    if array.dtype == object:
        raise SchemaEnforcementError(
            f"input {name!r}: holds Python objects, not numbers",
            field=str(name),
            expected="a numeric array",
            actual="object",
        )
    return array


def frame_to_array(frame: Any) -> np.ndarray:
    """One 2-D array from a DataFrame of numeric columns, or one column of array cells.

    A single column whose cells are arrays/lists (images, sequences) is
    stacked into one ``(rows, *cell_shape)`` array.
    """
    import numpy as np
    import pandas as pd

    if frame.shape[1] == 1 and frame.dtypes.iloc[0] == np.dtype(object):
        column = frame.columns[0]
        try:
            return np.stack([np.asarray(cell) for cell in frame.iloc[:, 0]])
        except ValueError as exc:
            raise SchemaEnforcementError(
                f"column {column!r}: its cells do not stack into one array ({exc})",
                field=str(column),
                expected="cells of one shape",
                actual="ragged cells",
            ) from None
    for column, dtype in frame.dtypes.items():
        if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)):
            raise SchemaEnforcementError(
                f"column {column!r}: dtype {dtype} cannot become a tensor; "
                "pass numeric columns (or one column of arrays)",
                field=str(column),
                expected="a numeric dtype",
                actual=str(dtype),
            )
    if any(isinstance(dtype, pd.api.extensions.ExtensionDtype) for dtype in frame.dtypes):
        if frame.isna().any().any():
            bad = str(frame.columns[frame.isna().any()][0])
            raise SchemaEnforcementError(
                f"column {bad!r}: holds missing values, which a tensor cannot",
                field=bad,
                expected="no missing values",
                actual="NA",
            )
        frame = frame.astype(
            {
                c: d.numpy_dtype
                for c, d in frame.dtypes.items()
                if isinstance(d, pd.api.extensions.ExtensionDtype)
            }
        )
    return frame.to_numpy()


def float_dtype(model: Any) -> torch.dtype | None:
    """The dtype of the model's first floating parameter or buffer, or ``None``."""
    from flavorkit_torch._device import iter_tensors

    for tensor in iter_tensors(model):
        if tensor.is_floating_point():
            return tensor.dtype
    return None


def to_tensors(inputs: Inputs, device: torch.device, floating: torch.dtype | None) -> Any:
    """Tensors on ``device`` for ``inputs`` (same structure), floats cast to ``floating``."""
    if isinstance(inputs, dict):
        return {name: _tensor(name, value, device, floating) for name, value in inputs.items()}
    return _tensor("input", inputs, device, floating)


def _tensor(name: str, value: Any, device: torch.device, floating: torch.dtype | None) -> Any:
    import numpy as np
    import torch

    if isinstance(value, np.ndarray):
        if value.dtype.kind in "OUSMmV":
            raise SchemaEnforcementError(
                f"input {name!r}: dtype {value.dtype} cannot become a tensor",
                field=name,
                expected="a numeric or boolean dtype",
                actual=str(value.dtype),
            )
        if not value.flags.writeable or not value.flags.c_contiguous:
            # torch.from_numpy warns on read-only arrays; a copy is what it would need anyway
            value = np.ascontiguousarray(value).copy()
        tensor = torch.from_numpy(value)
    elif isinstance(value, torch.Tensor):
        tensor = value
    else:
        tensor = torch.as_tensor(value)
    if floating is not None and tensor.is_floating_point() and tensor.dtype != floating:
        tensor = tensor.to(floating)
    return tensor.to(device)


def row_count(inputs: Inputs) -> int | None:
    """The shared length of the first dimension, or ``None`` when inputs cannot be split by row."""
    values = list(inputs.values()) if isinstance(inputs, dict) else [inputs]
    lengths = set()
    for value in values:
        if len(value.shape) == 0:
            return None
        lengths.add(int(value.shape[0]))
    return lengths.pop() if len(lengths) == 1 else None


def slice_rows(inputs: Inputs, start: int, stop: int) -> Inputs:
    """Rows ``start:stop`` of every input."""
    if isinstance(inputs, dict):
        return {name: value[start:stop] for name, value in inputs.items()}
    return inputs[start:stop]
