"""The alert page's API: one alert with its events, triage recorded durably with who and when
(and visible to every user), a viewer refused, and the OpenAPI description of every route."""
from __future__ import annotations

import orjson
import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from logwarden.auth.store import Tokens, Users
from logwarden.config import Config
from logwarden.http.app import build_app
from logwarden.sinks.embedded import IndexWriter
from logwarden.triage import TriageLog

QUERY = 'event.id:"e1" OR event.id:"e2"'


@pytest.fixture
def cfg(tmp_path):
    c = Config(data_dir=str(tmp_path))
    w = IndexWriter(tmp_path / "index" / "events", heap_bytes=16_000_000)
    for i in range(1, 4):
        w.add({"@timestamp": f"2024-05-01T10:00:0{i}Z", "message": f"Failed password for root port {i}",
               "event": {"id": f"e{i}", "original": f"raw line {i}"}, "process": {"name": "sshd"}})
    w.close()
    a = IndexWriter(tmp_path / "index" / "alerts", heap_bytes=16_000_000)
    a.add({"@timestamp": "2024-05-01T10:01:00Z", "event": {"kind": "alert", "id": "a1", "severity": 73},
           "rule": {"id": "r1", "name": "SSH brute force"}, "alert": {"level": "high", "count": 2, "query": QUERY}})
    a.close()
    Users(c.data_path).set("ana", "correct horse", "admin")
    return c


def _client(cfg, role: str) -> TestClient:
    _, token = Tokens(cfg.data_path).create(role)
    return TestClient(build_app(cfg), headers={"Authorization": f"Bearer {token}"})


def test_alert_detail_has_its_events(cfg):
    body = _client(cfg, "viewer").get("/api/alerts/a1").json()
    assert body["alert"]["rule"]["name"] == "SSH brute force"
    assert sorted(h["event"]["id"] for h in body["events"]["hits"]) == ["e1", "e2"]
    assert body["events"]["hits"][0]["event"]["original"].startswith("raw line")
    assert body["triage"] == []
    r = _client(cfg, "viewer").get("/api/alerts/nope")
    assert r.status_code == 404 and "no alert" in r.json()["error"]


def test_triage_is_recorded_with_who_and_when_and_survives_a_restart(cfg):
    browser = TestClient(build_app(cfg))
    login = browser.post("/api/login", json={"username": "ana", "password": "correct horse"}).json()
    r = browser.post("/api/alerts/a1/triage", json={"state": "acknowledged", "note": "looking"},
                     headers={"X-CSRF-Token": login["csrf"]})
    assert r.status_code == 200
    rec = r.json()
    assert rec["user"] == "ana" and rec["state"] == "acknowledged" and rec["note"] == "looking" and rec["time"].endswith("Z")
    admin = _client(cfg, "admin")
    assert admin.post("/api/alerts/a1/triage", json={"state": "closed", "note": "blocked at the firewall"}).status_code == 200
    # a new app (an HTTP process restarted) and another user see it
    viewer = _client(cfg, "viewer")
    history = viewer.get("/api/alerts/a1").json()["triage"]
    assert [(h["state"], h["user"]) for h in history] == [("acknowledged", "ana"), ("closed", history[1]["user"])]
    assert history[1]["user"].startswith("token:")
    assert viewer.get("/api/triage").json()["a1"]["state"] == "closed"
    lines = (cfg.data_path / "alerts" / "triage.jsonl").read_bytes().splitlines()
    assert [orjson.loads(x)["state"] for x in lines] == ["acknowledged", "closed"]


def test_triage_refuses_viewers_bad_states_and_unknown_alerts(cfg):
    viewer = _client(cfg, "viewer")
    r = viewer.post("/api/alerts/a1/triage", json={"state": "closed"})
    assert r.status_code == 403 and "admin" in r.json()["error"]
    admin = _client(cfg, "admin")
    r = admin.post("/api/alerts/a1/triage", json={"state": "resolved"})
    assert r.status_code == 400 and "state: expected one of open, acknowledged, closed" in r.json()["error"]
    assert admin.post("/api/alerts/a1/triage", content=b"not json").status_code == 400
    assert admin.post("/api/alerts/zz/triage", json={"state": "closed"}).status_code == 404
    assert not (cfg.data_path / "alerts" / "triage.jsonl").exists()


def test_a_viewer_token_on_every_state_change_is_403(cfg):
    app = build_app(cfg)
    changes = [(m, r.path.replace("{alert_id}", "a1")) for r in app.routes if isinstance(r, Route)
               and r.path.startswith("/api/") for m in (r.methods or ()) if m not in ("GET", "HEAD")
               and r.path not in ("/api/login", "/api/logout")]
    assert ("POST", "/api/alerts/a1/triage") in changes
    _, token = Tokens(cfg.data_path).create("viewer")
    client = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    for method, path in changes:
        assert client.request(method, path, json={}).status_code == 403, (method, path)


def test_torn_last_line_is_skipped(tmp_path):
    log = TriageLog(tmp_path)
    log.record("a1", "acknowledged", "", "ana")
    with open(log.path, "ab") as f:
        f.write(b'{"alert_id": "a1", "sta')   # a crash mid-append
    assert [r["state"] for r in TriageLog(tmp_path).history("a1")] == ["acknowledged"]


def test_openapi_describes_every_api_route(cfg):
    app = build_app(cfg)
    served = {r.path for r in app.routes if isinstance(r, Route) and r.path.startswith("/api/")}
    spec = _client(cfg, "viewer").get("/api/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    assert set(spec["paths"]) == served
    for path, ops in spec["paths"].items():
        route = next(r for r in app.routes if isinstance(r, Route) and r.path == path)
        assert {m.lower() for m in route.methods if m != "HEAD"} >= set(ops), path


def test_page_paths_serve_the_page(cfg):
    client = TestClient(build_app(cfg))
    for path in ("/", "/discover", "/alerts", "/alerts/a1", "/pipeline", "/tail", "/login"):
        r = client.get(path)
        assert r.status_code == 200 and "<title>Logwarden</title>" in r.text, path
