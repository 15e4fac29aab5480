"""The OpenSearch sink (`index.type: opensearch`, opensearch-py) against a real OpenSearch 2.19
node (tests/engines), and against the local `_bulk` server only for injected 429s and 5xx."""
from __future__ import annotations

from datetime import datetime, timezone

import httpx
import orjson
import pytest

from logwarden.config import Config
from logwarden.events import ALERTS_TOPIC, DLQ_TOPIC
from logwarden.sinks.elasticsearch import BulkFailed
from logwarden.sinks.index_service import IndexStage, make_backend
from logwarden.sinks.opensearch import OpenSearchBackend
from logwarden.sinks.query import QueryError
from logwarden.sinks.search import BackendUnavailable, SearchService

from es_server import ESServer
from sinks_corpus import auth_event as ev
from sinks_corpus import records as msgs
from lwtest import free_port

pytestmark = pytest.mark.integration


def make_cfg(url: str, tmp_path, **index) -> Config:
    return Config.model_validate({"data_dir": str(tmp_path), "index": {
        "type": "opensearch", "elasticsearch_url": url, "bulk_retry_backoff_ms": 1, **index}})


def get(os_, path: str) -> dict:
    r = httpx.get(os_.url + path, timeout=30)
    r.raise_for_status()
    return r.json()


def refresh(os_) -> None:
    httpx.post(f"{os_.url}/_refresh", timeout=60).raise_for_status()


def test_the_stage_picks_the_opensearch_backend(opensearch, tmp_path):
    assert isinstance(make_backend(make_cfg(opensearch.url, tmp_path)), OpenSearchBackend)


def test_templates_carry_ecs_types(opensearch, tmp_path):
    OpenSearchBackend(make_cfg(opensearch.url, tmp_path).index).ensure_templates()
    tpl = get(opensearch, "/_index_template/logwarden-events")["index_templates"][0]["index_template"]
    props = tpl["template"]["mappings"]["properties"]
    assert tpl["index_patterns"] == ["logwarden-events-*"]
    assert props["source"]["properties"]["ip"] == {"type": "ip"}
    assert props["@timestamp"] == {"type": "date"}
    assert props["message"] == {"type": "match_only_text"}
    assert "logwarden-alerts" in {t["name"] for t in get(opensearch, "/_index_template")["index_templates"]}
    # the index created from it really has the types (an index template OpenSearch could not
    # apply would leave dynamic mapping: source.ip as text)
    backend = OpenSearchBackend(make_cfg(opensearch.url, tmp_path).index)
    assert backend.write("events", [(ev(1), orjson.dumps(ev(1)))]) == []
    mapping = get(opensearch, "/logwarden-events-2024.05.02/_mapping")["logwarden-events-2024.05.02"]["mappings"]
    assert mapping["properties"]["source"]["properties"]["ip"] == {"type": "ip"}


def test_bulk_is_idempotent_by_event_id(opensearch, tmp_path):
    backend = OpenSearchBackend(make_cfg(opensearch.url, tmp_path).index)
    docs = [(d, orjson.dumps(d)) for d in (ev(i) for i in range(50))]
    assert backend.write("events", docs) == []
    assert backend.write("events", docs) == []     # a replay
    refresh(opensearch)
    assert get(opensearch, "/logwarden-events-*/_count")["count"] == 50
    doc = get(opensearch, "/logwarden-events-2024.05.01/_doc/id-0")
    assert doc["_source"] == ev(0) and doc["_version"] == 2


def test_item_errors_in_a_success_reply_are_dead_lettered_with_opensearchs_reason(opensearch, tmp_path):
    cfg = make_cfg(opensearch.url, tmp_path)
    stage = IndexStage(cfg, OpenSearchBackend(cfg.index))
    bad_ip = ev(3, source={"ip": "not-an-address"})
    bad_port = ev(4, source={"ip": "10.0.0.4", "port": "http"})
    batch = [ev(1), ev(2), bad_ip, bad_port, b"{not json", b"[1,2]", ev(5)]
    outs = list(stage.process(msgs(batch)))
    assert [o.topic for o in outs] == [DLQ_TOPIC] * 4
    dlq = [orjson.loads(o.value) for o in outs]
    reasons = [d["error"]["message"] for d in dlq]
    assert reasons[0].startswith("not JSON")
    assert reasons[1] == "expected a JSON object, got list"
    assert reasons[2].startswith("opensearch 400: mapper_parsing_exception")
    assert "failed to parse field [source.ip] of type [ip]" in reasons[2]
    assert "failed to parse field [source.port] of type [long]" in reasons[3]
    assert dlq[2]["event"]["id"] == "id-3" and dlq[2]["raw"] == bad_ip
    refresh(opensearch)
    hits = get(opensearch, "/logwarden-events-*/_search?size=100")["hits"]["hits"]
    assert {h["_id"] for h in hits} == {"id-1", "id-2", "id-5"}


def test_requests_are_split_by_actions(opensearch, tmp_path):
    backend = OpenSearchBackend(make_cfg(opensearch.url, tmp_path, bulk_max_actions=7, bulk_max_bytes=10_000).index)
    before = get(opensearch, "/_nodes/stats/indices/indexing")
    docs = [(d, orjson.dumps(d)) for d in (ev(i) for i in range(30))]
    assert backend.write("events", docs) == []
    refresh(opensearch)
    assert get(opensearch, "/logwarden-events-*/_count")["count"] == 30
    after = get(opensearch, "/_nodes/stats/indices/indexing")
    node = next(iter(after["nodes"]))
    done = after["nodes"][node]["indices"]["indexing"]["index_total"] - before["nodes"][node]["indices"]["indexing"]["index_total"]
    assert done == 30


def test_alerts_go_to_the_alerts_index_and_search_reads_both(opensearch, tmp_path):
    cfg = make_cfg(opensearch.url, tmp_path)
    stage = IndexStage(cfg)
    alert = {"@timestamp": "2024-05-01T10:05:00Z", "event": {"kind": "alert", "id": "al-1", "severity": 73},
             "rule": {"name": "SSH brute force"}, "alert": {"level": "high", "count": 5}}
    assert list(stage.process(msgs([ev(1), ev(2)]) + msgs([alert], ALERTS_TOPIC))) == []
    stage.close()
    refresh(opensearch)
    svc = SearchService(cfg)
    assert svc.alerts(limit=10)["hits"] == [alert]
    found = svc.search("process.name:sshd AND source.ip:10.0.0.0/24", limit=10)
    assert found["total"] == 2 and [h["event"]["id"] for h in found["hits"]] == ["id-1", "id-2"]   # newest first: id-1 is of 05.02


def test_retention_deletes_whole_old_daily_indices(opensearch, tmp_path):
    backend = OpenSearchBackend(make_cfg(opensearch.url, tmp_path, retention_days=2).index)
    docs = [ev(i, **{"@timestamp": f"2024-05-0{1 + i % 4}T10:00:00Z"}) for i in range(8)]
    assert backend.write("events", [(d, orjson.dumps(d)) for d in docs]) == []
    httpx.put(f"{opensearch.url}/other-index", timeout=30).raise_for_status()
    deleted = backend.expire(datetime(2024, 5, 3, 6, 0, tzinfo=timezone.utc))
    assert deleted == ["logwarden-events-2024.05.01", "logwarden-events-2024.05.02"]
    assert sorted(i["index"] for i in get(opensearch, "/_cat/indices?format=json&h=index")) == [
        "logwarden-events-2024.05.03", "logwarden-events-2024.05.04", "other-index"]
    backend.checkpoint()   # the hourly check runs on the first checkpoint: all of 2024 is past 2 days
    assert [i["index"] for i in get(opensearch, "/_cat/indices?format=json&h=index")] == ["other-index"]


def test_search_errors_map_to_query_error_or_unavailable(opensearch, tmp_path):
    cfg = make_cfg(opensearch.url, tmp_path)
    doc = ev(1, labels={"attempts": 3})
    assert OpenSearchBackend(cfg.index).write("events", [(doc, orjson.dumps(doc))]) == []
    refresh(opensearch)
    # labels.attempts is dynamically mapped as long: the cluster refuses a wildcard on it (400)
    with pytest.raises(QueryError, match="^opensearch: .*keyword and text"):
        SearchService(cfg).search("labels.attempts:3*", limit=1)
    with pytest.raises(BackendUnavailable, match="opensearch unreachable"):
        SearchService(make_cfg(f"http://127.0.0.1:{free_port()}", tmp_path)).search("process.name:sshd", limit=1)


def test_an_api_key_is_refused_with_what_to_set_instead(tmp_path):
    with pytest.raises(ValueError, match="elasticsearch_username"):
        OpenSearchBackend(make_cfg("http://127.0.0.1:9", tmp_path, elasticsearch_api_key="aWQ6a2V5").index)


# -- what a real server cannot be made to do on demand: the local server injects the faults --

@pytest.fixture
def fake():
    server = ESServer().start()
    yield server
    server.stop()


def test_retryable_items_are_retried_alone(fake, tmp_path):
    backend = OpenSearchBackend(make_cfg(fake.url, tmp_path).index)
    fake.store.faults.items["id-7"] = [429, 503]
    docs = [(d, orjson.dumps(d)) for d in (ev(i) for i in range(10))]
    assert backend.write("events", docs) == []
    assert fake.store.bulk_requests == 3
    assert sum(len(v) for v in fake.store.indices.values()) == 10
    assert all(v == 1 for v in fake.store.versions.values())     # only the failed item was sent again


def test_whole_request_failures_are_retried_and_others_raise(fake, tmp_path):
    backend = OpenSearchBackend(make_cfg(fake.url, tmp_path).index)
    backend.ensure_templates()
    fake.store.faults.request = [503, 429]
    docs = [(d, orjson.dumps(d)) for d in (ev(i) for i in range(3))]
    assert backend.write("events", docs) == []
    assert sum(len(v) for v in fake.store.indices.values()) == 3
    # a refused request (here 403) is not the documents' fault: nothing is dead-lettered
    fake.store.faults.request = [403]
    from opensearchpy import AuthorizationException
    with pytest.raises(AuthorizationException):
        backend.write("events", docs)


def test_retries_run_out_and_the_batch_fails(fake, tmp_path):
    backend = OpenSearchBackend(make_cfg(fake.url, tmp_path, bulk_max_retries=2).index)
    fake.store.faults.items["id-1"] = [429, 429, 429]
    with pytest.raises(BulkFailed, match="es_rejected_execution_exception"):
        backend.write("events", [(ev(1), orjson.dumps(ev(1)))])
