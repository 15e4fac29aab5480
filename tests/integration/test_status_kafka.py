"""GET /api/status's topic and dead-letter parts against a real Apache Kafka (tests/engines),
asked as any admin client asks: retention from DescribeConfigs (a topic's own override and a
compacted topic), records retention has left from the earliest and latest offsets, no size on
disk (only the built-in broker's folders are measured), and the newest dead letters of every
partition, newest first, with their reasons and samples."""
from __future__ import annotations

import orjson
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from logwarden.config import Config
from logwarden.status import DLQ_RECENT, DLQ_SAMPLE_CHARS, Rates, collect

pytestmark = pytest.mark.integration


def _dead_letter(i: int, original: str) -> bytes:
    return orjson.dumps({"@timestamp": "2026-12-07T12:00:00Z", "event": {"id": f"d{i}", "original": original, "kind": "pipeline_error"},
                         "error": {"message": f"reason {i}", "type": "sshd"}})


def test_topics_retention_and_recent_dead_letters_from_kafka(kafka, tmp_path):
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap})
    futures = admin.create_topics([
        NewTopic("logs.dlq", 2, 1, config={"retention.ms": "3600000"}),
        NewTopic("rules.state", 1, 1, config={"cleanup.policy": "compact"})])
    for f in futures.values():
        f.result(30)
    p = Producer({"bootstrap.servers": kafka.bootstrap})
    for i in range(8):   # timestamps in order, spread over both partitions
        p.produce("logs.dlq", _dead_letter(i, "x" * 500 if i == 7 else f"line {i}"), partition=i % 2, timestamp=1_765_000_000_000 + i)
    assert p.flush(30) == 0

    cfg = Config(data_dir=str(tmp_path), kafka={"bootstrap_servers": kafka.bootstrap})
    status = collect(cfg, Rates())
    dlq_topic = status["topics"]["logs.dlq"]
    assert (dlq_topic["partitions"], dlq_topic["end_offsets"], dlq_topic["retained_records"]) == (2, 8, 8)
    assert dlq_topic["retention_ms"] == 3_600_000 and dlq_topic["cleanup_policy"] == "delete"
    assert isinstance(dlq_topic["retention_bytes"], int) and dlq_topic["bytes"] is None
    assert status["topics"]["rules.state"]["cleanup_policy"] == "compact"

    dlq = status["dead_letters"]
    assert dlq["count"] == 8
    recent = dlq["recent"]
    assert [r["reason"] for r in recent] == [f"reason {i}" for i in range(7, 7 - DLQ_RECENT, -1)]
    assert recent[0]["sample"] == "x" * DLQ_SAMPLE_CHARS + "…" and recent[1]["sample"] == "line 6"
    assert {(r["partition"], r["type"]) for r in recent[:2]} == {(1, "sshd"), (0, "sshd")}
    assert dlq["latest"] == {"time_ms": recent[0]["time_ms"], "type": "sshd", "reason": "reason 7"}
