"""Idempotent-producer sequence checks and their rebuild from batch headers."""
from __future__ import annotations

from logwarden.broker.producers import DUPLICATE, FENCED, OK, OUT_OF_ORDER, ProducerStateTable
from logwarden.broker.protocol.batches import BatchHeader, build_batch, iter_batches

TP = ("t", 0)


def header(pid: int, epoch: int, seq: int, count: int, base_offset: int = 0) -> BatchHeader:
    raw = build_batch([(None, b"x")] * count, 0, producer_id=pid, producer_epoch=epoch, base_sequence=seq)
    (h,) = iter_batches(raw)
    return h._replace(base_offset=base_offset)


def test_in_order_duplicate_and_gap():
    t = ProducerStateTable()
    h1 = header(7, 0, 0, 10)
    assert t.check(TP, h1) == (OK, -1, -1)
    t.record(TP, h1, 100)
    h2 = header(7, 0, 10, 5)
    assert t.check(TP, h2) == (OK, -1, -1)
    t.record(TP, h2, 110, 1_700_000_000_000)  # appended to a LogAppendTime topic
    assert t.check(TP, header(7, 0, 0, 10)) == (DUPLICATE, 100, -1)  # a retry of the first batch
    assert t.check(TP, header(7, 0, 10, 5)) == (DUPLICATE, 110, 1_700_000_000_000)  # with its append time
    assert t.check(TP, header(7, 0, 20, 5))[0] == OUT_OF_ORDER  # 15..19 missing
    assert t.check(TP, header(7, 0, 15, 5)) == (OK, -1, -1)
    assert t.check(TP, header(8, 0, 3, 1)) == (OK, -1, -1)  # unknown producer: accepted


def test_a_batch_overlapping_a_remembered_one_is_out_of_order_not_a_duplicate():
    """As Kafka's checkSequence: only a batch with exactly a remembered sequence range is a
    duplicate. Before, 5..14 after 0..9 was answered success and nothing written, so the
    client counted records 10..14 as delivered that were never stored."""
    t = ProducerStateTable()
    t.record(TP, header(7, 0, 0, 10), 0)
    assert t.check(TP, header(7, 0, 5, 10))[0] == OUT_OF_ORDER
    assert t.check(TP, header(7, 0, 0, 5))[0] == OUT_OF_ORDER


def test_epochs_fence_and_reset():
    t = ProducerStateTable()
    t.record(TP, header(7, 2, 0, 1), 0)
    assert t.check(TP, header(7, 1, 1, 1))[0] == FENCED
    assert t.check(TP, header(7, 3, 0, 1))[0] == OK
    assert t.check(TP, header(7, 3, 5, 1))[0] == OUT_OF_ORDER


def test_rebuild_from_log_tail_recognises_retries_after_restart():
    t = ProducerStateTable()
    t.rebuild(TP, [header(7, 0, 0, 10, 0), header(7, 0, 10, 10, 10), header(-1, -1, -1, 3, 20)])
    assert t.loaded(TP)
    assert t.check(TP, header(7, 0, 10, 10)) == (DUPLICATE, 10, -1)
    assert t.check(TP, header(7, 0, 20, 10)) == (OK, -1, -1)


def test_forgetting_a_deleted_topic():
    t = ProducerStateTable()
    t.record(("gone", 0), header(7, 0, 0, 10), 0)
    t.record(("kept", 0), header(7, 0, 0, 10), 0)
    t.forget_topic("gone")
    assert not t.loaded(("gone", 0)) and t.loaded(("kept", 0))


def test_producers_not_seen_for_a_day_are_forgotten():
    """Kafka's producer.id.expiration.ms: without it the table grew with every producer that
    ever wrote (each client start gets a new id) for as long as the broker ran."""
    t = ProducerStateTable()
    t.record(TP, header(7, 0, 0, 10), 0)
    t.record(TP, header(8, 0, 0, 10), 10)
    t._parts[TP][7].last_ms -= 25 * 3600 * 1000  # producer 7 last wrote 25 hours ago
    assert t.expire(int(__import__("time").time() * 1000)) == 1
    assert t.loaded(TP) and list(t._parts[TP]) == [8]
    assert t.check(TP, header(7, 0, 0, 10)) == (OK, -1, -1)  # a stranger now, as in Kafka
    assert t.check(TP, header(8, 0, 0, 10))[0] == DUPLICATE
