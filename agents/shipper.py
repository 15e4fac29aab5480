"""Produce envelopes with confluent-kafka; turn delivery reports into acknowledgements.

Every record is produced with its own acknowledgement callback (the file's AckTracker and
the record's sequence number). The producer runs acks=all with idempotence, lz4 batches
and librdkafka's own retries with exponential backoff (`retry.backoff.ms` doubling up to
`retry.backoff.max.ms`) inside `message.timeout.ms`. A delivery report then means:

    success                  acknowledge: the file offset may move past the line
    permanent rejection      (message too large, invalid record) count as dropped, log,
                             acknowledge so one bad record cannot stall a file forever
    anything else            (timeout, broker down, purged) append to the disk spool,
                             fsync, then acknowledge; while the spool holds records, new
                             records go there too, keeping their order

The spool is replayed oldest segment first; a segment is deleted when all its records
were acknowledged, else the next attempt waits twice as long (up to the maximum). Without
a spool (spool_max_bytes: 0) or when it is full, failed records wait in memory and are
produced again after the backoff; they stay unacknowledged, so a crash re-reads them.
"""
from __future__ import annotations

import functools
import logging
import time
from collections import deque
from typing import Any, Callable

from confluent_kafka import KafkaError, KafkaException, Producer

from logwarden.produce import produce_waiting
from logwarden.spool import Replay, Spool

from . import metrics
from .metrics import Stats
from .registry import AckTracker

log = logging.getLogger(__name__)
Ack = Callable[[], Any]

# Errors no retry can fix: the record itself is refused.
PERMANENT = {KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.INVALID_RECORD}
SPOOL_HEADROOM_BYTES = 1_048_576  # stop reading this close to a full spool: in-flight records still need room


class Shipper:
    def __init__(self, settings: dict[str, Any], topic: str, stats: Stats, *, spool: Spool | None,
                 max_inflight: int, backoff_ms: int, backoff_max_ms: int):
        self._settings = dict(settings)
        self._settings["error_cb"] = self._on_error
        self._producer = Producer(self._settings)
        self.topic = topic
        self.stats = stats
        self.spool = spool
        self.max_inflight = max_inflight
        self._backoff_min = backoff_ms / 1000.0
        self._backoff_max = backoff_max_ms / 1000.0
        self._backoff = self._backoff_min
        self.inflight = 0
        self._failed: list[tuple[bytes, Ack]] = []  # delivery failed, not yet spooled
        self._to_spool: list[tuple[bytes, Ack]] = []  # new records while the spool is not empty
        self._retry: deque[tuple[bytes, Ack]] = deque()  # no room in the spool: produce again later
        self._next_retry = 0.0
        self._replay = Replay(spool, self._backoff_min, self._backoff_max, "agent") if spool is not None else None
        self._fatal = False
        self._closing = False
        self._last_error: int | None = None
        self._replay_inflight = 0  # part of inflight that is spool replay (already durable)

    # -- producing -------------------------------------------------------------------------
    def send_records(self, records: list[Any], build: Callable[[Any, bytes], bytes], timestamp: bytes, tracker: AckTracker) -> None:
        """The hot path: envelope and produce a file's records, each acknowledged into `tracker`.

        One partial per record (C-level) carries (tracker, seq) to the delivery report.
        """
        first = tracker.extend([r.end for r in records])
        if self.spool is not None and (self._to_spool or not self.spool.empty):
            for i, rec in enumerate(records):
                self._to_spool.append((build(rec, timestamp), functools.partial(tracker.ack, first + i)))
            return
        produce, topic, cb, partial = self._producer.produce, self.topic, self._delivered, functools.partial
        n = 0
        try:
            for i, rec in enumerate(records):
                produce(topic, build(rec, timestamp), on_delivery=partial(cb, tracker, first + i))
                n += 1
        except (BufferError, KafkaException):
            self.inflight += n
            for i in range(n, len(records)):  # the slow path handles a full queue and refusals
                self._produce(build(records[i], timestamp), functools.partial(tracker.ack, first + i))
            return
        self.inflight += n

    def _delivered(self, tracker: AckTracker, seq: int, err: KafkaError | None, msg: Any) -> None:
        if err is None:
            self.inflight -= 1
            self.stats.sent += 1
            tracker.ack(seq)
        else:
            self._on_delivery(functools.partial(tracker.ack, seq), err, msg)

    def send(self, value: bytes, ack: Ack) -> None:
        if self.spool is not None and (self._to_spool or not self.spool.empty):
            self._to_spool.append((value, ack))
            return
        self._produce(value, ack)

    def _produce(self, value: bytes, ack: Ack) -> None:
        cb = functools.partial(self._on_delivery, ack)  # a C-level partial: cheaper than a closure
        try:  # a full queue: serve delivery reports until it fits (backpressure on the loop)
            produce_waiting(self._producer, self.topic, value, on_delivery=cb)
        except KafkaException as exc:  # refused locally (larger than message.max.bytes)
            self.stats.dropped += 1
            log.error("record refused by the producer, dropping it", extra={"error": str(exc), "bytes": len(value)})
            ack()
            return
        self.inflight += 1

    def _on_delivery(self, ack: Ack, err: KafkaError | None, msg: Any) -> None:
        self.inflight -= 1
        if err is None:
            self.stats.sent += 1
            self._last_error = None
            ack()
        elif err.code() in PERMANENT:
            self.stats.dropped += 1
            log.error("broker rejected a record, dropping it", extra={"error": err.str(), "bytes": len(msg.value() or b"")})
            ack()
        else:
            self._failed.append((msg.value(), ack))

    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            self._fatal = True
        if err.code() == self._last_error and not err.fatal():
            return  # librdkafka repeats connection errors on every reconnect attempt
        self._last_error = err.code()
        log.warning("producer error", extra={"error": err.str(), "code": err.code(), "fatal": err.fatal()})

    # -- the loop's side -------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """Backpressure: stop reading files while this is true."""
        if self.inflight + len(self._retry) + len(self._to_spool) >= self.max_inflight:
            return True
        if self.spool is not None and not self.spool.empty and not self.spool.has_room(min(SPOOL_HEADROOM_BYTES, self.spool.max_bytes // 4)):
            return True
        return self.spool is None and bool(self._retry)

    def poll(self, timeout: float = 0.0) -> None:
        self._producer.poll(timeout)
        if self._fatal:
            self._recreate()
        self._settle(time.monotonic())

    def _settle(self, now: float) -> None:
        batch = self._failed + self._to_spool
        self._failed, self._to_spool = [], []
        if batch:
            written = self.spool.append([v for v, _ in batch]) if self.spool is not None else 0
            for _, ack in batch[:written]:
                ack()
            if written:
                self.stats.spooled += written
                log.debug("spooled records", extra={"count": written})
            if written < len(batch):
                self._retry.extend(batch[written:])
                self._next_retry = max(self._next_retry, now + self._backoff)
            metrics.SPOOL_BYTES.set(self.spool.size_bytes if self.spool else 0)
        if self._retry and now >= self._next_retry and self.inflight == 0:
            # A failed record is not spooled: produce it again, with backoff between rounds.
            retry, self._retry = self._retry, deque()
            for value, ack in retry:
                self._produce(value, ack)
            self._next_retry = now + self._bump()
        self._maybe_replay(now)
        metrics.INFLIGHT.set(self.inflight)

    def _bump(self) -> float:
        cur = self._backoff
        self._backoff = min(self._backoff * 2, self._backoff_max)
        return cur

    def _maybe_replay(self, now: float) -> None:
        if self._closing or self._replay is None:
            return
        self._replay.start(now, self._produce_replayed)

    def _replayed(self, err: KafkaError | None, _msg: Any) -> None:
        self.inflight -= 1
        self._replay_inflight -= 1
        if err is None:
            self.stats.sent += 1
        if self._replay.report(err is None):  # type: ignore[union-attr]
            self._backoff = self._backoff_min  # the broker is back: retries start afresh too

    def _produce_replayed(self, value: bytes) -> bool:
        try:
            produce_waiting(self._producer, self.topic, value, on_delivery=self._replayed)
        except KafkaException as exc:
            self.stats.dropped += 1
            log.error("spooled record refused by the producer, dropping it", extra={"error": str(exc)})
            return False
        self.inflight += 1
        self._replay_inflight += 1
        return True

    def _recreate(self) -> None:
        """A fatal idempotence error: purged records fail over to the spool; start a fresh producer."""
        log.error("producer hit a fatal error, recreating it")
        old = self._producer
        old.purge()
        old.poll(0)
        self._producer = Producer(self._settings)
        self._fatal = False

    @property
    def idle(self) -> bool:
        return self.inflight == 0 and not self._failed and not self._to_spool and not self._retry

    def close(self, timeout: float) -> None:
        """Deliver live records within `timeout`; spool what is left (purged), then stop.

        Replayed spool records need no waiting: they stay in the spool until acknowledged.
        """
        self._closing = True
        deadline = time.monotonic() + timeout
        while self.inflight - self._replay_inflight > 0 and time.monotonic() < deadline:
            self._producer.flush(min(0.2, max(0.0, deadline - time.monotonic())))
            self._settle(time.monotonic())
        self._producer.purge()
        self._producer.poll(0)
        batch = self._failed + self._to_spool
        self._failed, self._to_spool = [], []
        if batch and self.spool is not None:
            written = self.spool.append([v for v, _ in batch])
            for _, ack in batch[:written]:
                ack()
            self.stats.spooled += written
        if self.spool is not None:
            self.spool.close()
