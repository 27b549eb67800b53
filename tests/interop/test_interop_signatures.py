"""Differential tests of signatures: flavorkit's enforcement and inference against MLflow's.

The module fixture draws schemas and inputs with hypothesis, adds one probe
per column (that column alone), the hand-written cases below and the
``infer_signature`` inputs, pickles the lot, and asks one MLflow process for
its verdicts (``mlflow_signatures.py``). flavorkit's verdicts are taken in
this process. Every disagreement must be one of the deliberate differences
in ``interop_differences`` (docs/signatures.md), each checked as such.

``FLAVORKIT_INTEROP_SEED`` picks another hypothesis seed; the default is fixed
so the suite is reproducible.
"""

from __future__ import annotations

import datetime
import json
import os
import pickle
from collections import Counter
from typing import Any

import flavorkit
import numpy as np
import pandas as pd
import pytest
from flavorkit import ParamSchema, Schema
from flavorkit.enforce import enforce_params, enforce_schema
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from interop_cases import describe, summarize_params, verdict
from interop_differences import (
    COLUMN_RULES,
    INFER_DIFFERENCES,
    explain_column,
    explain_no_declared_column,
    explain_param,
    infer_inputs,
    infer_outputs,
    infer_params,
)
from interop_strategies import column_case, params_case, tensor_case
from interop_support import dump, load, run_in_mlflow

SEED = int(os.environ.get("FLAVORKIT_INTEROP_SEED", "20261125"))
EXAMPLES = {"columns": 250, "tensors": 120, "params": 120}


def _column(t: str, values: pd.Series, required: bool = True) -> dict[str, Any]:
    spec = {"type": t, "name": "c", "required": required}
    return {"kind": "columns", "schema": json.dumps([spec]), "data": pd.DataFrame({"c": values})}


def _dates(unit: str, *days: str) -> pd.Series:
    return pd.Series(np.array(days, dtype=f"datetime64[{unit}]"))


# (difference, case): each must come out as that documented difference
DIFFERENCES: list[tuple[str, dict[str, Any]]] = [
    ("lossless-numeric-casts", _column("integer", pd.Series([1, 2, 300], dtype="int64"))),
    ("lossless-numeric-casts", _column("double", pd.Series([1, 2], dtype="int64"))),
    ("lossless-numeric-casts", _column("long", pd.Series([1.0, 2.0]))),
    ("lossless-numeric-casts", _column("float", pd.Series([0.5, 2.0]))),
    ("lossless-numeric-casts", _column("long", pd.Series([1, 2], dtype="uint64"))),
    ("nullable-columns", _column("integer", pd.Series([1, None], dtype="Int64"))),
    ("nullable-columns", _column("long", pd.Series([1, None], dtype="Int64"))),
    ("nullable-columns", _column("boolean", pd.Series([True, None], dtype="boolean"))),
    ("nullable-columns", _column("float", pd.Series([None, None], dtype=object), required=False)),
    ("nullable-columns", _column("long", pd.Series([1, None], dtype=object))),
    ("object-values-checked", _column("string", pd.Series(["a", 1], dtype=object))),
    ("object-values-checked", _column("binary", pd.Series(["a"], dtype="str"))),
    ("object-values-checked", _column("boolean", pd.Series([b"x"], dtype=object))),
    ("object-values-checked", _column("double", pd.Series([True, None], dtype=object))),
    ("datetime-units-kept", _column("datetime", _dates("s", "2024-01-01"))),
    ("datetime-units-kept", _column("datetime", _dates("ms", "2500-01-01"))),
    ("datetime-strings-parsed", _column("datetime", pd.Series(["2024-01-01"], dtype=object))),
    ("categories-as-string", _column("string", pd.Series(["a", "b"], dtype="category"))),
    ("any-columns-unchanged", _column("any", pd.Series([1, 2], dtype="int16"))),
    (
        "complex-items-by-value",
        {
            "kind": "columns",
            "schema": json.dumps(
                [{"type": "array", "items": {"type": "double"}, "name": "c", "required": True}]
            ),
            "data": pd.DataFrame({"c": pd.Series([[1, 2], [3]], dtype=object)}),
        },
    ),
    (
        "empty-objects-refused",
        {
            "kind": "columns",
            "schema": json.dumps(
                [
                    {
                        "type": "object",
                        "properties": {"a": {"type": "long", "required": True}},
                        "name": "c",
                        "required": False,
                    }
                ]
            ),
            "data": pd.DataFrame({"c": pd.Series([{"a": 1}, {}], dtype=object)}),
        },
    ),
    (
        "no-declared-column",
        {
            "kind": "columns",
            "schema": json.dumps([{"type": "double", "name": "c", "required": False}]),
            "data": pd.DataFrame({"other": [1.0, 2.0]}),
        },
    ),
    (
        "numpy-integer-params",
        {
            "kind": "params",
            "schema": json.dumps([{"name": "k", "type": "integer", "default": 1, "shape": None}]),
            "params": {"k": np.int64(5)},
        },
    ),
]
DIFFERENCES += [
    (
        "param-ints-must-fit",
        {
            "kind": "params",
            "schema": json.dumps([{"name": "k", "type": name, "default": 1, "shape": None}]),
            "params": {"k": value},
        },
    )
    for name, value in (("integer", 2**31), ("double", 2**53 + 1))
]
DIFFERENCES += [
    (
        "empty-datetime-params-refused",
        {
            "kind": "params",
            "schema": json.dumps(
                [{"name": "t", "type": "datetime", "default": default, "shape": shape}]
            ),
            "params": {"t": value},
        },
    )
    for shape, default, value in (
        (None, "2024-01-02T03:04:05", ""),
        (None, "2024-01-02T03:04:05", "NaT"),
        ([-1], ["2024-01-02T03:04:05"], ["2024-01-02", ""]),
    )
]
# cases where both tools must refuse: flavorkit's casts stop where a value would change
AGREED_REFUSALS: list[tuple[str, dict[str, Any]]] = [
    ("int64 too wide for integer", _column("integer", pd.Series([2**40], dtype="int64"))),
    ("int64 beyond 2**53 for double", _column("double", pd.Series([2**53 + 1], dtype="int64"))),
    ("float64 not exact in float", _column("float", pd.Series([0.1]))),
    ("fraction for long", _column("long", pd.Series([1.5]))),
    ("NaN for long", _column("long", pd.Series([2.0, np.nan]))),
    ("uint64 beyond int64", _column("long", pd.Series([2**63], dtype="uint64"))),
    ("ints for string", _column("string", pd.Series([1, 2]))),
    ("ints for boolean", _column("boolean", pd.Series([0, 1]))),
    ("pandas strings for datetime", _column("datetime", pd.Series(["2024-01-01"], dtype="str"))),
    (
        "int64 too wide for an integer param",
        {
            "kind": "params",
            "schema": json.dumps([{"name": "k", "type": "integer", "default": 1, "shape": None}]),
            "params": {"k": np.int64(2**40)},
        },
    ),
]
# cases both tools must accept with the same result dtypes
AGREED_RESULTS: list[tuple[str, dict[str, Any]]] = [
    (
        "object strings in a frame that is rebuilt (extra column dropped)",
        {
            "kind": "columns",
            "schema": json.dumps([{"type": "string", "name": "c", "required": True}]),
            "data": pd.DataFrame({"x": [1, 2], "c": pd.Series(["a", "b"], dtype=object)}),
        },
    ),
    ("int32 for long", _column("long", pd.Series([1, 2], dtype="int32"))),
    ("float32 for double", _column("double", pd.Series([0.5, np.nan], dtype="float32"))),
    ("int64 of 0/1 for float", _column("float", pd.Series([0, 1], dtype="int64"))),
    ("date objects for datetime", _column("datetime", pd.Series([datetime.date(2024, 1, 2)]))),
    ("object bools for boolean", _column("boolean", pd.Series([True, False], dtype=object))),
    (
        "object numpy bools for boolean",
        _column("boolean", pd.Series([np.bool_(True), False], dtype=object)),
    ),
    (
        "object bools with None for boolean",
        _column("boolean", pd.Series([True, None], dtype=object), required=False),
    ),
]
INFER_CASES = [
    *(("model_input", name) for name in infer_inputs()),
    *(("model_output", name) for name in infer_outputs()),
    *(("params", name) for name in infer_params()),
]


def _generate(
    strategy: st.SearchStrategy[dict[str, Any]], count: int, salt: int
) -> list[dict[str, Any]]:
    """Draw ``count`` cases from ``strategy``: a fixed seed, no shrinking (compared later)."""
    drawn: list[dict[str, Any]] = []

    @seed(SEED + salt)
    @settings(
        max_examples=count,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(case: dict[str, Any]) -> None:
        drawn.append(case)

    collect()
    return drawn


def _frame_of(data: Any) -> pd.DataFrame:
    """The DataFrame both tools build from a column-case input."""
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, dict):
        return pd.DataFrame([data])
    return pd.DataFrame(data)


def _probes(case: dict[str, Any]) -> list[dict[str, Any]]:
    """One case per declared column present in the input: that column alone, with its spec."""
    frame = _frame_of(case["data"])
    out = []
    for i, spec in enumerate(json.loads(case["schema"])):
        if "name" in spec:
            if spec["name"] not in frame.columns:
                continue
            data = frame[[spec["name"]]]
        else:
            if i >= frame.shape[1]:
                continue
            data = frame.iloc[:, [i]].set_axis([0], axis=1)
        out.append(
            {"kind": "columns", "schema": json.dumps([spec]), "data": data, "probe_of": case["id"]}
        )
    return out


def _param_probes(case: dict[str, Any]) -> list[dict[str, Any]]:
    """One case per declared param given: that param alone, with its spec."""
    specs = {spec["name"]: spec for spec in json.loads(case["schema"])}
    return [
        {
            "kind": "params",
            "schema": json.dumps([specs[name]]),
            "params": {name: value},
            "probe_of": case["id"],
        }
        for name, value in (case["params"] or {}).items()
        if name in specs
    ]


def _flavorkit_verdict(case: dict[str, Any]) -> dict[str, Any]:
    if case["kind"] == "params":
        schema = ParamSchema.from_json(case["schema"])
        return verdict(lambda: enforce_params(case["params"], schema), summarize_params)
    if case["kind"] == "infer":
        return verdict(
            lambda: flavorkit.infer_signature(**{case["part"]: case["data"]}).to_dict(), lambda d: d
        )
    schema = Schema.from_json(case["schema"])
    return verdict(lambda: enforce_schema(case["data"], schema), describe)


class Batch:
    """Every case with both tools' verdicts."""

    def __init__(
        self, cases: list[dict[str, Any]], ours: dict[Any, Any], theirs: dict[Any, Any]
    ) -> None:
        self.cases = {c["id"]: c for c in cases}
        self.ours = ours
        self.theirs = theirs

    def agree(self, case_id: Any) -> bool:
        o, t = self.ours[case_id], self.theirs[case_id]
        return o["ok"] == t["ok"] and (not o["ok"] or o["result"] == t["result"])

    def probes_of(self, case_id: Any) -> list[dict[str, Any]]:
        return [c for c in self.cases.values() if c.get("probe_of") == case_id]

    def explain(self, case_id: Any) -> str | None:
        """Why the two verdicts on a case differ (a documented difference), or None."""
        case, o, t = self.cases[case_id], self.ours[case_id], self.theirs[case_id]
        if case["kind"] not in ("columns", "params"):
            return None
        schema = json.loads(case["schema"])
        if case["kind"] == "params":
            if "probe_of" in case:
                [(_name, value)] = case["params"].items()
                return explain_param(schema[0], value, o, t)
        else:
            frame = _frame_of(case["data"])
            if "probe_of" in case:
                return explain_column(schema[0], frame.iloc[:, 0], o, t)
            reason = explain_no_declared_column(schema, frame, o, t)
            if reason:
                return reason
        differing = [p for p in self.probes_of(case_id) if not self.agree(p["id"])]
        reasons = [self.explain(p["id"]) for p in differing]
        return "+".join(sorted(set(reasons))) if differing and all(reasons) else None

    def describe_case(self, case_id: Any) -> str:
        case = self.cases[case_id]
        data = case.get("data", case.get("params"))
        if isinstance(data, pd.DataFrame):
            shown = {str(k): (str(v.dtype), v.tolist()[:4]) for k, v in data.items()}
        else:
            shown = repr(data)[:300]
        return (
            f"case {case_id} ({case['kind']}): schema {case.get('schema')}\n    input {shown}\n"
            f"    flavorkit {self.ours[case_id]}\n    mlflow    {self.theirs[case_id]}"
        )


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    generated = (
        _generate(column_case(), EXAMPLES["columns"], 1)
        + _generate(tensor_case(), EXAMPLES["tensors"], 2)
        + _generate(params_case(), EXAMPLES["params"], 3)
    )
    cases: list[dict[str, Any]] = []
    seen: set[bytes] = set()
    for case in generated:
        key = pickle.dumps(case)
        if key not in seen:  # hypothesis repeats itself without a database
            seen.add(key)
            cases.append({**case, "id": f"gen{len(cases)}"})
    for case in list(cases):
        probes = (
            _probes(case)
            if case["kind"] == "columns"
            else _param_probes(case)
            if case["kind"] == "params"
            else []
        )
        cases.extend({**p, "id": f"{case['id']}/probe{i}"} for i, p in enumerate(probes))
    cases.extend({**case, "id": f"difference{i}"} for i, (_, case) in enumerate(DIFFERENCES))
    cases.extend({**case, "id": f"refusal{i}"} for i, (_, case) in enumerate(AGREED_REFUSALS))
    cases.extend({**case, "id": f"agreed{i}"} for i, (_, case) in enumerate(AGREED_RESULTS))
    sources = {
        "model_input": infer_inputs(),
        "model_output": infer_outputs(),
        "params": infer_params(),
    }
    cases.extend(
        {"kind": "infer", "part": part, "data": sources[part][name], "id": f"{part}:{name}"}
        for part, name in INFER_CASES
    )
    root = tmp_path_factory.mktemp("signatures")
    dump(cases, root / "cases.pkl")
    ours = {case["id"]: _flavorkit_verdict(case) for case in cases}
    run_in_mlflow("mlflow_signatures.py", root / "cases.pkl", root / "verdicts.pkl")
    return Batch(cases, ours, load(root / "verdicts.pkl"))


def test_enforcement_agrees_with_mlflow_or_differs_as_documented(batch: Batch) -> None:
    generated = [i for i, c in batch.cases.items() if str(i).startswith("gen")]
    unexplained, explained = [], Counter()
    for case_id in generated:
        if batch.agree(case_id):
            continue
        reason = batch.explain(case_id)
        if reason is None:
            unexplained.append(case_id)
        else:
            explained.update(reason.split("+"))
    report = "\n".join(batch.describe_case(i) for i in unexplained[:8])
    assert not unexplained, (
        f"{len(unexplained)} of {len(generated)} generated cases differ from MLflow in a way "
        f"docs/signatures.md does not list (documented ones seen: {dict(explained)}):\n{report}"
    )
    # the comparison is not vacuous: both tools accepted and refused plenty of the same inputs
    agreed = [batch.ours[i]["ok"] for i in generated if batch.agree(i)]
    assert agreed.count(True) > 50 and agreed.count(False) > 50


@pytest.mark.parametrize(
    ("difference", "index"),
    [(name, i) for i, (name, _) in enumerate(DIFFERENCES)],
    ids=[f"{name}-{i}" for i, (name, _) in enumerate(DIFFERENCES)],
)
def test_documented_difference_holds(batch: Batch, difference: str, index: int) -> None:
    case_id = f"difference{index}"
    assert not batch.agree(case_id), (
        f"MLflow now agrees with flavorkit:\n{batch.describe_case(case_id)}"
    )
    case = batch.cases[case_id]
    spec = json.loads(case["schema"])[0]
    ours, theirs = batch.ours[case_id], batch.theirs[case_id]
    if case["kind"] == "params":
        [(_name, value)] = case["params"].items()
        reason = explain_param(spec, value, ours, theirs)
    elif difference != "no-declared-column":
        reason = explain_column(spec, case["data"].iloc[:, 0], ours, theirs)
    else:
        reason = batch.explain(case_id)
    assert reason == difference, batch.describe_case(case_id)


def test_every_documented_column_difference_has_a_case() -> None:
    assert {rule.name for rule in COLUMN_RULES} <= {name for name, _ in DIFFERENCES}


@pytest.mark.parametrize(
    "index", range(len(AGREED_REFUSALS)), ids=[name for name, _ in AGREED_REFUSALS]
)
def test_both_refuse_lossy_conversions(batch: Batch, index: int) -> None:
    case_id = f"refusal{index}"
    assert not batch.ours[case_id]["ok"], batch.describe_case(case_id)
    assert not batch.theirs[case_id]["ok"], batch.describe_case(case_id)


@pytest.mark.parametrize("index", range(len(AGREED_RESULTS)), ids=[n for n, _ in AGREED_RESULTS])
def test_both_accept_with_the_same_dtypes(batch: Batch, index: int) -> None:
    case_id = f"agreed{index}"
    assert batch.ours[case_id]["ok"] and batch.theirs[case_id]["ok"], batch.describe_case(case_id)
    assert batch.ours[case_id]["result"] == batch.theirs[case_id]["result"], batch.describe_case(
        case_id
    )


def _signature_json(v: dict[str, Any]) -> Any:
    return {part: json.loads(text) if text else None for part, text in v["result"].items()}


@pytest.mark.parametrize(("part", "name"), INFER_CASES, ids=[f"{p}:{n}" for p, n in INFER_CASES])
def test_infer_signature_json_matches_mlflow(batch: Batch, part: str, name: str) -> None:
    case_id = f"{part}:{name}"
    ours, theirs = batch.ours[case_id], batch.theirs[case_id]
    if case_id in INFER_DIFFERENCES:
        _difference, mlflow_did = INFER_DIFFERENCES[case_id]
        assert not ours["ok"] and ours["error"] == "SignatureError", batch.describe_case(case_id)
        assert mlflow_did(theirs), batch.describe_case(case_id)
        return
    assert ours["ok"] == theirs["ok"], batch.describe_case(case_id)
    if ours["ok"]:
        assert _signature_json(ours) == _signature_json(theirs)


def test_infer_then_enforce_accepts_the_same_data_in_both_tools(batch: Batch) -> None:
    """A signature inferred by flavorkit, read by MLflow, accepts the data it came from."""
    data = infer_inputs()["multi"]
    signature = flavorkit.infer_signature(data)
    assert signature.inputs is not None
    enforced = enforce_schema(data, signature.inputs)
    assert list(enforced.columns) == ["a", "b", "c"]
    assert batch.theirs["model_input:multi"]["ok"]
    assert _signature_json(batch.theirs["model_input:multi"])["inputs"] == json.loads(
        signature.inputs.to_json()
    )


def test_datetime_param_defaults_round_trip() -> None:
    """Datetime param defaults are written as ISO strings, as MLflow writes them."""
    schema = flavorkit.infer_signature(params={"t": datetime.datetime(2024, 1, 2, 3, 4, 5)}).params
    assert schema is not None
    assert json.loads(schema.to_json()) == [
        {"name": "t", "default": "2024-01-02T03:04:05", "shape": None, "type": "datetime"}
    ]
