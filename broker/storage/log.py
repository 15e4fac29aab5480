"""PartitionLog: the segments of one topic-partition and the operations on them.

Offsets: `log_start_offset` is the base offset of the oldest segment; `log_end_offset`
(LEO) is the next offset to assign. With a single replica the high watermark and the last
stable offset both equal the LEO. `recovery_point` is the offset below which everything
has been fsynced; after an unclean stop only segments holding offsets >= it are re-validated.

Threading: the event-loop thread appends and reads; LogManager's maintenance thread may
flush, roll, delete and compact concurrently. `self.lock` guards the segment list and the
active segment's counters; fsync and compaction I/O run outside it.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .batch import set_log_append_time, validate_produce
from .config import LogConfig
from .errors import KafkaStorageError, OffsetOutOfRangeError, RecordBatchTooLargeError
from .records import check_keys, check_records
from .segment import MAX_RELATIVE_OFFSET, LogSegment

log = logging.getLogger(__name__)

COMPACTED_MARKER = ".compacted"  # present once the cleaner has rewritten a segment: gaps allowed


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(slots=True)
class ReadSlice:
    """Whole record batches of one segment: bytes [position, position + size) of `fileobj`.

    Send it with os.sendfile(sock, fd, position, size) or loop.sendfile(transport, fileobj,
    position, size); `data` reads it into memory (os.pread) for callers that need bytes.
    The descriptor stays open for at least file.delete.delay.ms even if retention deletes
    the segment meanwhile."""
    fileobj: Any
    fd: int
    position: int
    size: int
    next_offset: int

    @property
    def data(self) -> bytes:
        if not self.size:
            return b""
        return os.pread(self.fd, self.size, self.position)


class PartitionLog:
    def __init__(self, directory: Path, topic: str, partition: int, config: LogConfig,
                 recovery_point: int = 0, clean_shutdown: bool = False) -> None:
        self.directory = Path(directory)
        self.topic = topic
        self.partition = partition
        self.config = config
        self.lock = threading.RLock()
        self.maint_lock = threading.Lock()  # one maintenance pass at a time
        self.recovery_point = recovery_point
        self.last_flush_ms = now_ms()
        self.segments: list[LogSegment] = []
        self._bases: list[int] = []
        self._graveyard: list[tuple[int, LogSegment]] = []  # (close at ms, segment)
        self._dir_dirty = True  # a segment file was created since the last directory fsync
        self.deleted = False  # set by drop(): the topic is gone, maintenance must skip it
        # What opening after an unclean stop did, for the broker's start-up message.
        self.revalidated_segments = 0
        self.truncated_bytes = 0
        self.directory.mkdir(parents=True, exist_ok=True)
        from .cleaner import finish_interrupted_swaps  # cleaner imports this module
        finish_interrupted_swaps(self.directory)
        self._load(clean_shutdown)

    # -- offsets ---------------------------------------------------------------------------

    @property
    def active(self) -> LogSegment:
        return self.segments[-1]

    @property
    def log_start_offset(self) -> int:
        return self.segments[0].base_offset

    @property
    def log_end_offset(self) -> int:
        return self.segments[-1].next_offset

    high_watermark = log_end_offset
    last_stable_offset = log_end_offset

    @property
    def size_bytes(self) -> int:
        return sum(s.size for s in self.segments)

    # -- loading ---------------------------------------------------------------------------

    def _load(self, clean: bool) -> None:
        bases = sorted(int(p.name[:-4]) for p in self.directory.glob("*.log") if p.name[:-4].isdigit())
        for p in self.directory.iterdir():
            stem, _, ext = p.name.partition(".")
            if ext in ("index", "timeindex") and stem.isdigit() and int(stem) not in bases:
                p.unlink()  # index without its log (a deleted segment)
        fresh = not bases  # a new partition: its first segment has no indexes yet, nothing to warn about
        if fresh:
            bases = [0]
        ic = self.config.index_interval_bytes
        contiguous = "compact" not in self.config.cleanup_policy and not (self.directory / COMPACTED_MARKER).exists()
        recovering = False
        prev_next: int | None = None
        for i, base in enumerate(bases):
            next_base = bases[i + 1] if i + 1 < len(bases) else None
            active = next_base is None
            seg = LogSegment(self.directory, base, ic)
            self.segments.append(seg)
            self._bases.append(base)
            if not clean and (recovering or next_base is None or next_base > self.recovery_point):
                recovering = True
                dropped = seg.recover(prev_next, active, contiguous, next_base)
                self.revalidated_segments += 1
                self.truncated_bytes += dropped
                if dropped and not active:
                    log.warning("%s-%d: dropping segments after the corrupt one at %d",
                                self.topic, self.partition, base)
                    for later in bases[i + 1:]:
                        tmp = LogSegment(self.directory, later, ic)
                        tmp.unlink()
                        tmp.close()
                    seg.exact_next = True
                    break
            elif not seg.load(next_base, active):
                if not fresh:
                    log.warning("%s-%d: rebuilding indexes of segment %d", self.topic, self.partition, base)
                seg.recover(prev_next, active, contiguous, next_base)
            prev_next = seg.next_offset if seg.exact_next else None
        if not clean and recovering:
            for seg in self.segments:
                seg.fsync()
        if not clean or self.recovery_point > self.log_end_offset:
            self.recovery_point = self.log_end_offset
        for seg in self.segments[:-1]:
            seg.close_index_files()

    # -- appending -------------------------------------------------------------------------

    def append(self, records: bytes | bytearray | memoryview, now_ms: int | None = None) -> tuple[int, int, int]:
        """Validate and append the RECORDS of a Produce request (whole v2 batches).

        Returns (base_offset, last_offset, log_append_time): -1 for CreateTime topics, the
        broker time stamped into every batch for message.timestamp.type=LogAppendTime.
        Raises CorruptRecordError / RecordTooLargeError / RecordBatchTooLargeError /
        InvalidRecordError without writing anything."""
        mv = records if isinstance(records, memoryview) else memoryview(records)
        if mv.format != "B" or mv.ndim != 1:
            mv = mv.cast("B")
        cfg = self.config
        batches = validate_produce(mv, cfg.max_message_bytes)
        total = len(mv)
        if total > cfg.segment_bytes:
            raise RecordBatchTooLargeError(f"{total} bytes of batches exceed segment.bytes={cfg.segment_bytes}")
        check_records(mv, batches)
        if cfg.cleanup_policy != "delete":
            check_keys(mv, batches)
        count = sum(b.last_offset_delta + 1 for b in batches)
        if now_ms is None:
            now_ms = int(time.time() * 1000)
        append_time = -1
        if cfg.message_timestamp_type == "LogAppendTime":
            buf = bytearray(mv)  # the CRC covers maxTimestamp: copy, stamp, re-checksum
            for b in batches:
                set_log_append_time(buf, b.position, b.size, now_ms)
            mv = memoryview(buf)
            batches = [b._replace(max_timestamp=now_ms) for b in batches]
            append_time = now_ms
        with self.lock:
            seg = self.segments[-1]
            base = seg.next_offset
            if seg.size and (seg.size + total > cfg.segment_bytes
                             or seg.time_waited_for_roll(now_ms, batches[0].max_timestamp) > cfg.segment_ms
                             or base + count - seg.base_offset > MAX_RELATIVE_OFFSET):
                try:
                    seg = self._roll()
                except OSError as e:  # cannot create the next segment (EMFILE, ENOSPC, ...)
                    raise KafkaStorageError(f"{self.topic}-{self.partition}: rolling a segment: {e}") from e
            nxt = seg.append(mv, batches, base)
            flush = (cfg.flush_messages is not None and nxt - self.recovery_point >= cfg.flush_messages) \
                or cfg.flush_ms == 0
        if flush:
            self.flush()
        return base, nxt - 1, append_time

    def _roll(self) -> LogSegment:
        """Start a new active segment at the LEO (caller holds the lock)."""
        old = self.segments[-1]
        old.on_become_inactive()
        seg = LogSegment(self.directory, old.next_offset, self.config.index_interval_bytes)
        seg.index.touch()
        seg.time_index.touch()
        self.segments.append(seg)
        self._bases.append(seg.base_offset)
        self._dir_dirty = True
        log.debug("%s-%d: rolled new segment at %d", self.topic, self.partition, seg.base_offset)
        return seg

    def roll(self) -> None:
        with self.lock:
            if self.active.size:
                self._roll()

    # -- reading ---------------------------------------------------------------------------

    def read(self, offset: int, max_bytes: int) -> ReadSlice:
        """Whole batches from the one holding `offset`, up to max_bytes (at least one batch)."""
        with self.lock:
            leo = self.segments[-1].next_offset
            if offset < self.segments[0].base_offset or offset > leo:
                raise OffsetOutOfRangeError(
                    f"offset {offset} outside [{self.segments[0].base_offset}, {leo}] of {self.topic}-{self.partition}")
            if offset < leo:
                i = bisect_right(self._bases, offset) - 1
                for seg in self.segments[i:]:
                    r = seg.read(offset, max_bytes, seg.size)
                    if r is not None:
                        return ReadSlice(seg.file, seg.fd, r[0], r[1], r[2])
            seg = self.segments[-1]
            return ReadSlice(seg.file, seg.fd, seg.size, 0, leo)

    def offset_for_timestamp(self, ts_ms: int) -> tuple[int, int] | None:
        """(offset, timestamp) of the first record whose timestamp is >= ts_ms, else None.

        Finds the first batch with max timestamp >= ts_ms through the time index, then the
        record inside it (uncompressed or gzip/snappy/lz4/zstd batches are decoded; others
        answer with the batch's base offset and max timestamp)."""
        from .records import first_record_at_or_after
        with self.lock:
            for seg in self.segments:
                if seg.max_timestamp < ts_ms:
                    continue
                start = seg.time_index.lookup_before(ts_ms)
                _, pos = seg.index.lookup(start)
                for p, s, base, last, mts in seg.headers(pos, seg.size):
                    if mts >= ts_ms:
                        hit = first_record_at_or_after(os.pread(seg.fd, s, p), ts_ms)
                        return hit if hit is not None else (base, mts)
        return None

    # -- durability ------------------------------------------------------------------------

    def flush(self) -> None:
        """fsync every segment holding offsets at or above the recovery point, then advance it."""
        if self.deleted:
            return
        with self.lock:
            leo = self.log_end_offset
            rp = self.recovery_point
            segs = [s for i, s in enumerate(self.segments)
                    if i + 1 == len(self.segments) or self.segments[i + 1].base_offset > rp]
            dir_dirty, self._dir_dirty = self._dir_dirty, False
        for s in segs:
            s.fsync()
        if dir_dirty:
            fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        with self.lock:
            if leo > self.recovery_point:
                self.recovery_point = leo
            self.last_flush_ms = now_ms()

    @property
    def unflushed_messages(self) -> int:
        return self.log_end_offset - self.recovery_point

    def maybe_flush(self, now: int) -> bool:
        """flush.ms: fsync when unflushed data exists and the last flush is that old."""
        fm = self.config.flush_ms
        if fm is None or self.log_end_offset <= self.recovery_point:
            return False
        if now - self.last_flush_ms < fm:
            return False
        self.flush()
        return True

    # -- retention -------------------------------------------------------------------------

    def delete_old_segments(self, now: int) -> int:
        """Retention by age and size (cleanup.policy contains delete); returns segments deleted."""
        cfg = self.config
        if "delete" not in cfg.cleanup_policy:
            return 0
        doomed: list[LogSegment] = []
        with self.lock:
            if cfg.retention_ms >= 0:
                for seg in self.segments:
                    if not seg.size or now - _largest_ts(seg) <= cfg.retention_ms:
                        break
                    doomed.append(seg)
            if cfg.retention_bytes >= 0:
                size = self.size_bytes - sum(s.size for s in doomed)
                for seg in self.segments[len(doomed):]:
                    if seg is self.segments[-1] or size - seg.size < cfg.retention_bytes:
                        break
                    doomed.append(seg)
                    size -= seg.size
            if not doomed:
                return 0
            if doomed[-1] is self.segments[-1]:
                self._roll()  # the whole log expired: keep an empty active segment at the LEO
            self._remove(doomed, now)
        log.info("%s-%d: retention deleted %d segment(s); log start offset now %d",
                 self.topic, self.partition, len(doomed), self.log_start_offset)
        return len(doomed)

    def _remove(self, doomed: list[LogSegment], now: int) -> None:
        """Drop segments from the log; their descriptors close after file.delete.delay.ms."""
        ids = {id(s) for s in doomed}
        self.segments = [s for s in self.segments if id(s) not in ids]
        self._bases = [s.base_offset for s in self.segments]
        for seg in doomed:
            seg.unlink()
            self._graveyard.append((now + self.config.file_delete_delay_ms, seg))
        self._dir_dirty = True

    def close_deleted(self, now: int, force: bool = False) -> None:
        with self.lock:
            keep = []
            for due, seg in self._graveyard:
                if force or due <= now:
                    seg.close()
                else:
                    keep.append((due, seg))
            self._graveyard = keep

    def maintain(self, now: int | None = None) -> None:
        """Roll by age when idle, retention, compaction, flush.ms and delayed closes."""
        if self.deleted:
            return
        now = now_ms() if now is None else now
        with self.lock:
            seg = self.segments[-1]
            if seg.size and now - max(seg.created_ms, _largest_ts(seg)) > self.config.segment_ms:
                self._roll()
        self.delete_old_segments(now)
        if "compact" in self.config.cleanup_policy:
            from .cleaner import compact
            compact(self, now)
        self.maybe_flush(now)
        self.close_deleted(now)

    # -- lifetime --------------------------------------------------------------------------

    def close(self) -> None:
        """Flush and close. The final time index entry makes the next open a clean load."""
        self.flush()
        with self.lock:
            self.active.time_index.maybe_append(self.active.max_timestamp, self.active.offset_of_max_timestamp)
            for seg in self.segments:
                seg.close()
            self.close_deleted(0, force=True)

    def drop(self) -> list[LogSegment]:
        """Delete every file of this log (topic deletion); returns segments to close later."""
        with self.lock:
            segs = self.segments + [s for _, s in self._graveyard]
            self.deleted = True
            for seg in self.segments:
                seg.unlink()
            self.segments = []
            self._graveyard = []
        return segs


def _largest_ts(seg: LogSegment) -> int:
    """A segment's newest timestamp, or its file's mtime when batches carry none (Kafka)."""
    if seg.max_timestamp >= 0:
        return seg.max_timestamp
    try:
        return int(seg.log_path.stat().st_mtime * 1000)
    except FileNotFoundError:
        return 0
