"""deploy/compose/: the compose file that runs the scaled-out form against real Kafka and
Elasticsearch. It is `logwarden deploy render --target compose` of the default settings,
kept current by this test; its Elasticsearch major version must be one the installed
official client can talk to."""
from __future__ import annotations

from pathlib import Path

import elasticsearch
import yaml

from logwarden.config import Config, load
from logwarden.deploy.render import render

COMPOSE_DIR = Path(__file__).resolve().parents[2] / "deploy" / "compose"


def test_committed_compose_is_the_current_rendering(tmp_path):
    render(Config(), "compose", tmp_path)
    for name in ("docker-compose.yml", "logwarden.yml"):
        assert (COMPOSE_DIR / name).read_text() == (tmp_path / name).read_text(), (
            f"deploy/compose/{name} is stale: run `logwarden deploy render --target compose --out deploy/compose`")


def test_compose_file():
    doc = yaml.safe_load((COMPOSE_DIR / "docker-compose.yml").read_text())
    services = doc["services"]
    assert {"kafka", "elasticsearch", "parsers", "index", "rules", "metrics", "http"} <= set(services)
    cfg = load(COMPOSE_DIR / "logwarden.yml")
    assert cfg.index.type == "elasticsearch"
    assert cfg.kafka.bootstrap_servers == "kafka:9092"
    image = services["elasticsearch"]["image"]
    major = image.rsplit(":", 1)[1].split(".")[0]
    assert major == elasticsearch.__versionstr__.split(".")[0], "the client sends compatible-with=<its major>"
    for name in ("index", "metrics", "http"):
        assert services[name]["command"][:2] in (["logwarden", "worker"], ["logwarden", "http"])
    for svc in services.values():
        for port in svc.get("ports", []):
            assert port.startswith("127.0.0.1:")
