"""``flavorkit models ...`` through its argparse parser, as ``flavorkit`` wires it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from flavorkit.registry._cli import add_models_parser


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="flavorkit")
    add_models_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["models", *argv])
    return int(args.func(args))


def json_of(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    capsys.readouterr()
    assert run(*argv, "--json") == 0
    return json.loads(capsys.readouterr().out)


def test_register_list_show_and_versions(
    registry_dir: Path, plus_two: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("register", str(plus_two), "churn", "--tag", "team=risk", "--description", "v1") == 0
    assert "registered churn version 1" in capsys.readouterr().out
    registered = json_of(capsys, "register", str(plus_two), "churn")
    assert registered["version"] == 2 and len(registered["digests"]) == registered["file_count"]

    assert run("list") == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["NAME", "LATEST", "VERSIONS", "ALIASES", "UPDATED"]
    assert out.splitlines()[1].split()[:3] == ["churn", "2", "2"]
    assert [m["name"] for m in json_of(capsys, "list", "ch%")] == ["churn"]
    assert json_of(capsys, "list", "x%") == []

    versions = json_of(capsys, "versions", "churn", "--tag", "team=risk")
    assert [(v["version"], v["description"]) for v in versions] == [(1, "v1")]
    assert run("versions", "churn") == 0
    assert len(capsys.readouterr().out.splitlines()) == 3

    assert run("show", "churn") == 0
    assert "versions:     2 live, latest 2" in capsys.readouterr().out
    shown = json_of(capsys, "show", "models:/churn/1")
    assert (shown["version"], shown["tags"], shown["created_by"]) == (1, {"team": "risk"}, "alice")
    assert run("show", "models:/churn/latest") == 0
    shown = capsys.readouterr().out.splitlines()
    assert "version:         2" in shown
    # one column for every value, the longest label included
    assert len({line.index(line.split(":", 1)[1].strip()) for line in shown if ":" in line}) == 1


def test_alias_tag_describe_and_delete(
    registry_dir: Path, plus_two: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(2):
        run("register", str(plus_two), "churn")
    assert run("alias", "set", "churn", "champion", "1") == 0
    assert run("alias", "set", "churn", "champion", "2") == 0
    assert "from version 1 to version 2" in capsys.readouterr().out
    assert run("alias", "delete", "churn", "champion") == 0
    history = json_of(capsys, "alias", "history", "churn", "champion")
    assert [(h["from_version"], h["to_version"], h["who"]) for h in history] == [
        (None, 1, "alice"),
        (1, 2, "alice"),
        (2, None, "alice"),
    ]
    assert run("alias", "history", "churn") == 0
    assert capsys.readouterr().out.splitlines()[0].split() == [
        "WHEN",
        "ALIAS",
        "FROM",
        "TO",
        "WHO",
        "NOTE",
    ]

    assert run("tag", "set", "churn", "team", "risk") == 0
    assert run("tag", "set", "churn", "ok", "yes", "--version", "2") == 0
    assert run("describe", "churn", "predicts churn") == 0
    model = json_of(capsys, "show", "churn")
    assert (model["tags"], model["description"]) == ({"team": "risk"}, "predicts churn")
    assert json_of(capsys, "show", "models:/churn/2")["tags"] == {"ok": "yes"}
    assert run("tag", "delete", "churn", "ok", "--version", "2") == 0
    assert json_of(capsys, "show", "models:/churn/2")["tags"] == {}

    assert run("delete", "churn", "--version", "2") == 0
    assert "its number is not reused" in capsys.readouterr().out
    assert [v["version"] for v in json_of(capsys, "versions", "churn")] == [1]
    assert run("delete", "churn") == 0
    assert json_of(capsys, "list") == []


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (("show", "nope"), "no registered model named 'nope'"),
        (("show", "models:/nope@x"), "no registered model named 'nope'"),
        (("alias", "set", "churn", "latest", "1"), "reserved"),
        (("alias", "set", "churn", "prod", "7"), "has no version 7"),
        (("tag", "delete", "churn", "missing"), "has no tag 'missing'"),
        (("register", "/no/such/folder", "x"), "does not exist"),
        (("show", "models:/churn/Staging"), "stages are deprecated"),
    ],
)
def test_errors_are_one_line_and_exit_1(
    registry_dir: Path,
    plus_two: Path,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    says: str,
) -> None:
    run("register", str(plus_two), "churn")
    capsys.readouterr()
    assert run(*argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("flavorkit: error: ") and says in err
    assert len(err.strip().splitlines()) == 1


def test_registry_option_names_another_registry(
    registry_dir: Path, plus_two: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other"
    assert run("register", str(plus_two), "elsewhere", "--registry", str(other)) == 0
    assert [m["name"] for m in json_of(capsys, "list", "--registry", str(other))] == ["elsewhere"]
    assert json_of(capsys, "list") == []


def test_bad_arguments_are_refused_by_the_parser(registry_dir: Path) -> None:
    with pytest.raises(SystemExit):
        run("alias", "set", "churn", "prod", "zero")
    with pytest.raises(SystemExit):
        run("register", "src", "name", "--tag", "novalue")


@pytest.mark.parametrize(
    "argv",
    [
        (),
        ("register",),
        ("list",),
        ("show",),
        ("versions",),
        ("alias",),
        ("alias", "set"),
        ("alias", "delete"),
        ("alias", "history"),
        ("tag", "set"),
        ("tag", "delete"),
        ("describe",),
        ("delete",),
    ],
)
def test_every_help_text_renders(argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        run(*argv, "--help")
    assert caught.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: flavorkit models") and "'option_strings'" not in out
