"""Make sure a consumer stage's input topics exist before it subscribes.

librdkafka's consumer does not create topics (allow.auto.create.topics=false) and only
re-reads metadata every topic.metadata.refresh.interval.ms (5 minutes by default), so a
worker that subscribes to `alerts` before the rules stage first produces to it would not
see the topic for minutes. Creating the inputs up front removes that race; "already
exists" is the normal answer. On a real cluster the partition count and replication
factor are the cluster's defaults (-1), on the built-in broker its `default_partitions`.
"""
from __future__ import annotations

import logging

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from logwarden.config import Config
from logwarden.kafka import client_settings

log = logging.getLogger("logwarden.sinks.topics")
TIMEOUT_S = 15.0


def ensure_topics(cfg: Config, topics: list[str]) -> None:
    admin = AdminClient(client_settings(cfg))
    try:
        existing = set(admin.list_topics(timeout=TIMEOUT_S).topics)
    except KafkaException as exc:
        log.warning("cannot list topics; subscribing anyway", extra={"error": str(exc)})
        return
    missing = [t for t in topics if t not in existing]
    if not missing:
        return
    builtin = not cfg.kafka.bootstrap_servers
    partitions = cfg.broker.default_partitions if builtin else -1
    replication = 1 if builtin else -1
    futures = admin.create_topics([NewTopic(t, num_partitions=partitions, replication_factor=replication) for t in missing],
                                  request_timeout=TIMEOUT_S)
    for topic, fut in futures.items():
        try:
            fut.result()
            log.info("created topic", extra={"topic": topic})
        except KafkaException as exc:
            err = exc.args[0] if exc.args else None
            if isinstance(err, KafkaError) and err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue
            log.warning("cannot create topic; subscribing anyway", extra={"topic": topic, "error": str(exc)})
