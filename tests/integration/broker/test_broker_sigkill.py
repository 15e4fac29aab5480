"""SIGKILL the broker in the middle of an acks=all produce of 200k records, restart it, and
check that every acknowledged record is readable, in order, exactly once."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest
from confluent_kafka import Consumer, TopicPartition

from lwtest import Broker

pytestmark = pytest.mark.integration

TOTAL = 200_000
PRODUCER = r"""
import sys
from confluent_kafka import Producer
bootstrap, topic, total, acked_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
out = open(acked_path, "w", buffering=1 << 16)
p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True, "linger.ms": 5,
              "compression.type": "lz4", "message.timeout.ms": 120000, "reconnect.backoff.max.ms": 200})
def done(err, msg):
    if err is None:
        out.write(f"{msg.partition()} {msg.offset()} {msg.value().decode()}\n")
for i in range(total):
    while True:
        try:
            p.produce(topic, value=str(i).encode(), partition=i % 2, on_delivery=done)
            break
        except BufferError:
            p.poll(0.05)
    p.poll(0)
p.flush(120)
out.close()
"""


def test_sigkill_during_acks_all_produce_loses_and_duplicates_nothing(tmp_path):
    broker = Broker(tmp_path).start()
    acked_path = tmp_path / "acked.txt"
    try:
        from confluent_kafka.admin import AdminClient, NewTopic
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([NewTopic("crash", num_partitions=2, replication_factor=1)])["crash"].result(10)
        prod = subprocess.Popen([sys.executable, "-c", PRODUCER, broker.bootstrap, "crash", str(TOTAL), str(acked_path)])
        # kill once a good share is acknowledged, while the producer is still sending
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if acked_path.exists() and acked_path.stat().st_size > 400_000:
                break
            time.sleep(0.02)
        assert prod.poll() is None, "producer finished before the kill: nothing was tested"
        broker.kill()
        killed_with = acked_path.stat().st_size
        time.sleep(0.5)
        broker.start()
        assert prod.wait(180) == 0
        del admin
    finally:
        if "prod" in locals() and prod.poll() is None:
            prod.kill()
            prod.wait()
    acked = {}
    for line in acked_path.read_text().splitlines():
        part, off, value = line.split()
        acked[int(value)] = (int(part), int(off))
    assert killed_with < acked_path.stat().st_size  # the producer went on after the restart
    # read everything back
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "verify", "enable.auto.commit": False,
                  "auto.offset.reset": "earliest"})
    c.assign([TopicPartition("crash", 0, 0), TopicPartition("crash", 1, 0)])
    seen: dict[int, list[tuple[int, int]]] = {0: [], 1: []}
    expected = len(acked)
    deadline = time.monotonic() + 60
    count = 0
    while count < expected and time.monotonic() < deadline:
        for m in c.consume(10000, 0.5):
            assert not m.error(), m.error()
            seen[m.partition()].append((m.offset(), int(m.value())))
            count += 1
    time.sleep(0.5)
    for m in c.consume(10000, 1.0):
        if not m.error():
            seen[m.partition()].append((m.offset(), int(m.value())))
    c.close()
    assert broker.stop() == 0
    values = [v for part in seen.values() for _, v in part]
    assert len(values) == len(set(values)), "a record was written twice"
    for part, recs in seen.items():
        vals = [v for _, v in recs]
        assert vals == sorted(vals), f"partition {part} out of order"
        assert all(v % 2 == part for v in vals)
    missing = set(acked) - set(values)
    assert not missing, f"{len(missing)} acknowledged records lost, e.g. {sorted(missing)[:5]}"
    where = {v: (part, off) for part, recs in seen.items() for off, v in recs}
    wrong = [v for v, at in acked.items() if where[v] != at]
    assert not wrong, f"{len(wrong)} records are not at their acknowledged offset, e.g. {wrong[:5]}"
    assert len(acked) == TOTAL
