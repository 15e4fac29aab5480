"""The HTTP API's contract: answers, and the status codes of each kind of failure."""
from __future__ import annotations

import orjson
import pytest
from starlette.testclient import TestClient

from logwarden.config import Config
from logwarden.http.app import build_app
from lwtest import free_port


@pytest.fixture
def client(tmp_path):
    cfg = Config(data_dir=str(tmp_path))
    return TestClient(build_app(cfg))


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
    r = TestClient(build_app(cfg)).get("/api/search", params={"q": "*"})
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
