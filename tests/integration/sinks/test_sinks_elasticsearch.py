"""The Elasticsearch bulk sink with the official client against a local server speaking `_bulk`."""
from __future__ import annotations

import orjson
import pytest
from elasticsearch import Elasticsearch

from logwarden.config import Config
from logwarden.events import ALERTS_TOPIC, DLQ_TOPIC
from logwarden.sinks.elasticsearch import BulkFailed, ElasticsearchBackend
from logwarden.sinks.index_service import IndexStage
from logwarden.sinks.search import SearchService

from es_server import ESServer
from sinks_corpus import auth_event as ev
from sinks_corpus import records as msgs

pytestmark = pytest.mark.integration


@pytest.fixture
def es():
    server = ESServer().start()
    yield server
    server.stop()


def make_cfg(es, tmp_path, **index) -> Config:
    return Config.model_validate({"data_dir": str(tmp_path), "index": {
        "type": "elasticsearch", "elasticsearch_url": es.url, "bulk_retry_backoff_ms": 1, **index}})


def test_templates_carry_ecs_types(es, tmp_path):
    cfg = make_cfg(es, tmp_path)
    ElasticsearchBackend(cfg.index).ensure_templates()
    client = Elasticsearch(es.url)
    tpl = client.indices.get_index_template(name="logwarden-events")["index_templates"][0]["index_template"]
    props = tpl["template"]["mappings"]["properties"]
    assert tpl["index_patterns"] == ["logwarden-events-*"]
    assert props["source"]["properties"]["ip"] == {"type": "ip"}
    assert props["@timestamp"] == {"type": "date"}
    assert props["http"]["properties"]["response"]["properties"]["status_code"] == {"type": "long"}
    assert props["message"] == {"type": "match_only_text"}
    assert client.indices.exists_index_template(name="logwarden-alerts")


def test_bulk_is_idempotent_by_event_id(es, tmp_path):
    backend = ElasticsearchBackend(make_cfg(es, tmp_path).index)
    docs = [(d, orjson.dumps(d)) for d in (ev(i) for i in range(50))]
    assert backend.write("events", docs) == []
    assert backend.write("events", docs) == []     # a replay
    store = es.store
    assert sorted(store.indices) == ["logwarden-events-2024.05.01", "logwarden-events-2024.05.02"]
    assert sum(len(v) for v in store.indices.values()) == 50
    assert store.indices["logwarden-events-2024.05.01"]["id-0"] == ev(0)
    assert store.versions[("logwarden-events-2024.05.01", "id-0")] == 2


def test_item_errors_in_a_success_reply_are_dead_lettered_with_the_reason(es, tmp_path):
    cfg = make_cfg(es, tmp_path)
    stage = IndexStage(cfg, ElasticsearchBackend(cfg.index))
    bad_ip = ev(3, source={"ip": "not-an-address"})
    bad_port = ev(4, source={"ip": "10.0.0.4", "port": "http"})
    batch = [ev(1), ev(2), bad_ip, bad_port, b"{not json", b"[1,2]", ev(5)]
    outs = list(stage.process(msgs(batch)))
    assert [o.topic for o in outs] == [DLQ_TOPIC] * 4
    dlq = [orjson.loads(o.value) for o in outs]
    reasons = [d["error"]["message"] for d in dlq]
    assert reasons[0].startswith("not JSON")
    assert reasons[1] == "expected a JSON object, got list"
    assert "failed to parse field [source.ip] of type [ip]" in reasons[2]
    assert "elasticsearch 400" in reasons[2]
    assert "failed to parse field [source.port] of type [long]" in reasons[3]
    assert dlq[2]["event"]["id"] == "id-3" and dlq[2]["raw"] == bad_ip
    assert dlq[2]["event"]["kind"] == "pipeline_error" and orjson.loads(dlq[2]["event"]["original"]) == bad_ip
    written = {i for idx in es.store.indices.values() for i in idx}
    assert written == {"id-1", "id-2", "id-5"}


def test_retryable_items_are_retried_alone(es, tmp_path):
    backend = ElasticsearchBackend(make_cfg(es, tmp_path).index)
    es.store.faults.items["id-7"] = [429, 503]
    docs = [(d, orjson.dumps(d)) for d in (ev(i) for i in range(10))]
    assert backend.write("events", docs) == []
    assert es.store.bulk_requests == 3
    assert sum(len(v) for v in es.store.indices.values()) == 10
    assert all(v == 1 for v in es.store.versions.values())     # only the failed item was sent again


def test_whole_request_failures_are_retried(es, tmp_path):
    backend = ElasticsearchBackend(make_cfg(es, tmp_path).index)
    backend.ensure_templates()
    es.store.faults.request = [503, 429]
    docs = [(d, orjson.dumps(d)) for d in (ev(i) for i in range(3))]
    assert backend.write("events", docs) == []
    assert sum(len(v) for v in es.store.indices.values()) == 3


def test_retries_run_out_and_the_batch_fails(es, tmp_path):
    backend = ElasticsearchBackend(make_cfg(es, tmp_path, bulk_max_retries=2).index)
    es.store.faults.items["id-1"] = [429, 429, 429]
    with pytest.raises(BulkFailed, match="es_rejected_execution_exception"):
        backend.write("events", [(ev(1), orjson.dumps(ev(1)))])


def test_requests_are_split_by_actions_and_bytes(es, tmp_path):
    backend = ElasticsearchBackend(make_cfg(es, tmp_path, bulk_max_actions=7, bulk_max_bytes=10_000).index)
    backend.ensure_templates()
    docs = [(d, orjson.dumps(d)) for d in (ev(i) for i in range(30))]
    assert backend.write("events", docs) == []
    assert es.store.bulk_requests == 5
    assert sum(len(v) for v in es.store.indices.values()) == 30


def test_alerts_go_to_the_alerts_index_and_search_reads_both(es, tmp_path):
    cfg = make_cfg(es, tmp_path)
    stage = IndexStage(cfg, ElasticsearchBackend(cfg.index))
    alert = {"@timestamp": "2024-05-01T10:05:00Z", "event": {"kind": "alert", "id": "al-1", "severity": 73},
             "rule": {"name": "SSH brute force"}, "alert": {"level": "high", "count": 12, "events": [ev(1)]}}
    assert list(stage.process(msgs([ev(i) for i in range(5)]) + msgs([alert], ALERTS_TOPIC))) == []
    stage.checkpoint()
    assert es.store.indices["logwarden-alerts"]["al-1"] == alert
    svc = SearchService(cfg)
    res = svc.search("process.name:sshd AND process.pid:103", limit=10)
    assert res["total"] == 1 and res["hits"][0]["event"]["id"] == "id-3"
    res = svc.search("process.name:sshd", limit=2)
    assert res["total"] == 5 and [h["event"]["id"] for h in res["hits"]] == ["id-3", "id-1"]
    assert svc.alerts(limit=10)["hits"] == [alert]
    stage.close()


def test_search_since_uses_date_math(es, tmp_path):
    from datetime import datetime, timedelta, timezone
    cfg = make_cfg(es, tmp_path)
    backend = ElasticsearchBackend(cfg.index)
    now = datetime.now(timezone.utc)
    docs = [ev(i, **{"@timestamp": (now - timedelta(minutes=10 * i)).isoformat(timespec="milliseconds").replace("+00:00", "Z")})
            for i in range(6)]
    assert backend.write("events", [(d, orjson.dumps(d)) for d in docs]) == []
    res = SearchService(cfg).search("process.name:sshd", since=timedelta(minutes=25), limit=10)
    assert [h["event"]["id"] for h in res["hits"]] == ["id-0", "id-1", "id-2"]


def test_retention_deletes_whole_old_daily_indices(es, tmp_path):
    from datetime import datetime, timezone
    backend = ElasticsearchBackend(make_cfg(es, tmp_path, retention_days=2).index)
    docs = [ev(i, **{"@timestamp": f"2024-05-0{d}T12:00:00Z"}) for i, d in enumerate([1, 2, 3, 4])]
    assert backend.write("events", [(d, orjson.dumps(d)) for d in docs]) == []
    es.store.indices["other-index"] = {}
    deleted = backend.expire(datetime(2024, 5, 3, 6, 0, tzinfo=timezone.utc))   # 05.03 still has newer events
    assert deleted == ["logwarden-events-2024.05.01", "logwarden-events-2024.05.02"]
    assert sorted(es.store.indices) == ["logwarden-events-2024.05.03", "logwarden-events-2024.05.04", "other-index"]
    backend.checkpoint()   # the hourly check runs on the first checkpoint: all of 2024 is past 2 days
    assert sorted(es.store.indices) == ["other-index"]


def test_search_errors_map_to_query_error_or_unavailable(es, tmp_path):
    from logwarden.sinks.query import QueryError
    from logwarden.sinks.search import BackendUnavailable
    cfg = make_cfg(es, tmp_path)
    backend = ElasticsearchBackend(cfg.index)
    doc = ev(1, labels={"attempts": 3})
    assert backend.write("events", [(doc, orjson.dumps(doc))]) == []
    svc = SearchService(cfg)
    # labels.attempts is dynamically mapped as long: the cluster refuses a wildcard on it (400)
    with pytest.raises(QueryError, match="Can only use wildcard queries on keyword and text fields"):
        svc.search("labels.attempts:3*", limit=1)
    es.stop()
    with pytest.raises(BackendUnavailable, match="unreachable"):
        SearchService(cfg).search("process.name:sshd", limit=1)
