"""Kafka client settings shared by every stage.

Stages are confluent-kafka clients, so the built-in broker and a real Kafka cluster are
interchangeable: only `kafka.bootstrap_servers` and the security settings change.
"""
from __future__ import annotations

from typing import Any

from logwarden.config import Config


def client_settings(cfg: Config) -> dict[str, Any]:
    """librdkafka properties common to producers, consumers and admin clients."""
    k = cfg.kafka
    out: dict[str, Any] = {
        "bootstrap.servers": cfg.bootstrap_servers,
        "security.protocol": k.security_protocol,
        "client.id": "logwarden",
        "log_level": 3,
    }
    if k.sasl_mechanism:
        out["sasl.mechanism"] = k.sasl_mechanism
        out["sasl.username"] = k.sasl_username or ""
        out["sasl.password"] = k.sasl_password or ""
    if k.ssl_ca_location:
        out["ssl.ca.location"] = k.ssl_ca_location
    return out


def producer_settings(cfg: Config, **extra: Any) -> dict[str, Any]:
    """A durable producer: acks=all and idempotence, so a retried batch is written once."""
    out = client_settings(cfg)
    out.update({
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": 20,
        "compression.type": "lz4",
        "batch.size": 1_000_000,
        "queue.buffering.max.kbytes": 262144,
    })
    out.update(extra)
    return out


def consumer_settings(cfg: Config, group_id: str, **extra: Any) -> dict[str, Any]:
    """A consumer whose offsets move only when the stage says its output is durable."""
    out = client_settings(cfg)
    out.update({
        "group.id": group_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 10000,
        "heartbeat.interval.ms": 1000,
        "fetch.wait.max.ms": 100,
        # notice topics created after subscribe within seconds, not librdkafka's 5 minutes
        "topic.metadata.refresh.interval.ms": 5000,
    })
    out.update(extra)
    return out


def ensure_topics(cfg: Config, topics: list[str], timeout_s: float = 15.0) -> None:
    """Create the topics a stage consumes if they do not exist yet.

    A consumer that subscribes to a missing topic only notices its creation at the next
    metadata refresh (librdkafka: minutes), so a stage that starts before its producer
    would sit idle. Creating the topic up front is idempotent and works against the
    built-in broker and Kafka alike (an existing topic is not an error).
    """
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(client_settings(cfg))
    existing = admin.list_topics(timeout=timeout_s).topics
    missing = [t for t in topics if t not in existing]
    if not missing:
        return
    replication = 1 if not cfg.kafka.bootstrap_servers else -1
    futures = admin.create_topics([NewTopic(t, num_partitions=cfg.broker.default_partitions, replication_factor=replication)
                                   for t in missing], operation_timeout=timeout_s)
    for topic, fut in futures.items():
        try:
            fut.result(timeout_s)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
