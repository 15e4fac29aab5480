"""Where the rules stage keeps its state across restarts: a compacted topic (Kafka IO shell).

The stage (service.py) builds the snapshot; this module only moves bytes. The topic
(`topics.rules_state`, `rules.state` by default) has one partition and
`cleanup.policy=compact`: the broker keeps the latest record per key, and a key names the
input partitions a snapshot covers (`rules|logs.ecs/0,logs.ecs/1,...`), so several rules
workers of one consumer group each keep their own. A record's value is the snapshot JSON:

    {"version": 1, "offsets": [[topic, partition, next offset], ...], "watermark": <event time>,
     "correlations": {<correlation id>: [[key, start, last, entries], ...]},
     "episodes": [<open alert episodes>]}

`save` returns only once the broker acknowledged the record (acks=all), which is what lets
the worker shell commit the input offsets after it. `load` reads the topic from its log
start offset to its high watermark and keeps the newest value of the key.
"""
from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import orjson
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from logwarden.kafka import consumer_settings, ensure_topics, producer_settings

if TYPE_CHECKING:
    from logwarden.config import Config

log = logging.getLogger("logwarden.rules")

# Snapshot size. Records are lz4-compressed by the producer (JSON of similar events shrinks
# 5-15x) and the broker's limit applies to the compressed batch: the topic is created with
# max.message.bytes 8 MiB (the built-in broker's default; a Kafka cluster's is 1 MB). A
# snapshot the broker still refuses, or one over MAX_SNAPSHOT_BYTES uncompressed, is not
# checkpointed (logged): the stage keeps going with its state in memory rather than crash
# and meet the same state again.
MAX_SNAPSHOT_BYTES = 64 * 1024 * 1024
TOPIC_CONFIG = {"cleanup.policy": "compact", "max.message.bytes": str(8 * 1024 * 1024)}
_TOO_LARGE = {KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.RECORD_LIST_TOO_LARGE}
LOAD_TIMEOUT_S = 30.0
SAVE_TIMEOUT_S = 30.0


class StateError(RuntimeError):
    """A snapshot was not acknowledged: the shell must not commit offsets past it."""


class StateStore:
    def __init__(self, cfg: "Config", topic: str):
        self.cfg = cfg
        self.topic = topic
        ensure_topics(cfg, [topic], partitions=1, config=TOPIC_CONFIG)
        self.producer = Producer(producer_settings(cfg, **{"message.max.bytes": MAX_SNAPSHOT_BYTES + 65536,
                                                          "compression.type": "lz4", "linger.ms": 0}))
        self.failures: list[KafkaError] = []

    def _delivered(self, err: KafkaError | None, msg: Any) -> None:
        if err is not None:
            self.failures.append(err)

    def save(self, key: str, body: bytes) -> None:
        if len(body) > MAX_SNAPSHOT_BYTES:
            log.error("rules state too large to checkpoint; it is kept in memory only",
                      extra={"bytes": len(body), "limit": MAX_SNAPSHOT_BYTES})
            return
        self.producer.produce(self.topic, body, key.encode(), on_delivery=self._delivered)
        if self.producer.flush(SAVE_TIMEOUT_S):
            raise StateError(f"rules state snapshot not acknowledged within {SAVE_TIMEOUT_S:.0f} s")
        failures, self.failures = self.failures, []
        if failures and all(f.code() in _TOO_LARGE for f in failures):
            log.error("rules state too large for the topic; it is kept in memory only",
                      extra={"bytes": len(body), "error": failures[0].str()})
        elif failures:
            raise StateError("rules state snapshot not written: " + "; ".join(f.str() for f in failures[:3]))

    def load(self, key: str) -> dict[str, Any] | None:
        """The newest snapshot stored under `key`, or None (none yet, or deleted)."""
        c = Consumer(consumer_settings(self.cfg, "logwarden-rules-state", **{"enable.partition.eof": True}))
        want = key.encode()
        found: bytes | None = None
        try:
            md = c.list_topics(self.topic, timeout=LOAD_TIMEOUT_S).topics.get(self.topic)
            ends: dict[int, int] = {}
            starts = []
            for p in (md.partitions if md is not None else {}):
                lo, hi = c.get_watermark_offsets(TopicPartition(self.topic, p), timeout=LOAD_TIMEOUT_S)
                if hi > lo:
                    ends[p] = hi
                    starts.append(TopicPartition(self.topic, p, lo))
            if not starts:
                return None
            c.assign(starts)
            deadline = time.monotonic() + LOAD_TIMEOUT_S
            while ends:
                if time.monotonic() > deadline:
                    raise StateError(f"could not read {self.topic} to its end within {LOAD_TIMEOUT_S:.0f} s")
                m = c.poll(0.5)
                if m is None:
                    continue
                if m.error() is not None:
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        ends.pop(m.partition(), None)
                        continue
                    raise StateError(f"reading {self.topic}: {m.error().str()}")
                if m.key() == want:
                    found = m.value()  # a tombstone (None) forgets what came before
                if m.offset() + 1 >= ends.get(m.partition(), 0):
                    ends.pop(m.partition(), None)
        finally:
            c.close()
        return orjson.loads(found) if found else None

    def close(self) -> None:
        self.producer.flush(SAVE_TIMEOUT_S)
