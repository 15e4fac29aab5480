"""Broker authorization with real clients: principals from SASL, ACLs from the config, and
Kafka's answers (TOPIC_/GROUP_/CLUSTER_AUTHORIZATION_FAILED) where Kafka gives them.

The layout an operator would write: the agent may only produce to logs.raw, the parsers
only read logs.raw in their own group, an admin is a super user.
"""
from __future__ import annotations

import time

import pytest
from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from logwarden.broker.security.scram import hash_password
from lwtest import Broker

PASSWORDS = {"agent": "agent-pw", "parsers": "parsers-pw", "admin": "admin-pw"}
ACLS = [
    {"principal": "User:agent", "operations": ["Write"], "topic": "logs.raw"},
    {"principal": "User:parsers", "operations": ["Read"], "topic": "logs.raw"},
    {"principal": "User:parsers", "operations": ["Read"], "group": "logwarden-parsers"},
]

pytestmark = [pytest.mark.integration, pytest.mark.broker_config(
    security_protocol="SASL_PLAINTEXT", sasl_users={u: hash_password(p) for u, p in PASSWORDS.items()},
    acls=ACLS, super_users=["User:admin"])]


@pytest.fixture(scope="module", autouse=True)
def topics(broker):
    """logs.raw (2 partitions) and other, created by the super user before any test."""
    admin = AdminClient(client("admin", broker))
    for fut in admin.create_topics([NewTopic("logs.raw", 2), NewTopic("other", 1)]).values():
        fut.result(30)


def client(user: str, b: Broker, **extra) -> dict:
    return {"bootstrap.servers": b.bootstrap, "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
            "sasl.username": user, "sasl.password": PASSWORDS[user], **extra}


def produce(settings: dict, topic: str, n: int) -> list:
    errors: list = []
    p = Producer({**settings, "acks": "all", "message.timeout.ms": 10000})
    for i in range(n):
        p.produce(topic, f"{topic} {i}".encode(), on_delivery=lambda err, msg: errors.append(err) if err else None)
    p.flush(30)
    return errors


def consume_errors_and_values(settings: dict, topic: str, group: str, want: int, timeout: float = 30.0):
    c = Consumer({**settings, "group.id": group, "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    values, errors = [], []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and len(values) < want and not errors:
            for m in c.consume(100, 0.5):
                if m.error():
                    if m.error().code() != KafkaError._PARTITION_EOF:
                        errors.append(m.error().code())
                else:
                    values.append(m.value())
    finally:
        c.close()
    return values, errors


def test_the_agent_may_only_produce_to_its_topic(broker):
    assert produce(client("agent", broker), "logs.raw", 50) == []
    errs = produce(client("agent", broker), "other", 3)
    assert errs and all(e.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED for e in errs), errs
    _, errors = consume_errors_and_values(client("agent", broker), "logs.raw", "logwarden-parsers", 1, timeout=15)
    assert KafkaError.GROUP_AUTHORIZATION_FAILED in errors, errors  # no group ACL for the agent


def test_the_parsers_read_in_their_own_group_only(broker):
    assert produce(client("agent", broker), "logs.raw", 20) == []
    values, errors = consume_errors_and_values(client("parsers", broker), "logs.raw", "logwarden-parsers", 20)
    assert not errors and len(values) >= 20
    _, errors = consume_errors_and_values(client("parsers", broker), "logs.raw", "somebody-else", 1, timeout=15)
    assert KafkaError.GROUP_AUTHORIZATION_FAILED in errors, errors
    errs = produce(client("parsers", broker), "logs.raw", 1)
    assert errs and errs[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_metadata_lists_only_describable_topics_and_admin_operations_need_rights(broker):
    assert set(AdminClient(client("parsers", broker)).list_topics(timeout=10).topics) == {"logs.raw"}
    assert {"logs.raw", "other"} <= set(AdminClient(client("admin", broker)).list_topics(timeout=10).topics)
    agent = AdminClient(client("agent", broker))  # kept: a destroyed client fails its futures
    fut = agent.create_topics([NewTopic("agent-made", 1)])["agent-made"]
    with pytest.raises(Exception) as exc:
        fut.result(15)
    assert exc.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    parsers = AdminClient(client("parsers", broker))
    fut = parsers.delete_topics(["other"])["other"]
    with pytest.raises(Exception) as exc:
        fut.result(15)
    assert exc.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert "other" in AdminClient(client("admin", broker)).list_topics(timeout=10).topics


def test_kafka_python_sees_the_same_refusal(broker):
    from kafka import KafkaProducer
    from kafka.errors import TopicAuthorizationFailedError

    p = KafkaProducer(bootstrap_servers=broker.bootstrap, security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN",
                      sasl_plain_username="agent", sasl_plain_password=PASSWORDS["agent"], request_timeout_ms=10000,
                      max_block_ms=10000)
    try:
        p.send("logs.raw", b"from kafka-python").get(timeout=15)
        with pytest.raises(TopicAuthorizationFailedError):
            p.send("other", b"refused").get(timeout=15)
    finally:
        p.close(5)
