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
        # librdkafka pauses a partition's fetching for fetch.queue.backoff.ms (1 s by default)
        # whenever its local queue is full; a deeper queue and a short pause keep a busy stage
        # fed (bench/broker.py: 220k -> 570k records/s for one consumer)
        "queued.min.messages": 200000,
        "fetch.queue.backoff.ms": 10,
    })
    out.update(extra)
    return out


def ensure_topics(cfg: Config, topics: list[str], timeout_s: float = 15.0, *, partitions: int | None = None,
                  config: dict[str, str] | None = None) -> None:
    """Create the topics a stage reads or writes if they do not exist yet.

    `partitions` and `config` (topic configs such as cleanup.policy) apply to the topics
    this call creates; by default the broker's or cluster's defaults.

    librdkafka's consumer does not create topics and re-reads metadata only every
    topic.metadata.refresh.interval.ms, so a stage that subscribes before the producer of
    its input first writes would sit idle. Creating the topics up front removes that race
    and works against the built-in broker (its `default_partitions`) and a Kafka cluster
    alike (the cluster's defaults, -1); "already exists" is the normal answer. A failure is
    logged and the stage subscribes anyway: a missing topic must not stop it starting.
    """
    import logging

    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    log = logging.getLogger("logwarden.kafka")
    admin = AdminClient(client_settings(cfg))
    try:
        existing = set(admin.list_topics(timeout=timeout_s).topics)
    except KafkaException as exc:
        log.warning("cannot list topics; subscribing anyway", extra={"error": str(exc)})
        return
    missing = [t for t in dict.fromkeys(topics) if t not in existing]
    if not missing:
        return
    builtin = not cfg.kafka.bootstrap_servers
    if partitions is None:
        partitions = cfg.broker.default_partitions if builtin else -1
    replication = 1 if builtin else -1
    futures = admin.create_topics([NewTopic(t, num_partitions=partitions, replication_factor=replication, config=config or {})
                                   for t in missing], request_timeout=timeout_s)
    for topic, fut in futures.items():
        try:
            fut.result()
            log.debug("created topic", extra={"topic": topic})
        except KafkaException as exc:
            err = exc.args[0] if exc.args else None
            if isinstance(err, KafkaError) and err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue
            log.warning("cannot create topic; subscribing anyway", extra={"topic": topic, "error": str(exc)})
