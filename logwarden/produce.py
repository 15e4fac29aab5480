"""Producing one record when librdkafka's local queue may be full.

`Producer.produce()` only queues a record; when the queue holds
`queue.buffering.max.messages` (or `.kbytes`) it raises `BufferError` at once instead of
waiting. The queue empties only as delivery reports are served, and librdkafka serves them
only inside `poll()`/`flush()`, so the way to wait is to poll and try again. The agent's
shipper, the ingest producer and the worker shell all produce this way; they differ only in
how long they wait between attempts and whether they give up, which are the parameters
here. Serving reports runs the callers' delivery callbacks on this thread, as their own
poll loops would.

A record the producer refuses outright (`KafkaException`, e.g. larger than
`message.max.bytes`) is not a full queue: it propagates, because what it means (drop and
acknowledge, tell the sender, abort the stage) is the caller's to decide.
"""
from __future__ import annotations

from typing import Any, Callable

from confluent_kafka import Producer

DeliveryCallback = Callable[[Any, Any], None]


def produce_waiting(producer: Producer, topic: str, value: bytes, key: bytes | None = None, *,
                    on_delivery: DeliveryCallback | None = None, poll_s: float = 0.05,
                    attempts: int | None = None, **record: Any) -> bool:
    """Queue one record, serving delivery reports for `poll_s` whenever the queue is full.

    Tries `attempts` times at most (None: until the record fits, which is backpressure on
    the caller's thread). True once queued; False when every attempt found the queue full.
    `record`: more of the record for `Producer.produce` (headers, timestamp: a replay's copy).
    """
    tried = 0
    while True:
        try:
            producer.produce(topic, value, key, on_delivery=on_delivery, **record)
            return True
        except BufferError:
            producer.poll(poll_s)
            tried += 1
            if attempts is not None and tried >= attempts:
                return False
