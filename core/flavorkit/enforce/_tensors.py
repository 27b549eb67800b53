"""Enforcement of tensor-based schemas (TensorSpecs): ndarrays, dicts of them, DataFrames.

Called by :func:`flavorkit.enforce.enforce_schema` for a schema of
TensorSpecs. Shapes and dtypes are checked as MLflow does (no casting of
ndarrays); DataFrame columns are stacked into tensors and cast only when
exact.

numpy and pandas are imported inside the functions, so importing this module
is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flavorkit.enforce._values import _warn
from flavorkit.exceptions import SchemaEnforcementError
from flavorkit.signature import TensorSpec
from flavorkit.signature._exact import exact_cast

if TYPE_CHECKING:
    import pandas as pd

    from flavorkit.enforce._plan import Plan


def enforce_tensors(data: Any, plan: Plan) -> Any:
    """Check ``data`` against a tensor schema's ``plan``; return the ndarray or dict of them.

    Raises SchemaEnforcementError.
    """
    import numpy as np
    import pandas as pd

    specs = plan.specs
    if not plan.named:
        spec = specs[0]
        if isinstance(data, pd.DataFrame):
            return _frame_to_tensor(data, spec)
        if isinstance(data, np.ndarray) or _is_sparse(data):
            return _check_tensor(data, spec, "[0]")
        raise _tensor_input_error(data, "an ndarray (or a DataFrame)")
    if isinstance(data, np.ndarray) and len(specs) == 1:
        data = {specs[0].name: data}
    if isinstance(data, pd.DataFrame):
        missing = [str(s.name) for s in specs if s.name not in data.columns]
        _check_names(missing, [str(c) for c in data.columns if c not in plan.index])
        return {s.name: _column_to_tensor(data[s.name], s, str(s.name)) for s in specs}
    if not isinstance(data, dict):
        raise _tensor_input_error(data, "a dict of name -> ndarray")
    by_key = {str(k): k for k in data}
    missing = [k for k in plan.keys if k not in by_key]
    _check_names(missing, [k for k in by_key if k not in plan.keys])
    out = {}
    for s, k in zip(specs, plan.keys, strict=True):
        value = data[by_key[k]]
        if not isinstance(value, np.ndarray):
            raise SchemaEnforcementError(
                f"tensor {k!r}: expected an ndarray, got {type(value).__name__}; "
                f"convert with np.asarray(value, dtype={s.type.name!r})",
                field=k,
                expected=f"ndarray of {s.type.name}",
                actual=type(value).__name__,
            )
        out[s.name] = _check_tensor(value, s, k)
    return out


def _check_names(missing: list[str], extra: list[str]) -> None:
    if missing:
        note = (
            f" The input also has names the signature does not declare: {extra}." if extra else ""
        )
        raise SchemaEnforcementError(
            f"Model is missing inputs {missing}.{note} Add the missing tensor(s) to the input.",
            field=", ".join(missing),
            expected=missing,
            actual=extra,
        )
    if extra:
        _warn(f"dropping input tensor(s) the signature does not declare: {extra}")


def _is_sparse(x: Any) -> bool:
    return (
        type(x).__module__.startswith("scipy.sparse") and hasattr(x, "data") and hasattr(x, "shape")
    )


def _tensor_input_error(data: Any, wanted: str) -> SchemaEnforcementError:
    fix = "; convert with np.asarray(...)" if isinstance(data, (list, tuple)) else ""
    return SchemaEnforcementError(
        f"a tensor signature takes {wanted}, got {type(data).__name__}{fix}",
        expected=wanted,
        actual=type(data).__name__,
    )


def _check_tensor(values: Any, spec: TensorSpec, field: str) -> Any:
    """Check rank, fixed dimensions and dtype (no casting), as MLflow does."""
    import numpy as np

    shape, dtype = spec.shape, spec.type
    actual_shape = tuple(values.shape)
    actual = values.dtype if isinstance(values, np.ndarray) else values.data.dtype
    if shape == (-1,) and dtype.kind == "O":
        return values  # an object vector accepts anything
    if len(shape) > 1 and -1 in shape[1:] and len(actual_shape) == 1 and actual.kind == "O":
        return values  # a ragged array (1-D of objects) against a variable inner shape
    if len(shape) != len(actual_shape):
        fix = f"wrong rank, reshape with x.reshape({', '.join(map(str, shape))})"
    else:
        pairs = enumerate(zip(shape, actual_shape, strict=True))
        wrong = [k for k, (e, a) in pairs if e not in (-1, a)]
        fix = f"dimension {wrong[0]} must be {shape[wrong[0]]}" if wrong else ""
    if fix:
        raise SchemaEnforcementError(
            f"tensor {field!r}: expected shape {shape} (-1 = any size), "
            f"got shape {actual_shape}; {fix}",
            field=field,
            expected=shape,
            actual=actual_shape,
        )
    clean = np.dtype(actual.char) if actual.kind in "US" else actual
    if clean != dtype:
        raise SchemaEnforcementError(
            f"tensor {field!r}: expected dtype {dtype.name}, got {actual.name}; "
            f"cast with x.astype({dtype.name!r})",
            field=field,
            expected=dtype.name,
            actual=actual.name,
        )
    return values


def _frame_to_tensor(df: pd.DataFrame, spec: TensorSpec) -> Any:
    if df.empty:
        raise SchemaEnforcementError(
            "the input DataFrame is empty", field="[0]", expected=spec.shape, actual=df.shape
        )
    if df.shape[1] == 1:
        return _column_to_tensor(df[df.columns[0]], spec, "[0]")
    if spec.shape != (-1, df.shape[1]):
        raise SchemaEnforcementError(
            f"tensor '[0]': a DataFrame of {df.shape[1]} scalar columns needs shape "
            f"(-1, {df.shape[1]}), the signature declares {spec.shape}",
            field="[0]",
            expected=spec.shape,
            actual=df.shape,
        )
    return _check_tensor(df.to_numpy(), spec, "[0]")


def _column_to_tensor(col: pd.Series, spec: TensorSpec, field: str) -> Any:
    """One DataFrame column -> one tensor (scalars, or list/ndarray cells stacked)."""
    import numpy as np

    shape = spec.shape
    if shape[0] != -1 or -1 in shape[1:]:
        raise SchemaEnforcementError(
            f"tensor {field!r}: DataFrame input needs a shape whose first dimension is -1 and "
            f"the others fixed, the signature declares {shape}; pass an ndarray instead",
            field=field,
            expected=shape,
            actual="DataFrame column",
        )
    if len(col) == 0:
        raise SchemaEnforcementError(
            f"tensor {field!r}: the column is empty", field=field, expected=shape, actual=(0,)
        )
    first = col.iloc[0]
    if np.isscalar(first):
        if shape not in ((-1,), (-1, 1)):
            raise SchemaEnforcementError(
                f"tensor {field!r}: a column of scalars needs shape (-1,) or (-1, 1), "
                f"the signature declares {shape}",
                field=field,
                expected=shape,
                actual=(len(col),),
            )
        stacked = col.to_numpy().reshape(shape)
    elif isinstance(first, (list, np.ndarray)):
        try:
            stacked = np.vstack(col.tolist()).reshape(shape)
        except ValueError:
            raise SchemaEnforcementError(
                f"tensor {field!r}: the cells cannot be stacked into shape {shape}; "
                "every cell needs the same length",
                field=field,
                expected=shape,
                actual="ragged cells",
            ) from None
        if len(stacked) != len(col):
            raise SchemaEnforcementError(
                f"tensor {field!r}: {len(col)} rows became {len(stacked)} "
                f"after reshaping to {shape}",
                field=field,
                expected=shape,
                actual=stacked.shape,
            )
        if isinstance(first, np.ndarray):
            return _check_tensor(stacked, spec, field)
    else:
        raise SchemaEnforcementError(
            f"tensor {field!r}: DataFrame cells must be scalars, lists or ndarrays, "
            f"got {type(first).__name__}",
            field=field,
            expected=shape,
            actual=type(first).__name__,
        )
    cast = exact_cast(stacked, spec.type)
    if cast is None:
        raise SchemaEnforcementError(
            f"tensor {field!r}: expected dtype {spec.type.name}, got {stacked.dtype.name} with "
            f"values that {spec.type.name} cannot hold exactly; cast the column first",
            field=field,
            expected=spec.type.name,
            actual=stacked.dtype.name,
        )
    return _check_tensor(cast, spec, field)
