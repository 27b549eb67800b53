"""The signature a saved Triton model gets when the caller gives none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flavorkit_triton._config import CONFIG_FILE, read, type_name
from flavorkit_triton._datatypes import NUMPY_OF


def signature_of(folder: Path) -> Any:
    """The signature of the Triton model folder ``folder``, or ``None``.

    A Python-backend folder flavorkit exported has the signature of the
    model inside; otherwise every input and output of ``config.pbtxt``
    becomes a named tensor of shape ``(-1, *dims)`` (the batch dimension
    first when ``max_batch_size > 0``; ``reshape`` is what the model sees).
    ``None`` when the config has a type without a numpy equivalent or no
    inputs, or when it cannot be read or its dims make no signature: saving
    then reports the folder's problems (``flavorkit validate``'s) instead.
    """
    import flavorkit

    from flavorkit_triton._flavor import _inner_folder

    inner = _inner_folder(folder)
    if inner is not None:
        return flavorkit.Model.load(inner).signature
    try:
        config = read(folder / CONFIG_FILE)
    except ValueError:
        return None
    if not config.input:
        return None
    schemas = []
    for tensors in (config.input, config.output):
        specs = []
        for tensor in tensors:
            dtype = NUMPY_OF.get(type_name(tensor.data_type))
            if dtype is None:
                return None
            dims = list(tensor.reshape.shape) if tensor.HasField("reshape") else list(tensor.dims)
            shape = [-1, *dims] if config.max_batch_size > 0 else dims
            try:
                specs.append(flavorkit.TensorSpec(dtype, shape, tensor.name))
            except ValueError:  # SignatureError: dims Triton refuses too (validate names them)
                return None
        schemas.append(flavorkit.Schema(specs) if specs else None)
    return flavorkit.ModelSignature(schemas[0], schemas[1])
