"""The metrics feed: counters per dataset/outcome and HTTP status, also across processes."""
from __future__ import annotations

import os
import subprocess
import sys

import orjson
from confluent_kafka import Message
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess

from logwarden.config import Config
from logwarden.sinks.metrics_service import MAX_DATASETS, MetricsStage


def value(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def docs():
    out = []
    for i in range(10):
        out.append({"@timestamp": "2024-05-01T10:00:00Z", "event": {"dataset": "test.web", "outcome": "failure" if i % 5 == 0 else "success",
                                                                    "ingested": "2024-05-01T10:00:02Z"},
                    "http": {"response": {"status_code": 404 if i % 5 == 0 else 200, "body": {"bytes": 100}}}})
    out.append({"event": {"dataset": "test.auth", "outcome": "failure"}})
    out.append({"message": "no event object"})
    out.append({"event": {"dataset": "test.web"}, "http": {"response": {"status_code": 999}}})
    return out


def test_counts_per_dataset_outcome_and_status():
    stage = MetricsStage(Config())
    web_fail = value("logwarden_events_total", dataset="test.web", outcome="failure")
    web_ok = value("logwarden_events_total", dataset="test.web", outcome="success")
    s404 = value("logwarden_http_responses_total", dataset="test.web", status_code="404")
    other = value("logwarden_http_responses_total", dataset="test.web", status_code="other")
    nbytes = value("logwarden_http_response_bytes_total", dataset="test.web")
    delay_n = value("logwarden_event_delay_seconds_count", dataset="test.web")
    msgs = [Message(topic="logs.ecs", partition=0, offset=i, value=orjson.dumps(d)) for i, d in enumerate(docs())]
    msgs.append(Message(topic="logs.ecs", partition=0, offset=99, value=b"{broken"))
    assert list(stage.process(msgs)) == []
    assert value("logwarden_events_total", dataset="test.web", outcome="failure") - web_fail == 2
    assert value("logwarden_events_total", dataset="test.web", outcome="success") - web_ok == 8
    assert value("logwarden_http_responses_total", dataset="test.web", status_code="404") - s404 == 2
    assert value("logwarden_http_responses_total", dataset="test.web", status_code="other") - other == 1
    assert value("logwarden_http_response_bytes_total", dataset="test.web") - nbytes == 1000
    assert value("logwarden_event_delay_seconds_count", dataset="test.web") - delay_n == 10
    assert value("logwarden_events_total", dataset="unknown", outcome="none") >= 1


def test_dataset_labels_are_bounded():
    stage = MetricsStage(Config())
    stage.observe([{"event": {"dataset": f"flood.{i}"}} for i in range(MAX_DATASETS + 50)])
    assert value("logwarden_events_total", dataset="other", outcome="none") >= 50


CHILD = """
import orjson, sys
from logwarden.config import Config
from logwarden.sinks.metrics_service import MetricsStage
MetricsStage(Config()).observe(orjson.loads(sys.stdin.buffer.read()))
"""


def test_multiprocess_counters_aggregate(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONSAFEPATH": "1"}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", CHILD], input=orjson.dumps(docs()), env=env, check=True, cwd="/", timeout=60)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(tmp_path))
    assert registry.get_sample_value("logwarden_events_total", {"dataset": "test.web", "outcome": "success"}) == 16
    assert registry.get_sample_value("logwarden_http_responses_total", {"dataset": "test.web", "status_code": "404"}) == 4


def test_dead_letters_by_type():
    stage = MetricsStage(Config())
    before = {t: value("logwarden_dead_letters_total", type=t) for t in ("sshd", "index", "unknown")}
    dlq = [{"error": {"type": "sshd", "message": "no match"}}] * 3 + [{"error": {"type": "index"}}, {"x": 1}]
    msgs = [Message(topic="logs.dlq", partition=0, offset=i, value=orjson.dumps(d)) for i, d in enumerate(dlq)]
    msgs.append(Message(topic="logs.dlq", partition=0, offset=9, value=b"not json"))
    assert list(stage.process(msgs)) == []
    assert value("logwarden_dead_letters_total", type="sshd") - before["sshd"] == 3
    assert value("logwarden_dead_letters_total", type="index") - before["index"] == 1
    assert value("logwarden_dead_letters_total", type="unknown") - before["unknown"] == 2


def test_bulk_histogram_update_equals_one_observe_per_value():
    from prometheus_client import Histogram

    from logwarden.sinks.metrics_service import DELAY_BUCKETS, observe_many

    registry = CollectorRegistry()
    one = Histogram("one_by_one", "x", buckets=DELAY_BUCKETS, registry=registry)
    bulk = Histogram("bulk", "x", buckets=DELAY_BUCKETS, registry=registry)
    values = [0.0, 0.1, 0.1000001, 0.5, 2, 2.5, 59.9, 60, 86400, 86401, 1e9, 3.25]
    for v in values:
        one.observe(v)
    observe_many(bulk, values)
    for suffix in ("_count", "_sum"):
        assert registry.get_sample_value("bulk" + suffix) == registry.get_sample_value("one_by_one" + suffix)
    for le in [*(str(float(b)) for b in DELAY_BUCKETS), "+Inf"]:
        assert registry.get_sample_value("bulk_bucket", {"le": le}) == registry.get_sample_value("one_by_one_bucket", {"le": le})


def test_the_index_stage_counts_events_and_the_metrics_worker_then_reads_only_dead_letters(tmp_path):
    from logwarden.sinks.index_service import IndexStage

    cfg = Config.model_validate({"data_dir": str(tmp_path), "index": {"writer_heap_bytes": 16_000_000, "count_events": True}})
    assert MetricsStage(cfg).topics == [cfg.topics.dlq]
    for standalone in (Config(), Config.model_validate({"index": {"count_events": False}})):
        assert MetricsStage(standalone).topics == [cfg.topics.ecs, cfg.topics.dlq]
    events = [dict(d, event={**d.get("event", {}), "id": f"m-{i}"}) for i, d in enumerate(docs())]
    before = {k: value("logwarden_events_total", dataset="test.web", outcome=k) for k in ("success", "failure")}
    s404 = value("logwarden_http_responses_total", dataset="test.web", status_code="404")
    delay_n = value("logwarden_event_delay_seconds_count", dataset="test.web")
    stage = IndexStage(cfg)
    try:
        msgs = [Message(topic=cfg.topics.ecs, partition=0, offset=i, value=orjson.dumps(d)) for i, d in enumerate(events)]
        list(stage.process(msgs))
    finally:
        stage.close()
    assert value("logwarden_events_total", dataset="test.web", outcome="success") - before["success"] == 8
    assert value("logwarden_events_total", dataset="test.web", outcome="failure") - before["failure"] == 2
    assert value("logwarden_http_responses_total", dataset="test.web", status_code="404") - s404 == 2
    assert value("logwarden_event_delay_seconds_count", dataset="test.web") - delay_n == 10


def test_events_are_counted_once_when_the_index_stage_does_not_count(tmp_path):
    from logwarden.sinks.index_service import IndexStage

    cfg = Config.model_validate({"data_dir": str(tmp_path), "index": {"writer_heap_bytes": 16_000_000, "count_events": False}})
    before = value("logwarden_events_total", dataset="test.solo", outcome="none")
    stage = IndexStage(cfg)
    try:
        list(stage.process([Message(topic=cfg.topics.ecs, partition=0, offset=0,
                                    value=orjson.dumps({"event": {"id": "solo-1", "dataset": "test.solo"}}))]))
    finally:
        stage.close()
    assert value("logwarden_events_total", dataset="test.solo", outcome="none") == before
    list(MetricsStage(cfg).process([Message(topic=cfg.topics.ecs, partition=0, offset=0,
                                            value=orjson.dumps({"event": {"dataset": "test.solo"}}))]))
    assert value("logwarden_events_total", dataset="test.solo", outcome="none") - before == 1


def test_logwarden_up_hands_the_counting_to_the_index_stage(tmp_path, monkeypatch):
    import yaml

    from logwarden.supervisor import Supervisor

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))   # _prepare sets it: restored after the test

    effective = Supervisor(Config.model_validate({"data_dir": str(tmp_path)}))._prepare()
    assert yaml.safe_load(effective.read_text())["index"]["count_events"] is True
    kept = Supervisor(Config.model_validate({"data_dir": str(tmp_path / "b"), "index": {"count_events": False}}))._prepare()
    assert yaml.safe_load(kept.read_text())["index"]["count_events"] is False


def _reference_counts(docs):
    """The per-event counting as the metrics stage did it before it was made cheap (one
    `_ts` per timestamp, one `observe` per delay): what EventCounter must still produce."""
    from datetime import datetime

    def ts(v):
        if not isinstance(v, str):
            return None
        try:
            return datetime.fromisoformat(v).timestamp()
        except ValueError:
            return None

    events, statuses, nbytes, delays = {}, {}, {}, {}
    for doc in docs:
        ev = doc.get("event")
        ev = ev if isinstance(ev, dict) else {}
        name = ev.get("dataset")
        dataset = name if isinstance(name, str) and name else "unknown"
        outcome = ev.get("outcome")
        key = (dataset, outcome if outcome in ("success", "failure", "unknown") else "none")
        events[key] = events.get(key, 0) + 1
        http = doc.get("http")
        if isinstance(http, dict) and isinstance(http.get("response"), dict):
            resp = http["response"]
            code = resp.get("status_code")
            if isinstance(code, int) and not isinstance(code, bool):
                k = (dataset, str(code) if 100 <= code <= 599 else "other")
                statuses[k] = statuses.get(k, 0) + 1
            body = resp.get("body")
            n = body.get("bytes") if isinstance(body, dict) else None
            if isinstance(n, int) and not isinstance(n, bool) and n >= 0:
                nbytes[dataset] = nbytes.get(dataset, 0) + n
        t0, t1 = ts(doc.get("@timestamp")), ts(ev.get("ingested"))
        if t0 is not None and t1 is not None and t1 >= t0:
            delays.setdefault(dataset, []).append(t1 - t0)
    return events, statuses, nbytes, delays


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_STAMPS = st.sampled_from(["2024-05-01T10:00:00Z", "2024-05-01T10:00:00.500+00:00", "2024-05-01T10:00:07Z",
                           "2024-05-01T09:59:00", "not a date", "", 5, None, True, [1], {"a": 1}])
_LEAF = st.one_of(st.none(), st.booleans(), st.integers(-5, 700), st.sampled_from(["", "x", "success", "failure", "unknown"]))
_EVENT = st.one_of(st.none(), st.integers(), st.fixed_dictionaries({}, optional={
    "dataset": st.one_of(st.sampled_from(["hyp.a", "hyp.b", ""]), st.integers(0, 3), st.none()),
    "outcome": _LEAF, "ingested": _STAMPS}))
_BODY = st.one_of(_LEAF, st.fixed_dictionaries({}, optional={"bytes": _LEAF}))
_RESPONSE = st.one_of(st.integers(), st.fixed_dictionaries({}, optional={"status_code": _LEAF, "body": _BODY}))
_HTTP = st.one_of(st.none(), st.text(max_size=2), st.fixed_dictionaries({}, optional={"response": _RESPONSE}))
_DOC = st.fixed_dictionaries({}, optional={"event": _EVENT, "http": _HTTP, "@timestamp": _STAMPS})


@settings(max_examples=150, deadline=None)
@given(st.lists(_DOC, max_size=30))
def test_event_counter_counts_as_the_per_event_reference(docs):
    from logwarden.sinks.metrics_service import EventCounter

    events, statuses, nbytes, delays = _reference_counts(docs)
    labels = {d for d, _ in events} | {"hyp.a", "hyp.b", "unknown"}
    before_e = {k: value("logwarden_events_total", dataset=d, outcome=o) for d in labels
                for o in ("success", "failure", "unknown", "none") for k in [(d, o)]}
    before_s = {k: value("logwarden_http_responses_total", dataset=k[0], status_code=k[1]) for k in statuses}
    before_b = {d: value("logwarden_http_response_bytes_total", dataset=d) for d in labels}
    before_n = {d: value("logwarden_event_delay_seconds_count", dataset=d) for d in labels}
    before_sum = {d: value("logwarden_event_delay_seconds_sum", dataset=d) for d in labels}
    EventCounter().observe(docs)
    for (d, o), old in before_e.items():
        assert value("logwarden_events_total", dataset=d, outcome=o) - old == events.get((d, o), 0)
    for k, old in before_s.items():
        assert value("logwarden_http_responses_total", dataset=k[0], status_code=k[1]) - old == statuses[k]
    for d in labels:
        assert value("logwarden_http_response_bytes_total", dataset=d) - before_b[d] == nbytes.get(d, 0)
        assert value("logwarden_event_delay_seconds_count", dataset=d) - before_n[d] == len(delays.get(d, []))
        assert abs(value("logwarden_event_delay_seconds_sum", dataset=d) - before_sum[d] - sum(delays.get(d, []))) < 1e-6
