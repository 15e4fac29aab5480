"""The worker shell every consumer stage runs in: consume, process, produce, commit.

A stage (parsers, index, rules, metrics) is a pure object that turns a batch of Kafka
messages into outputs; this shell owns the I/O, the retries and, above all, the order of
durability that makes delivery at-least-once end to end:

    consume batch -> stage.process() -> produce outputs (acks=all, idempotent)
    ... every checkpoint_interval_ms, on rebalance and on shutdown:
    producer.flush()  -> every output acknowledged by the broker
    stage.checkpoint() -> side effects durable (e.g. the tantivy commit)
    consumer.commit(offsets) -> only now do input offsets move

A crash anywhere before the commit replays the batch; deterministic `event.id`s make the
replay collapse downstream. A failed delivery aborts the process (the supervisor restarts
it) rather than commit past an event that was never written.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
from typing import TYPE_CHECKING, Iterable, Protocol

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from logwarden import metrics, stages
from logwarden.events import Output  # noqa: F401 - stages import it from here too
from logwarden.kafka import consumer_settings, ensure_topics, producer_settings
from logwarden.produce import produce_waiting

if TYPE_CHECKING:
    from confluent_kafka import Message

    from logwarden.config import Config

log = logging.getLogger("logwarden.worker")


class Stage(Protocol):
    name: str
    topics: list[str]

    def process(self, msgs: list["Message"]) -> Iterable[Output]: ...

    def checkpoint(self) -> None: ...

    def close(self) -> None: ...

    # Optional: `idle() -> Iterable[Output]`, called at most once per IDLE_INTERVAL_S while
    # no messages arrive, for stages whose outputs also depend on time (correlation windows).
    # Optional: `assigned(partitions: list[tuple[str, int]])`, called when the group assigns
    # partitions, before any of their messages, for stages that restore state checkpointed
    # in their checkpoint() (the rules stage's windows).


IDLE_INTERVAL_S = 1.0


class DeliveryFailed(RuntimeError):
    """An output was not acknowledged; offsets must not move past its input."""


class StopFlag:
    """Set by SIGTERM/SIGINT; stages poll it between batches."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def install(self) -> "StopFlag":
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self._event.set())
        return self

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)


class _Shell:
    def __init__(self, cfg: "Config", stage: Stage, group_id: str, checkpoint_interval_ms: int):
        self.stage = stage
        self.interval = checkpoint_interval_ms / 1000
        self.pending: dict[tuple[str, int], int] = {}
        self.failures: list[str] = []
        self.producer = Producer(producer_settings(cfg))
        self.consumer = Consumer(consumer_settings(cfg, group_id))
        self.received = metrics.RECEIVED.labels(stage.name)
        self.lag = metrics.LAG.labels(stage.name)
        self.sent = metrics.SENT.labels(stage.name)
        self.idle = getattr(stage, "idle", None)
        self.assigned = getattr(stage, "assigned", None)
        self.last_idle = 0.0

    def _delivered(self, err: KafkaError | None, msg: "Message") -> None:
        if err is not None:
            self.failures.append(f"{msg.topic()}: {err.str()}")

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Commit what is done before another member takes these partitions over.
        self.checkpoint()

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # librdkafka assigns the partitions itself once this returns.
        if self.assigned is not None:
            self.assigned([(tp.topic, tp.partition) for tp in partitions])

    def checkpoint(self) -> None:
        remaining = self.producer.flush(30)
        if remaining:
            raise DeliveryFailed(f"{remaining} outputs not acknowledged within 30 s")
        if self.failures:
            raise DeliveryFailed("; ".join(self.failures[:5]))
        self.stage.checkpoint()
        if self.pending:
            offsets = [TopicPartition(t, p, o) for (t, p), o in self.pending.items()]
            try:
                self.consumer.commit(offsets=offsets, asynchronous=False)
            except KafkaException as exc:
                # A commit refused after a rebalance is harmless: the new owner replays.
                log.warning("offset commit failed", extra={"error": str(exc)})
            self.pending.clear()
        self._report_lag()

    def _report_lag(self) -> None:
        """Events between this process's position and the log end of its partitions, from the
        high watermarks the last fetches returned (cached: no request to the broker)."""
        lag = 0
        try:
            for tp in self.consumer.position(self.consumer.assignment()):
                if tp.offset < 0:  # nothing consumed yet: the position is not known
                    continue
                _, high = self.consumer.get_watermark_offsets(tp, cached=True)
                if high >= 0:
                    lag += max(0, high - tp.offset)
        except KafkaException as exc:
            log.debug("lag not known", extra={"error": str(exc)})
            return
        self.lag.set(lag)

    def run(self, stop: StopFlag, batch_size: int) -> None:
        self.consumer.subscribe(self.stage.topics, on_assign=self._on_assign, on_revoke=self._on_revoke)
        last = time.monotonic()
        try:
            while not stop.is_set():
                msgs = self.consumer.consume(batch_size, 0.2)
                good = []
                for m in msgs:
                    err = m.error()
                    if err is None:
                        good.append(m)
                    elif err.code() != KafkaError._PARTITION_EOF:
                        log.warning("consume error", extra={"error": err.str()})
                if good:
                    self.received.inc(len(good))
                    n = 0
                    for out in self.stage.process(good):
                        self._produce(out)
                        n += 1
                    self.sent.inc(n)
                    for m in good:
                        self.pending[(m.topic(), m.partition())] = m.offset() + 1
                elif self.idle is not None and time.monotonic() - self.last_idle >= IDLE_INTERVAL_S:
                    self.last_idle = time.monotonic()
                    for out in self.idle():
                        self._produce(out)
                        self.sent.inc()
                self.producer.poll(0)
                now = time.monotonic()
                if now - last >= self.interval:
                    self.checkpoint()
                    last = now
            self.checkpoint()
        finally:
            self.stage.close()
            self.consumer.close()

    def _produce(self, out: Output) -> None:
        # A full queue blocks the stage until reports free room; a refused record raises.
        produce_waiting(self.producer, out.topic, out.value, out.key, on_delivery=self._delivered)


def run_stage(cfg: "Config", stage: Stage, *, group_id: str | None = None, batch_size: int = 5000,
              checkpoint_interval_ms: int = 1000, stop: StopFlag | None = None) -> None:
    """Run `stage` until SIGTERM/SIGINT (or `stop`), committing offsets only after durability."""
    stop = stop or StopFlag().install()
    ensure_topics(cfg, stage.topics)
    shell = _Shell(cfg, stage, group_id or stages.group_id(stage.name), checkpoint_interval_ms)
    log.debug("stage started", extra={"stage": stage.name, "topics": stage.topics, "bootstrap": cfg.bootstrap_servers})
    shell.run(stop, batch_size)
    log.debug("stage stopped", extra={"stage": stage.name})
