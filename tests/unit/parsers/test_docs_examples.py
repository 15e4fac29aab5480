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


def test_enrichment_example_validates_and_runs(tmp_path):
    """The Enrichment section's YAML, with its files made here (databases by tests/geodb.py)."""
    from geodb import write_databases

    block = next(b for b in re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S) if "geoip:" in b)
    city, asn = write_databases(tmp_path)
    (tmp_path / "intel.csv").write_text("indicator,threat.indicator.type,threat.indicator.provider\n1.2.3.0/24,ipv4-addr,blocklist\n")
    (tmp_path / "assets.json").write_text('{"web-*": {"owner": "shop"}}')
    (tmp_path / "users.csv").write_text("user,department\nAlice,finance\n")
    for name, path in {"/var/lib/logwarden/geoip/GeoLite2-City.mmdb": city, "/var/lib/logwarden/geoip/GeoLite2-ASN.mmdb": asn,
                       "/etc/logwarden/intel.csv": tmp_path / "intel.csv", "/etc/logwarden/assets.json": tmp_path / "assets.json",
                       "/etc/logwarden/users.csv": tmp_path / "users.csv"}.items():
        assert name in block
        block = block.replace(name, str(path))
    engine = Engine(validate(yaml.safe_load(block), "docs/parsers.md").parsers)
    web = engine.parse(envelope('1.2.3.4 - - [26/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"',
                                fields={"log_format": "nginx"}, host={"name": "web-1"}))
    assert web["source"]["geo"]["country_iso_code"] == "CN" and web["threat"]["indicator"]["provider"] == "blocklist"
    assert web["tags"] == ["threat_intel"] and web["host"]["asset"]["owner"] == "shop"
    fw = engine.parse(envelope('{"fw": {"src_ip": "81.2.69.160"}, "user": {"name": "alice"}}',
                               log={"file": {"path": "/var/log/fw/a.log"}, "offset": 0}))
    assert fw["source"]["as"]["number"] == 20712 and fw["user"]["department"] == "finance"
