"""The configuration shown in docs/parsers.md is valid and does what the page says."""
import re
from pathlib import Path

import yaml

from logwarden.config import validate
from logwarden.parsers.engine import Engine

from parsers_testlib import envelope

DOC = Path(__file__).resolve().parents[3] / "docs" / "parsers.md"


def test_yaml_example_validates_and_runs():
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert blocks
    cfg = validate(yaml.safe_load(blocks[0]), "docs/parsers.md")
    engine = Engine(cfg.parsers)
    shop = '2026-11-26 10:00:00,123 WARN [cart] user=bob ip=203.0.113.5 took_ms=12'
    doc = engine.parse(envelope(shop, log={"file": {"path": "/var/log/shop/app.log"}, "offset": 0}))
    assert doc["user"]["name"] == "bob" and doc["shop"]["took_ms"] == 12 and doc["@timestamp"] == "2026-11-26T09:00:00.123Z"
    health = '10.0.0.5 - - [26/Nov/2026:10:00:00 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.29"'
    assert engine.parse(envelope(health, fields={"log_format": "nginx"})) is None
    sshd = engine.parse(envelope("Nov 26 10:00:00 h sshd[1]: Failed password for root from 192.0.2.1 port 2 ssh2"))
    assert sshd["labels"]["owner"] == "secops" and engine.topics(sshd) == ["logs.ecs", "logs.auth"]
    err = engine.parse(envelope('1.2.3.4 - - [26/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 502 1 "-" "-"'))
    assert engine.topics(err) == ["logs.web-errors"]
