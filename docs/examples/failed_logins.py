#!/usr/bin/env python3
"""A stream processor on Logwarden's topics in plain confluent-kafka: failed logins.

Reads the ECS events of `logs.ecs` in a consumer group of its own (so it never takes
partitions from the appliance's stages), keeps failed authentications (`event.category`
has `authentication`, `event.outcome` is `failure`: sshd, sudo, su, web logins...) and
writes one small JSON record per failed login to a derived topic, `logins.failed`:

    {"@timestamp": "2026-12-07T10:00:01.000Z", "event.id": "<the event's id>",
     "source.ip": "203.0.113.5", "user.name": "admin", "host.name": "web-1"}

keyed by `source.ip`, so one address's attempts stay in order on one partition for
whatever reads the topic next (a blocklist feeder, a per-address counter...).

Delivery is at-least-once, in the order the appliance's own stages use: produce, flush
(every record acknowledged by the broker), and only then commit the input offsets - on a
timer, when partitions are taken away in a rebalance, and on SIGTERM/SIGINT. After a crash
the events past the last commit are processed again and their records written again; they
carry the event's `event.id`, by which a reader collapses them.

It needs only confluent-kafka (`pip install confluent-kafka`) and the broker's address:

    python failed_logins.py --bootstrap 127.0.0.1:9092
    python failed_logins.py --bootstrap kafka-1:9092 --input logs.ecs --output logins.failed --group failed-logins

docs/streams.md explains it; tests/integration/test_streams.py runs it against the built-in broker.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

COMMIT_INTERVAL_S = 1.0


def get(doc: dict[str, Any], dotted: str) -> Any:
    """`a.b.c` from nested objects (ECS documents may also carry flat dotted keys)."""
    if dotted in doc:
        return doc[dotted]
    cur: Any = doc
    for part in dotted.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def failed_login(value: bytes | None) -> tuple[bytes | None, bytes] | None:
    """(key, value) of the derived record for one logs.ecs record, or None when it is not a
    failed login (or not an ECS event at all: the processor skips what it cannot read)."""
    try:
        doc = json.loads(value or b"")
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    category = get(doc, "event.category")
    categories = category if isinstance(category, list) else [category]
    if "authentication" not in categories or get(doc, "event.outcome") != "failure":
        return None
    out = {"@timestamp": doc.get("@timestamp"), "event.id": get(doc, "event.id"), "source.ip": get(doc, "source.ip"),
           "user.name": get(doc, "user.name"), "host.name": get(doc, "host.name") or get(doc, "host.hostname")}
    ip = out["source.ip"]
    return (str(ip).encode() if ip else None), json.dumps(out, separators=(",", ":")).encode()


class Processor:
    def __init__(self, bootstrap: str, source: str, target: str, group: str):
        self.source, self.target = source, target
        common = {"bootstrap.servers": bootstrap}
        self.admin = AdminClient(common)
        self.producer = Producer({**common, "acks": "all", "enable.idempotence": True, "linger.ms": 20})
        self.consumer = Consumer({**common, "group.id": group, "auto.offset.reset": "earliest",
                                  "enable.auto.commit": False})
        self.pending: dict[tuple[str, int], int] = {}  # next offset to commit, per input partition
        self.failures: list[str] = []
        self.stopping = False
        self.read = self.written = 0

    def create_output(self) -> None:
        """The derived topic, with the broker's default partition count, unless it exists."""
        if self.target in self.admin.list_topics(timeout=30).topics:
            return
        fut = self.admin.create_topics([NewTopic(self.target, num_partitions=-1, replication_factor=-1)])[self.target]
        try:
            fut.result()
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise

    def _delivered(self, err: KafkaError | None, msg: Any) -> None:
        if err is not None:
            self.failures.append(err.str())

    def commit(self, *_: Any) -> None:
        """Outputs acknowledged first, offsets after: the order that makes delivery at-least-once."""
        if self.producer.flush(30):
            raise SystemExit("derived records not acknowledged within 30 s; offsets not committed")
        if self.failures:
            raise SystemExit(f"derived records not written ({self.failures[0]}); offsets not committed")
        if self.pending:
            self.consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in self.pending.items()],
                                 asynchronous=False)
            self.pending.clear()

    def run(self) -> None:
        self.create_output()
        self.consumer.subscribe([self.source], on_revoke=self.commit)
        last = time.monotonic()
        try:
            while not self.stopping:
                for m in self.consumer.consume(500, 0.5):
                    if m.error() is not None:
                        if m.error().code() != KafkaError._PARTITION_EOF:
                            print(f"consume error: {m.error().str()}", file=sys.stderr)
                        continue
                    self.read += 1
                    rec = failed_login(m.value())
                    if rec is not None:
                        self._produce(*rec)
                    self.pending[(m.topic(), m.partition())] = m.offset() + 1
                self.producer.poll(0)
                if time.monotonic() - last >= COMMIT_INTERVAL_S:
                    self.commit()
                    last = time.monotonic()
            self.commit()
        finally:
            self.consumer.close()
        print(f"read {self.read} events, wrote {self.written} failed logins to {self.target}", file=sys.stderr)

    def _produce(self, key: bytes | None, value: bytes) -> None:
        while True:
            try:
                self.producer.produce(self.target, value, key, on_delivery=self._delivered)
                self.written += 1
                return
            except BufferError:  # the local queue is full: let deliveries drain it
                self.producer.poll(0.1)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bootstrap", default="127.0.0.1:9092", help="Kafka bootstrap servers (the built-in broker: broker.listen)")
    ap.add_argument("--input", default="logs.ecs", help="topic of ECS events (topics.ecs)")
    ap.add_argument("--output", default="logins.failed", help="derived topic (created if missing)")
    ap.add_argument("--group", default="failed-logins", help="consumer group (its own: never a logwarden-* group)")
    args = ap.parse_args(argv)
    proc = Processor(args.bootstrap, args.input, args.output, args.group)

    def stop(*_: Any) -> None:
        proc.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    proc.run()


if __name__ == "__main__":
    main()
