"""There is no Docker engine here; the compose file is parsed and held to the rules."""

from __future__ import annotations

import yaml

from app.settings import REPO_ROOT


def test_compose_publishes_on_loopback_only_with_gpu_and_grimoire_volume() -> None:
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    service = compose["services"]["loragate"]
    for port in service["ports"]:
        assert str(port).startswith("127.0.0.1:"), port
    devices = service["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    assert any(str(v).endswith(":/app/grimoire") for v in service["volumes"])
    # Inside the container the server must listen on all interfaces for the published port
    # to reach it, which loragate only allows with a token.
    assert service["environment"]["LORAGATE_HOST"] == "0.0.0.0"
    assert "LORAGATE_ACCESS_TOKEN" in service["environment"]


def test_dockerfile_installs_and_serves() -> None:
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert "FROM " in dockerfile and "loragate" in dockerfile
    assert "serve" in dockerfile
