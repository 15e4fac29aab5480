"""Metrics feeds (sinks/feeds.py): the compiled matcher, counts, labels, buckets, the cardinality bound."""
from __future__ import annotations

import orjson
import pytest
from prometheus_client import REGISTRY

from logwarden.config import Config, ConfigError, load
from logwarden.sinks.feeds import OTHER, UnsupportedQuery, compile_matcher, compile_query
from logwarden.sinks.metrics_service import EventCounter
from logwarden.sinks.query import parse
from sinks_corpus import NOW, QUERIES, corpus, evaluate

UNSUPPORTED = {"full text", "regular expressions", "is a date", "IP ranges", "without a field"}


def value(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_the_matcher_agrees_with_the_reference_evaluator_on_every_supported_corpus_query():
    docs = corpus()
    compiled = 0
    for q in QUERIES:
        node = parse(q)
        try:
            match = compile_matcher(node)
        except UnsupportedQuery as exc:
            assert any(w in str(exc) for w in UNSUPPORTED), (q, exc)
            continue
        compiled += 1
        want = [i for i, d in enumerate(docs) if evaluate(node, d, NOW)]
        got = [i for i, d in enumerate(docs) if match(d)]
        assert got == want, q
    assert compiled >= 35, "most of the corpus queries are in the feeds' subset"


@pytest.mark.parametrize("query, reason", [
    ("message:root", "full text"), ("sudo", "without a field"), ('"failed password"', "without a field"),
    ("user.name:/ad.*/", "regular expressions"), ("@timestamp>now-15m", "is a date"),
    ("source.ip:[10.0.0.0 TO 10.255.255.255]", "IP ranges"), ("http.response.status_code:[a TO b]", "numeric"),
    ("user.name:(", "invalid query"),
])
def test_what_a_feed_cannot_run_is_refused_with_the_reason(query, reason):
    with pytest.raises(ValueError, match=reason):
        compile_query(query)


def test_the_config_check_names_the_feed_and_the_refusal(tmp_path):
    p = tmp_path / "logwarden.yml"
    p.write_text("metrics:\n  feeds:\n    - name: errors\n      query: 'message:error'\n")
    with pytest.raises(ConfigError, match=r"metrics.feeds\[0\].*message is full text"):
        load(p)


@pytest.mark.parametrize("feed, reason", [
    ({"name": "bad-name"}, "metric name"), ({"name": "1x"}, "metric name"), ({"name": "overflow_events"}, "is taken"),
    ({"name": "h", "type": "histogram"}, "needs field"),
    ({"name": "h", "type": "histogram", "field": "http.response.body.bytes", "buckets": [10, 5]}, "ascending"),
    ({"name": "c", "field": "http.response.body.bytes"}, "field is for histogram"),
    ({"name": "c", "labels": ["a.b", "a_b"]}, "same label name"),
])
def test_feed_definitions_are_validated(feed, reason):
    with pytest.raises(ValueError, match=reason):
        Config.model_validate({"metrics": {"feeds": [feed]}})


def test_feed_names_are_unique():
    with pytest.raises(ValueError, match="unique"):
        Config.model_validate({"metrics": {"feeds": [{"name": "a"}, {"name": "a"}]}})


def web(status: int, body: int, dataset: str = "nginx.access") -> dict:
    return {"event": {"dataset": dataset}, "http": {"response": {"status_code": status, "body": {"bytes": body}}}}


def counter(feeds: list[dict]) -> EventCounter:
    return EventCounter(Config.model_validate({"metrics": {"feeds": feeds, "sample_interval_ms": 3_600_000}}))


def test_a_counter_feed_counts_matching_events_by_label():
    c = counter([{"name": "t_status", "query": "event.dataset:nginx.access AND http.response.status_code>=400",
                  "labels": ["http.response.status_code", "user.name"]}])
    c.observe([web(200, 1), web(404, 1), web(404, 1), web(503, 1), web(404, 1, "other.web"), {"message": "x"}])
    c.observe(iter([web(404, 1)]))   # the index stage hands a generator: feeds see the same events
    assert value("logwarden_feed_t_status_total", http_response_status_code="404", user_name="") == 3
    assert value("logwarden_feed_t_status_total", http_response_status_code="503", user_name="") == 1
    assert value("logwarden_feed_t_status_total", http_response_status_code="200", user_name="") == 0


def test_a_histogram_feed_observes_the_field_into_its_buckets():
    c = counter([{"name": "t_bytes", "type": "histogram", "query": "event.dataset:nginx.access",
                  "field": "http.response.body.bytes", "labels": ["http.response.status_code"], "buckets": [100, 1000]}])
    c.observe([web(200, 50), web(200, 100), web(200, 512), web(200, 5000), web(404, 153),
               {"event": {"dataset": "nginx.access"}, "http": {"response": {"status_code": 200, "body": {"bytes": "12"}}}}])
    s = "logwarden_feed_t_bytes"
    assert value(s + "_bucket", http_response_status_code="200", le="100.0") == 2   # 50 and 100 (le is inclusive)
    assert value(s + "_bucket", http_response_status_code="200", le="1000.0") == 3
    assert value(s + "_bucket", http_response_status_code="200", le="+Inf") == 4
    assert value(s + "_count", http_response_status_code="200") == 4               # the string is not a number
    assert value(s + "_sum", http_response_status_code="200") == 50 + 100 + 512 + 5000
    assert value(s + "_sum", http_response_status_code="404") == 153


def test_label_sets_beyond_max_series_go_to_one_other_series_and_are_counted():
    c = counter([{"name": "t_users", "query": "_exists_:user.name", "labels": ["user.name"], "max_series": 3}])
    c.observe([{"user": {"name": f"u{i}"}} for i in range(10)] + [{"user": {"name": "u0"}}])
    assert [value("logwarden_feed_t_users_total", user_name=f"u{i}") for i in range(4)] == [2, 1, 1, 0]
    assert value("logwarden_feed_t_users_total", user_name=OTHER) == 7
    assert value("logwarden_feed_overflow_events_total", feed="t_users") == 7
    c.observe([{"user": {"name": "u1"}}, {"user": {"name": "new"}}])   # known sets still count as themselves
    assert value("logwarden_feed_t_users_total", user_name="u1") == 2
    assert value("logwarden_feed_t_users_total", user_name=OTHER) == 8


def test_samples_for_the_metrics_topic_fall_due_once_per_interval():
    c = counter([{"name": "t_samples", "labels": ["event.dataset"]},
                 {"name": "t_samples_h", "type": "histogram", "field": "http.response.body.bytes", "buckets": [100]}])
    c.observe([web(200, 50), web(200, 500), web(200, 7, "b")])
    c.feeds.last -= 7200                          # the hour has passed
    out = c.samples()
    assert c.samples() == []                       # not due again yet
    assert {o.topic for o in out} == {"metrics"}
    docs = sorted((orjson.loads(o.value) for o in out), key=lambda d: (d["metric"]["name"], str(d["labels"])))
    assert [(d["metric"]["name"], d["labels"], d.get("value")) for d in docs] == [
        ("logwarden_feed_t_samples", {"event.dataset": "b"}, 1.0),
        ("logwarden_feed_t_samples", {"event.dataset": "nginx.access"}, 2.0),
        ("logwarden_feed_t_samples_h", {}, None)]
    h = docs[2]
    assert (h["count"], h["sum"], h["buckets"]) == (3.0, 557.0, {"100.0": 2.0, "+Inf": 3.0})
    assert h["@timestamp"].endswith("Z") and h["metric"]["type"] == "histogram"


def test_no_feeds_no_samples():
    c = EventCounter(Config())
    c.observe([web(200, 1)])
    assert c.feeds is None and c.samples() == []


@pytest.mark.parametrize("count_events", [True, False])
def test_feeds_run_where_the_events_are_counted_and_only_there(tmp_path, count_events):
    """One code path: the index stage's counter when it counts the events, else the metrics worker's."""
    from confluent_kafka import Message

    from logwarden.sinks.index_service import IndexStage
    from logwarden.sinks.metrics_service import MetricsStage

    feed = f"t_where_{str(count_events).lower()}"
    cfg = Config.model_validate({"data_dir": str(tmp_path), "index": {"writer_heap_bytes": 16_000_000, "count_events": count_events},
                                 "metrics": {"feeds": [{"name": feed, "query": "process.name:sshd"}], "sample_interval_ms": 3_600_000}})
    msgs = [Message(topic=cfg.topics.ecs, partition=0, offset=i,
                    value=orjson.dumps({"event": {"id": f"{feed}-{i}"}, "process": {"name": "sshd"}})) for i in range(3)]
    index = IndexStage(cfg)
    try:
        index_out = list(index.process(msgs))
    finally:
        index.close()
    metrics = MetricsStage(cfg)
    metrics_out = list(metrics.process(msgs))
    assert value(f"logwarden_feed_{feed}_total") == 3          # counted once, by one of them
    assert (index.counter is not None and index.counter.feeds is not None) is count_events
    assert (metrics.counter.feeds is not None) is not count_events
    counter = index.counter if count_events else metrics.counter
    counter.feeds.last -= 7200                                   # the interval has passed: idle() produces the samples
    stage = index if count_events else metrics
    samples = [orjson.loads(o.value) for o in stage.idle()]
    assert [(s["metric"]["name"], s["value"]) for s in samples] == [(f"logwarden_feed_{feed}", 3.0)]
    assert index_out == metrics_out == []                        # not due within the hour
