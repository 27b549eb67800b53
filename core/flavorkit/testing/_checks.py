"""The conformance checks of the predict contract: what a loaded model does with data.

Each ``check_<property>(case)`` states its property in the first line of
its docstring, raises :class:`~flavorkit.testing.FlavorCheckError` (an
``AssertionError``) naming the property and what was seen, and
:class:`~flavorkit.testing.SkipCheck` when the case gives it nothing to test.
Checks built on hypothesis take ``max_examples``.

The checks share one saved folder per case (see ``_support.saved_model``)
and load it with the unsafe opt-in, so each one tests its own property;
the format and trust checks in ``_checks_packaging`` load without it.
"""

from __future__ import annotations

import warnings
import weakref
from typing import Any

from flavorkit.testing._case import FlavorCase
from flavorkit.testing._checks_folder import fresh_process_run
from flavorkit.testing._support import (
    Verdict,
    describe_error,
    loaded_model,
    run_property,
    saved_model,
    tail,
)
from flavorkit.testing._values import (
    Flat,
    compare,
    concat_flats,
    concat_rows,
    decode,
    describe,
    differs,
    flatten,
    input_forms,
    n_rows,
    take_rows,
)

# per check run: the predictions kept for later comparison, with a copy of each as first seen
_kept: weakref.WeakKeyDictionary[Verdict, dict[str, Any]] = weakref.WeakKeyDictionary()


def _predict(
    v: Verdict, model: Any, data: Any, params: Any, what: str, *, keep: bool = False
) -> Flat:
    """Predict and flatten; ``keep`` a result the check compares with later ones.

    After every call the kept results are compared with their copies: one
    that changed was overwritten by a later call (the flavor hands out the
    same buffer each time), which is reported as such rather than as a
    difference in rows or values. Once seen, every later call reports it.
    """
    flat = flatten(v.call(f"predicting on {what}", model.predict, data, params))
    state = _kept.setdefault(v, {"kept": [], "aliased": None})
    if state["aliased"] is None:
        for earlier, held, copy in state["kept"]:
            if compare(copy, held, rtol=0, atol=0) is not None:
                state["aliased"] = (
                    f"the prediction on {earlier} changed after later predict calls (seen after "
                    f"predicting on {what}): predict returns an array it overwrites on a later "
                    "call (the same buffer each time), so a caller's earlier result is silently "
                    "replaced; return a new array on every call"
                )
                break
    if state["aliased"] is not None:
        v.fail(state["aliased"])
    if keep:
        copy = Flat(flat.kind, tuple((name, arr.copy()) for name, arr in flat.columns))
        state["kept"].append((what, flat, copy))
    return flat


def _rows_of_example(v: Verdict, case: FlavorCase) -> tuple[Any, int]:
    data = case.example_data()
    n = n_rows(data)
    if n is None:
        v.skip(f"the example ({describe(data)}) has no rows the kit can slice")
    return data, n


def _index_lists(n: int) -> Any:
    from hypothesis import strategies as st

    return st.lists(st.integers(0, n - 1), min_size=1, max_size=max(8, 2 * n))


def _shown(idx: list[int]) -> str:
    return str(idx) if len(idx) <= 16 else f"{idx[:16]} (+{len(idx) - 16} more)"


def _input_schema(v: Verdict, model: Any) -> Any:
    signature = model.signature
    if signature is None or signature.inputs is None:
        v.fail("the saved model has no input signature, so the core cannot check its input")
    return signature.inputs


# -- the checks --------------------------------------------------------------------


def check_save_load_round_trip(case: FlavorCase) -> None:
    """Save -> load -> predict gives what the original model predicts on the example.

    Compares the kind (ndarray, DataFrame ...), names, shapes, dtypes
    (``exact_dtype``) and, for a deterministic case, the values within the
    case's tolerance. The original predicts through ``predict_original``.
    """
    import flavorkit

    v = Verdict(check_save_load_round_trip, case)
    params = case.example_params()
    expected = flatten(
        v.call(
            "predicting with the original model",
            case.predict_with_original,
            case.example_data(),
            params,
        )
    )
    path = v.call("saving the model", saved_model, case)
    model = v.call(
        "loading the saved folder",
        flavorkit.load_model,
        path,
        allow_unsafe=True,
        suppress_warnings=True,
    )
    actual = _predict(v, model, case.example_data(), params, "the example with the loaded model")
    diff = differs(case, expected, actual)
    if diff:
        v.fail(f"after save and load, {diff}")


def check_load_in_fresh_process(case: FlavorCase) -> None:
    """A saved model loads and predicts the same in a fresh Python process.

    The subprocess discovers the plugin through its entry point (a temporary
    one when the plugin is not installed), loads the folder and predicts on
    the input example saved in it; this process does the same and the two
    predictions are compared. The interpreter is shared with
    ``check_folder_relocatable`` (one per case).
    """
    v = Verdict(check_load_in_fresh_process, case)
    v.call("saving the model", saved_model, case)
    model = v.call("loading the saved folder", loaded_model, case)
    if model.metadata.saved_input_example_info is None:
        v.fail("the saved folder has no input example to predict on")
    expected = _predict(
        v, model, model.input_example, model.input_example_params, "the folder's input example"
    )
    run = v.call("running the fresh process", fresh_process_run, case)
    part = run.original or {}
    if part.get("stage") != "done":
        error = part.get("error") or f"exited with status {run.returncode}"
        stage = {"load": "loading the folder", "predict": "predicting"}.get(
            part.get("stage", ""), "the fresh process"
        )
        v.fail(f"in the fresh process, {stage} failed: {error}\n{tail(run.stderr)}")
    actual = decode(part["prediction"])
    diff = differs(case, expected, actual)
    if diff:
        v.fail(f"in a fresh process, {diff}")


def check_infer_then_enforce(case: FlavorCase, *, max_examples: int | None = None) -> None:
    """Enforcement accepts the example the signature was inferred from, and data generated from it.

    Infers a signature from the example and enforces it on that example;
    enforces the saved signature on the example and on data the
    ``data_for_schema`` strategy generates from it; predicts on the input
    example read back from the folder.
    """
    from flavorkit.enforce import enforce_params, enforce_schema
    from flavorkit.exceptions import SchemaEnforcementError
    from flavorkit.signature import infer_signature
    from flavorkit.testing.strategies import data_for_schema

    v = Verdict(check_infer_then_enforce, case)
    data, params = case.example_data(), case.example_params()
    inferred = v.call("inferring a signature from the example", infer_signature, data, None, params)
    try:
        enforce_schema(case.example_data(), inferred.inputs)
        if params:
            enforce_params(params, inferred.params)
    except SchemaEnforcementError as exc:
        v.fail(
            f"enforcing the signature inferred from the example ({describe(data)}) "
            f"rejected it: {exc}"
        )
    model = v.call("loading the saved folder", loaded_model, case)
    schema = _input_schema(v, model)
    try:
        enforce_schema(case.example_data(), schema)
    except SchemaEnforcementError as exc:
        v.fail(f"the saved signature rejects the example the model was saved with: {exc}")
    _predict(
        v, model, model.input_example, model.input_example_params, "the folder's own input example"
    )

    def accepted(generated: Any) -> None:
        try:
            enforce_schema(generated, schema)
        except SchemaEnforcementError as exc:
            v.fail(
                f"the saved signature rejects data generated from it ({describe(generated)}): {exc}"
            )

    run_property(data_for_schema(schema), accepted, max_examples)


def check_input_forms_agree(case: FlavorCase) -> None:
    """Every input form the signature admits gives the same predictions.

    The example's rows are offered as a DataFrame, an ndarray, a dict of
    ndarrays, a list of records and a list of rows; each form the core's
    enforcement accepts without a warning must predict what the example's
    own form predicts.
    """
    from flavorkit.enforce import enforce_schema
    from flavorkit.exceptions import SchemaEnforcementError

    v = Verdict(check_input_forms_agree, case)
    model = v.call("loading the saved folder", loaded_model, case)
    schema = _input_schema(v, model)
    data, params = case.example_data(), case.example_params()
    baseline = _predict(v, model, data, params, f"the example ({describe(data)})", keep=True)
    admitted = {}
    for form, value in input_forms(data).items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                enforce_schema(value, schema)
            except SchemaEnforcementError:
                continue
        if not caught:
            admitted[form] = value
    if len(admitted) < 2:
        v.skip(f"the signature admits only {sorted(admitted) or 'no other'} form(s) of the example")
    for form, value in admitted.items():
        actual = _predict(v, model, value, params, f"the {form} form ({describe(value)})")
        diff = differs(case, baseline, actual)
        if diff:
            v.fail(
                f"the {form} form ({describe(value)}) predicts differently from the "
                f"example itself: {diff}"
            )


def check_row_count_and_order(case: FlavorCase, *, max_examples: int | None = None) -> None:
    """Predictions have one row per input row, in input order.

    Predicts on rows drawn from the example (any order, repeats allowed):
    the row count must match, and for a batchable case each row must be the
    prediction the example gave for that row.
    """
    v = Verdict(check_row_count_and_order, case)
    model = v.call("loading the saved folder", loaded_model, case)
    data, n = _rows_of_example(v, case)
    params = case.example_params()
    baseline = _predict(v, model, data, params, f"the example's {n} rows", keep=True)
    if baseline.rows() != n:
        v.fail(
            f"predicting on the example's {n} rows returned {baseline.rows()} rows "
            f"({baseline.describe()})"
        )

    def rows_kept(idx: list[int]) -> None:
        actual = _predict(v, model, take_rows(data, idx), params, f"example rows {_shown(idx)}")
        if actual.rows() != len(idx):
            v.fail(
                f"predicting on {len(idx)} rows (example rows {_shown(idx)}) "
                f"returned {actual.rows()} rows"
            )
        if case.tags.batchable:
            diff = differs(case, baseline.take(idx), actual)
            if diff:
                v.fail(
                    f"predicting on example rows {_shown(idx)} does not give the example's "
                    f"predictions for those rows in that order: {diff}"
                )

    run_property(_index_lists(n), rows_kept, max_examples)


def check_concatenation(case: FlavorCase, *, max_examples: int | None = None) -> None:
    """Predicting on a concatenation of inputs equals concatenating their predictions."""
    from hypothesis import strategies as st

    v = Verdict(check_concatenation, case)
    model = v.call("loading the saved folder", loaded_model, case)
    data, n = _rows_of_example(v, case)
    params = case.example_params()

    def concatenation_commutes(pair: tuple[list[int], list[int]]) -> None:
        first, second = (take_rows(data, idx) for idx in pair)
        whole = _predict(v, model, concat_rows([first, second]), params, "the concatenated rows")
        parts = [_predict(v, model, part, params, "one part") for part in (first, second)]
        if any(p.rows() is None for p in parts) or whole.rows() is None:
            v.fail("a prediction has no row dimension to concatenate")
        diff = differs(case, concat_flats(parts), whole)
        if diff:
            v.fail(
                f"predicting on example rows {_shown(pair[0])} followed by {_shown(pair[1])} "
                f"differs from concatenating their separate predictions: {diff}"
            )

    run_property(st.tuples(_index_lists(n), _index_lists(n)), concatenation_commutes, max_examples)


def check_single_row(case: FlavorCase) -> None:
    """A batch of one row predicts one row (the example's prediction for it, when batchable)."""
    v = Verdict(check_single_row, case)
    model = v.call("loading the saved folder", loaded_model, case)
    data, n = _rows_of_example(v, case)
    params = case.example_params()
    baseline = _predict(v, model, data, params, "the example", keep=True)
    for i in sorted({0, n - 1}):
        one = take_rows(data, [i])
        actual = _predict(v, model, one, params, f"row {i} alone ({describe(one)})")
        if actual.rows() != 1:
            v.fail(
                f"predicting on row {i} alone returned {actual.rows()} rows ({actual.describe()})"
            )
        if case.tags.batchable:
            diff = differs(case, baseline.take([i]), actual)
            if diff:
                v.fail(
                    f"row {i} predicted alone differs from its prediction within the "
                    f"example: {diff}"
                )


def _names(exc: Any, field: str) -> bool:
    return field in str(getattr(exc, "field", "") or "") or field in str(exc)


def check_mutations_rejected(case: FlavorCase, *, max_examples: int | None = None) -> None:
    """Input that breaks the signature is rejected with SchemaEnforcementError naming the field.

    Draws mutations of the example from the ``mutations`` strategy (a
    missing column, a lossy dtype, a wrong rank or dimension ...); each must
    raise ``SchemaEnforcementError`` naming the broken column or tensor
    before it reaches the model.
    """
    from flavorkit.enforce import enforce_schema
    from flavorkit.exceptions import SchemaEnforcementError
    from flavorkit.testing.strategies import mutations

    v = Verdict(check_mutations_rejected, case)
    model = v.call("loading the saved folder", loaded_model, case)
    schema = _input_schema(v, model)
    params = case.example_params()
    # the example as enforcement hands it on: a DataFrame, an ndarray or a dict of them
    conforming = v.call(
        "enforcing the signature on the example", enforce_schema, case.example_data(), schema
    )

    def rejected(mutation: Any) -> None:
        description, mutated = mutation
        with warnings.catch_warnings():
            # a mutation may also trigger warnings (dropped columns); the error is what counts
            warnings.simplefilter("ignore")
            try:
                model.predict(mutated, params)
            except SchemaEnforcementError as exc:
                if not _names(exc, mutation.field):
                    v.fail(f"the error for {description} does not name {mutation.field!r}: {exc}")
                return
            except Exception as exc:
                v.fail(
                    f"input with {description} raised {describe_error(exc)}, "
                    "not SchemaEnforcementError"
                )
        v.fail(f"input with {description} ({describe(mutated)}) was accepted and predicted on")

    run_property(mutations(schema, conforming), rejected, max_examples)


def check_params_validated_and_defaulted(
    case: FlavorCase, *, max_examples: int | None = None
) -> None:
    """Params are validated against the signature, defaulted when left out, and reach the model.

    Without params the model predicts as with every default given
    explicitly; params generated by ``params_for_schema`` pass enforcement
    with every declared param filled in; wrongly typed values from the
    ``mutations`` strategy are rejected with ``SchemaEnforcementError``
    naming the param; the case's ``params`` change the predictions.
    """
    from flavorkit.enforce import enforce_params
    from flavorkit.exceptions import SchemaEnforcementError
    from flavorkit.testing.strategies import mutations, params_for_schema

    v = Verdict(check_params_validated_and_defaulted, case)
    model = v.call("loading the saved folder", loaded_model, case)
    schema = model.signature.params if model.signature is not None else None
    if schema is None or not len(schema):
        if case.tags.supports_params:
            v.fail("the saved signature declares no params, but the case is tagged supports_params")
        v.skip("the saved signature declares no params")
    defaults = {spec.name: spec.default for spec in schema}
    implicit = _predict(
        v, model, case.example_data(), None, "the example without params", keep=True
    )
    explicit = _predict(
        v, model, case.example_data(), defaults, "the example with the defaults given"
    )
    diff = differs(case, implicit, explicit)
    if diff:
        v.fail(f"leaving params out is not the same as giving their defaults {defaults}: {diff}")

    def valid_params_pass(params: dict[str, Any]) -> None:
        try:
            out = enforce_params(params, schema)
        except SchemaEnforcementError as exc:
            v.fail(f"params generated from the signature ({sorted(params)}) were rejected: {exc}")
        if sorted(out) != sorted(defaults):
            v.fail(
                f"enforced params hold {sorted(out)}, expected every declared param "
                f"{sorted(defaults)}"
            )

    def invalid_params_rejected(mutation: Any) -> None:
        description, params = mutation
        try:
            model.predict(case.example_data(), params)
        except SchemaEnforcementError as exc:
            if not _names(exc, mutation.field):
                v.fail(f"the error for {description} does not name the param: {exc}")
            return
        except Exception as exc:
            v.fail(f"{description} raised {describe_error(exc)}, not SchemaEnforcementError")
        v.fail(f"{description} was accepted")

    run_property(params_for_schema(schema), valid_params_pass, max_examples)
    run_property(mutations(schema, defaults), invalid_params_rejected, max_examples)
    if case.params:
        shown = dict(case.params)
        given = _predict(v, model, case.example_data(), shown, f"the example with params {shown}")
        if differs(case, implicit, given, values=True) is None:
            v.fail(
                f"predictions with params {shown} equal those with the defaults "
                f"{defaults}: the flavor does not pass params to the model"
            )


def check_predict_deterministic(case: FlavorCase) -> None:
    """Predicting twice, or after loading again, gives the same output."""
    import flavorkit

    v = Verdict(check_predict_deterministic, case)
    model = v.call("loading the saved folder", loaded_model, case)
    params = case.example_params()
    first = _predict(v, model, case.example_data(), params, "the example", keep=True)
    second = _predict(v, model, case.example_data(), params, "the example a second time")
    diff = differs(case, first, second, values=True)
    if diff:
        v.fail(f"two predictions on the same input differ: {diff}")
    again = v.call(
        "loading the folder again",
        flavorkit.load_model,
        saved_model(case),
        allow_unsafe=True,
        suppress_warnings=True,
    )
    third = _predict(v, again, case.example_data(), params, "the example after loading again")
    diff = differs(case, first, third, values=True)
    if diff:
        v.fail(f"two loads of the same folder predict differently: {diff}")
