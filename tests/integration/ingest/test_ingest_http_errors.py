"""The HTTP receiver's answers that need no broker: info, auth, size limits, bad bodies,
and what a sender sees when the broker does not acknowledge (nothing listens)."""
import gzip

import httpx
import orjson
import pytest
from elasticsearch import Elasticsearch

from logwarden.config import Config
from lwtest import free_port

pytestmark = pytest.mark.integration
TOKEN = "tok-for-tests-123"


def cfg(**ingest):
    base = {"http": "127.0.0.1:0", "tokens": [{"name": "web", "token": TOKEN, "format": "nginx"}],
            "http_max_body_bytes": 4096, "delivery_timeout_ms": 500}
    base.update(ingest)
    return Config(kafka={"bootstrap_servers": f"127.0.0.1:{free_port()}"}, ingest=base)


def test_es_client_info_and_version_check(run_ingest):
    r = run_ingest(cfg(es_version="8.15.2"))
    es = Elasticsearch(r.url(), bearer_auth=TOKEN)
    info = es.info()
    assert info["version"]["number"] == "8.15.2" and info["tagline"] == "You Know, for Search"
    es_key = Elasticsearch(r.url(), api_key=("key-id", TOKEN))
    assert es_key.info()["cluster_name"] == "logwarden"
    assert es.cluster.health()["status"] == "green"
    assert es.license.get()["license"]["type"] == "basic"
    assert httpx.get(r.url() + "/_cluster/health").status_code == 401


def test_401_names_the_problem(run_ingest):
    r = run_ingest(cfg())
    for headers, msg in [({}, "missing authentication credentials"), ({"Authorization": "Bearer wrong"}, "invalid token")]:
        resp = httpx.post(r.url() + "/_bulk", content=b'{"index":{}}\n{}\n', headers=headers)
        assert resp.status_code == 401
        assert msg in resp.json()["error"]["reason"] and resp.json()["error"]["type"] == "security_exception"
        assert resp.headers["x-elastic-product"] == "Elasticsearch" and "Bearer" in resp.headers["www-authenticate"]
    assert httpx.get(r.url() + "/").status_code == 401


def test_413_on_length_streaming_and_gzip(run_ingest):
    r = run_ingest(cfg())
    auth = {"Authorization": f"Bearer {TOKEN}"}
    big = b'{"message": "' + b"x" * 5000 + b'"}\n'
    resp = httpx.post(r.url() + "/ingest", content=big, headers=auth)
    assert resp.status_code == 413 and "http_max_body_bytes (4096 bytes)" in resp.json()["error"]["reason"]

    def chunks():  # no Content-Length: the limit applies while streaming
        for _ in range(10):
            yield b"y" * 1000

    assert httpx.post(r.url() + "/ingest", content=chunks(), headers=auth).status_code == 413
    bomb = gzip.compress(b"z" * 100_000)  # small on the wire, large inflated
    assert len(bomb) < 4096
    resp = httpx.post(r.url() + "/ingest", content=bomb, headers={**auth, "Content-Encoding": "gzip"})
    assert resp.status_code == 413


def test_400_for_bad_bodies(run_ingest):
    r = run_ingest(cfg())
    auth = {"Authorization": f"Bearer {TOKEN}"}
    resp = httpx.post(r.url() + "/_bulk", content=b"not json\n", headers=auth)
    assert resp.status_code == 400 and "Malformed action/metadata line [1]" in resp.json()["error"]["reason"]
    resp = httpx.post(r.url() + "/ingest", content=b"  \n", headers=auth)
    assert resp.status_code == 400 and "request body is required" in resp.json()["error"]["reason"]
    resp = httpx.post(r.url() + "/logs/_bulk", content=b"not gzip", headers={**auth, "Content-Encoding": "gzip"})
    assert resp.status_code == 400 and "gzip" in resp.json()["error"]["reason"]


def test_unacknowledged_records_are_reported_for_retry(run_ingest):
    r = run_ingest(cfg())
    auth = {"Authorization": f"Bearer {TOKEN}"}
    body = b'{"index":{"_index":"logs"}}\n{"message":"a"}\n{"delete":{"_index":"logs","_id":"1"}}\n'
    resp = httpx.post(r.url() + "/_bulk", content=body, headers=auth, timeout=30)
    assert resp.status_code == 200
    doc = resp.json()
    assert doc["errors"] is True
    assert doc["items"][0]["index"]["status"] == 429 and doc["items"][0]["index"]["error"]["type"] == "es_rejected_execution_exception"
    assert doc["items"][1]["delete"]["status"] == 400
    resp = httpx.post(r.url() + "/ingest", content=b"line\n", headers=auth, timeout=30)
    assert resp.status_code == 503 and "retry" in resp.json()["error"]["reason"]


def test_health(run_ingest):
    r = run_ingest(cfg())
    assert orjson.loads(httpx.get(r.url() + "/health").content)["status"] == "ok"
