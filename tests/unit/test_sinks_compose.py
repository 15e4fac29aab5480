"""deploy/compose/elasticsearch.yml: valid compose YAML whose embedded config validates and
whose Elasticsearch major version is one the installed official client can talk to."""
from __future__ import annotations

from pathlib import Path

import elasticsearch
import yaml

from logwarden.config import validate

COMPOSE = Path(__file__).resolve().parents[2] / "deploy" / "compose" / "elasticsearch.yml"


def test_compose_file():
    doc = yaml.safe_load(COMPOSE.read_text())
    services = doc["services"]
    assert {"kafka", "elasticsearch", "parsers", "index", "rules", "metrics", "http"} <= set(services)
    cfg = validate(yaml.safe_load(doc["configs"]["logwarden"]["content"]), "elasticsearch.yml")
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
