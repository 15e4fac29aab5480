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
