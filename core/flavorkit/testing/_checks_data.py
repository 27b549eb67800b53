"""The conformance checks of the predict contract on data beyond the example's own rows.

The checks in ``_checks`` predict on rows of the saved input example
(sliced, reordered, repeated), always with a 0..n-1 index, at least one
row, on one thread. These go further: the caller's objects stay untouched,
data generated from the signature (values between and beyond the
example's, longer strings) predicts like the original model and conforms
to the output signature, empty batches and odd indexes keep rows in
place, columns bind by name, and threads sharing one loaded model each get
their own answer.

Each failure is a :class:`~flavorkit.testing.FlavorCheckError` naming the
property, the (shrunk) input that broke it and what to change.
"""

from __future__ import annotations

import copy
import random
import sys
import threading
import warnings
from typing import Any

from flavorkit.testing._case import FlavorCase
from flavorkit.testing._support import (
    Verdict,
    describe_error,
    loaded_model,
    run_property,
    scratch_dir,
)
from flavorkit.testing._values import (
    Flat,
    describe,
    differs,
    flatten,
    input_forms,
    n_rows,
    take_rows,
)

# how far beyond the example's range generated numbers reach, in spans of that range
_BEYOND = 10.0
# the rows of one generated batch
_MAX_ROWS = 6
# concurrency: threads, rounds, and the interpreter's switch interval while they run
_THREADS = 8
_ROUNDS = 40
_SWITCH_INTERVAL_S = 1e-5


def _copied(flat: Flat) -> Flat:
    """A prediction that no later call of the flavor can change (it may return shared buffers)."""
    return Flat(flat.kind, tuple((name, arr.copy()) for name, arr in flat.columns))


def _predict(v: Verdict, model: Any, data: Any, params: Any, what: str) -> Flat:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # enforcement's SchemaWarnings are not this check's topic
        return _copied(flatten(v.call(f"predicting on {what}", model.predict, data, params)))


def _input_schema(v: Verdict, model: Any) -> Any:
    signature = model.signature
    if signature is None or signature.inputs is None:
        v.fail("the saved model has no input signature, so the core cannot check its input")
    return signature.inputs


def _admitted_forms(data: Any, schema: Any) -> dict[str, Any]:
    """The forms of ``data`` that enforcement accepts (warnings allowed), the own form first."""
    from flavorkit.enforce import enforce_schema
    from flavorkit.exceptions import SchemaEnforcementError

    forms = {"example": data}
    for form, value in input_forms(data).items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                enforce_schema(value, schema)
            except SchemaEnforcementError:
                continue
        forms[form] = value
    return forms


# -- comparing inputs before and after -------------------------------------------------


def _first_change(before: Any, after: Any, where: str = "") -> str | None:
    """Describe the first way ``after`` differs from ``before`` (a deep copy); ``None`` if equal."""
    import numpy as np
    import pandas as pd

    label = where or "it"
    if type(before) is not type(after):
        return f"{label} became {type(after).__name__} (was {type(before).__name__})"
    if isinstance(before, pd.DataFrame):
        if list(before.columns) != list(after.columns):
            added = [c for c in after.columns if c not in before.columns]
            dropped = [c for c in before.columns if c not in after.columns]
            what = f"columns {list(before.columns)} became {list(after.columns)}"
            if added:
                what += f" (added {added})"
            if dropped:
                what += f" (dropped {dropped})"
            return f"{label}: {what}"
        if not before.index.equals(after.index) or before.index.dtype != after.index.dtype:
            return f"{label}: the index changed"
        for c in before.columns:
            change = _first_change(before[c], after[c], f"{label} column {c!r}")
            if change:
                return change
        return None
    if isinstance(before, pd.Series):
        if before.dtype != after.dtype:
            return f"{label} has dtype {after.dtype}, was {before.dtype}"
        if not before.index.equals(after.index):
            return f"{label}: the index changed"
        return _first_change(before.to_numpy(dtype=object), after.to_numpy(dtype=object), label)
    if isinstance(before, np.ndarray):
        if before.dtype != after.dtype:
            return f"{label} has dtype {after.dtype}, was {before.dtype}"
        if before.shape != after.shape:
            return f"{label} has shape {after.shape}, was {before.shape}"
        same = before.dtype.kind in "biufcmM" and np.array_equal(
            before, after, equal_nan=before.dtype.kind in "fc"
        )
        if not same and not all(
            _cells_equal(x, y) for x, y in zip(before.ravel(), after.ravel(), strict=True)
        ):
            return f"{label}: values changed"
        return None
    if isinstance(before, dict):
        if list(before) != list(after):
            return f"{label}: keys {list(before)} became {list(after)}"
        for k in before:
            change = _first_change(before[k], after[k], f"{label}[{k!r}]")
            if change:
                return change
        return None
    if isinstance(before, (list, tuple)):
        if len(before) != len(after):
            return f"{label} has {len(after)} items, had {len(before)}"
        for i, (x, y) in enumerate(zip(before, after, strict=True)):
            change = _first_change(x, y, f"{label}[{i}]")
            if change:
                return change
        return None
    return None if _cells_equal(before, after) else f"{label} changed"


def _cells_equal(x: Any, y: Any) -> bool:
    import numpy as np
    import pandas as pd

    try:
        if pd.isna(x) and pd.isna(y):
            return True
    except (TypeError, ValueError):
        pass
    try:
        return bool(np.array_equal(np.asarray(x), np.asarray(y)))
    except Exception:
        return bool(x == y)


# -- data generated from the signature and the example --------------------------------


def _numeric_elements(values: Any, dtype: Any) -> Any:
    """Numbers of ``dtype``: the example's, between its extremes and beyond them."""
    import numpy as np
    from hypothesis import strategies as st

    finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    if finite.size == 0:
        return None
    lo, hi = float(finite.min()), float(finite.max())
    span = max(hi - lo, abs(hi), abs(lo), 1.0)
    far_lo, far_hi = lo - _BEYOND * span, hi + _BEYOND * span
    known = st.sampled_from(sorted({v.item() for v in finite.ravel()[:64]}))
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        between = st.integers(int(lo), int(hi))
        beyond = st.integers(max(int(far_lo), int(info.min)), min(int(far_hi), int(info.max)))
        return st.one_of(known, between, beyond)
    width = {2: 16, 4: 32}.get(dtype.itemsize, 64)

    def exact(x: float) -> float:  # hypothesis wants bounds the width represents exactly
        return float(np.asarray(x, dtype=dtype).astype(np.float64))

    lo, hi, far_lo, far_hi = (exact(x) for x in (lo, hi, far_lo, far_hi))
    between = st.floats(lo, hi, width=width)
    beyond = st.floats(far_lo, far_hi, width=width, allow_nan=False, allow_infinity=False)
    return st.one_of(known, between, beyond)


def _string_elements(values: Any) -> Any:
    """Strings: the example's, the example's made longer, and new text longer than any of them."""
    from hypothesis import strategies as st

    seen = sorted({v for v in values if isinstance(v, str)})
    if not seen:
        return None
    longest = max(len(s) for s in seen)
    known = st.sampled_from(seen)
    longer = st.tuples(known, st.text(min_size=1, max_size=longest + 8)).map("".join)
    fresh = st.text(max_size=2 * longest + 8)
    return st.one_of(known, known, longer, fresh)


def _elements_like(values: Any) -> Any:
    """A strategy for values like those of one example column or tensor, or ``None``."""
    import numpy as np
    import pandas as pd

    if isinstance(values, pd.Series):
        if isinstance(values.dtype, pd.StringDtype) or values.dtype == object:
            strategy = _string_elements(list(values))
            return None if strategy is None else ("str", strategy)
        if values.hasnans:
            return None
        values = values.to_numpy()
    if not isinstance(values, np.ndarray):
        return None
    if values.dtype.kind in "iuf":
        strategy = _numeric_elements(values, values.dtype)
        return None if strategy is None else (values.dtype, strategy)
    if values.dtype.kind in "OU":
        flat = [v for v in values.ravel().tolist()]
        if not all(isinstance(v, str) for v in flat):
            return None
        strategy = _string_elements(flat)
        return None if strategy is None else ("str", strategy)
    return None


def _column_like(draw: Any, example_column: Any, n: int) -> Any:
    import numpy as np
    import pandas as pd

    like = _elements_like(example_column)
    if like is None:
        return None
    dtype, elements = like
    from hypothesis import strategies as st

    values = draw(st.lists(elements, min_size=n, max_size=n))
    if dtype == "str":
        if isinstance(example_column.dtype, pd.StringDtype):
            return pd.array(values, dtype=example_column.dtype)
        cells = np.empty(n, dtype=object)
        cells[:] = values
        return cells
    return np.asarray(values, dtype=dtype)


def _generated_like(schema: Any, example: Any) -> Any:
    """Input conforming to ``schema`` whose values are drawn around the example's.

    Column schemas start from ``strategies.data_for_schema`` (layout, and the
    columns the example cannot inform) and replace each column the example
    holds with values like its values; tensor schemas draw arrays with the
    example's inner dimensions.
    """
    import numpy as np
    import pandas as pd
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    from flavorkit.testing.strategies import data_for_schema

    @st.composite
    def frames(draw: Any) -> Any:
        n = draw(st.integers(1, _MAX_ROWS))
        base = draw(data_for_schema(schema, min_rows=n, max_rows=n, nulls=False))
        source = example if isinstance(example, pd.DataFrame) else None
        for label in list(base.columns):
            if source is not None and label in source.columns:
                column = _column_like(draw, source[label], n)
                if column is not None:
                    base[label] = column
        if source is not None and set(base.columns) == set(source.columns):
            # the original model gets the frame as it is: the example's column order
            # (check_columns_bound_by_name tests other orders)
            base = base[list(source.columns)]
        return base

    def tensor(values: Any) -> Any:
        like = _elements_like(values)
        if like is None or values.ndim < 1 or like[0] == "str":
            return None
        dtype, elements = like
        inner = tuple(values.shape[1:])
        return st.integers(1, _MAX_ROWS).flatmap(
            lambda n: hnp.arrays(dtype, (n, *inner), elements=elements)
        )

    if not schema.is_tensor_spec():
        return frames()
    if isinstance(example, np.ndarray):
        strategy = tensor(example)
        return strategy if strategy is not None else data_for_schema(schema)
    if isinstance(example, dict) and all(isinstance(a, np.ndarray) for a in example.values()):
        parts = {k: tensor(a) for k, a in example.items()}
        if all(p is not None for p in parts.values()) and n_rows(example) is not None:
            # one row count for every tensor
            def same_rows(n: int) -> Any:
                return st.fixed_dictionaries(
                    {
                        k: hnp.arrays(
                            _elements_like(a)[0],  # type: ignore[index]
                            (n, *a.shape[1:]),
                            elements=_elements_like(a)[1],  # type: ignore[index]
                        )
                        for k, a in example.items()
                    }
                )

            return st.integers(1, _MAX_ROWS).flatmap(same_rows)
    return data_for_schema(schema)


def _shown(data: Any, limit: int = 400) -> str:
    """The generated input itself (it is small), for the failure message."""
    import numpy as np
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        text = data.to_dict("list").__repr__()
    elif isinstance(data, np.ndarray):
        text = np.array2string(data, threshold=40)
    else:
        text = repr(data)
    text = f"{describe(data)}: {text}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- the output signature ----------------------------------------------------------------

_KINDS = {
    "long": "iu",
    "integer": "iu",
    "boolean": "b",
    "float": "f",
    "double": "f",
    "datetime": "M",
}


def _output_problem(flat: Flat, outputs: Any) -> str | None:
    """How ``flat`` breaks the output schema (scalar columns and tensors), or ``None``."""
    import numpy as np

    from flavorkit.signature import DataType

    if outputs is None:
        return None
    specs = list(outputs.inputs)
    arrays = dict(flat.columns)
    for spec in specs:
        name = "" if spec.name is None else str(spec.name)
        if name in arrays:
            arr = arrays[name]
        elif len(specs) == 1 and len(flat.columns) == 1:
            arr = flat.columns[0][1]
        else:
            continue
        label = f"output {name!r}" if name else "the output"
        if outputs.is_tensor_spec():
            expected = np.dtype(spec.type)
            if arr.dtype != expected and not (
                arr.dtype.kind == expected.kind and arr.dtype.kind in "OUS"
            ):
                return f"{label} has dtype {arr.dtype}; the output signature declares {expected}"
            continue
        if not isinstance(spec.type, DataType):
            continue
        kinds = _KINDS.get(spec.type.name)
        if kinds is not None and arr.dtype.kind not in kinds:
            nan = ""
            if arr.dtype.kind == "f" and np.isnan(arr).any():
                nan = f" with {int(np.isnan(arr).sum())} NaN"
            return (
                f"{label} has dtype {arr.dtype}{nan}; the output signature declares "
                f"{spec.type.name}"
            )
        if spec.type is DataType.string and arr.dtype.kind == "O":
            bad = [x for x in arr.ravel().tolist() if not isinstance(x, str)]
            if bad:
                kind = type(bad[0]).__name__
                return f"{label} holds {kind} values; the output signature declares string"
    return None


# -- the checks --------------------------------------------------------------------


def example_is_frame(case: FlavorCase) -> bool:
    """Whether the case's example is a DataFrame (``check_columns_bound_by_name`` applies)."""
    import pandas as pd

    try:
        return isinstance(case.example_data(), pd.DataFrame)
    except Exception:  # the check reports a broken example itself
        return True


def check_input_untouched(case: FlavorCase) -> None:
    """Predicting and saving leave the caller's data and input example as they were.

    Predicts with the loaded model (the example in each form enforcement
    accepts) and with the original model, and saves the model, each time
    comparing the caller's object with a deep copy taken before: columns,
    dtypes, values and index must be unchanged. Copy before converting,
    casting or adding columns (``data = data.copy()``; ``astype`` returns a
    new frame).
    """
    import flavorkit

    v = Verdict(check_input_untouched, case)
    params = case.example_params()

    def untouched(data: Any, what: str, action: Any) -> None:
        before = copy.deepcopy(data)
        action(data)
        change = _first_change(before, data, "the caller's input")
        if change:
            v.fail(
                f"after {what}, {change} ({describe(before)}); the flavor changed the "
                "caller's object in place: copy it before converting or adding columns"
            )

    # saving first: the shared folder below is saved from the case's example too
    example = copy.deepcopy(case.input_example())
    path = scratch_dir(f"{case.name}-untouched") / "model"

    def save(e: Any) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # what a changed example warns of is seen below
            kwargs = case.save_kwargs(input_example=e)
            v.call("saving the model", flavorkit.save_model, case.model(), path, **kwargs)

    untouched(example, "save_model with it as the input example", save)
    untouched(
        case.example_data(),
        "the original model predicted on the example",
        lambda d: v.call(
            "predicting with the original model", case.predict_with_original, d, params
        ),
    )
    model = v.call("loading the saved folder", loaded_model, case)
    schema = _input_schema(v, model)
    for form, data in _admitted_forms(case.example_data(), schema).items():
        untouched(
            data,
            f"the loaded model predicted on the {form} form",
            lambda d, f=form: _predict(v, model, d, params, f"the {f} form ({describe(d)})"),
        )


def check_generated_data_predictions(case: FlavorCase, *, max_examples: int | None = None) -> None:
    """On data generated from the signature, the loaded model predicts what the original does.

    Draws input from the saved input signature, with values like the
    example's: its own, between its extremes and beyond them, and strings
    longer than any it holds. Where the original model predicts, the loaded
    model must predict the same (within the case's tolerance) and conform
    to the saved output signature (a ``long`` column holds no NaN or
    floats). Where the original raises, the input is not used.
    """
    v = Verdict(check_generated_data_predictions, case)
    model = v.call("loading the saved folder", loaded_model, case)
    schema = _input_schema(v, model)
    params = case.example_params()
    outputs = model.signature.outputs
    example = case.example_data()
    baseline = _predict(v, model, example, params, "the example")
    if _output_problem(baseline, outputs) is not None:
        outputs = None  # the example's own prediction is the reference; do not hold it to more

    def problem_with(data: Any) -> str | None:
        """What goes wrong predicting on ``data``, or ``None``."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                original = case.predict_with_original(copy.deepcopy(data), params)
        except Exception:
            return None  # the model itself refuses this input: nothing to compare
        expected = _copied(flatten(original))
        actual = _predict(v, model, data, params, f"generated input {_shown(data)}")
        problem = _output_problem(actual, outputs)
        if problem:
            return (
                f"{problem}: keep the declared type on every row (missing values turn an "
                "integer column into floats)"
            )
        diff = differs(case, expected, actual)
        if diff:
            return (
                f"the loaded model predicts differently from the original: {diff}; do not "
                "fix widths, ranges or categories at save time from the example"
            )
        return None

    def predicts_alike(data: Any) -> None:
        problem = problem_with(data)
        if problem is None:
            return
        rows = n_rows(data) or 0
        for i in range(rows if rows > 1 else 0):  # the one row that shows it, if there is one
            alone = problem_with(take_rows(data, [i]))
            if alone is not None:
                v.fail(f"on generated row {i} alone ({_shown(take_rows(data, [i]))}), {alone}")
        v.fail(f"on generated input {_shown(data)}, {problem}")

    run_property(_generated_like(schema, example), predicts_alike, max_examples)


def check_empty_and_odd_batches(case: FlavorCase) -> None:
    """Zero rows predict zero rows; a frame's index never moves predictions.

    Each input form enforcement accepts, with no rows, must predict zero rows
    of the kind, names and dtypes the example's prediction has. A DataFrame
    with a shifted, reversed or string index must predict the example's
    values in the same positions: read rows by position (``.iloc``,
    ``to_numpy()``), not by label (``.loc[i]``).
    """
    import pandas as pd

    from flavorkit.enforce import enforce_schema
    from flavorkit.exceptions import SchemaEnforcementError

    v = Verdict(check_empty_and_odd_batches, case)
    model = v.call("loading the saved folder", loaded_model, case)
    schema = _input_schema(v, model)
    params = case.example_params()
    data = case.example_data()
    n = n_rows(data)
    if n is None:
        v.skip(f"the example ({describe(data)}) has no rows the kit can slice")
    baseline = _predict(v, model, data, params, "the example")
    for form, value in _admitted_forms(data, schema).items():
        if isinstance(value, list):
            continue  # an empty list says nothing of its form
        empty = take_rows(value, [])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                enforce_schema(empty, schema)
            except SchemaEnforcementError:
                continue  # the core refuses this form with no rows; not the flavor's doing
        actual = _predict(v, model, empty, params, f"0 rows of the {form} form ({describe(empty)})")
        if actual.rows() != 0:
            v.fail(
                f"0 rows of the {form} form ({describe(empty)}) predicted {actual.rows()} rows "
                f"({actual.describe()})"
            )
        diff = differs(case, baseline.take([]), actual, values=False)
        if diff:
            v.fail(f"0 rows of the {form} form ({describe(empty)}): {diff}")
    frame = data if isinstance(data, pd.DataFrame) else None
    if frame is None:
        return
    indexes = {
        "shifted by 100": pd.RangeIndex(100, 100 + n),
        "reversed": pd.RangeIndex(n - 1, -1, -1),
        "of strings": pd.Index([f"row-{i}" for i in range(n)]),
    }
    for label, index in indexes.items():
        odd = frame.copy()
        odd.index = index
        actual = _predict(v, model, odd, params, f"the example with an index {label}")
        diff = differs(case, baseline, actual)
        if diff:
            v.fail(
                f"the example with an index {label} ({list(index[:3])}...) predicts "
                f"differently from the same rows with a 0..n-1 index: {diff}; read rows by "
                "position (.iloc, to_numpy()), not by label (.loc)"
            )


def check_columns_bound_by_name(case: FlavorCase) -> None:
    """Two folders saved from examples differing only in column order predict alike.

    For a column signature with named columns: saves the model once from the
    example and once from the example with its columns reversed, and
    predicts on the same input with both. A flavor must hand the model its
    columns by name, not by position (``data[columns]``, not ``to_numpy()``
    in the frame's order). Skips where the original model itself predicts
    differently on the reordered example (it reads columns by position).
    """
    import pandas as pd

    import flavorkit
    from flavorkit.io._example import normalize

    v = Verdict(check_columns_bound_by_name, case)
    model = v.call("loading the saved folder", loaded_model, case)
    schema = _input_schema(v, model)
    data = case.example_data()
    if not isinstance(data, pd.DataFrame) or schema.is_tensor_spec():
        v.skip("the example is not a DataFrame saved with a column signature")
    if not schema.has_input_names():
        v.skip("the saved signature has no named columns")
    if data.shape[1] < 2:
        v.skip("the example has a single column")
    params = case.example_params()
    reordered = data[list(reversed(data.columns))]
    try:
        same = differs(
            case,
            _copied(flatten(case.predict_with_original(data.copy(), params))),
            _copied(flatten(case.predict_with_original(reordered.copy(), params))),
            values=True,
        )
    except Exception as exc:
        v.skip(f"the original model refuses the example reordered ({describe_error(exc)})")
    if same is not None:
        v.skip("the original model itself reads columns by position")
    example = case.input_example()
    _, example_params = normalize(example)
    new_example = (
        (reordered.copy(), example_params) if example_params is not None else reordered.copy()
    )
    path = scratch_dir(f"{case.name}-reordered") / "model"
    v.call(
        "saving the model from the reordered example",
        flavorkit.save_model,
        case.model(),
        path,
        **case.save_kwargs(input_example=new_example),
    )
    other = v.call(
        "loading the folder saved from the reordered example",
        flavorkit.load_model,
        path,
        allow_unsafe=True,
        suppress_warnings=True,
    )
    order = [str(c) for c in reordered.columns]
    for label, frame in (("the example", data), ("the example reordered", reordered)):
        first = _predict(v, model, frame.copy(), params, f"{label} (first folder)")
        second = _predict(v, other, frame.copy(), params, f"{label} (folder saved with {order})")
        diff = differs(case, first, second)
        if diff:
            v.fail(
                f"on {label}, the folder saved from the example with columns {order} predicts "
                f"differently from the one saved with {[str(c) for c in data.columns]}: {diff}; "
                "pass the model its columns by name (data[columns]), not by position"
            )


def check_concurrent_predictions(case: FlavorCase) -> None:
    """Threads predicting different inputs on one loaded model each get their own answer.

    8 threads, started together, predict 40 rounds each on one loaded model,
    each its own input (distinct rows of the example); every answer must be
    the one a single thread got for that input. Keep per-call state in local
    variables, not on the model (a shared scratch buffer). A model that
    cannot serve threads declares ``Tags(thread_safe=False)``.
    """
    v = Verdict(check_concurrent_predictions, case)
    model = v.call("loading the saved folder", loaded_model, case)
    data = case.example_data()
    n = n_rows(data)
    if n is None:
        v.skip(f"the example ({describe(data)}) has no rows the kit can slice")
    params = case.example_params()
    inputs = []
    for t in range(_THREADS):
        # each thread its own rows (a fixed pseudo-random draw) and a length of its own
        pick = random.Random(t)
        inputs.append(take_rows(data, [pick.randrange(n) for _ in range(16 * n + t)]))
    expected = [_predict(v, model, x, params, f"input {t} alone") for t, x in enumerate(inputs)]
    barrier = threading.Barrier(_THREADS, timeout=60)
    failures: list[str] = []

    def worker(t: int) -> None:
        for r in range(_ROUNDS):
            try:
                barrier.wait()  # every round starts together
            except threading.BrokenBarrierError:
                return
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    got = _copied(flatten(model.predict(inputs[t], params)))
            except Exception as exc:
                failures.append(f"thread {t}, round {r} raised {describe_error(exc)}")
                continue
            diff = differs(case, expected[t], got)
            if diff:
                failures.append(f"thread {t}, round {r}: {diff}")

    interval = sys.getswitchinterval()
    sys.setswitchinterval(_SWITCH_INTERVAL_S)  # switch threads often, so races show
    try:
        threads = [threading.Thread(target=worker, args=(t,)) for t in range(_THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    if failures:
        v.fail(
            f"{len(failures)} of {_THREADS * _ROUNDS} predictions ({_THREADS} threads x "
            f"{_ROUNDS} rounds) differ from the single-thread answer for their input; first: "
            f"{failures[0]}; keep per-call state local, not on "
            "the loaded model (or declare Tags(thread_safe=False))"
        )
