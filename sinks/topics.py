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

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from logwarden.config import Config
from logwarden.kafka import client_settings, consumer_settings

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


def rewind_group(cfg: Config, group_id: str, topics: list[str]) -> int:
    """Commit the log start offset of every partition of `topics` for `group_id`.

    Used when the embedded index is new (first start, or its directory was deleted to
    rebuild it): the worker then reads everything the broker still retains instead of
    resuming where the previous index left off. Must run before the group's members
    join (the offsets are committed as a simple, member-less consumer). Returns the
    number of partitions rewound.
    """
    c = Consumer(consumer_settings(cfg, group_id))
    try:
        parts = []
        for topic in topics:
            md = c.list_topics(topic, timeout=TIMEOUT_S).topics.get(topic)
            if md is None or md.error is not None:
                continue
            parts += [TopicPartition(topic, p) for p in md.partitions]
        if not parts:
            return 0
        lows = [TopicPartition(tp.topic, tp.partition, c.get_watermark_offsets(tp, timeout=TIMEOUT_S)[0]) for tp in parts]
        c.commit(offsets=lows, asynchronous=False)
        log.info("rewound consumer group to the log start", extra={"group": group_id, "partitions": len(lows)})
        return len(lows)
    except KafkaException as exc:
        log.warning("cannot rewind consumer group", extra={"group": group_id, "error": str(exc)})
        return 0
    finally:
        c.close()
