"""Predicting with a loaded model, and the params each kind of model understands.

- A Booster predicts on a ``DMatrix`` built from the input; the param
  ``output_margin`` (boolean, default ``False``) returns the untransformed
  margin instead of, say, probabilities.
- A scikit-learn-interface classifier calls the method the param
  ``predict_fn`` names: ``predict`` (labels) or ``predict_proba``; its
  default is the ``predict_fn`` chosen at save time.
- Other scikit-learn-interface models (regressors, rankers) call ``predict``
  and take no params.
"""

from __future__ import annotations

from typing import Any

from flavorkit.exceptions import SchemaEnforcementError, SignatureError

from flavorkit_xgboost import _classes

PREDICT = "predict"
PREDICT_PROBA = "predict_proba"


def offered(model: Any) -> tuple[str, ...]:
    """The method names ``predict_fn`` may choose for ``model`` (none for a Booster)."""
    if _classes.is_booster(model):
        return ()
    return (PREDICT, PREDICT_PROBA) if hasattr(model, PREDICT_PROBA) else (PREDICT,)


def check_at_save(model: Any, predict_fn: Any) -> str | None:
    """The ``predict_fn`` to record for ``model``: ``None`` for a Booster.

    Called by the persist hook, so a wrong choice fails at save time instead
    of at the first prediction. Raises ``SignatureError`` naming the choices.
    """
    methods = offered(model)
    if not methods:
        if predict_fn is not None:
            raise SignatureError(
                f"predict_fn: a Booster has one predict method, so expected no predict_fn, "
                f"got {predict_fn!r} (the output_margin param chooses margins instead)"
            )
        return None
    chosen = PREDICT if predict_fn is None else predict_fn
    if chosen not in methods:
        raise SignatureError(
            f"predict_fn: expected one of {', '.join(methods)} for "
            f"{type(model).__name__}, got {chosen!r}"
        )
    return str(chosen)


def param_specs(model: Any, predict_fn: str | None) -> list[Any]:
    """The params the model's predictions understand, as the persist hook declares them."""
    from flavorkit import ParamSpec

    if _classes.is_booster(model):
        return [ParamSpec("output_margin", "boolean", False)]
    if len(offered(model)) > 1:
        return [ParamSpec("predict_fn", "string", predict_fn or PREDICT)]
    return []


def predict(model: Any, data: Any, params: dict[str, Any], pyfunc_conf: dict[str, Any]) -> Any:
    """The predictions of ``model`` on ``data`` (as the core enforced it).

    ``params`` hold the signature's defaults for what the caller left out.
    A folder MLflow wrote declares no params; a classifier's method then
    comes from ``pyfunc_conf`` (``predict_fn``), else ``predict``. Raises
    ``SchemaEnforcementError`` (field ``predict_fn``) for a method the model
    does not offer.
    """
    import xgboost

    if isinstance(model, xgboost.Booster):
        margin = bool(params.get("output_margin", False))
        return model.predict(xgboost.DMatrix(data), output_margin=margin)
    name = params.get("predict_fn") or pyfunc_conf.get("predict_fn") or PREDICT
    methods = offered(model)
    if name not in methods:
        raise SchemaEnforcementError(
            f"param 'predict_fn': expected one of {', '.join(methods)} for "
            f"{type(model).__name__}, got {name!r}",
            field="predict_fn",
            expected=list(methods),
            actual=name,
        )
    return getattr(model, name)(data)
