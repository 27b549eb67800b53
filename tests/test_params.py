"""Params: ParamSpec/ParamSchema JSON and validation, and enforce_params (FORMAT.md §5.6)."""

from __future__ import annotations

import datetime
import json

import numpy as np
import pytest
from flavorkit import DataType, Object, ParamSchema, ParamSpec, Property
from flavorkit.enforce import enforce_params
from flavorkit.exceptions import SchemaEnforcementError, SchemaWarning, SignatureError
from flavorkit.testing.strategies import mutations, param_schemas, params_for_schema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

CFG = Object([Property("a", "long")])
SCHEMA = ParamSchema(
    [
        ParamSpec("temp", "double", 0.1),
        ParamSpec("stops", DataType.string, ["x", "y"], (-1,)),
        ParamSpec("d", "datetime", datetime.datetime(2020, 1, 1)),
        ParamSpec("cfg", CFG, {"a": 1}),
        ParamSpec("k", "integer", 3),
    ]
)


# ---------------------------------------------------------------- JSON


def test_param_schema_json_matches_mlflow() -> None:
    assert json.loads(SCHEMA.to_json()) == [
        {"name": "temp", "default": 0.1, "shape": None, "type": "double"},
        {"name": "stops", "default": ["x", "y"], "shape": [-1], "type": "string"},
        {"name": "d", "default": "2020-01-01T00:00:00", "shape": None, "type": "datetime"},
        {
            "name": "cfg",
            "default": {"a": 1},
            "shape": None,
            "type": "object",
            "properties": {"a": {"type": "long", "required": True}},
        },
        {"name": "k", "default": 3, "shape": None, "type": "integer"},
    ]
    assert SCHEMA.to_json().startswith(
        '[{"name": "temp", "default": 0.1, "shape": null, "type": "double"}, '
    )


def test_param_schema_from_json_round_trips_and_parses_datetimes() -> None:
    again = ParamSchema.from_json(SCHEMA.to_json())
    assert again == SCHEMA
    assert again.params[2].default == datetime.datetime(2020, 1, 1)


def test_param_spec_from_json_accepts_dtype_key() -> None:
    schema = ParamSchema.from_json('[{"name": "n", "dtype": "long", "default": 2}]')
    assert schema.params[0] == ParamSpec("n", "long", 2)


def test_param_spec_from_json_names_missing_keys() -> None:
    with pytest.raises(SignatureError, match=r"param 'n': expected keys"):
        ParamSchema.from_json('[{"name": "n", "type": "long"}]')


@PROPERTY_SETTINGS
@given(param_schemas())
def test_param_schema_json_round_trip_is_exact(schema: ParamSchema) -> None:
    text = schema.to_json()
    again = ParamSchema.from_json(text)
    assert again == schema
    assert again.to_json() == text


# ---------------------------------------------------------------- ParamSpec validation


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("b", "binary", b"x"), "type 'binary' is not supported"),
        (("n", "long", 2.5), r"param 'n': invalid default: expected long, got float"),
        (("n", "long", 1, (2,)), r"shape must be None \(scalar\) or \(-1,\)"),
        (("n", "decimal", 1), "unsupported type 'decimal'"),
        (("l", "long", [[1]], (-1,)), "nested list"),
        (("l", "long", 3, (-1,)), "expected a 1-D list, got int"),
    ],
)
def test_param_spec_rejects_invalid_definitions(args: tuple, message: str) -> None:
    with pytest.raises(SignatureError, match=message):
        ParamSpec(*args)


def test_param_spec_converts_default_to_builtins() -> None:
    spec = ParamSpec("n", "long", np.int32(4))
    assert spec.default == 4
    assert type(spec.default) is int
    assert ParamSpec("l", "double", np.array([1.0, 2.0]), (-1,)).default == [1.0, 2.0]


def test_param_schema_rejects_duplicates() -> None:
    with pytest.raises(SignatureError, match=r"duplicated params \['a'\]"):
        ParamSchema([ParamSpec("a", "long", 1), ParamSpec("a", "long", 2)])


# ---------------------------------------------------------------- enforce_params


def test_enforce_params_fills_defaults() -> None:
    out = enforce_params(None, SCHEMA)
    assert out == {
        "temp": 0.1,
        "stops": ["x", "y"],
        "d": datetime.datetime(2020, 1, 1),
        "cfg": {"a": 1},
        "k": 3,
    }


def test_enforce_params_copies_mutable_defaults() -> None:
    first = enforce_params({}, SCHEMA)
    first["stops"].append("z")
    assert enforce_params({}, SCHEMA)["stops"] == ["x", "y"]


def test_enforce_params_widens_and_converts_to_builtins() -> None:
    out = enforce_params(
        {"temp": np.int32(2), "k": np.int64(7), "stops": np.array(["a"]), "d": "2021-02-03"},
        SCHEMA,
    )
    assert out["temp"] == 2.0
    assert type(out["temp"]) is float
    assert out["k"] == 7
    assert type(out["k"]) is int
    assert out["stops"] == ["a"]
    assert out["d"] == datetime.date(2021, 2, 3)


def test_enforce_params_accepts_numpy_datetimes_and_none() -> None:
    out = enforce_params({"d": np.datetime64("2020-01-01T10:00:00"), "temp": None}, SCHEMA)
    assert out["d"] == datetime.datetime(2020, 1, 1, 10)
    assert out["temp"] is None


def test_enforce_params_returns_object_values_unchanged() -> None:
    value = {"a": 5}
    assert enforce_params({"cfg": value}, SCHEMA)["cfg"] is value


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("k", 2.5, "expected integer, got float"),
        ("k", True, "expected integer, got bool"),
        ("temp", "hot", "expected double, got str"),
        ("stops", [["a"]], "nested list"),
        ("stops", "a", "expected a 1-D list, got str"),
        ("d", "not a date", "does not parse"),
        ("d", "2020-01-01T00:00:00+02:00", "does not parse as a naive one"),
        ("cfg", {"a": "x"}, r"value\['a'\]: expected long, got str"),
        ("cfg", {"b": 1}, r"missing required properties \['a'\]"),
    ],
)
def test_enforce_params_rejects_wrong_values(name: str, value: object, message: str) -> None:
    with pytest.raises(SchemaEnforcementError, match=message) as info:
        enforce_params({name: value}, SCHEMA)
    assert info.value.field == name
    assert info.value.actual == {name: type(value).__name__}


def test_enforce_params_collects_every_error_without_echoing_values() -> None:
    with pytest.raises(SchemaEnforcementError, match="Invalid parameters found") as info:
        enforce_params({"k": "secret-token", "temp": "other-secret"}, SCHEMA)
    err = info.value
    assert err.field == "temp, k"
    assert err.expected == {"temp": "double", "k": "integer"}
    assert err.actual == {"temp": "str", "k": "str"}
    assert "secret" not in str(err)


def test_enforce_params_rejects_non_dict() -> None:
    with pytest.raises(SchemaEnforcementError, match="params must be a dict") as info:
        enforce_params([1], SCHEMA)  # type: ignore[arg-type]
    assert (info.value.field, info.value.actual) == ("params", "list")


def test_enforce_params_drops_unknown_with_warning() -> None:
    with pytest.warns(UserWarning, match=r"does not declare: \['other'\]"):
        out = enforce_params({"other": 1, "k": 1}, SCHEMA)
    assert "other" not in out
    assert out["k"] == 1


def test_enforce_params_stringifies_keys_with_warning() -> None:
    schema = ParamSchema([ParamSpec("1", "long", 0)])
    with pytest.warns(UserWarning, match="should be strings"):
        assert enforce_params({1: 5}, schema) == {"1": 5}  # type: ignore[dict-item]


def test_enforce_params_without_schema_warns_and_drops() -> None:
    with pytest.warns(UserWarning, match=r"no params schema; ignoring \['a'\]"):
        assert enforce_params({"a": 1}, None) == {}
    assert enforce_params(None, None) == {}


@pytest.mark.parametrize("schema", ["declared", None])
def test_enforce_params_drop_warnings_stay_short_whatever_the_names(schema: str | None) -> None:
    # the names come from a client: 1,000 names of 10,000 characters must not fill the log
    params = {f"{i:04d}" + "x" * 10_000: 1 for i in range(1_000)}
    with pytest.warns(SchemaWarning) as record:
        enforce_params(params, SCHEMA if schema else None)
    (warning,) = record
    assert len(str(warning.message)) < 1_000
    assert "'0000xxxx" in str(warning.message) and "and 990 more" in str(warning.message)


@pytest.mark.parametrize(
    ("params", "schema"),
    [({"other": 1}, "declared"), ({"a": 1}, None)],
    ids=["undeclared-param", "no-params-schema"],
)
def test_enforce_params_drop_warnings_are_schema_warnings(
    params: dict[str, int], schema: str | None
) -> None:
    with pytest.warns(SchemaWarning) as record:
        enforce_params(params, SCHEMA if schema else None)
    assert [type(w.message) for w in record] == [SchemaWarning]


def test_enforce_params_key_conversion_warning_is_not_a_schema_warning() -> None:
    # converting keys drops nothing, so it stays a plain UserWarning
    schema = ParamSchema([ParamSpec("1", "long", 0)])
    with pytest.warns(UserWarning, match="should be strings") as record:
        enforce_params({1: 5}, schema)  # type: ignore[dict-item]
    assert [type(w.message) for w in record] == [UserWarning]


# ---------------------------------------------------------------- deliberate differences


def test_enforce_params_accepts_numpy_float64_and_str_scalars() -> None:
    # MLflow accepts only the exact Python/numpy type of the param (np.float32 for float)
    schema = ParamSchema([ParamSpec("f", "float", 0.5), ParamSpec("s", "string", "a")])
    out = enforce_params({"f": np.float64(0.25), "s": np.str_("b")}, schema)
    assert out == {"f": 0.25, "s": "b"}
    assert type(out["s"]) is str


def test_enforce_params_accepts_numpy_integers_that_fit() -> None:
    # MLflow refuses any numpy integer but np.int32 for an `integer` param
    schema = ParamSchema([ParamSpec("i", "integer", 0), ParamSpec("l", "integer", [0], (-1,))])
    out = enforce_params({"i": np.int64(5), "l": np.array([1, 2], dtype="uint8")}, schema)
    assert out == {"i": 5, "l": [1, 2]}
    assert type(out["i"]) is int
    with pytest.raises(SchemaEnforcementError, match="outside its range"):
        enforce_params({"i": np.int64(2**31)}, schema)


@pytest.mark.parametrize("value", ["", "NaT", np.datetime64("NaT")])
def test_enforce_params_refuses_empty_datetime_strings(value: object) -> None:
    # MLflow returns None for these; the model would get a value the caller did not mean
    schema = ParamSchema([ParamSpec("d", "datetime", datetime.datetime(2020, 1, 1))])
    with pytest.raises(SchemaEnforcementError) as info:
        enforce_params({"d": value}, schema)
    message = str(info.value)
    assert info.value.field == "d"
    assert "ISO datetime" in message if isinstance(value, str) else "got NaT" in message
    assert "finer than microseconds" not in message
    assert enforce_params({"d": None}, schema) == {"d": None}


def test_enforce_params_rejects_ints_that_do_not_fit() -> None:
    schema = ParamSchema([ParamSpec("i", "integer", 0), ParamSpec("d", "double", 0.0)])
    with pytest.raises(SchemaEnforcementError) as info:
        enforce_params({"i": 2**31, "d": 2**53 + 1}, schema)
    assert info.value.field == "i, d"
    assert "outside its range" in str(info.value)
    assert "too large to convert exactly" in str(info.value)
    assert enforce_params({"i": 2**31 - 1, "d": 2**53}, schema) == {"i": 2**31 - 1, "d": 2.0**53}


# ---------------------------------------------------------------- properties


@PROPERTY_SETTINGS
@given(st.data())
def test_enforce_params_generated_params_pass_and_mutations_fail(data: st.DataObject) -> None:
    schema = data.draw(param_schemas())
    params = data.draw(params_for_schema(schema))
    out = enforce_params(params, schema)
    assert set(out) == {p.name for p in schema}
    if len(schema):
        mutation = data.draw(mutations(schema, params))
        with pytest.raises(SchemaEnforcementError) as info:
            enforce_params(mutation.data, schema)
        # `expected` is keyed by the invalid params' names; `field` joins them with ", ",
        # which is ambiguous for a generated name that itself contains ", "
        assert mutation.field in info.value.expected
        assert mutation.field in info.value.field
