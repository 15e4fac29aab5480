"""Idempotent-producer sequence checks (sans-IO), so a retried batch is written once.

Kafka keeps, per (partition, producer id), the producer epoch and the sequence numbers and
offsets of the last few batches it appended. A batch whose sequence range equals one of
those is a retry of something already written: the broker answers success with the
original offset (and, on a LogAppendTime topic, the original append time) and writes
nothing. Any other batch that does not continue the sequence - one that skips ahead, or
overlaps a remembered batch without being exactly it - is refused with
OUT_OF_ORDER_SEQUENCE_NUMBER, as Kafka's checkSequence does, so the client re-sends in order.

After a restart the table is empty; the first produce to a partition rebuilds it from the
batch headers in the tail of the log (`rebuild`), so a batch that was written but whose
acknowledgement was lost to a crash is still recognised when the client retries it.
"""
from __future__ import annotations

from collections import deque
from typing import Any, Iterable, NamedTuple

from .protocol.batches import BatchHeader, iter_batches
from .storage.batch import ATTR_TIMESTAMP_TYPE
from .storage.log import now_ms

# Kafka remembers the last 5 batches: max.in.flight.requests.per.connection for idempotence.
REMEMBERED_BATCHES = 5
# How many trailing offsets to scan on the first produce after start-up. librdkafka keeps
# at most 5 in-flight batches of batch.num.messages (default 10k) records each.
REBUILD_TAIL_OFFSETS = 100_000
REBUILD_READ_BYTES = 64 * 1024 * 1024
# Kafka's producer.id.expiration.ms: a producer id not seen for a day is forgotten, so the
# table does not grow with every short-lived producer (each client start gets a new id).
PRODUCER_ID_EXPIRATION_MS = 24 * 3600 * 1000

DUPLICATE = "duplicate"
OUT_OF_ORDER = "out_of_order"
FENCED = "fenced"
OK = "ok"


class Verdict(NamedTuple):
    kind: str  # OK, DUPLICATE, OUT_OF_ORDER or FENCED
    base_offset: int = -1  # of the original, for a DUPLICATE
    log_append_time: int = -1  # of the original on a LogAppendTime topic, for a DUPLICATE


class _Producer:
    __slots__ = ("epoch", "batches", "last_ms")

    def __init__(self, epoch: int):
        self.epoch = epoch
        self.last_ms = now_ms()  # last append (or the rebuild that found it): expiry counts from here
        # (first_seq, last_seq, base_offset, log_append_time or -1) of recent batches
        self.batches: deque[tuple[int, int, int, int]] = deque(maxlen=REMEMBERED_BATCHES)


class ProducerStateTable:
    def __init__(self) -> None:
        self._parts: dict[tuple[str, int], dict[int, _Producer]] = {}

    def forget_topic(self, topic: str) -> None:
        """A deleted topic's sequence history must not apply to a new topic of that name."""
        for tp in [tp for tp in self._parts if tp[0] == topic]:
            del self._parts[tp]

    def loaded(self, tp: tuple[str, int]) -> bool:
        return tp in self._parts

    def rebuild(self, tp: tuple[str, int], headers: Iterable[BatchHeader]) -> None:
        table: dict[int, _Producer] = {}
        for h in headers:
            if h.producer_id < 0:
                continue
            p = table.get(h.producer_id)
            if p is None or h.producer_epoch != p.epoch:
                p = table[h.producer_id] = _Producer(h.producer_epoch)
            append_time = h.max_timestamp if h.attributes & ATTR_TIMESTAMP_TYPE else -1
            p.batches.append((h.base_sequence, h.base_sequence + h.last_offset_delta, h.base_offset, append_time))
        self._parts[tp] = table

    def check(self, tp: tuple[str, int], h: BatchHeader) -> Verdict:
        """What to do with a batch about to be appended."""
        if h.producer_id < 0 or h.base_sequence < 0:
            return Verdict(OK)
        p = self._parts.setdefault(tp, {}).get(h.producer_id)
        if p is None:
            return Verdict(OK)  # unknown producer (new, or its history was truncated): accept
        if h.producer_epoch < p.epoch:
            return Verdict(FENCED)
        if h.producer_epoch > p.epoch:
            return Verdict(OK if h.base_sequence == 0 else OUT_OF_ORDER)
        last_seq = h.base_sequence + h.last_offset_delta
        for first, last, base, append_time in p.batches:
            if first == h.base_sequence and last == last_seq:
                return Verdict(DUPLICATE, base, append_time)
        if p.batches and h.base_sequence != (p.batches[-1][1] + 1) & 0x7FFFFFFF:
            return Verdict(OUT_OF_ORDER)
        return Verdict(OK)

    def expire(self, now_ms: int, max_age_ms: int = PRODUCER_ID_EXPIRATION_MS) -> int:
        """Forget producers that have not written for max_age_ms; returns how many. A
        partition's table stays loaded (empty), so the log tail is not scanned again."""
        gone = 0
        for table in self._parts.values():
            for pid in [pid for pid, p in table.items() if now_ms - p.last_ms > max_age_ms]:
                del table[pid]
                gone += 1
        return gone

    def record(self, tp: tuple[str, int], h: BatchHeader, base_offset: int, log_append_time: int = -1) -> None:
        if h.producer_id < 0:
            return
        table = self._parts.setdefault(tp, {})
        p = table.get(h.producer_id)
        if p is None or h.producer_epoch != p.epoch:
            p = table[h.producer_id] = _Producer(h.producer_epoch)
        p.last_ms = now_ms()
        p.batches.append((h.base_sequence, h.base_sequence + h.last_offset_delta, base_offset, log_append_time))


def tail_headers(plog: Any) -> list[BatchHeader]:
    """Batch headers from the last REBUILD_TAIL_OFFSETS offsets of a partition log."""
    out: list[BatchHeader] = []
    offset = max(plog.log_start_offset, plog.log_end_offset - REBUILD_TAIL_OFFSETS)
    while offset < plog.log_end_offset:
        sl = plog.read(offset, REBUILD_READ_BYTES)
        data = slice_bytes(sl)
        if not data:
            break
        got = list(iter_batches(data))
        if not got:
            break
        out.extend(got)
        offset = got[-1].base_offset + got[-1].last_offset_delta + 1
    return out


def slice_bytes(sl: Any) -> Any:
    """The bytes of a storage ReadSlice, whether it carries data or a file region."""
    data = getattr(sl, "data", None)
    if data is not None:
        return data
    if not sl.size:
        return b""
    import os
    fd = sl.fd if getattr(sl, "fd", None) is not None else sl.fileobj.fileno()
    return os.pread(fd, sl.size, sl.position)
