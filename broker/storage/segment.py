"""One log segment: `<base>.log` with its `.index` and `.timeindex`, Kafka's naming.

The .log file is record batches back to back, exactly as produced except for the
baseOffset the broker wrote into each. All file access is positional (pwritev/pread), so
the file object handed to readers for sendfile may have its position moved freely.

Appending is per batch, never per record: the caller has validated the batches; the
segment writes `new baseOffset + rest of batch` pairs with one pwritev (no copy of the
payload) and adds sparse index entries. Recovery re-validates every batch (CRC included),
truncates at the first torn or corrupt one and rebuilds both indexes.
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Iterator

from .batch import HEADER_SIZE, OFFSET, BatchInfo, parse_header, read_prefix, scan_valid
from .errors import KafkaStorageError
from .index import OffsetIndex, TimeIndex

log = logging.getLogger(__name__)

SCAN_CHUNK = 8192  # header walks: many small batches per read, one read per large batch
RECOVER_CHUNK = 8 * 1024 * 1024  # CRC-verifying recovery reads this much at a time
IOV_MAX = 1024  # Linux limit on buffers per pwritev
MAX_RELATIVE_OFFSET = 2**31 - 1  # offsets relative to the segment base must fit index entries


def segment_name(base_offset: int) -> str:
    return f"{base_offset:020d}"


def write_all(fd: int, buffers: list, position: int, expected: int = -1) -> int:
    """pwritev every buffer at `position`, resuming after short writes; returns bytes written."""
    if len(buffers) <= IOV_MAX and expected >= 0:
        n = os.pwritev(fd, buffers, position)
        if n == expected:
            return n  # the usual case: one syscall
        buffers = _skip(buffers, n)
        return n + write_all(fd, buffers, position + n)
    total = 0
    i = 0
    while i < len(buffers):
        chunk = buffers[i:i + IOV_MAX]
        want = sum(len(b) for b in chunk)
        n = os.pwritev(fd, chunk, position + total)
        total += n
        if n == want:
            i += len(chunk)
            continue
        # Short write (rare on regular files): drop what went out and retry the rest.
        buffers = _skip(chunk, n) + buffers[i + len(chunk):]
        i = 0
    return total


def _skip(buffers: list, n: int) -> list:
    """The buffers that remain after the first `n` bytes were written."""
    rest: list = []
    for b in buffers:
        if n >= len(b):
            n -= len(b)
            continue
        rest.append(memoryview(b)[n:])
        n = 0
    return rest


class LogSegment:
    def __init__(self, directory: Path, base_offset: int, index_interval_bytes: int) -> None:
        self.directory = directory
        self.base_offset = base_offset
        self.index_interval_bytes = index_interval_bytes
        name = segment_name(base_offset)
        self.log_path = directory / f"{name}.log"
        self.index = OffsetIndex(directory / f"{name}.index", base_offset)
        self.time_index = TimeIndex(directory / f"{name}.timeindex", base_offset)
        fd = os.open(self.log_path, os.O_RDWR | os.O_CREAT, 0o644)
        self.file = os.fdopen(fd, "r+b", buffering=0)
        self.fd = fd
        self.size = os.fstat(fd).st_size
        self.next_offset = base_offset  # last offset + 1; only an upper bound unless exact_next
        self.exact_next = True
        self.max_timestamp = -1
        self.offset_of_max_timestamp = base_offset
        self.bytes_since_index = 0
        self.rolling_base_ms: int | None = None  # first batch's max timestamp (segment.ms)
        self.created_ms = int(time.time() * 1000)

    # -- appending -------------------------------------------------------------------------

    def append(self, mv: memoryview, batches: list[BatchInfo], first_offset: int) -> int:
        """Write validated batches with offsets from `first_offset`; returns the next offset."""
        iov: list = []
        pos = self.size
        off = first_offset
        entries: list[tuple[int, int]] = []
        max_ts, max_ts_off = self.max_timestamp, self.offset_of_max_timestamp
        since = self.bytes_since_index
        for b in batches:
            iov.append(OFFSET.pack(off))
            iov.append(mv[b.position + 8:b.position + b.size])
            last = off + b.last_offset_delta
            if b.max_timestamp > max_ts:
                max_ts, max_ts_off = b.max_timestamp, last
            if since > self.index_interval_bytes:
                entries.append((last, pos, max_ts, max_ts_off))
                since = 0
            since += b.size
            pos += b.size
            off = last + 1
        try:
            write_all(self.fd, iov, self.size, pos - self.size)
        except OSError as e:
            os.ftruncate(self.fd, self.size)  # leave nothing half-written behind
            raise KafkaStorageError(f"writing {self.log_path}: {e}") from e
        if self.size == 0:
            self.rolling_base_ms = batches[0].max_timestamp
        for last, p, ts, ts_off in entries:
            self.index.append(last, p)
            self.time_index.maybe_append(ts, ts_off)
        self.size = pos
        self.next_offset = off
        self.max_timestamp, self.offset_of_max_timestamp = max_ts, max_ts_off
        self.bytes_since_index = since
        return off

    def time_waited_for_roll(self, now_ms: int, batch_max_ts: int) -> int:
        """Kafka's rule: record time since the first batch, else wall time since creation."""
        if self.rolling_base_ms is not None and self.rolling_base_ms >= 0:
            return batch_max_ts - self.rolling_base_ms
        return now_ms - self.created_ms

    def on_become_inactive(self) -> None:
        """Called on roll: the time index's last entry must carry the segment's max timestamp."""
        self.time_index.maybe_append(self.max_timestamp, self.offset_of_max_timestamp)
        self.index.close()
        self.time_index.close()

    # -- reading ---------------------------------------------------------------------------

    def headers(self, position: int, end: int) -> Iterator[tuple[int, int, int, int, int]]:
        """(position, size, base_offset, last_offset, max_timestamp) of each batch in [position, end)."""
        buf = b""
        buf_start = 0
        pos = position
        while pos < end:
            if pos < buf_start or pos + HEADER_SIZE > buf_start + len(buf):
                buf = os.pread(self.fd, min(SCAN_CHUNK, end - pos), pos)
                buf_start = pos
                if len(buf) < HEADER_SIZE:
                    return
            h = parse_header(buf, pos - buf_start)
            size = 12 + h.batch_length
            if h.batch_length < HEADER_SIZE - 12 or pos + size > end:
                return  # torn tail; only recovery deals with it
            yield pos, size, h.base_offset, h.base_offset + h.last_offset_delta, h.max_timestamp
            pos += size

    def find(self, offset: int, end: int) -> tuple[int, int, int] | None:
        """(position, size, last_offset) of the first batch whose last offset >= `offset`."""
        _, start = self.index.lookup(offset)
        for pos, size, _, last, _ in self.headers(start, end):
            if last >= offset:
                return pos, size, last
        return None

    def read(self, offset: int, max_bytes: int, end: int) -> tuple[int, int, int] | None:
        """Whole batches from the one holding `offset`, up to `max_bytes` (at least one).

        Returns (position, size, next_offset) or None when no batch here reaches `offset`."""
        first = self.find(offset, end)
        if first is None:
            return None
        pos, size, last = first
        limit = pos + max(max_bytes, size)
        if limit >= end:
            stop = end
            next_offset = None
        else:
            # Jump to the last indexed batch boundary before the limit, then walk headers.
            stop = max(pos + size, self.index.floor_position(limit))
            next_offset = last + 1 if stop == pos + size else None
            for p, s, _, lst, _ in self.headers(stop, end):
                if p + s > limit:
                    break
                stop = p + s
                next_offset = lst + 1
        if next_offset is None:
            next_offset = self._last_offset_before(stop, pos, last)
        return pos, stop - pos, next_offset

    def _last_offset_before(self, stop: int, first_pos: int, first_last: int) -> int:
        """next offset after the batch ending exactly at `stop` (walks from an index entry)."""
        if stop == self.size and self.exact_next:
            return self.next_offset
        start = self.index.floor_position(stop - 1)
        if start < first_pos:
            start = first_pos
        nxt = first_last + 1
        for p, s, _, lst, _ in self.headers(start, stop):
            nxt = lst + 1
        return nxt

    def first_batch_max_timestamp(self) -> int | None:
        if self.size < HEADER_SIZE:
            return None
        return parse_header(os.pread(self.fd, HEADER_SIZE, 0)).max_timestamp

    # -- loading and recovery --------------------------------------------------------------

    def load(self, next_base: int | None, active: bool) -> bool:
        """Load indexes written by a clean run; False when the segment needs recover()."""
        if not self.index.load(self.size, next_base) or not self.time_index.load(next_base):
            return False
        if self.size and not self.time_index.ts and not active:
            return False  # an inactive segment always ends with a time index entry
        last_ts = self.time_index.last()
        if last_ts:
            self.max_timestamp, self.offset_of_max_timestamp = last_ts
        if active:
            last = self.index.last()
            start = last[1] if last else 0
            nxt = last[0] + 1 if last else self.base_offset
            pos = start
            for p, s, _, lst, ts in self.headers(start, self.size):
                if ts > self.max_timestamp:
                    self.max_timestamp, self.offset_of_max_timestamp = ts, lst
                nxt = lst + 1
                pos = p + s
            if pos != self.size:
                return False
            self.next_offset = nxt if self.size else self.base_offset
            self.bytes_since_index = self.size - start
        else:
            self.next_offset = next_base if next_base is not None else self.base_offset
            self.exact_next = False
        self.rolling_base_ms = self.first_batch_max_timestamp()
        return True

    def recover(self, next_offset: int | None, active: bool, contiguous: bool = False,
                next_base: int | None = None) -> int:
        """Re-validate every batch, truncate at the first bad one, rebuild the indexes.

        `contiguous`: offsets must follow on without gaps (never-compacted logs), so a
        damaged baseOffset (outside the CRC) is caught. Batches must end before
        `next_base` and within the index's relative-offset range.
        Returns the number of bytes truncated (0 when the segment was intact)."""
        ib = IndexBuilder(self.base_offset, self.index_interval_bytes)
        pos = 0
        expected = next_offset if next_offset is not None else self.base_offset
        if expected < self.base_offset:
            expected = self.base_offset
        max_offset = self.base_offset + MAX_RELATIVE_OFFSET
        if next_base is not None:
            max_offset = min(max_offset, next_base - 1)
        file_size = os.fstat(self.fd).st_size
        reason = None
        while pos < file_size:
            avail = file_size - pos
            want = min(RECOVER_CHUNK, avail)
            if avail >= 12:
                _, need = read_prefix(os.pread(self.fd, 12, pos))
                if need > want:
                    want = min(need, avail)
            chunk = memoryview(os.pread(self.fd, want, pos))
            batches, used, reason = scan_valid(chunk, 0, len(chunk), expected, True, contiguous, max_offset)
            for b in batches:
                expected = ib.add(pos + b.position, b.size, b.base_offset + b.last_offset_delta, b.max_timestamp)
            pos += used
            if reason is None:
                continue
            if used > 0 and want < avail and _crosses(chunk, used):
                continue  # the next batch only crosses the chunk end: read on from it
            break
        truncated = file_size - pos
        if truncated:
            log.warning("truncating %s at byte %d (%d bytes dropped): %s", self.log_path, pos, truncated, reason)
            os.ftruncate(self.fd, pos)
        self.install(ib, pos, active)
        return truncated

    def install(self, ib: "IndexBuilder", size: int, active: bool) -> None:
        """Take indexes and counters from a builder that saw every batch of this segment."""
        tentries = ib.tentries
        if not active and ib.max_ts >= 0 and (not tentries or ib.max_ts > tentries[-1][0]):
            tentries.append((ib.max_ts, ib.max_off))
        self.index.reset(ib.entries)
        self.time_index.reset(tentries)
        self.size = size
        self.next_offset = ib.next_offset
        self.exact_next = True
        self.max_timestamp, self.offset_of_max_timestamp = ib.max_ts, ib.max_off
        self.bytes_since_index = ib.since
        self.rolling_base_ms = self.first_batch_max_timestamp()

    # -- lifetime --------------------------------------------------------------------------

    def fsync(self) -> None:
        os.fsync(self.fd)
        self.index.fsync()
        self.time_index.fsync()

    def truncate_to(self, position: int) -> None:
        os.ftruncate(self.fd, position)
        self.size = position

    def close_index_files(self) -> None:
        self.index.close()
        self.time_index.close()

    def close(self) -> None:
        self.close_index_files()
        if not self.file.closed:
            self.file.close()

    def paths(self) -> list[Path]:
        return [self.log_path, self.index.path, self.time_index.path]

    def unlink(self) -> None:
        """Remove the files now; the open descriptor stays valid until close()."""
        self.close_index_files()
        for p in self.paths():
            try:
                p.unlink()
            except FileNotFoundError:
                pass


class IndexBuilder:
    """Replays append's index policy over batches seen in order (recovery, compaction)."""

    def __init__(self, base_offset: int, interval: int) -> None:
        self.interval = interval
        self.entries: list[tuple[int, int]] = []
        self.tentries: list[tuple[int, int]] = []
        self.max_ts, self.max_off = -1, base_offset
        self.since = 0
        self.next_offset = base_offset

    def add(self, position: int, size: int, last: int, max_ts: int) -> int:
        if max_ts > self.max_ts:
            self.max_ts, self.max_off = max_ts, last
        if self.since > self.interval:
            self.entries.append((last, position))
            if self.max_ts >= 0 and (not self.tentries or self.max_ts > self.tentries[-1][0]):
                self.tentries.append((self.max_ts, self.max_off))
            self.since = 0
        self.since += size
        self.next_offset = last + 1
        return self.next_offset


def _crosses(chunk: memoryview, used: int) -> bool:
    """True when the batch at `used` runs past the end of `chunk` (read more, then retry)."""
    if len(chunk) - used < 12:
        return True
    _, need = read_prefix(chunk, used)
    return used + need > len(chunk)
