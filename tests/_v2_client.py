"""One Open Inference Protocol (V2) client for every server the tests start.

The same ``tritonclient.http`` code talks to ``flavorkit serve`` (its ``/v2``
endpoints) and to a real ``tritonserver`` serving flavorkit's exported
repository; only the URL differs. Inputs and outputs are numpy arrays keyed
by tensor name.

Naming, as both servers follow it (MLServer's MLflow runtime names them the same way):

- inputs: a column signature's column names (unnamed columns ``input-0``,
  ``input-1``, ...), each a tensor of shape ``[N, 1]``; a tensor signature's
  tensor names (an unnamed tensor: ``input-0``) with the tensor's shape;
- outputs: the output schema's names; a single unnamed output (or a model with
  no output schema that returns one array) is ``output-0``; a DataFrame or a
  dict the model returns gives one output per column or key. A 1-D prediction
  comes back with shape ``[N, 1]``.

Strings travel as ``BYTES`` (numpy ``object`` arrays of ``str``). Input data
goes as JSON unless ``binary=True`` (Triton's binary tensor extension). Asked
for no outputs by name, tritonclient asks for every output as binary data
(``binary_data_output``), as both servers then answer: ``BYTES`` outputs come
back as ``bytes``; named ``outputs`` come back as JSON (``str``).
``tritonclient`` is imported inside the functions.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def client(url: str) -> Any:
    """A ``tritonclient.http.InferenceServerClient`` for ``http://host:port`` (or ``host:port``)."""
    import tritonclient.http as httpclient

    host = url.split("://", 1)[-1].rstrip("/")
    return httpclient.InferenceServerClient(url=host, connection_timeout=30.0, network_timeout=60.0)


def _wire(array: np.ndarray) -> np.ndarray:
    """Text arrays (``<U``) as object arrays: ``BYTES`` in tritonclient's terms."""
    if array.dtype.kind in "US":
        return array.astype(object)
    return array


def infer(
    url: str,
    model_name: str,
    inputs: dict[str, np.ndarray],
    params: dict[str, Any] | None = None,
    *,
    version: str = "",
    outputs: list[str] | None = None,
    request_id: str = "",
    binary: bool = False,
) -> dict[str, np.ndarray]:
    """Run one V2 inference; returns every output (or the ``outputs`` asked for) by name.

    ``params`` become the request's ``parameters`` (the model's params; a
    ``content_type`` key sets the request's content type). Raises
    ``tritonclient.utils.InferenceServerException`` (``.status()`` is the HTTP
    status, ``.message()`` the server's ``error`` text) when the server refuses.
    """
    import tritonclient.http as httpclient
    from tritonclient.utils import np_to_triton_dtype

    tensors = []
    for name, value in inputs.items():
        array = _wire(np.asarray(value))
        tensor = httpclient.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
        tensor.set_data_from_numpy(array, binary_data=binary)
        tensors.append(tensor)
    requested = (
        [httpclient.InferRequestedOutput(n, binary_data=binary) for n in outputs]
        if outputs is not None
        else None
    )
    with client(url) as conn:
        result = conn.infer(
            model_name,
            tensors,
            model_version=version,
            outputs=requested,
            request_id=request_id,
            parameters=params or None,
        )
        response = result.get_response()
        return {out["name"]: result.as_numpy(out["name"]) for out in response["outputs"]}


def infer_response(
    url: str,
    model_name: str,
    inputs: dict[str, np.ndarray],
    params: dict[str, Any] | None = None,
    *,
    outputs: list[str],
    version: str = "",
    request_id: str = "",
) -> dict[str, Any]:
    """The whole V2 JSON response of one inference (``model_name``, ``id``, ``outputs`` ...).

    ``outputs`` are asked for as JSON data, so the response holds their ``data``.
    """
    import tritonclient.http as httpclient
    from tritonclient.utils import np_to_triton_dtype

    tensors = []
    for name, value in inputs.items():
        array = _wire(np.asarray(value))
        tensor = httpclient.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
        tensor.set_data_from_numpy(array, binary_data=False)
        tensors.append(tensor)
    with client(url) as conn:
        result = conn.infer(
            model_name,
            tensors,
            model_version=version,
            request_id=request_id,
            parameters=params or None,
            outputs=[httpclient.InferRequestedOutput(n, binary_data=False) for n in outputs],
        )
        return dict(result.get_response())


def model_metadata(url: str, model_name: str, version: str = "") -> dict[str, Any]:
    """``GET /v2/models/{name}[/versions/{v}]``: name, versions, platform, inputs, outputs."""
    with client(url) as conn:
        return dict(conn.get_model_metadata(model_name, model_version=version))


def server_metadata(url: str) -> dict[str, Any]:
    """``GET /v2``: the server's name, version and extensions."""
    with client(url) as conn:
        return dict(conn.get_server_metadata())


def is_live(url: str) -> bool:
    """``GET /v2/health/live`` answered 200."""
    with client(url) as conn:
        return bool(conn.is_server_live())


def is_ready(url: str, model_name: str | None = None, version: str = "") -> bool:
    """``GET /v2/health/ready``, or ``/v2/models/{name}[/versions/{v}]/ready`` with a name."""
    with client(url) as conn:
        if model_name is None:
            return bool(conn.is_server_ready())
        return bool(conn.is_model_ready(model_name, model_version=version))


def frame_inputs(frame: Any) -> dict[str, np.ndarray]:
    """A DataFrame as V2 inputs: one ``[N, 1]`` tensor per column (text as ``BYTES``)."""
    out = {}
    for name in frame.columns:
        column = frame[name]
        kind = column.dtype.kind if isinstance(column.dtype, np.dtype) else "O"
        values = column.to_numpy(dtype=object if kind in "OUS" else None)
        out[str(name)] = values.reshape(-1, 1)
    return out
