"""confluent-kafka from asyncio: delivery reports resolve futures on the event loop.

`poll()` runs in a loop task on the event loop thread, so delivery callbacks (which
librdkafka only invokes from poll) run there too and may touch futures directly. HTTP
requests await their records' futures before answering (the sender learns of failures and
retries); syslog senders cannot be told, so those records are fire-and-forget and
failures are counted and logged.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer
from prometheus_client import Counter

from logwarden import metrics as core

log = logging.getLogger(__name__)
SENT = Counter("logwarden_ingest_sent_events_total", "Records the broker acknowledged.", ["input"])
FAILED = Counter("logwarden_ingest_failed_events_total", "Records the broker did not take (HTTP senders get an error, syslog ones are lost).", ["input"])
MAX_INFLIGHT = 100_000  # receivers pause reading beyond this (TCP backpressure to senders)


class AsyncProducer:
    def __init__(self, settings: dict[str, Any], topic: str):
        self._producer = Producer(settings)
        self.topic = topic
        self.inflight = 0
        self._task: asyncio.Task[None] | None = None
        self._room = asyncio.Event()
        self._room.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._poll_loop())

    async def _poll_loop(self) -> None:
        while True:
            self._producer.poll(0)
            await asyncio.sleep(0.002 if self.inflight else 0.05)

    def _produce(self, value: bytes, cb: Any) -> bool:
        for _ in range(1000):
            try:
                self._producer.produce(self.topic, value, on_delivery=cb)
                self.inflight += 1
                if self.inflight >= MAX_INFLIGHT:
                    self._room.clear()
                return True
            except BufferError:
                self._producer.poll(0.01)
            except KafkaException as exc:
                log.error("record refused by the producer", extra={"error": str(exc), "bytes": len(value)})
                return False
        return False

    def _done(self) -> None:
        self.inflight -= 1
        if self.inflight < MAX_INFLIGHT // 2:
            self._room.set()

    def send(self, value: bytes, input_type: str) -> "asyncio.Future[str | None]":
        """Produce; the future resolves to None when acknowledged, else to the error text."""
        core.RECEIVED.labels("ingest").inc()
        fut: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()

        def cb(err: KafkaError | None, _msg: Any) -> None:
            self._done()
            if err is None:
                SENT.labels(input_type).inc()
                core.SENT.labels("ingest").inc()
            else:
                FAILED.labels(input_type).inc()
                core.ERRORS.labels("ingest", "not_acknowledged").inc()
            if not fut.done():
                fut.set_result(None if err is None else err.str())

        if not self._produce(value, cb):
            FAILED.labels(input_type).inc()
            fut.set_result("refused by the producer (too large?)")
        return fut

    def send_nowait(self, value: bytes, input_type: str) -> None:
        core.RECEIVED.labels("ingest").inc()
        def cb(err: KafkaError | None, _msg: Any) -> None:
            self._done()
            if err is None:
                SENT.labels(input_type).inc()
                core.SENT.labels("ingest").inc()
            else:
                FAILED.labels(input_type).inc()
                core.ERRORS.labels("ingest", "not_acknowledged").inc()
                log.warning("syslog record lost", extra={"error": err.str()})

        if not self._produce(value, cb):
            FAILED.labels(input_type).inc()

    async def room(self) -> None:
        """Wait while too many records are unacknowledged."""
        await self._room.wait()

    async def close(self, timeout: float) -> None:
        if self._task is not None:
            self._task.cancel()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.inflight and loop.time() < deadline:
            self._producer.poll(0.05)
            await asyncio.sleep(0)
        left = self._producer.flush(0)
        if left:
            log.warning("records not acknowledged at shutdown", extra={"count": left})
