"""Delayed fetch (long polling), ListOffsets (earliest/latest/by timestamp) and the
`logwarden topics` commands against a broker process."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time

import pytest
from confluent_kafka import Consumer, TopicPartition

from broker_wire import kafka_call
from logwarden.broker.protocol.batches import build_batch, iter_batches

pytestmark = [pytest.mark.integration, pytest.mark.broker_config(default_partitions=1)]

# Record timestamps must be recent: retention.ms (7 days) deletes older segments at any
# maintenance pass, which would race these tests.
NOW = int(time.time() * 1000)


def call(port: int, api: int, version: int, body: dict) -> dict:
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        return kafka_call(s, api, version, body, client_id="fetch-test")


def fetch_req(topic: str, offset: int, max_wait_ms: int, min_bytes: int) -> dict:
    return {"replica_id": -1, "max_wait_ms": max_wait_ms, "min_bytes": min_bytes, "max_bytes": 1 << 20,
            "isolation_level": 1, "session_id": 0, "session_epoch": -1, "forgotten_topics_data": [], "rack_id": "",
            "topics": [{"topic": topic, "partitions": [{"partition": 0, "fetch_offset": offset,
                                                       "partition_max_bytes": 1 << 20}]}]}


def produce(port: int, topic: str, values: list[bytes], ts: int) -> int:
    r = call(port, 0, 8, {"transactional_id": None, "acks": -1, "timeout_ms": 5000,
                          "topics": [{"name": topic, "partitions": [
                              {"index": 0, "records": build_batch([(None, v) for v in values], ts)}]}]})
    part = r["responses"][0]["partitions"][0]
    assert part["error_code"] == 0
    return part["base_offset"]


def test_delayed_fetch_is_woken_by_a_produce(broker):
    produce(broker.port, "longpoll", [b"first"], NOW)
    result = {}
    t = threading.Thread(target=lambda: result.update(call(broker.port, 1, 11, fetch_req("longpoll", 1, 60_000, 1))))
    t.start()
    time.sleep(0.5)
    assert t.is_alive()  # nothing to return yet: the fetch is parked
    produce(broker.port, "longpoll", [b"second"], NOW + 1)
    t.join(30)
    assert not t.is_alive()
    part = result["responses"][0]["partitions"][0]
    (h,) = iter_batches(part["records"])
    assert h.base_offset == 1 and part["high_watermark"] == part["last_stable_offset"] == 2


def test_fetch_with_max_wait_returns_empty_when_nothing_arrives(broker):
    produce(broker.port, "quiet", [b"only"], NOW)
    r = call(broker.port, 1, 11, fetch_req("quiet", 1, 200, 1))
    part = r["responses"][0]["partitions"][0]
    assert part["error_code"] == 0 and bytes(part["records"]) == b"" and part["high_watermark"] == 1


def test_list_offsets_earliest_latest_and_by_timestamp(broker):
    for i in range(5):
        produce(broker.port, "times", [b"a", b"b"], NOW + 10_000 * (i + 1))
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "times"})
    low, high = c.get_watermark_offsets(TopicPartition("times", 0), timeout=10)
    assert (low, high) == (0, 10)
    found = c.offsets_for_times([TopicPartition("times", 0, NOW + 25_000)], timeout=10)
    assert found[0].offset == 4  # first batch with a timestamp >= 25000 is the third (offsets 4-5)
    past_end = c.offsets_for_times([TopicPartition("times", 0, NOW + 99_000_000)], timeout=10)
    assert past_end[0].offset == -1  # no such record: Kafka answers -1 (the client reports "end")
    c.close()


def test_not_found_and_out_of_range_answers_carry_kafkas_placeholders(broker):
    """Kafka answers a timestamp past the end with offset, timestamp and leader epoch all -1,
    and a fetch error without watermarks (both were 0 / the real values here)."""
    produce(broker.port, "placeholders", [b"a"], NOW)

    def list_offsets(ts: int) -> dict:
        return call(broker.port, 2, 5, {"replica_id": -1, "isolation_level": 0, "topics": [
            {"name": "placeholders", "partitions": [{"partition_index": 0, "current_leader_epoch": -1,
                                                     "timestamp": ts}]}]})["topics"][0]["partitions"][0]
    past = list_offsets(NOW + 99_000_000)
    assert (past["offset"], past["timestamp"], past["leader_epoch"]) == (-1, -1, -1)
    latest = list_offsets(-1)
    assert (latest["offset"], latest["leader_epoch"]) == (1, 0)
    out = call(broker.port, 1, 11, fetch_req("placeholders", 99, 0, 0))["responses"][0]["partitions"][0]
    assert out["error_code"] == 1  # OFFSET_OUT_OF_RANGE
    assert (out["high_watermark"], out["last_stable_offset"], out["log_start_offset"]) == (-1, -1, -1)


def topics_cli(broker, *args: str) -> subprocess.CompletedProcess:
    code = "from logwarden.broker.cli import topics; topics()"
    return subprocess.run([sys.executable, "-c", code, *args, "--broker", broker.bootstrap],
                          capture_output=True, text=True, timeout=60)


def test_topics_cli_create_list_describe_alter_delete(broker):
    r = topics_cli(broker, "create", "cli-topic", "-p", "3", "--set", "retention.ms=3600000")
    assert r.returncode == 0, r.stderr
    r = topics_cli(broker, "list")
    assert "cli-topic\t3" in r.stdout.splitlines()
    r = topics_cli(broker, "describe", "cli-topic", "--json")
    doc = json.loads(r.stdout)
    assert [p["partition"] for p in doc["partitions"]] == [0, 1, 2]
    retention = next(c for c in doc["configs"] if c["config"] == "retention.ms")
    assert retention["value"] == "3600000" and retention["default"] is False
    r = topics_cli(broker, "create", "cli-topic")
    assert r.returncode == 1 and "already exists" in r.stderr.lower()
    r = topics_cli(broker, "alter", "cli-topic", "-p", "5", "--set", "retention.bytes=1000000", "--unset", "retention.ms")
    assert r.returncode == 0, r.stderr
    doc = json.loads(topics_cli(broker, "describe", "cli-topic", "--json").stdout)
    configs = {c["config"]: c for c in doc["configs"]}
    assert len(doc["partitions"]) == 5
    assert configs["retention.bytes"]["value"] == "1000000" and configs["retention.bytes"]["default"] is False
    assert configs["retention.ms"]["default"] is True
    r = topics_cli(broker, "alter", "cli-topic", "-p", "2")
    assert r.returncode == 1 and "partitions" in r.stderr
    r = topics_cli(broker, "alter", "cli-topic", "--set", "retention.ms=soon")
    assert r.returncode == 1 and "retention.ms" in r.stderr
    assert topics_cli(broker, "delete", "cli-topic", "--yes").returncode == 0
    r = topics_cli(broker, "list", "--json")
    assert "cli-topic" not in [t["topic"] for t in json.loads(r.stdout)]
    r = topics_cli(broker, "delete", "cli-topic", "--yes")
    assert r.returncode == 1 and "unknown topic" in r.stderr.lower()


def test_admin_client_alter_configs_replaces_all_overrides(broker):
    from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic("alter-me", 1, 1, config={"retention.ms": "3600000", "segment.bytes": "1048576"})])["alter-me"].result(10)
    res = ConfigResource(ConfigResource.Type.TOPIC, "alter-me", set_config={"retention.ms": "7200000"})
    admin.alter_configs([res])[res].result(10)  # legacy AlterConfigs: the given set replaces all overrides
    got = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, "alter-me")])
    entries = list(got.values())[0].result(10)
    assert entries["retention.ms"].value == "7200000" and not entries["retention.ms"].is_default
    assert entries["segment.bytes"].is_default


def test_admin_client_deletes_an_empty_consumer_group(broker):
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    produce(broker.port, "del-topic", [b"x"], NOW)
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "g-del", "enable.auto.commit": False})
    c.commit(offsets=[TopicPartition("del-topic", 0, 1)], asynchronous=False)
    c.close()
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.delete_consumer_groups(["g-del"], request_timeout=10)["g-del"].result(10)
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "g-del"})
    assert c.committed([TopicPartition("del-topic", 0)], timeout=10)[0].offset < 0  # offsets are gone
    c.close()
    with pytest.raises(KafkaException):
        admin.delete_consumer_groups(["g-del"], request_timeout=10)["g-del"].result(10)
