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
        # A subscribed topic that does not exist yet (the index worker's `alerts` before the
        # first alert) is only noticed at the next metadata refresh: 5 minutes by default.
        "topic.metadata.refresh.interval.ms": 2000,
    })
    out.update(extra)
    return out
