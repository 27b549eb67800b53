"""A Triton Python-backend model written by ``flavorkit export triton``.

The exporter copies this file as ``<repo>/<name>/<version>/model.py`` next to
``model/`` (the flavorkit model folder) and ``flavorkit_backend.json`` (the
plan: which environment to use, and how each Triton tensor maps onto the
model's signature). It is never imported by flavorkit itself.

Triton's Python-backend stub runs its own interpreter and does not inherit
``PYTHONPATH``: before importing numpy or flavorkit, this module checks that
the stub's Python matches the recorded environment and puts that
environment's ``site-packages`` folders first on ``sys.path``.

Each request is predicted through ``flavorkit.load_model(...).predict``: the
signature is enforced, the request's ``parameters`` are the model's params,
and every request gets its own response (an error response when its input
is refused). Requests Triton batched together with the same params are
predicted in one call when they all succeed together.
"""

from __future__ import annotations

import json
import site
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PLAN_FILE = "flavorkit_backend.json"
# request parameters that belong to the protocol, not to the model (as on flavorkit serve)
RESERVED_PARAMS = frozenset(
    {
        "content_type",
        "headers",
        "binary_data_output",
        "sequence_id",
        "sequence_start",
        "sequence_end",
        "priority",
        "timeout",
    }
)


def _read_plan() -> dict[str, Any]:
    return json.loads((HERE / PLAN_FILE).read_text(encoding="utf-8"))


def _use_environment(environment: dict[str, Any]) -> None:
    """Put the recorded environment's site-packages first on ``sys.path``."""
    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    if environment["python"] != running:
        raise RuntimeError(
            f"{HERE / PLAN_FILE} names a Python {environment['python']} environment, but "
            f"Triton's Python backend stub runs Python {running}: put the stub built for "
            f"Python {environment['python']} into backends/python/, or export again with "
            f"--python-env naming a Python {running} environment"
        )
    missing = [d for d in environment["site_dirs"] if not Path(d).is_dir()]
    if missing:
        raise RuntimeError(
            f"{HERE / PLAN_FILE} names site-packages folders that do not exist on this "
            f"machine: {', '.join(missing)}; export again with --python-env"
        )
    before = list(sys.path)
    for folder in environment["site_dirs"]:
        site.addsitedir(folder)  # also runs its .pth files: editable installs work
    added = [p for p in sys.path if p not in before]
    sys.path[:] = added + before


PLAN = _read_plan()
_use_environment(PLAN["environment"])

import numpy as np  # noqa: E402  (only once the environment is on sys.path)
import triton_python_backend_utils as pb_utils  # noqa: E402


class BadRequest(ValueError):
    """A request this model cannot read (answered as invalid input)."""


class TritonPythonModel:
    """The model Triton's Python backend instantiates once per model instance."""

    def initialize(self, args: dict[str, Any]) -> None:
        import flavorkit

        self.model = flavorkit.load_model(
            str(HERE / PLAN["model"]), allow_unsafe=bool(PLAN["allow_unsafe"])
        )
        self.inputs = PLAN["inputs"]
        self.outputs = PLAN["outputs"]

    def execute(self, requests: list[Any]) -> list[Any]:
        decoded: list[Any] = []
        for request in requests:
            try:
                decoded.append(self._decode(request))
            except Exception as exc:
                decoded.append(exc)
        responses: list[Any] = [None] * len(requests)
        for indices in _groups(decoded):
            if len(indices) > 1 and self._predict_joined(decoded, indices, responses):
                continue
            for i in indices:
                responses[i] = self._respond(decoded[i])
        return responses

    # -- one request ---------------------------------------------------------------

    def _decode(self, request: Any) -> tuple[Any, dict[str, Any], int]:
        """``(model input, params, rows)`` of one request."""
        arrays = {}
        for spec in self.inputs:
            tensor = pb_utils.get_input_tensor_by_name(request, spec["name"])
            if tensor is None:
                raise BadRequest(f"input {spec['name']!r} is missing")
            try:
                arrays[spec["name"]] = _from_wire(tensor.as_numpy(), spec)
            except UnicodeDecodeError as exc:
                raise BadRequest(f"input {spec['name']!r} is not UTF-8 text: {exc}") from None
        rows = len(next(iter(arrays.values()))) if arrays else 0
        raw = request.parameters()
        params = json.loads(raw) if raw else {}
        params = {
            k: v
            for k, v in params.items()
            if k not in RESERVED_PARAMS and not k.startswith("triton_")
        }
        return self._model_input(arrays), params, rows

    def _model_input(self, arrays: dict[str, Any]) -> Any:
        kind = PLAN["input_kind"]
        if kind == "frame":
            import pandas as pd

            return pd.DataFrame(
                {_key(spec): arrays[spec["name"]] for spec in self.inputs}, copy=False
            )
        if kind == "array":
            return arrays[self.inputs[0]["name"]]
        return {spec["key"]: arrays[spec["name"]] for spec in self.inputs}

    def _respond(self, item: Any) -> Any:
        if isinstance(item, Exception):
            return _error(item)
        data, params, rows = item
        try:
            outputs = self._outputs(self.model.predict(data, params=params or None), rows)
        except Exception as exc:
            return _error(exc)
        return pb_utils.InferenceResponse(
            output_tensors=[pb_utils.Tensor(name, array) for name, array in outputs.items()]
        )

    # -- requests Triton batched ------------------------------------------------------

    def _predict_joined(self, decoded: list[Any], indices: list[int], responses: list[Any]) -> bool:
        """Predict ``indices`` in one call; False (nothing answered) when that fails."""
        parts = [decoded[i] for i in indices]
        try:
            joined = _join([p[0] for p in parts])
            total = sum(p[2] for p in parts)
            outputs = self._outputs(self.model.predict(joined, params=parts[0][1] or None), total)
        except Exception:
            return False  # answer one by one, so that only the bad request fails
        start = 0
        for i, (_, _, rows) in zip(indices, parts, strict=True):
            responses[i] = pb_utils.InferenceResponse(
                output_tensors=[
                    pb_utils.Tensor(name, array[start : start + rows])
                    for name, array in outputs.items()
                ]
            )
            start += rows
        return True

    # -- predictions -> tensors -----------------------------------------------------

    def _outputs(self, prediction: Any, rows: int) -> dict[str, Any]:
        out = {}
        for spec in self.outputs:
            array = _to_wire(_pick(prediction, spec, len(self.outputs)), spec)
            if array.shape[0] != rows:
                raise ValueError(
                    f"output {spec['name']!r}: the model returned {array.shape[0]} rows "
                    f"for {rows} input rows"
                )
            out[spec["name"]] = array
        return out


def _key(spec: dict[str, Any]) -> Any:
    return spec["key"] if spec["key"] is not None else spec["position"]


def _from_wire(array: Any, spec: dict[str, Any]) -> Any:
    """A tensor as the model reads it: text decoded, the wire's trailing 1 dropped."""
    if spec["text"] == "str":
        flat = [v.decode("utf-8") if isinstance(v, bytes) else v for v in array.ravel()]
        array = np.array(flat, dtype=object).reshape(array.shape)
    if spec["squeeze"] and array.ndim >= 2 and array.shape[-1] == 1:
        array = array.reshape(array.shape[:-1])
    return array


def _pick(prediction: Any, spec: dict[str, Any], count: int) -> Any:
    """The part of ``prediction`` that is output ``spec`` (one of ``count``)."""
    key, position = spec["key"], spec["position"]
    if hasattr(prediction, "iloc") and hasattr(prediction, "columns"):  # a DataFrame
        if key is not None and key in prediction.columns:
            return prediction[key].to_numpy()
        return prediction.to_numpy() if count == 1 else prediction.iloc[:, position].to_numpy()
    if isinstance(prediction, dict):
        if key is not None and key in prediction:
            return prediction[key]
        values = list(prediction.values())
        return values[0] if count == 1 and len(values) == 1 else values[position]
    array = np.asarray(prediction)
    return array if count == 1 else array[:, position]


def _to_wire(value: Any, spec: dict[str, Any]) -> Any:
    array = np.asarray(value)
    if spec["dtype"] == "object":
        flat = [v if isinstance(v, bytes) else str(v) for v in array.ravel()]
        array = np.array(flat, dtype=object).reshape(array.shape)
    else:
        array = array.astype(spec["dtype"], copy=False)
    if spec["squeeze"] or array.ndim == 1:
        array = array.reshape(-1, 1)
    return np.ascontiguousarray(array)


def _groups(decoded: list[Any]) -> list[list[int]]:
    """Indices of the decoded requests that can be predicted together (same params)."""
    groups: dict[str, list[int]] = {}
    for i, item in enumerate(decoded):
        key = f"error-{i}" if isinstance(item, Exception) else json.dumps(item[1], sort_keys=True)
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def _join(inputs: list[Any]) -> Any:
    first = inputs[0]
    if hasattr(first, "iloc"):
        import pandas as pd

        return pd.concat(inputs, ignore_index=True)
    if isinstance(first, dict):
        return {k: np.concatenate([part[k] for part in inputs]) for k in first}
    return np.concatenate(inputs)


def _error(exc: Exception) -> Any:
    """An error response: input the signature or the model refuses is INVALID_ARG."""
    from flavorkit.exceptions import PayloadError, SchemaEnforcementError

    code = None
    if isinstance(exc, (BadRequest, PayloadError, SchemaEnforcementError)):
        code = getattr(pb_utils.TritonError, "INVALID_ARG", None)
    message = f"{type(exc).__name__}: {exc}"
    error = pb_utils.TritonError(message) if code is None else pb_utils.TritonError(message, code)
    return pb_utils.InferenceResponse(output_tensors=[], error=error)
