"""Committed offsets and topics where Kafka's broker has rules a client relies on, against
the broker in a real process with real clients (confluent-kafka, kafka-python) and raw frames.

Each test failed before its fix: a recreated topic was read from its old offsets (its first
records never delivered), every "__" topic was refused as internal, groups that exist only
through committed offsets were invisible to tools, and OffsetCommit stored offsets for
partitions that do not exist and metadata of any size.
"""
from __future__ import annotations

import socket
import time
import uuid

import pytest
from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, ConsumerGroupState, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from broker_wire import kafka_call
from logwarden.broker.protocol import errors as E

pytestmark = pytest.mark.integration

METADATA, OFFSET_COMMIT, OFFSET_FETCH = 3, 8, 9


def create(admin: AdminClient, topic: str, partitions: int = 1) -> None:
    admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])[topic].result(10)


def produce(broker, topic: str, values: list[str]) -> None:
    p = Producer({"bootstrap.servers": broker.bootstrap})
    for v in values:
        p.produce(topic, v.encode())
    assert p.flush(10) == 0


def consume(broker, topic: str, group: str, n: int) -> list[str]:
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "session.timeout.ms": 6000})
    got: list[str] = []
    try:
        c.subscribe([topic])
        deadline = time.monotonic() + 30
        while len(got) < n and time.monotonic() < deadline:
            m = c.poll(0.3)
            if m is not None and not m.error():
                got.append(m.value().decode())
                c.commit(m, asynchronous=False)
        time.sleep(0.5)  # anything beyond n would show up here
        m = c.poll(0.5)
        if m is not None and not m.error():
            got.append(m.value().decode())
    finally:
        c.close()
    return got


def test_a_recreated_topic_is_read_from_its_beginning_not_from_the_old_offsets(broker):
    """Kafka tombstones every group's offsets of a deleted topic. Before, the group resumed
    the new topic at offset 5 and records new-0..new-4 were never delivered."""
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    topic, group = f"orders-{uuid.uuid4().hex[:6]}", f"app-{uuid.uuid4().hex[:6]}"
    create(admin, topic)
    produce(broker, topic, [f"old-{i}" for i in range(5)])
    assert consume(broker, topic, group, 5) == [f"old-{i}" for i in range(5)]
    admin.delete_topics([topic])[topic].result(10)
    fetched = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group].result(10)
    assert [tp for tp in fetched.topic_partitions if tp.topic == topic] == []  # gone with the topic
    create(admin, topic)
    produce(broker, topic, [f"new-{i}" for i in range(8)])
    assert consume(broker, topic, group, 8) == [f"new-{i}" for i in range(8)]


def test_only_kafkas_internal_topics_are_internal(broker):
    """Topic names that merely start with "__" (Debezium's heartbeat topics) are ordinary:
    auto-created, written, read, reported not internal and deletable. __consumer_offsets
    stays the coordinator's."""
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    topic = f"__debezium-heartbeat.db{uuid.uuid4().hex[:6]}"
    produce(broker, topic, ["beat-0", "beat-1"])  # auto-created on first produce
    assert sorted(consume(broker, topic, f"g-{uuid.uuid4().hex[:6]}", 2)) == ["beat-0", "beat-1"]
    with broker.connect() as s:
        md = kafka_call(s, METADATA, 8, {"topics": [{"name": topic}, {"name": "__consumer_offsets"}],
                                         "allow_auto_topic_creation": False,
                                         "include_cluster_authorized_operations": False,
                                         "include_topic_authorized_operations": False})
    internal = {t["name"]: (t["error_code"], t["is_internal"]) for t in md["topics"]}
    assert internal == {topic: (0, False), "__consumer_offsets": (0, True)}
    admin.delete_topics([topic])[topic].result(10)
    with pytest.raises(Exception, match="TOPIC_EXCEPTION|nvalid topic"):
        admin.delete_topics(["__consumer_offsets"])["__consumer_offsets"].result(10)
    p = Producer({"bootstrap.servers": broker.bootstrap, "message.timeout.ms": 5000})
    errors = []
    p.produce("__consumer_offsets", b"x", on_delivery=lambda err, msg: errors.append(err))
    p.flush(10)
    assert errors and errors[0] is not None and errors[0].name() == "TOPIC_EXCEPTION"


def test_a_group_with_only_committed_offsets_is_listed_and_described_as_empty(broker):
    """Offsets preset with an admin tool (or committed by a consumer using assign()) make an
    Empty group in Kafka, which ListGroups shows; before, it was invisible and described
    Dead, so tools could not manage it."""
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    topic, group = f"preset-{uuid.uuid4().hex[:6]}", f"preset-{uuid.uuid4().hex[:6]}"
    create(admin, topic)
    req = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, 0, 3)])
    admin.alter_consumer_group_offsets([req])[group].result(10)
    listed = admin.list_consumer_groups().result(10)
    assert group in {g.group_id for g in listed.valid}
    described = admin.describe_consumer_groups([group])[group].result(10)
    assert described.state == ConsumerGroupState.EMPTY and described.members == []


def commit(s: socket.socket, group: str, topic: str, partition: int, offset: int, metadata: str | None = None) -> int:
    body = {"group_id": group, "generation_id": -1, "member_id": "", "group_instance_id": None,
            "topics": [{"name": topic, "partitions": [{"partition_index": partition, "committed_offset": offset,
                                                         "committed_leader_epoch": -1,
                                                         "committed_metadata": metadata}]}]}
    return kafka_call(s, OFFSET_COMMIT, 7, body)["topics"][0]["partitions"][0]["error_code"]


def test_offset_commit_refuses_unknown_partitions_and_oversized_metadata_as_kafka_does(broker):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    topic, group = f"oc-{uuid.uuid4().hex[:6]}", f"oc-{uuid.uuid4().hex[:6]}"
    create(admin, topic)
    with broker.connect() as s:
        assert commit(s, group, topic, 99, 5) == E.UNKNOWN_TOPIC_OR_PARTITION  # the topic has one partition
        assert commit(s, group, "no-such-topic", 0, 5) == E.UNKNOWN_TOPIC_OR_PARTITION
        assert commit(s, group, topic, 0, 5, "m" * 4097) == E.OFFSET_METADATA_TOO_LARGE  # offset.metadata.max.bytes
        assert commit(s, group, topic, 0, 6, "m" * 4096) == 0
        assert commit(s, "", topic, 0, 7) == 0  # Kafka accepts the empty group id (old clients)
        fetched = kafka_call(s, OFFSET_FETCH, 5, {"group_id": group, "topics": None})
    assert [(t["name"], p["partition_index"], p["committed_offset"])
            for t in fetched["topics"] for p in t["partitions"]] == [(topic, 0, 6)]
