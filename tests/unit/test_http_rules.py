"""The rules page's API: the rule set as the stage loads it (bundled first, then the configured
files), load errors with file and line, alerts of the last 24 h per rule, one rule's own YAML
document and its recent alerts, 404 for an id no rule has, and a compile only when a file
changes."""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import pytest
from starlette.testclient import TestClient

from logwarden.auth.store import Tokens
from logwarden.config import Config
from logwarden.http.app import build_app
from logwarden.rules.ruleset import BUNDLED_DIR
from logwarden.sinks.embedded import IndexWriter

BRUTE = "5d2c8a7e-3f61-4c1b-9a0e-6f4b2d7c9e11"   # the bundled correlation
PAIR = """title: Cron job changed
id: 11111111-2222-4333-8444-555555555555
status: test
author: ops
tags: [attack.persistence, attack.t1053.003]
logsource: {product: linux, service: cron}
detection:
  selection: {process.name: crontab}
  condition: selection
level: medium
---
title: Sudo to root
id: 66666666-7777-4888-9999-000000000000
logsource: {product: linux}
detection:
  selection: {process.name: sudo, user.target.name: root}
  condition: selection
level: high
"""
BROKEN = """title: Broken level
id: 99999999-0000-4000-8000-000000000001
logsource: {product: linux}
detection:
  selection: {process.name: x}
  condition: selection
level: severe
"""


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="seconds").replace("+00:00", "Z")


@pytest.fixture
def cfg(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "pair.yml").write_text(PAIR)
    (rules / "broken.yml").write_text(BROKEN)
    now = datetime.now(timezone.utc)
    a = IndexWriter(tmp_path / "index" / "alerts", heap_bytes=16_000_000)
    for i, (rid, age) in enumerate([(BRUTE, 1), (BRUTE, 2), (BRUTE, 30), ("66666666-7777-4888-9999-000000000000", 3)]):
        a.add({"@timestamp": _iso(now - timedelta(hours=age)), "event": {"kind": "alert", "id": f"al{i}"},
               "rule": {"id": rid, "name": "x"}, "alert": {"level": "high", "count": 5}})
    a.close()
    return Config(data_dir=str(tmp_path), rules={"paths": [str(rules)]})


def _client(cfg, role: str = "viewer", app=None) -> TestClient:
    _, token = Tokens(cfg.data_path).create(role)
    return TestClient(app or build_app(cfg), headers={"Authorization": f"Bearer {token}"})


def test_rules_lists_what_the_stage_loads_with_matches_and_errors(cfg):
    r = TestClient(build_app(cfg)).get("/api/rules")
    assert r.status_code == 401
    body = _client(cfg).get("/api/rules").json()
    by_id = {x["id"]: x for x in body["rules"]}
    assert set(by_id) == {BRUTE, "8b1f0c3d-6a2e-4f7b-b5d9-2e8c4a1f7d30", "11111111-2222-4333-8444-555555555555",
                          "66666666-7777-4888-9999-000000000000"}
    brute = by_id[BRUTE]
    assert brute["kind"] == "correlation" and brute["level"] == "high" and brute["status"] == "stable"
    assert brute["file"] == str(BUNDLED_DIR / "ssh_bruteforce.yml") and brute["line"] == 5
    assert brute["matches_24h"] == 2   # the alert 30 h old is outside the window
    cron = by_id["11111111-2222-4333-8444-555555555555"]
    assert (cron["kind"], cron["tags"], cron["author"], cron["matches_24h"]) == (
        "rule", ["attack.persistence", "attack.t1053.003"], "ops", 0)
    assert by_id["66666666-7777-4888-9999-000000000000"]["matches_24h"] == 1
    assert body["matches_error"] is None and body["summary"]["errors"] == 1
    [err] = body["errors"]
    assert err["file"].endswith("broken.yml") and err["line"] == 7 and "level 'severe'" in err["reason"]


def test_a_rule_page_has_its_own_document_and_alerts(cfg):
    client = _client(cfg)
    body = client.get("/api/rules/66666666-7777-4888-9999-000000000000").json()
    assert body["rule"]["title"] == "Sudo to root" and body["rule"]["line"] == 12
    assert body["yaml"] == PAIR.split("---\n")[1].rstrip("\n")   # the second document only
    assert [h["event"]["id"] for h in body["alerts"]["hits"]] == ["al3"]
    brute = client.get(f"/api/rules/{BRUTE}").json()
    assert brute["yaml"].startswith("title: SSH brute force") and "correlation:" in brute["yaml"]
    assert "SSH failed authentication" not in brute["yaml"] and not brute["yaml"].endswith("---")
    assert [h["event"]["id"] for h in brute["alerts"]["hits"]] == ["al0", "al1", "al2"]   # newest first, all time
    assert brute["rule"]["references"] == ["https://attack.mitre.org/techniques/T1110/001/"]


@pytest.mark.parametrize("rule_id", ["nope", '" OR *', "%00", "x" * 5000, "99999999-0000-4000-8000-000000000001"])
def test_an_id_no_rule_has_is_404(cfg, rule_id):
    r = _client(cfg).get(f"/api/rules/{rule_id}")
    assert r.status_code == 404 and "no rule" in r.json()["error"]


def test_the_rule_set_is_compiled_again_only_after_a_file_changes(cfg, tmp_path):
    app = build_app(cfg)
    client = _client(cfg, app=app)
    catalog = next(r.endpoint.__self__ for r in app.routes if getattr(r, "path", "") == "/api/rules").catalog
    for _ in range(3):
        client.get("/api/rules")
        client.get(f"/api/rules/{BRUTE}")
    assert catalog.loads == 1
    fixed = tmp_path / "rules" / "broken.yml"
    fixed.write_text(BROKEN.replace("severe", "low"))
    st = fixed.stat()
    os.utime(fixed, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    body = client.get("/api/rules").json()
    assert catalog.loads == 2 and body["errors"] == []
    assert client.get("/api/rules/99999999-0000-4000-8000-000000000001").status_code == 200


def test_rules_are_listed_when_the_search_backend_is_down(tmp_path):
    cfg = Config(data_dir=str(tmp_path), index={"type": "elasticsearch", "elasticsearch_url": "http://127.0.0.1:9"})
    client = _client(cfg)
    body = client.get("/api/rules").json()
    assert {r["id"] for r in body["rules"]} >= {BRUTE} and all(r["matches_24h"] is None for r in body["rules"])
    assert "unreachable" in body["matches_error"]
    rule = client.get(f"/api/rules/{BRUTE}").json()
    assert rule["yaml"].startswith("title:") and "unreachable" in rule["alerts_error"]


def test_rule_page_paths_serve_the_page(cfg):
    client = TestClient(build_app(cfg))
    for path in ("/rules", f"/rules/{BRUTE}"):
        r = client.get(path)
        assert r.status_code == 200 and "<title>Logwarden</title>" in r.text, path
