"""``flavorkit cache list|prune``, through the parser ``add_cache_parser`` builds."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import pytest
from flavorkit import stores
from flavorkit.stores._cli import add_cache_parser


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="flavorkit")
    add_cache_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return int(args.func(args))


def fill(key: str, size: int, source: str, days_ago: float = 0) -> Path:
    path = stores.cached(key, lambda f: (f / "w.bin").write_bytes(b"x" * size), source=source)
    when = time.time() - days_ago * 86400
    os.utime(path.parent / "entry.json", (when, when))
    return path


def test_list_shows_key_size_last_use_and_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("cache", "list") == 0
    assert "the download cache is empty" in capsys.readouterr().out
    fill("s3-aaa", 2048, "s3://bucket/model", days_ago=2)
    fill("hf-bbb", 10, "hf://org/repo@v1\x1b[31m")  # a control character in a recorded URL
    assert run("cache", "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["KEY", "SIZE", "LAST", "USED", "SOURCE"]
    assert lines[1].startswith("hf-bbb") and "\x1b" not in lines[1] and "\\x1b" in lines[1]
    assert lines[2].startswith("s3-aaa") and "2.0 KiB" in lines[2]
    assert lines[2].endswith("s3://bucket/model")
    when = time.strftime("%Y-%m-%d", time.localtime(time.time() - 2 * 86400))
    assert when in lines[2]
    assert lines[3].startswith("2 folder(s), 2.0 KiB of 20.0 GiB")


def test_prune_older_than(capsys: pytest.CaptureFixture[str]) -> None:
    fill("old", 100, "s3://b/old", days_ago=40)
    fill("new", 100, "s3://b/new")
    assert run("cache", "prune", "--older-than", "30") == 0
    assert "removed 1 folder(s), 100 B; 1 left, 100 B" in capsys.readouterr().out
    assert [e.key for e in stores.cache_entries()] == ["new"]


def test_prune_to_a_size_removes_the_least_recently_used(
    capsys: pytest.CaptureFixture[str],
) -> None:
    fill("a", 600, "s3://b/a", days_ago=3)
    fill("b", 600, "s3://b/b", days_ago=1)
    fill("c", 600, "s3://b/c", days_ago=2)
    assert run("cache", "prune", "--max-bytes", "1300") == 0
    assert [e.key for e in stores.cache_entries()] == ["c", "b"]
    assert run("cache", "prune", "--max-bytes", "1K") == 0
    assert [e.key for e in stores.cache_entries()] == ["b"]
    capsys.readouterr()


def test_prune_without_options_applies_the_configured_limit(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fill("a", 600, "s3://b/a", days_ago=3)
    fill("b", 600, "s3://b/b", days_ago=1)
    monkeypatch.setenv("FLAVORKIT_CACHE_MAX_BYTES", "1000")
    assert run("cache", "prune") == 0
    assert [e.key for e in stores.cache_entries()] == ["b"]
    monkeypatch.setenv("FLAVORKIT_CACHE_MAX_BYTES", "much")
    assert run("cache", "prune") == 1
    assert capsys.readouterr().err.strip() == (
        "flavorkit: error: FLAVORKIT_CACHE_MAX_BYTES: 'much' is not a size "
        "(bytes, or a number with K, M, G or T)"
    )


def test_prune_all(capsys: pytest.CaptureFixture[str]) -> None:
    fill("a", 1, "s3://b/a")
    fill("b", 1, "s3://b/b")
    assert run("cache", "prune", "--all") == 0
    assert stores.cache_entries() == []
    assert "removed 2 folder(s)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ("cache",),
        ("cache", "prune", "--max-bytes", "lots"),
        ("cache", "prune", "--older-than", "-1"),
        ("cache", "prune", "--older-than", "soon"),
    ],
)
def test_bad_arguments_exit_2(argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        run(*argv)
    assert caught.value.code == 2
    assert "error" in capsys.readouterr().err
