"""Consumer-group offsets of the index stage: rewinding the group when the index is new.

(Creating the input topics before subscribing is `logwarden.kafka.ensure_topics`, which
the worker shell calls for every stage.)
"""
from __future__ import annotations

import logging

from confluent_kafka import Consumer, KafkaException, TopicPartition

from logwarden.config import Config
from logwarden.kafka import consumer_settings

log = logging.getLogger("logwarden.sinks.topics")
TIMEOUT_S = 15.0


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
        log.debug("rewound consumer group to the log start", extra={"group": group_id, "partitions": len(lows)})
        return len(lows)
    except KafkaException as exc:
        log.warning("cannot rewind consumer group", extra={"group": group_id, "error": str(exc)})
        return 0
    finally:
        c.close()
