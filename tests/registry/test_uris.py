"""The ``models:/`` and ``runs:/`` grammar: MLflow's forms, and every refusal naming the URI."""

from __future__ import annotations

import pytest
from flavorkit.exceptions import LocationError
from flavorkit.registry._uris import (
    check_alias,
    check_name,
    parse_models_uri,
    parse_runs_uri,
)
from hypothesis import given
from hypothesis import strategies as st

LOGGED = "m-" + "0123456789abcdef" * 2


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("models:/churn/3", {"name": "churn", "version": 3}),
        ("models:/churn/007", {"name": "churn", "version": 7}),
        ("models:/churn@champion", {"name": "churn", "alias": "champion"}),
        ("models:/churn/latest", {"name": "churn", "latest": True}),
        ("models:/churn/LaTeSt", {"name": "churn", "latest": True}),
        ("models:/churn/3/", {"name": "churn", "version": 3}),  # MLflow strips the slash
        ("models:///churn/3", {"name": "churn", "version": 3}),  # empty authority
        (
            "models:/churn/3/data/model.pkl",
            {"name": "churn", "version": 3, "subpath": "data/model.pkl"},
        ),
        ("models:/churn@prod/MLmodel", {"name": "churn", "alias": "prod", "subpath": "MLmodel"}),
        ("models:/churn/latest/a/b", {"name": "churn", "latest": True, "subpath": "a/b"}),
        ("models:/my model.v2/1", {"name": "my model.v2", "version": 1}),
        ("models:/churn/Production", {"name": "churn", "stage": "Production"}),
        (f"models:/{LOGGED}", {"model_id": LOGGED}),
        # MLflow misreads this as stage 'MLmodel' of a model named m-<id>
        (f"models:/{LOGGED}/MLmodel", {"model_id": LOGGED, "subpath": "MLmodel"}),
        (f"models:/{LOGGED}/2", {"name": LOGGED, "version": 2}),
        ("models:/some-id", {"model_id": "some-id"}),
    ],
)
def test_models_uri_forms_parse_as_mlflow_reads_them(uri: str, expected: dict) -> None:
    parsed = parse_models_uri(uri)
    fields = {
        "name": None,
        "version": None,
        "alias": None,
        "latest": False,
        "stage": None,
        "model_id": None,
        "subpath": "",
    }
    fields.update(expected)
    assert {k: getattr(parsed, k) for k in fields} == fields


@pytest.mark.parametrize(
    ("uri", "says"),
    [
        ("models:", "nothing after the scheme"),
        ("models:/", "nothing after the scheme"),
        ("models:churn/1", "nothing after the scheme"),
        ("models://churn/1", "did you mean models:/churn/1"),
        ("models://profile@databricks/churn/1", "Databricks"),
        ("models:/churn/1?x=1", "query"),
        ("models:/@champion", "both a name and an alias"),
        ("models:/churn@", "both a name and an alias"),
        ("models:/churn@bad.alias", "alias 'bad.alias' is not valid"),
        ("models:/churn/0", "numbered from 1"),
        ("models:/churn/1/../../etc", "segment '..'"),
        ("models:/churn/1/a//b", "segment ''"),
        ("models:/churn/1/a\\b", "segment 'a\\\\b'"),
        ("models:/../1", "'..' is not a model name"),
        ("models:/churn/1\x00", "control characters"),
        ("runs:/abc/model", "not a models:/ URI"),
    ],
)
def test_bad_models_uris_are_refused_naming_the_uri_and_the_forms(uri: str, says: str) -> None:
    with pytest.raises(LocationError) as caught:
        parse_models_uri(uri)
    message = str(caught.value)
    assert says in message
    assert caught.value.uri == uri
    assert "expected models:/<name>/<version>" in message


@pytest.mark.parametrize(
    ("uri", "run_id", "path"),
    [
        ("runs:/0a1b2c/model", "0a1b2c", "model"),
        ("runs:/0a1b2c/outputs/model/", "0a1b2c", "outputs/model"),
        ("runs:/0a1b2c", "0a1b2c", ""),
        ("runs:///0a1b2c/model", "0a1b2c", "model"),
    ],
)
def test_runs_uris_parse(uri: str, run_id: str, path: str) -> None:
    parsed = parse_runs_uri(uri)
    assert (parsed.run_id, parsed.path) == (run_id, path)


@pytest.mark.parametrize(
    ("uri", "says"),
    [
        ("runs:/", "nothing after the scheme"),
        ("runs:/../model", "run id '..'"),
        ("runs:/-x/model", "run id '-x'"),
        ("runs:/abc/../../etc", "segment '..'"),
        ("runs://host/abc/model", "did you mean runs:/host/abc/model"),
    ],
)
def test_bad_runs_uris_are_refused(uri: str, says: str) -> None:
    with pytest.raises(LocationError, match="expected runs:/<run_id>/") as caught:
        parse_runs_uri(uri)
    assert says in str(caught.value)


@pytest.mark.parametrize(
    "name", ["", " ", "a/b", "a\\b", "a:b", "a@b", " lead", "trail ", "..", ".", "x" * 257, "a\nb"]
)
def test_names_that_cannot_be_registered_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        check_name(name)


@pytest.mark.parametrize("alias", ["latest", "LATEST", "Latest", "v1", "V12", "v007"])
def test_mlflow_reserved_aliases_are_refused_for_setting(alias: str) -> None:
    with pytest.raises(ValueError, match="reserved"):
        check_alias(alias, reserved=True)
    assert check_alias(alias) == alias  # a URI may still name one an MLflow store holds


@pytest.mark.parametrize("alias", ["v1a", "va", "champion", "prod_2", "A-b"])
def test_ordinary_aliases_pass(alias: str) -> None:
    assert check_alias(alias, reserved=True) == alias


names = st.text(
    st.characters(
        codec="utf-8", exclude_characters="/\\:@?#;", exclude_categories=("Cc", "Cs", "Zl", "Zp")
    ),
    min_size=1,
    max_size=40,
).filter(lambda s: s == s.strip() and s not in (".", "..") and s.isprintable())
segments = st.text("abcXYZ019._-", min_size=1, max_size=8).filter(lambda s: s not in (".", ".."))


@given(
    name=names,
    version=st.integers(1, 10**6),
    alias=st.from_regex(r"[A-Za-z0-9_\-]{1,20}", fullmatch=True),
    sub=st.lists(segments, max_size=3),
)
def test_formatted_uris_parse_back(name: str, version: int, alias: str, sub: list[str]) -> None:
    tail = "".join("/" + s for s in sub)
    by_version = parse_models_uri(f"models:/{name}/{version}{tail}")
    assert (by_version.name, by_version.version, by_version.subpath) == (
        name,
        version,
        "/".join(sub),
    )
    by_alias = parse_models_uri(f"models:/{name}@{alias}{tail}")
    assert (by_alias.name, by_alias.alias, by_alias.subpath) == (name, alias, "/".join(sub))
