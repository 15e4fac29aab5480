"""Offset commits while a consumer group rebalances, over the wire, against the broker in a
real process.

Kafka accepts a commit from a member of the current generation while the group is
PreparingRebalance: that is when a consumer that is shutting down or giving up its
partitions commits what it processed, and the partition's next owner starts there. The
broker used to answer REBALANCE_IN_PROGRESS instead, so those commits were lost and the
next owner read the records again (seen as "offset commit failed ... Group rebalance in
progress" when `logwarden up` stopped its parser workers, and as kafka-python's "Pre-rebalance
offset commit failed" with a quarter to half of a topic read twice when a second consumer
joined). The first test uses raw frames, because no client library lets a test hold a group
in one rebalance state on purpose, and a confluent-kafka consumer then shows where the group
resumes; the second is the kafka-python case end to end.
"""
from __future__ import annotations

import collections
import socket
import struct
import threading
import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from broker_wire import kafka_call, recv_exact
from logwarden.broker.protocol import errors as E
from logwarden.broker.protocol.frames import decode_response, encode_request

pytestmark = pytest.mark.integration

JOIN, SYNC, HEARTBEAT, LEAVE, OFFSET_COMMIT, OFFSET_FETCH = 11, 14, 12, 13, 8, 9


def join_body(group: str, member_id: str = "") -> dict:
    return {"group_id": group, "session_timeout_ms": 30_000, "rebalance_timeout_ms": 30_000,
            "member_id": member_id, "protocol_type": "consumer",
            "protocols": [{"name": "range", "metadata": b""}]}


def commit_body(group: str, generation: int, member_id: str, topic: str, offset: int) -> dict:
    return {"group_id": group, "generation_id": generation, "member_id": member_id, "group_instance_id": None,
            "topics": [{"name": topic, "partitions": [{"partition_index": 0, "committed_offset": offset,
                                                         "committed_leader_epoch": -1,
                                                         "committed_metadata": None}]}]}


def test_a_member_commits_while_the_group_prepares_a_rebalance(broker):
    topic, group = f"gc-{uuid.uuid4().hex[:8]}", f"g-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})  # must outlive the future
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(10)
    p = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(10):
        p.produce(topic, str(i).encode())
    assert p.flush(10) == 0

    addr = ("127.0.0.1", broker.port)
    with socket.create_connection(addr, timeout=30) as a, socket.create_connection(addr, timeout=30) as b:
        # member A alone: JoinGroup v3 (no MEMBER_ID_REQUIRED round trip), SyncGroup -> Stable
        joined = kafka_call(a, JOIN, 3, join_body(group))
        assert joined["error_code"] == 0 and joined["generation_id"] == 1
        a_id = joined["member_id"]
        synced = kafka_call(a, SYNC, 3, {"group_id": group, "generation_id": 1, "member_id": a_id,
                                         "group_instance_id": None,
                                         "assignments": [{"member_id": a_id, "assignment": b""}]})
        assert synced["error_code"] == 0

        # member B asks to join: its JoinGroup is parked until A rejoins, the group is
        # PreparingRebalance meanwhile
        b.sendall(encode_request(JOIN, 3, 7, "member-b", join_body(group)))
        deadline = time.monotonic() + 10
        while True:
            beat = kafka_call(a, HEARTBEAT, 3, {"group_id": group, "generation_id": 1, "member_id": a_id,
                                                 "group_instance_id": None})
            if beat["error_code"] == E.REBALANCE_IN_PROGRESS or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert beat["error_code"] == E.REBALANCE_IN_PROGRESS  # how A learns it must rejoin

        # A commits what it processed before it rejoins: accepted, as Kafka does
        done = kafka_call(a, OFFSET_COMMIT, 7, commit_body(group, 1, a_id, topic, 7))
        assert done["topics"][0]["partitions"][0]["error_code"] == 0
        fetched = kafka_call(a, OFFSET_FETCH, 5, {"group_id": group,
                                                  "topics": [{"name": topic, "partition_indexes": [0]}]})
        assert fetched["topics"][0]["partitions"][0]["committed_offset"] == 7

        # A leaves; the rebalance completes with B alone, whose parked JoinGroup is answered;
        # B leaves too, and the group is empty
        assert kafka_call(a, LEAVE, 1, {"group_id": group, "member_id": a_id})["error_code"] == 0
        size = struct.unpack(">i", recv_exact(b, 4))[0]
        corr, b_joined = decode_response(JOIN, 3, recv_exact(b, size))
        assert corr == 7 and b_joined["error_code"] == 0 and b_joined["generation_id"] == 2
        assert kafka_call(b, LEAVE, 1, {"group_id": group, "member_id": b_joined["member_id"]})["error_code"] == 0

    # a real consumer of the group starts where A committed
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "session.timeout.ms": 6000})
    try:
        c.subscribe([topic])
        got: list[bytes] = []
        deadline = time.monotonic() + 30
        while len(got) < 3 and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                got.append(m.value())
        assert got[:3] == [b"7", b"8", b"9"]
    finally:
        c.close()


def test_kafka_python_auto_commit_members_read_nothing_twice_when_one_joins(broker):
    """kafka-python (like the Java client) commits what it consumed when it learns of a
    rebalance, before it rejoins - in PreparingRebalance. Refused, the partition's next owner
    starts from the previous commit: before the fix half of these records were read twice."""
    from kafka import KafkaConsumer, KafkaProducer

    topic, n = f"kp-{uuid.uuid4().hex[:8]}", 2000
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])[topic].result(10)
    p = KafkaProducer(bootstrap_servers=broker.bootstrap)
    for i in range(n):
        p.send(topic, str(i).encode(), partition=i % 2)
    p.flush()
    p.close()
    seen: collections.Counter[bytes] = collections.Counter()
    lock = threading.Lock()
    deadline = time.monotonic() + 40

    def member(delay: float) -> None:
        time.sleep(delay)
        c = KafkaConsumer(topic, bootstrap_servers=broker.bootstrap, group_id=f"kpg-{topic}",
                          auto_offset_reset="earliest", enable_auto_commit=True,
                          auto_commit_interval_ms=60_000,  # only the rebalance and close() commit
                          max_poll_records=50, heartbeat_interval_ms=300, session_timeout_ms=6000)
        try:
            while time.monotonic() < deadline and len(seen) < n:
                for msgs in c.poll(200).values():
                    with lock:
                        seen.update(m.value for m in msgs)
                    time.sleep(0.1)  # a slow consumer: still mid-stream when the second one joins
        finally:
            c.close(autocommit=True)

    threads = [threading.Thread(target=member, args=(d,)) for d in (0.0, 1.0)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == n
    assert [v for v, k in seen.items() if k > 1] == []
