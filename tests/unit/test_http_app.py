"""The HTTP API's contract: answers, and the status codes of each kind of failure."""
from __future__ import annotations

import orjson
import pytest
from starlette.testclient import TestClient

from logwarden.auth.store import Tokens
from logwarden.config import Config
from logwarden.http.app import build_app
from lwtest import free_port


def viewer(cfg: Config) -> TestClient:
    """A client with a viewer token, as a script would call the API."""
    _, token = Tokens(cfg.data_path).create("viewer")
    return TestClient(build_app(cfg), headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def client(tmp_path):
    return viewer(Config(data_dir=str(tmp_path)))


def test_search_on_an_empty_index(client):
    r = client.get("/api/search", params={"q": "process.name:sshd", "since": "15m"})
    assert r.status_code == 200 and r.json() == {"total": 0, "hits": []}
    assert client.get("/api/alerts").json()["total"] == 0


@pytest.mark.parametrize("params, fragment", [
    ({"q": "process.name:(sshd"}, "bad query"),
    ({"since": "yesterday"}, "since: expected a duration"),
    ({"limit": "0"}, "limit: expected 1..10000"),
    ({"limit": "many"}, "limit: expected an integer"),
])
def test_bad_requests_are_400_with_a_reason(client, params, fragment):
    r = client.get("/api/search", params=params)
    assert r.status_code == 400 and fragment in r.json()["error"]


def test_unreachable_elasticsearch_is_503(tmp_path):
    cfg = Config(data_dir=str(tmp_path))
    cfg.index.type = "elasticsearch"
    cfg.index.elasticsearch_url = f"http://127.0.0.1:{free_port()}"
    r = viewer(cfg).get("/api/search", params={"q": "*"})
    assert r.status_code == 503 and "unavailable" in r.json()["error"]


def test_health_reflects_supervised_children(tmp_path):
    cfg = Config(data_dir=str(tmp_path))
    client = TestClient(build_app(cfg))
    (tmp_path / "run").mkdir()
    status = tmp_path / "run" / "status.json"
    status.write_bytes(orjson.dumps({"children": {"broker": {"running": True}, "index": {"running": True}}}))
    assert client.get("/health").status_code == 200
    status.write_bytes(orjson.dumps({"children": {"broker": {"running": True}, "index": {"running": False}}}))
    r = client.get("/health")
    assert r.status_code == 503 and r.json()["down"] == ["index"]


def test_metrics_and_ui(client):
    r = client.get("/metrics")
    assert r.status_code == 200 and "logwarden_component_received_events_total" in r.text
    assert "<title>Logwarden</title>" in client.get("/").text
    assert client.get("/static/app.js").status_code == 200


@pytest.mark.parametrize("path, params, fragment", [
    ("/api/search", {"from": "yesterday"}, "from: expected a date"),
    ("/api/search", {"to": "2026-13-45"}, "to: expected a date"),
    ("/api/search", {"from": "now", "to": "now-1h"}, "is after to"),
    ("/api/search", {"since": "1h", "from": "now-2h"}, "give one of them"),
    ("/api/search", {"sort": "message:desc"}, "full-text field"),
    ("/api/search", {"sort": "a b:up"}, "sort: expected FIELD"),
    ("/api/search", {"sort": "event.created:asc"}, "only @timestamp"),
    ("/api/search", {"search_after": "xyz"}, "search_after: not a cursor"),
    ("/api/search", {"search_after": "xyz", "offset": "10"}, "page with one of them"),
    ("/api/search", {"sort": "source.port", "offset": "9999", "limit": "10"}, "at most 10000"),
    ("/api/search", {"q": "a" * 10_001}, "q: at most 10000 characters"),
    ("/api/top", {}, "field: required"),
    ("/api/top", {"field": "message"}, "full-text field"),
    ("/api/top", {"field": "source.ip", "size": "5000"}, "size: expected 1..1000"),
    ("/api/top", {"field": "@timestamp"}, "use /api/histogram"),
    ("/api/top", {"field": "x;drop"}, "not a field name"),
    ("/api/stats", {"field": "source.ip"}, "stats need a numeric field"),
    ("/api/top", {"field": "rule.id", "index": "dlq"}, "index: events or alerts"),
    ("/api/stats", {}, "field: required"),
    ("/api/fields", {"sample": "0"}, "sample: expected 1..5000"),
    ("/api/histogram", {"interval": "fortnight"}, "interval: expected a duration"),
    ("/api/histogram", {"interval": "1s", "since": "30d"}, "at most 2000"),
    ("/api/histogram", {"split": "message"}, "full-text field"),
    ("/api/tail", {"q": "process.name:(sshd"}, "bad query"),
    ("/api/tail", {"heartbeat": "0"}, "heartbeat: expected 1..300"),
    ("/api/tail", {"last_event_id": "garbage"}, "Last-Event-ID"),
])
def test_new_endpoints_refuse_bad_parameters(tmp_path, path, params, fragment):
    from logwarden.sinks.embedded import IndexWriter

    w = IndexWriter(tmp_path / "index" / "events", heap_bytes=16_000_000)
    w.add({"@timestamp": "2026-12-07T13:00:00Z", "message": "m", "event": {"id": "e1"}, "source": {"ip": "10.0.0.1"}})
    w.close()
    client = viewer(Config(data_dir=str(tmp_path)))
    r = client.get(path, params=params)
    assert r.status_code == 400, r.text
    assert fragment in r.json()["error"], r.json()


def test_top_counts_alerts_by_rule_with_index_alerts(tmp_path):
    # /api/top had no index parameter: only the rules page's service call could count alerts
    from logwarden.sinks.embedded import IndexWriter

    for name, docs in (("events", [{"rule": {"id": "not-an-alert"}}]), ("alerts", [{"rule": {"id": "r1"}}, {"rule": {"id": "r1"}}])):
        w = IndexWriter(tmp_path / "index" / name, heap_bytes=16_000_000)
        for i, d in enumerate(docs):
            w.add({"@timestamp": "2026-12-07T13:00:00Z", "message": "m", "event": {"id": f"{name}{i}"}, **d})
        w.close()
    client = viewer(Config(data_dir=str(tmp_path)))
    alerts = client.get("/api/top", params={"field": "rule.id", "index": "alerts"}).json()
    assert alerts["values"] == [{"value": "r1", "count": 2}], alerts
    assert client.get("/api/top", params={"field": "rule.id"}).json()["values"] == [{"value": "not-an-alert", "count": 1}]


def test_new_endpoints_on_an_empty_index(client):
    assert client.get("/api/top", params={"field": "source.ip"}).json() == {
        "field": "source.ip", "total": 0, "values": [], "other": 0, "missing": 0}
    assert client.get("/api/stats", params={"field": "http.response.body.bytes"}).json()["count"] == 0
    assert client.get("/api/fields").json() == {"total": 0, "sample": 0, "fields": []}
    assert client.get("/api/histogram", params={"split": "host.name"}).json()["series"] == []


def test_health_names_a_full_data_directory(tmp_path, monkeypatch):
    """issue 18: on a full disk every process still runs, so `down` is empty; /health must
    still say that nothing moves, and why."""
    import shutil
    from collections import namedtuple

    cfg = Config(data_dir=str(tmp_path))
    client = TestClient(build_app(cfg))
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "status.json").write_bytes(orjson.dumps({"children": {"broker": {"running": True}}}))
    assert client.get("/health").status_code == 200
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(64 << 20, (64 << 20) - 4096, 4096))
    r = client.get("/health")
    assert r.status_code == 503 and r.json()["down"] == []
    assert r.json()["error"].startswith(f"disk full: the data directory {tmp_path} has 4096 bytes free")
