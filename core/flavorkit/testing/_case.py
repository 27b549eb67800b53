"""``FlavorCase`` and ``Tags``: what the conformance kit needs to know about one flavor.

A case names a flavor, builds one model of it, gives an example input and
declares the model's capabilities as tags. The tags choose which checks
apply; everything else the checks learn from the model folder that
``flavorkit.save_model`` writes for the case.

A case never travels to another process: the checks that need a fresh
interpreter save the model in this one and hand the subprocess only the
folder's path.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# the modules the project's rule keeps out of every plugin's import, whatever its framework
ALWAYS_LIGHT = ("numpy", "pandas")


@dataclass(frozen=True)
class Tags:
    """The capabilities a case declares; each one turns checks on or off.

    - ``deterministic``: the same input always gives the same output, on one
      loaded model and across loads. Off: values are not compared, only
      kinds, names, dtypes and shapes, and ``check_predict_deterministic``
      does not apply.
    - ``batchable``: rows are predicted independently, so slicing,
      reordering or concatenating input rows does the same to the
      predictions. Off: only row counts are checked, and
      ``check_concatenation`` does not apply.
    - ``safe_default_format``: the folder written with the case's
      ``save_options`` loads without the unsafe opt-in. Off (a flavor with no
      safe format): ``check_default_format_is_safe`` does not apply.
    - ``supports_params``: ``True`` means the saved signature must declare
      params; ``None`` checks params when the saved signature declares some
      and skips otherwise; ``False`` turns ``check_params_validated_and_defaulted``
      off.
    - ``exact_dtype``: predictions keep their dtype through save and load and
      across input forms. Off: only values are compared.
    - ``subprocess``: the checks that start a fresh interpreter apply (off
      where the platform cannot start one; ``check_folder_relocatable`` too).
    - ``thread_safe``: threads may share one loaded model. Off:
      ``check_concurrent_predictions`` does not apply.
    """

    deterministic: bool = True
    batchable: bool = True
    safe_default_format: bool = True
    supports_params: bool | None = None
    exact_dtype: bool = True
    subprocess: bool = True
    thread_safe: bool = True


def _default_predict(model: Any, data: Any, params: Mapping[str, Any] | None) -> Any:
    """Predict with the original object: ``model.predict(data[, params=...])``.

    A ``flavorkit.PythonModel`` gets an empty context (and ``load_context``
    is not called); anything else needs a ``predict`` method.
    """
    from flavorkit.custom._plugin import PythonModel, PythonModelContext

    predict = getattr(model, "predict", None)
    if predict is None:
        raise TypeError(
            f"{type(model).__qualname__} has no predict method; give the case a predict_original"
        )
    accepted = inspect.signature(predict).parameters
    kwargs = {"params": dict(params)} if params and "params" in accepted else {}
    if isinstance(model, PythonModel):
        positional = [
            p
            for p in accepted.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "params"
        ]
        if len(positional) >= 2:
            return predict(PythonModelContext(), data, **kwargs)
    return predict(data, **kwargs)


@dataclass(frozen=True, eq=False)
class FlavorCase:
    """One model of one flavor, described for the conformance kit.

    - ``name``: the case's id in test names and results (``-k`` selects on it).
    - ``flavor``: the ``MLmodel`` section the plugin writes (``"sklearn"``).
    - ``model_factory``: builds the model (fitted, ready to save); called
      once per process and case.
    - ``example``: an input example as ``save_model`` takes it, or a
      ``(data, params)`` pair, or a zero-argument callable returning either.
      Give a few distinct rows: the row checks slice and reorder them.
    - ``plugin_module``: the module holding the hook functions (the value of
      the plugin's entry point).
    - ``framework_module``: the framework's top-level module name(s); the
      environment check expects their distributions pinned and the import
      check expects them unimported. ``None`` for a flavor without one.
    - ``tags``: the capabilities, see :class:`Tags`.
    - ``save_options``: extra keyword arguments for ``save_model``; give what
      a user passes by default (the format check loads what they produce).
    - ``params``: valid, non-default predict params that change the
      predictions on the example; the params check proves they reach the model.
    - ``tolerance``: ``rtol`` (a float, used for ``atol`` too) or
      ``(rtol, atol)`` for comparing predictions.
    - ``signature``: passed to ``save_model``; by default the core infers it
      from the example.
    - ``predict_original``: ``(model, data, params) -> predictions`` on the
      object ``model_factory`` built, in the form the loaded model returns;
      by default ``model.predict(data)``.
    - ``untrusted_save_options``: options (merged over ``save_options``)
      that save a folder needing the unsafe opt-in; the trust check edits
      that folder's ``MLmodel`` and expects it to stay refused. ``None``
      turns that check off.
    - ``manifest_trust``: extra keys the trust check writes into every
      flavor section (e.g. the flavor's own trust-list key with the types the
      folder needs).
    - ``plugin_name``: the entry-point name; by default that of the
      installed entry point pointing at ``plugin_module``, else the flavor.
    - ``native_type``: the type(s) ``load_native`` returns when the framework
      gives back another type than the saved model's by design (e.g. an
      exported program); by default ``type(model_factory())``.
    - ``extra_files``: glob patterns (relative to the folder, ``/``
      separated) of files the flavor writes without naming them in its
      ``MLmodel`` section; ``check_folder_contents`` accepts them.
    """

    name: str
    flavor: str
    model_factory: Callable[[], Any]
    example: Any
    plugin_module: str
    framework_module: str | Sequence[str] | None = None
    tags: Tags = field(default_factory=Tags)
    save_options: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] | None = None
    tolerance: float | tuple[float, float] = 1e-6
    signature: Any = None
    predict_original: Callable[[Any, Any, Mapping[str, Any] | None], Any] | None = None
    untrusted_save_options: Mapping[str, Any] | None = None
    manifest_trust: Mapping[str, Any] = field(default_factory=dict)
    plugin_name: str | None = None
    native_type: type | tuple[type, ...] | None = None
    extra_files: Sequence[str] = ()
    # built once per process: the model, the example (kept out of repr and comparisons)
    _memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ValueError(f"FlavorCase.name must be a non-empty string, got {self.name!r}")
        if not callable(self.model_factory):
            raise TypeError(f"FlavorCase {self.name!r}: model_factory must be callable")
        if isinstance(self.tolerance, tuple) and len(self.tolerance) != 2:
            raise ValueError(f"FlavorCase {self.name!r}: tolerance must be a float or (rtol, atol)")

    # -- derived facts -----------------------------------------------------
    @property
    def framework_modules(self) -> tuple[str, ...]:
        """The framework's top-level module names (empty when there is none)."""
        if self.framework_module is None:
            return ()
        names = (
            [self.framework_module]
            if isinstance(self.framework_module, str)
            else self.framework_module
        )
        return tuple(n.split(".", 1)[0] for n in names)

    @property
    def rtol(self) -> float:
        """Relative tolerance for comparing predictions."""
        return float(self.tolerance[0] if isinstance(self.tolerance, tuple) else self.tolerance)

    @property
    def atol(self) -> float:
        """Absolute tolerance for comparing predictions."""
        return float(self.tolerance[1] if isinstance(self.tolerance, tuple) else self.tolerance)

    # -- what the checks use -------------------------------------------------
    def model(self) -> Any:
        """The model ``model_factory`` built (built on first call, then reused)."""
        if "model" not in self._memo:
            self._memo["model"] = self.model_factory()
        return self._memo["model"]

    def input_example(self) -> Any:
        """The example exactly as ``save_model`` receives it (``data`` or ``(data, params)``)."""
        if "example" not in self._memo:
            example = self.example() if callable(self.example) else self.example
            self._memo["example"] = example
        return self._memo["example"]

    def example_data(self) -> Any:
        """The example's data, normalized as the core does (tensors become ndarrays).

        Returns a fresh copy on every call, so a check cannot change what the next one sees.
        """
        import copy

        from flavorkit.io._example import normalize

        data, _ = normalize(self.input_example())
        return copy.deepcopy(data)

    def example_params(self) -> dict[str, Any] | None:
        """The params given with the example, or ``None``."""
        from flavorkit.io._example import normalize

        _, params = normalize(self.input_example())
        return dict(params) if params is not None else None

    def predict_with_original(self, data: Any, params: Mapping[str, Any] | None) -> Any:
        """Predictions of the original object (through ``predict_original`` or ``.predict``)."""
        predict = self.predict_original or _default_predict
        return predict(self.model(), data, params)

    def save_kwargs(self, **overrides: Any) -> dict[str, Any]:
        """The keyword arguments the checks pass to ``flavorkit.save_model``."""
        import copy

        # a copy: a flavor that changes the example in place must not change the case's
        example = copy.deepcopy(self.input_example())
        kwargs: dict[str, Any] = {"input_example": example, **dict(self.save_options)}
        if self.signature is not None:
            kwargs["signature"] = self.signature
        kwargs.update(overrides)
        return kwargs

    def __repr__(self) -> str:
        plugin = self.plugin_module
        return f"FlavorCase({self.name!r}, flavor={self.flavor!r}, plugin_module={plugin!r})"


# tracebacks and reprs name the import path users write
Tags.__module__ = "flavorkit.testing"
FlavorCase.__module__ = "flavorkit.testing"
