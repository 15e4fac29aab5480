"""logwarden.produce: a full librdkafka queue is waited out by serving delivery reports.

A real confluent-kafka Producer with a one-record queue, pointed at a port nothing listens
on: the first record fills the queue, so the second raises BufferError for real until the
first one's delivery report (a timeout, since no broker answers) has been served.
"""
from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer

from lwtest import free_port
from logwarden.produce import produce_waiting


def tiny_queue(message_timeout_ms: int) -> Producer:
    return Producer({
        "bootstrap.servers": f"127.0.0.1:{free_port()}",
        "queue.buffering.max.messages": 1,
        "message.timeout.ms": message_timeout_ms,
        "message.max.bytes": 1000,
        "error_cb": lambda _err: None,   # connection refused, over and over: expected here
        "log_level": 0,
    })


def test_a_full_queue_is_waited_out_while_delivery_reports_are_served():
    p = tiny_queue(message_timeout_ms=300)
    reports: list[tuple[bytes, int | None]] = []

    def report(err, msg):
        reports.append((msg.value(), err.code() if err is not None else None))

    assert produce_waiting(p, "t", b"first", on_delivery=report)
    with pytest.raises(BufferError):
        p.produce("t", b"second")           # the queue really is full
    assert produce_waiting(p, "t", b"second", b"key", on_delivery=report, poll_s=0.05)
    # it could only fit after the first record's report freed the queue, served by the helper
    assert reports and reports[0] == (b"first", KafkaError._MSG_TIMED_OUT)
    p.flush(10)
    assert [v for v, _ in reports] == [b"first", b"second"]


def test_attempts_bound_the_wait_and_say_so():
    p = tiny_queue(message_timeout_ms=120_000)   # the queued record stays put for the whole test
    assert produce_waiting(p, "t", b"first")
    assert produce_waiting(p, "t", b"second", poll_s=0.01, attempts=3) is False
    assert len(p) == 1
    p.purge()
    p.poll(0)


def test_a_record_refused_outright_is_the_callers_to_handle():
    p = tiny_queue(message_timeout_ms=300)
    with pytest.raises(KafkaException) as info:
        produce_waiting(p, "t", b"x" * 5000)
    assert info.value.args[0].code() == KafkaError.MSG_SIZE_TOO_LARGE
