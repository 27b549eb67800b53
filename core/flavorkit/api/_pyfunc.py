"""``PyFuncModel``: the one predict contract every flavor is loaded behind."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

# no numpy or pandas at import time: they load when enforcement first needs them
from flavorkit.enforce import enforce_params, enforce_schema
from flavorkit.exceptions import SchemaWarning

if TYPE_CHECKING:
    from flavorkit.api._plugins import Registry
    from flavorkit.folder._manifest import Model
    from flavorkit.signature import ModelSignature


class PyFuncModel:
    """A loaded model: ``predict(data, params=None)`` whatever framework made it.

    Built by ``flavorkit.load_model``. Every call enforces the input schema
    and the params schema of the signature (one implementation for every
    flavor), then hands the data to the plugin that owns ``flavor``.
    """

    def __init__(
        self,
        metadata: Model,
        path: Path,
        flavor: str,
        native: Any,
        registry: Registry,
    ) -> None:
        self.metadata = metadata
        self.path = path
        self.flavor = flavor
        self._native = native
        self._conf = metadata.flavors[flavor]
        self._pyfunc_conf = metadata.flavors.get("python_function") or {}
        self._registry = registry
        self._predict = registry.predictor(flavor)
        signature = metadata.signature
        self._inputs = signature.inputs if signature is not None else None
        self._params = signature.params if signature is not None else None
        self._example: tuple[Any, Any] | None = None

    @property
    def signature(self) -> ModelSignature | None:
        """The model's signature, or ``None`` when it was saved without one."""
        return self.metadata.signature

    @property
    def input_example(self) -> Any:
        """The saved input example (typed by the signature), or ``None``."""
        return self._read_example()[0]

    @property
    def input_example_params(self) -> dict[str, Any] | None:
        """The params saved with the input example, or ``None``."""
        return self._read_example()[1]

    def _read_example(self) -> tuple[Any, Any]:
        if self._example is None:
            info = self.metadata.saved_input_example_info
            if not info:
                self._example = (None, None)
            else:
                from flavorkit.io import _example

                self._example = _example.read(self.path, info, self._inputs)
        return self._example

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        """Check ``data`` and ``params`` against the signature, then predict.

        Raises ``SchemaEnforcementError`` (a ``ValueError``) naming the column,
        tensor or param that does not match. Returns what the flavor returns:
        an ndarray, DataFrame, Series, list or dict of arrays.
        """
        if self._inputs is not None:
            data = enforce_schema(data, self._inputs)
        if self._params is not None:
            params = enforce_params(params, self._params)
        elif params:
            warnings.warn(
                f"model {self.path} declares no params; ignoring {sorted(params)}",
                SchemaWarning,
                stacklevel=2,
            )
            params = {}
        return self.predict_unchecked(data, params or {})

    def predict_unchecked(self, data: Any, params: dict[str, Any]) -> Any:
        """Hand ``data`` straight to the flavor's predict hook, skipping enforcement.

        For callers that already enforced the signature (MLflow's loader,
        the scoring server's micro-batches).
        """
        return self._predict(
            flavor=self.flavor,
            model=self._native,
            data=data,
            params=params,
            conf=self._conf,
            pyfunc_conf=self._pyfunc_conf,
        )

    def unwrap(self) -> Any:
        """The framework's own model object, as the flavor's plugin loaded it."""
        return self._registry.native(self.flavor, self._native)

    def __repr__(self) -> str:
        return f"PyFuncModel(path={str(self.path)!r}, flavor={self.flavor!r})"
