"""``flavorkit serve models:/name@alias``: the version the alias names at start, in every worker."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from _serving_models import start_server
from registry_support import save_add_constant


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_pins_the_version_an_alias_names_when_it_starts(
    registry_dir: Path, tmp_path: Path, workers: int
) -> None:
    import flavorkit.registry as registry

    for k in (1.0, 10.0):
        registry.register_model(save_add_constant(tmp_path / f"add{k}", k), "adder")
    registry.set_alias("adder", "prod", 2)
    env = {
        "FLAVORKIT_REGISTRY_URI": str(registry_dir),
        "FLAVORKIT_CACHE_DIR": str(tmp_path / "cache"),
    }
    server = start_server(
        "models:/adder@prod", "--workers", str(workers), log_dir=tmp_path, env=env
    )
    try:
        registry.set_alias("adder", "prod", 1)  # moved after the start: the server keeps 2
        info = httpx.get(f"{server.url}/model", timeout=10).json()
        assert info["uri"] == "models:/adder@prod"
        assert info["registered"]["name"] == "adder"
        assert info["registered"]["version"] == 2
        assert info["registered"]["aliases"] == ["prod"]
        assert Path(info["path"]).is_dir()
        answers = [
            httpx.post(
                f"{server.url}/invocations", json={"inputs": {"x": [1.0]}}, timeout=10
            ).json()["predictions"]
            for _ in range(6)
        ]
        assert answers == [[{"x": 11.0}]] * 6
    finally:
        server.stop()


def test_serve_refuses_an_unknown_alias_before_starting(
    registry_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import flavorkit.registry as registry
    from flavorkit.cli import main

    registry.register_model(save_add_constant(tmp_path / "add", 1.0), "adder")
    assert main(["serve", "--check", "models:/adder@nope"]) == 1
    err = capsys.readouterr().err
    assert "adder" in err and "nope" in err
