"""`logwarden worker index` through the real broker: records become searchable, a SIGKILL and
restart leave each event in the index exactly once, SIGTERM exits 0 after the final commit."""
from __future__ import annotations

import shutil
import time

import orjson
import pytest
import yaml
from confluent_kafka import Producer

from logwarden.events import ALERTS_TOPIC, ECS_TOPIC
from logwarden.sinks.embedded import IndexReader, index_path
from logwarden.sinks.search import SearchService
from logwarden.config import load

from lwtest import Stack, free_port, wait_listening, wait_until

pytestmark = [pytest.mark.integration]


@pytest.fixture
def appliance(tmp_path):
    port = free_port()
    # PROMETHEUS_MULTIPROC_DIR unset: the metrics worker must count in-process and serve that
    stack = Stack(tmp_path, {"data_dir": str(tmp_path / "data"), "broker": {"listen": f"127.0.0.1:{port}"},
                             "index": {"commit_interval_ms": 200, "writer_heap_bytes": 32_000_000}},
                  env={"PROMETHEUS_MULTIPROC_DIR": None})
    broker = stack.start("broker")
    wait_listening(port, broker)
    yield load(stack.cfg_path), stack
    stack.kill_all()


def ecs(i: int) -> dict:
    return {"@timestamp": f"2024-05-01T10:{i // 60 % 60:02d}:{i % 60:02d}Z", "message": f"Failed password for root from 10.0.0.{i % 250} port {i}",
            "event": {"id": f"ev-{i}", "dataset": "system.auth", "outcome": "failure"},
            "process": {"name": "sshd" if i % 2 else "sudo"}, "source": {"ip": f"10.0.0.{i % 250}"}}


def produce(cfg, topic, docs):
    """Keyed by event.id, as the pipeline keys by source: a copy of an event lands in its
    original's partition, after it. Unkeyed, the two could sit in different partitions, whose
    relative order Kafka does not define, so which copy the index kept last was a race (it
    lost under load: 995 of 1,000 replayed copies)."""
    p = Producer({"bootstrap.servers": cfg.bootstrap_servers, "acks": "all"})
    for d in docs:
        key = (d.get("event") or {}).get("id")
        while True:
            try:
                p.produce(topic, orjson.dumps(d), key.encode() if key else None)
                break
            except BufferError:
                p.poll(0.05)
    assert p.flush(30) == 0


def test_index_worker_exactly_once_across_sigkill(appliance):
    cfg, stack = appliance
    events = IndexReader(index_path(cfg.data_path, "events"))
    # The worker starts before either topic exists: it must create and pick them up.
    worker = stack.start("worker", "index")
    wait_until(lambda: (cfg.data_path / "index" / "alerts").exists(), "index worker created its input topics", 60, procs=[worker])
    time.sleep(1)
    produce(cfg, ECS_TOPIC, [ecs(i) for i in range(3000)])
    produce(cfg, ALERTS_TOPIC, [{"@timestamp": "2024-05-01T10:00:00Z", "event": {"kind": "alert", "id": "al-1"},
                                 "rule": {"name": "SSH brute force"}}])
    wait_until(lambda: events.count() == 3000, "first 3000 events indexed", 60, procs=[worker])
    wait_until(lambda: SearchService(cfg).alerts(limit=1)["total"] == 1, "the alert indexed", 60, procs=[worker])
    svc = SearchService(cfg)
    assert svc.search("process.name:sshd", limit=1)["total"] == 1500
    assert svc.alerts(limit=5)["hits"][0]["rule"]["name"] == "SSH brute force"

    # More events, a SIGKILL while they are being indexed, and a replay of some old ones.
    produce(cfg, ECS_TOPIC, [ecs(i) for i in range(3000, 12000)])
    wait_until(lambda: events.count() > 3000, "indexing under way", 60, procs=[worker])
    worker.kill()
    # duplicates by event.id, with a changed message so that their arrival is visible
    produce(cfg, ECS_TOPIC, [{**ecs(i), "message": f"replayed {i}"} for i in range(2500, 3500)])
    worker = stack.start("worker", "index")
    wait_until(lambda: events.count() >= 12000, "all 12000 events indexed", 120, procs=[worker])
    wait_until(lambda: svc.search("replayed", limit=1)["total"] == 1000, "the replayed copies indexed", 120, procs=[worker])
    assert worker.stop(30) == 0, worker.output()
    res = events.search("*", limit=10_000)
    assert events.count() == 12000
    assert res["total"] == 12000
    assert svc.search("process.name:sshd", limit=1)["total"] == 6000
    assert len({h["event"]["id"] for h in res["hits"]}) == 10_000

    # Deleting the index and restarting rebuilds it from what the broker retains.
    for _ in range(50):   # a reader's file watcher may still touch the directory: retry
        shutil.rmtree(index_path(cfg.data_path, "events"), ignore_errors=True)
        if not index_path(cfg.data_path, "events").exists():
            break
        time.sleep(0.1)
    worker = stack.start("worker", "index")
    rebuilt = IndexReader(index_path(cfg.data_path, "events"))
    wait_until(lambda: rebuilt.count() >= 12000, "the index rebuilt", 120, procs=[worker])
    assert worker.stop(30) == 0, worker.output()
    assert rebuilt.search("*", limit=1)["total"] == 12000


def test_metrics_worker_serves_counters(appliance, tmp_path):
    import httpx

    cfg, stack = appliance
    port = free_port()
    cfg_path = stack.cfg_path
    doc = yaml.safe_load(cfg_path.read_text())
    doc["index"]["metrics_listen"] = f"127.0.0.1:{port}"
    cfg_path.write_text(yaml.safe_dump(doc))
    worker = stack.start("worker", "metrics")
    produce(cfg, ECS_TOPIC, [ecs(i) for i in range(40)])
    produce(cfg, "logs.dlq", [{"error": {"type": "sshd", "message": "no pattern matched"}}] * 3)

    def scrape():
        try:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
        except httpx.HTTPError:
            return None
        ok = 'logwarden_events_total{dataset="system.auth",outcome="failure"} 40.0' in text
        dlq = 'logwarden_dead_letters_total{type="sshd"} 3.0' in text
        return text if ok and dlq else None

    text = wait_until(scrape, "counters on /metrics", 60, procs=[worker])
    assert "logwarden_component_received_events_total" in text
    assert worker.stop(30) == 0, worker.output()


def test_status_lag_leaves_out_logs_ecs_for_the_metrics_group_once_the_index_stage_counts(appliance):
    """An appliance upgraded from before index.count_events: the metrics group still has
    offsets committed on logs.ecs, which nothing advances any more; that is not lag."""
    from confluent_kafka import Consumer, TopicPartition

    from logwarden import status
    from logwarden.kafka import consumer_settings

    cfg, _ = appliance
    produce(cfg, ECS_TOPIC, [ecs(i) for i in range(10)])
    c = Consumer(consumer_settings(cfg, "logwarden-metrics"))
    try:
        parts = c.list_topics(ECS_TOPIC, timeout=15).topics[ECS_TOPIC].partitions
        c.commit(offsets=[TopicPartition(ECS_TOPIC, p, 0) for p in parts], asynchronous=False)
    finally:
        c.close()
    for count_events, lag in ((False, 10), (True, 0)):
        conf = cfg.model_copy(deep=True)
        conf.index.count_events = count_events
        assert status._kafka(conf)["groups"]["logwarden-metrics"]["lag"] == lag
