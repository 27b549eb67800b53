"""Choosing and calling the estimator method that serves ``predict``."""

from __future__ import annotations

from typing import Any

from flavorkit.exceptions import SchemaEnforcementError, SignatureError

DEFAULT_PREDICT_FN = "predict"
# the methods that map a batch of inputs to a batch of outputs; MLflow's
# sklearn flavor accepts the first four (predict_joint_log_proba included)
PREDICT_FNS = (
    "predict",
    "predict_proba",
    "predict_log_proba",
    "predict_joint_log_proba",
    "decision_function",
    "transform",
)


def _offered(model: Any) -> list[str]:
    # hasattr, not a class lookup: Pipeline and friends expose predict_proba
    # only when their final step has it (sklearn's available_if)
    return [name for name in PREDICT_FNS if hasattr(model, name)]


def check_at_save(model: Any, predict_fn: Any) -> str:
    """Return ``predict_fn`` when ``model`` offers that method; raise ``SignatureError`` otherwise.

    Called by the persist hook, so a wrong choice fails at save time instead
    of at the first prediction.
    """
    if predict_fn not in PREDICT_FNS:
        raise SignatureError(
            f"predict_fn: expected one of {', '.join(PREDICT_FNS)}, got {predict_fn!r}"
        )
    if not hasattr(model, predict_fn):
        offered = ", ".join(_offered(model)) or "none of them"
        raise SignatureError(
            f"predict_fn: {type(model).__name__} has no method {predict_fn!r}; it offers {offered}"
        )
    return str(predict_fn)


def resolve(model: Any, params: dict[str, Any], conf: dict[str, Any]) -> Any:
    """The bound method to call for one prediction.

    ``params["predict_fn"]`` (filled from the signature's default by the core)
    wins, then the ``predict_fn`` of ``conf``, then ``predict``. Raises
    ``SchemaEnforcementError`` (field ``predict_fn``) for a name outside
    :data:`PREDICT_FNS` or a method the loaded estimator lacks.
    """
    name = params.get("predict_fn") or conf.get("predict_fn") or DEFAULT_PREDICT_FN
    method = getattr(model, name, None) if name in PREDICT_FNS else None
    if method is None:
        offered = _offered(model)
        raise SchemaEnforcementError(
            f"param 'predict_fn': expected a method of {type(model).__name__} "
            f"({', '.join(offered) or 'none'}), got {name!r}",
            field="predict_fn",
            expected=offered,
            actual=name,
        )
    return method


def prepare(model: Any, data: Any) -> Any:
    """Adapt ``data`` to what ``model`` was fitted on.

    A DataFrame reaching an estimator fitted on a bare array is passed as its
    values: scikit-learn would use them positionally anyway, but warn about
    the unexpected column names on every call.
    """
    if (
        type(data).__name__ == "DataFrame"
        and hasattr(model, "n_features_in_")
        and not hasattr(model, "feature_names_in_")
    ):
        return data.to_numpy()
    return data


def rows(data: Any) -> int | None:
    """The number of rows of a DataFrame or array, ``None`` for other input."""
    shape = getattr(data, "shape", None)
    return int(shape[0]) if shape else None


def predict_no_rows(method: Any, data: Any) -> Any:
    """The answer for a batch of 0 rows, which scikit-learn refuses to predict on.

    Predicts on one stand-in row of the batch's columns and dtypes (zeros,
    empty strings, False) and returns 0 rows of that answer, so the kind,
    dtype and width are those of any other batch. When the estimator
    refuses the stand-in (an unknown category), scikit-learn's own error
    for the empty batch is raised.
    """
    import warnings

    import numpy as np

    if type(data).__name__ == "DataFrame":
        import pandas as pd

        row = pd.DataFrame(
            {c: pd.Series([_blank(dtype)], dtype=dtype) for c, dtype in data.dtypes.items()}
        )
    else:
        row = np.zeros((1, *data.shape[1:]), dtype=data.dtype)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            answer = method(row)
    except Exception:
        return method(data)  # scikit-learn's own error for 0 samples
    if hasattr(answer, "iloc"):
        return answer.iloc[:0]
    if isinstance(answer, list):
        return []
    return answer[:0]


def _blank(dtype: Any) -> Any:
    kind = getattr(dtype, "kind", "O")
    if kind in "OSU" or str(dtype) in ("string", "str"):
        return ""
    if kind == "b":
        return False
    return 0  # numbers, and the epoch for datetimes
