"""Storage behaviour seen through a real client (confluent-kafka) and a real broker process:
retention moves the low watermark, compaction keeps the last value per key, ListOffsets
by timestamp finds the record, topic configs are described back."""
from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

pytestmark = pytest.mark.integration
WAIT_S = 30  # maintenance runs every second; generous for a loaded CI machine


def create(broker, config: dict[str, str]) -> str:
    name = f"s-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1, config=config)])[name].result(10)
    return name


def produce_each(broker, topic: str, messages: list[tuple[bytes | None, bytes | None, int | None]]) -> None:
    """One batch per message (flush after each), so segments fill with many batches."""
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 0})
    for key, value, ts in messages:
        kw = {"timestamp": ts} if ts else {}
        p.produce(topic, value=value, key=key, **kw)
        p.flush(10)
    assert p.flush(10) == 0


def consume_all(broker, topic: str) -> list[tuple[int, bytes | None, bytes | None]]:
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": uuid.uuid4().hex,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "enable.partition.eof": True})
    c.assign([TopicPartition(topic, 0, -2)])  # OFFSET_BEGINNING
    out = []
    deadline = time.monotonic() + WAIT_S
    try:
        while time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == -191:  # _PARTITION_EOF
                    break
                raise AssertionError(m.error())
            out.append((m.offset(), m.key(), m.value()))
    finally:
        c.close()
    return out


def watermarks(broker, topic: str) -> tuple[int, int]:
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": uuid.uuid4().hex})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    finally:
        c.close()


def test_retention_bytes_moves_the_low_watermark(broker):
    topic = create(broker, {"segment.bytes": "1500", "retention.bytes": "4000"})
    produce_each(broker, topic, [(None, b"%03d" % i + b"x" * 100, None) for i in range(120)])
    deadline = time.monotonic() + WAIT_S
    while watermarks(broker, topic)[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    low, high = watermarks(broker, topic)
    assert 0 < low < high == 120
    got = consume_all(broker, topic)
    assert [o for o, _, _ in got] == list(range(low, 120))
    assert got[-1][2].startswith(b"119")


def test_compaction_keeps_the_last_value_per_key(broker):
    topic = create(broker, {"cleanup.policy": "compact", "segment.bytes": "1000", "delete.retention.ms": "0"})
    msgs = []
    for i in range(60):
        key = b"k%d" % (i % 4)
        msgs.append((key, b"v%d" % i, None))
    msgs.append((b"k3", None, None))  # tombstone
    msgs.append((b"k0", b"last", None))  # rolls the tombstone's segment out of the active one
    produce_each(broker, topic, msgs)
    deadline = time.monotonic() + WAIT_S
    got = consume_all(broker, topic)
    while len(got) >= 30 and time.monotonic() < deadline:  # ~49 records sit in inactive segments
        time.sleep(0.5)
        got = consume_all(broker, topic)
    assert len(got) < 30
    latest = {}
    for _, k, v in got:
        latest[k] = v
    assert latest[b"k0"] == b"last" and latest[b"k1"] == b"v57" and latest[b"k2"] == b"v58"
    assert latest.get(b"k3") is None
    offsets = [o for o, _, _ in got]
    assert offsets == sorted(offsets) and offsets[-1] == len(msgs) - 1


def test_offsets_for_times(broker):
    topic = create(broker, {"segment.bytes": "2000"})
    t0 = int(time.time() * 1000) - 100_000
    produce_each(broker, topic, [(None, b"m%d" % i, t0 + 1000 * i) for i in range(40)])
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": uuid.uuid4().hex})
    try:
        res = c.offsets_for_times([TopicPartition(topic, 0, t0 + 1000 * 17 - 300)], timeout=10)
        assert res[0].offset == 17
        res = c.offsets_for_times([TopicPartition(topic, 0, t0 + 1000 * 100)], timeout=10)
        assert res[0].offset == -1  # no record that new: Kafka answers -1 (librdkafka: OFFSET_END)
    finally:
        c.close()


def test_describe_configs_reports_overrides(broker):
    topic = create(broker, {"retention.ms": "3600000", "cleanup.policy": "compact"})
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    entries = admin.describe_configs([res])[res].result(10)
    assert entries["retention.ms"].value == "3600000"
    assert entries["cleanup.policy"].value == "compact"
    assert entries["segment.bytes"].value == str(256 * 1024 * 1024)
