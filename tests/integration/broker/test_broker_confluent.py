"""confluent-kafka (librdkafka) against the built-in broker running as a real process."""
from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

pytestmark = pytest.mark.integration


def produce(bootstrap: str, topic: str, n: int, start: int = 0, **extra) -> None:
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                  "compression.type": "lz4", "linger.ms": 5, **extra})
    failed = []
    for i in range(start, start + n):
        p.produce(topic, key=str(i).encode(), value=f"value-{i}".encode(),
                  on_delivery=lambda err, msg: failed.append(err) if err else None)
        if i % 5000 == 0:
            p.poll(0)
    assert p.flush(30) == 0
    assert failed == []


def consume(bootstrap: str, topic: str, group: str, n: int, commit: bool = True, timeout: float = 30) -> list:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "session.timeout.ms": 6000})
    c.subscribe([topic])
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        for m in c.consume(min(1000, n - len(got)), 0.5):
            if m.error():
                raise KafkaException(m.error())
            got.append((m.partition(), m.offset(), m.key(), m.value()))
    if commit and got:
        c.commit(asynchronous=False)
    c.close()
    return got


def test_idempotent_lz4_produce_then_group_consume_commit_and_resume_across_restart(fresh_broker, tmp_path):
    topic = f"orders-{uuid.uuid4().hex[:6]}"
    admin = AdminClient({"bootstrap.servers": fresh_broker.bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result(10)

    produce(fresh_broker.bootstrap, topic, 3000)
    first = consume(fresh_broker.bootstrap, topic, "g1", 3000)
    assert sorted(int(k) for _, _, k, _ in first) == list(range(3000))
    # per partition, offsets are dense and in order
    for part in range(3):
        offs = [o for p, o, _, _ in first if p == part]
        assert offs == list(range(len(offs)))

    # committed offsets survive a broker restart; the group resumes after them
    fresh_broker.stop()
    fresh_broker.start()
    produce(fresh_broker.bootstrap, topic, 1000, start=3000)
    rest = consume(fresh_broker.bootstrap, topic, "g1", 1000)
    assert sorted(int(k) for _, _, k, _ in rest) == list(range(3000, 4000))
    # nothing left for the group
    assert consume(fresh_broker.bootstrap, topic, "g1", 1, timeout=3) == []

    c = Consumer({"bootstrap.servers": fresh_broker.bootstrap, "group.id": "g1"})
    committed = c.committed([TopicPartition(topic, p) for p in range(3)], timeout=10)
    c.close()
    assert sum(tp.offset for tp in committed) == 4000


def test_a_consumer_group_carries_on_across_a_broker_restart(fresh_broker):
    """Membership is persisted with the offsets: after a restart the member's heartbeats and
    commits keep working without a rebalance, so nothing is lost and nothing is read twice."""
    import threading

    topic = f"live-{uuid.uuid4().hex[:6]}"
    admin = AdminClient({"bootstrap.servers": fresh_broker.bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])[topic].result(10)
    seen: list[int] = []
    commit_errors: list[str] = []
    stop = threading.Event()

    def consume_loop():
        c = Consumer({"bootstrap.servers": fresh_broker.bootstrap, "group.id": "live", "auto.offset.reset": "earliest",
                      "enable.auto.commit": False, "session.timeout.ms": 30000, "heartbeat.interval.ms": 1000})
        c.subscribe([topic])
        while not stop.is_set():
            msgs = [m for m in c.consume(500, 0.2) if not m.error()]
            seen.extend(int(m.value()) for m in msgs)
            if msgs:
                try:
                    c.commit(asynchronous=False)
                except KafkaException as exc:
                    commit_errors.append(str(exc))
        c.close()

    t = threading.Thread(target=consume_loop)
    t.start()
    try:
        p = Producer({"bootstrap.servers": fresh_broker.bootstrap, "acks": "all", "enable.idempotence": True, "linger.ms": 5})
        for i in range(5000):
            p.produce(topic, str(i).encode(), partition=i % 2)
        assert p.flush(20) == 0
        deadline = time.monotonic() + 30
        while len(seen) < 5000 and time.monotonic() < deadline:
            time.sleep(0.1)
        fresh_broker.stop()
        fresh_broker.start()
        for i in range(5000, 10000):
            p.produce(topic, str(i).encode(), partition=i % 2)
        assert p.flush(30) == 0
        deadline = time.monotonic() + 60
        while len(seen) < 10000 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        t.join(30)
    assert sorted(set(seen)) == list(range(10000))
    assert len(seen) == 10000, f"{len(seen) - 10000} records read twice"
    assert "restored: generation" in fresh_broker.log()
