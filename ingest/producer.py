"""confluent-kafka from asyncio: delivery reports resolve futures on the event loop.

`poll()` runs in a loop task on the event loop thread, so delivery callbacks (which
librdkafka only invokes from poll) run there too and may touch futures directly. An HTTP
request produces its records as one batch and awaits one future that resolves when the
last of them is reported (the sender learns of failures and retries); syslog senders
cannot be told, so their records are fire-and-forget: a record the broker did not take
within `delivery_timeout_ms` goes to a bounded disk spool (<data_dir>/ingest/spool;
logwarden.spool, the agent's too) and is replayed with exponential backoff; only when the
spool is full or disabled is it lost, counted and logged.

Counting is done in plain integers on the hot path and published to Prometheus once a
second by the poll task (a labelled Prometheus `inc()` costs microseconds per record).
"""
from __future__ import annotations

import asyncio
import functools
import logging
import time
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer
from prometheus_client import Counter

from logwarden import metrics as core
from logwarden.produce import produce_waiting
from logwarden.spool import Replay, Spool

log = logging.getLogger(__name__)
SENT = Counter("logwarden_ingest_sent_events_total", "Records the broker acknowledged.", ["input"])
FAILED = Counter("logwarden_ingest_failed_events_total", "Records the broker did not take (HTTP senders get an error, syslog ones are lost).", ["input"])
MAX_INFLIGHT = 100_000  # receivers pause reading beyond this (TCP backpressure to senders)
SPOOLED = Counter("logwarden_ingest_spooled_events_total", "Syslog records written to the ingest spool because the broker did not take them.")
PUBLISH_S = 1.0


class _Batch:
    """One HTTP request's records: resolves its future with per-record errors (None = acknowledged)."""

    __slots__ = ("future", "left", "errors")

    def __init__(self, future: "asyncio.Future[list[str | None]]", n: int):
        self.future = future
        self.left = n
        self.errors: list[str | None] = [None] * n


class AsyncProducer:
    def __init__(self, settings: dict[str, Any], topic: str, spool: Spool | None = None,
                 backoff_ms: int = 100, backoff_max_ms: int = 5000):
        self._producer = Producer(settings)
        self.spool = spool
        self.spooled = 0
        self._failed: list[bytes] = []  # syslog records whose delivery failed, not yet spooled
        self._replay = Replay(spool, backoff_ms / 1000.0, backoff_max_ms / 1000.0, "ingest") if spool is not None else None
        self._closing = False
        self.topic = topic
        self.inflight = 0
        self._task: asyncio.Task[None] | None = None
        self._room = asyncio.Event()
        self._room.set()
        self._work = asyncio.Event()  # set when records are produced: the idle poll loop wakes at once
        # counts per input type: [received, sent, failed]; published deltas in _published
        self.counts: dict[str, list[int]] = {"syslog": [0, 0, 0], "http": [0, 0, 0]}
        self._published: dict[str, list[int]] = {"syslog": [0, 0, 0], "http": [0, 0, 0]}
        self._published_spooled = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._poll_loop())

    async def _poll_loop(self) -> None:
        next_publish = time.monotonic() + PUBLISH_S
        while True:
            self._producer.poll(0)
            self._settle_spool(time.monotonic())
            if time.monotonic() >= next_publish:
                self.publish()
                next_publish = time.monotonic() + PUBLISH_S
            if self.inflight:
                await asyncio.sleep(0.001)
            else:
                self._work.clear()
                try:
                    await asyncio.wait_for(self._work.wait(), 0.05)
                except asyncio.TimeoutError:
                    pass

    def publish(self) -> None:
        for kind, (rcv, sent, failed) in self.counts.items():
            old = self._published[kind]
            if rcv > old[0]:
                core.RECEIVED.labels("ingest").inc(rcv - old[0])
            if sent > old[1]:
                SENT.labels(kind).inc(sent - old[1])
                core.SENT.labels("ingest").inc(sent - old[1])
            if failed > old[2]:
                FAILED.labels(kind).inc(failed - old[2])
                core.ERRORS.labels("ingest", "not_acknowledged").inc(failed - old[2])
            self._published[kind] = [rcv, sent, failed]
        if self.spooled > self._published_spooled:
            SPOOLED.inc(self.spooled - self._published_spooled)
            self._published_spooled = self.spooled

    def _produce(self, value: bytes, cb: Any) -> bool:
        # A full queue is waited out on the event loop thread, but for 1000 x 10 ms at most:
        # a record still not queued then counts as not taken (its sender is told, or it is lost).
        try:
            if not produce_waiting(self._producer, self.topic, value, on_delivery=cb, poll_s=0.01, attempts=1000):
                return False
        except KafkaException as exc:
            log.error("record refused by the producer", extra={"error": str(exc), "bytes": len(value)})
            return False
        if not self.inflight:
            self._work.set()
        self.inflight += 1
        if self.inflight >= MAX_INFLIGHT:
            self._room.clear()
        return True

    def _done(self) -> None:
        self.inflight -= 1
        if self.inflight < MAX_INFLIGHT // 2 and not self._room.is_set():
            self._room.set()

    # -- HTTP: a batch, one future -----------------------------------------------------------
    def send_batch(self, values: list[bytes], input_type: str) -> "asyncio.Future[list[str | None]]":
        """Produce; the future resolves to one entry per value: None when acknowledged, else the error."""
        fut: asyncio.Future[list[str | None]] = asyncio.get_running_loop().create_future()
        batch = _Batch(fut, len(values))
        counts = self.counts[input_type]
        counts[0] += len(values)
        if not values:
            fut.set_result([])
            return fut
        cb, partial = self._batch_report, functools.partial
        for i, v in enumerate(values):
            if not self._produce(v, partial(cb, batch, counts, i)):
                self._batch_report(batch, counts, i, None, None, refused=True)
        return fut

    def _batch_report(self, batch: _Batch, counts: list[int], i: int, err: KafkaError | None, _msg: Any, refused: bool = False) -> None:
        if not refused:
            self._done()
        if err is None and not refused:
            counts[1] += 1
        else:
            counts[2] += 1
            batch.errors[i] = "refused by the producer (too large?)" if refused else err.str()  # type: ignore[union-attr]
        batch.left -= 1
        if batch.left == 0 and not batch.future.done():
            batch.future.set_result(batch.errors)

    # -- syslog: fire and forget ---------------------------------------------------------------
    def send_nowait(self, value: bytes, input_type: str) -> None:
        counts = self.counts[input_type]
        counts[0] += 1
        if not self._produce(value, self._nowait_report):
            counts[2] += 1

    def _nowait_report(self, err: KafkaError | None, msg: Any) -> None:
        self._done()
        counts = self.counts["syslog"]
        if err is None:
            counts[1] += 1
        elif self.spool is not None:
            self._failed.append(msg.value())  # spooled by the poll task, replayed later
        else:
            self._lost(1, err.str())

    def _lost(self, n: int, why: str) -> None:
        counts = self.counts["syslog"]
        before = counts[2]
        counts[2] += n
        if before & (before + 1) == 0 or before == 0:  # log the 1st, 2nd, 4th, 8th... loss, not every one
            log.warning("syslog records lost", extra={"error": why, "lost_total": counts[2]})

    # -- the spool: syslog records the broker did not take -----------------------------------
    def _settle_spool(self, now: float) -> None:
        if self.spool is None:
            return
        if self._failed:
            failed, self._failed = self._failed, []
            written = self.spool.append(failed)
            self.spooled += written
            if written < len(failed):
                self._lost(len(failed) - written, "the ingest spool is full")
        if not self._closing:
            self._replay.start(now, self._produce_replayed)  # type: ignore[union-attr]

    def _produce_replayed(self, value: bytes) -> bool:
        if self._produce(value, self._replay_report):
            return True
        self._lost(1, "spooled record refused by the producer")
        return False

    def _replay_report(self, err: KafkaError | None, _msg: Any) -> None:
        self._done()
        if err is None:
            self.counts["syslog"][1] += 1
        self._replay.report(err is None)  # type: ignore[union-attr]

    async def room(self) -> None:
        """Wait while too many records are unacknowledged."""
        if not self._room.is_set():
            await self._room.wait()

    async def close(self, timeout: float) -> None:
        """Wait for live records up to `timeout`; purge the rest into the spool (syslog) and stop."""
        self._closing = True
        if self._task is not None:
            self._task.cancel()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.inflight and loop.time() < deadline:
            if self._replay is not None and self._replay.active and self.inflight <= self._replay.remaining:
                break  # only spool replays are left: they stay in the spool until acknowledged
            self._producer.poll(0.05)
            await asyncio.sleep(0)
        if self.spool is not None:
            self._producer.purge()
            self._producer.poll(0)
            self._settle_spool(time.monotonic())
            self.spool.close()
        left = self._producer.flush(0)
        self.publish()
        if left:
            log.warning("records not acknowledged at shutdown", extra={"count": left})
