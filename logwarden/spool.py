"""A bounded disk spool for records the broker did not take.

When a record's delivery fails (broker down past `delivery_timeout_ms`, connection
refused, ...) it is appended here and fsync'd, and only then does its file offset count as
done: the spool is as durable as the broker for the agent's purposes. While the spool is
not empty, new records also go to the spool, so the order the broker sees stays the order
the lines were read. The shipper replays the oldest segment with exponential backoff and
deletes a segment once the broker acknowledged every record in it. When the spool is full
the agent stops reading files (backpressure) until the broker drains it: nothing already
read is dropped, but lines of files that are rotated away *and deleted* while the agent is
paused are lost, exactly as with Filebeat's full queue.

The agent (agents/shipper.py) and the ingest producer (ingest/producer.py, for syslog
records, which have no sender to tell) both spool this way, so it lives in the core rather
than in one of them. Directory `<data_dir>/agent/spool/` (the agent's) or
`<data_dir>/ingest/spool/` (the ingest's), segment files `<20-digit sequence>.spool`, each a run
of records::

    u32 big-endian  length of payload
    u32 big-endian  CRC-32 (zlib) of payload
    payload         the envelope bytes as produced

A torn tail (crash mid-append, before the fsync that would have acknowledged it) fails the
length or CRC check; reading stops there. Those records' offsets were never committed, so
the tailer reads their lines again.
"""
from __future__ import annotations

import logging
import os
import struct
import time
import zlib
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)
HEADER = struct.Struct(">II")


def _segment_name(seq: int) -> str:
    return f"{seq:020d}.spool"


def read_segment(path: str | os.PathLike[str]) -> list[bytes]:
    """The intact records of one segment file, in order."""
    data = Path(path).read_bytes()
    out: list[bytes] = []
    pos = 0
    while pos + HEADER.size <= len(data):
        n, crc = HEADER.unpack_from(data, pos)
        payload = data[pos + HEADER.size: pos + HEADER.size + n]
        if len(payload) != n or zlib.crc32(payload) != crc:
            log.warning("spool segment has a torn tail, ignoring the rest", extra={"segment": str(path), "position": pos})
            break
        out.append(payload)
        pos += HEADER.size + n
    return out


def read_all(directory: str | os.PathLike[str]) -> list[bytes]:
    """Every record in a spool directory, oldest first (for inspection and tests)."""
    return [r for p in sorted(Path(directory).glob("*.spool")) for r in read_segment(p)]


class Spool:
    def __init__(self, directory: str | os.PathLike[str], max_bytes: int, segment_bytes: int):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self._segments: list[int] = sorted(int(p.stem) for p in self.dir.glob("*.spool") if p.stem.isdigit())
        self._sizes: dict[int, int] = {s: (self.dir / _segment_name(s)).stat().st_size for s in self._segments}
        self._active: int | None = None  # segment being appended to
        self._fd = -1

    @property
    def size_bytes(self) -> int:
        return sum(self._sizes.values())

    @property
    def empty(self) -> bool:
        return not self._segments

    def has_room(self, nbytes: int = 0) -> bool:
        return self.size_bytes + nbytes <= self.max_bytes

    def append(self, payloads: list[bytes]) -> int:
        """Append and fsync as many payloads as fit; returns how many were written."""
        if not payloads:
            return 0
        used = self.size_bytes
        written = 0
        buf = bytearray()
        for p in payloads:
            need = HEADER.size + len(p)
            if used + need > self.max_bytes:
                break
            buf += HEADER.pack(len(p), zlib.crc32(p))
            buf += p
            used += need
            written += 1
            if self._active is None or self._sizes[self._active] + len(buf) >= self.segment_bytes:
                self._write(buf)
                buf = bytearray()
        self._write(buf)
        if self._fd >= 0:
            os.fsync(self._fd)
        return written

    def _write(self, buf: bytearray) -> None:
        if not buf:
            return
        if self._active is None or self._sizes[self._active] >= self.segment_bytes:
            self._roll()
        view = memoryview(buf)
        while view:
            view = view[os.write(self._fd, view):]
        self._sizes[self._active] += len(buf)

    def _roll(self) -> None:
        if self._fd >= 0:
            os.fsync(self._fd)
            os.close(self._fd)
        seq = (self._segments[-1] + 1) if self._segments else 1
        self._fd = os.open(self.dir / _segment_name(seq), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._segments.append(seq)
        self._sizes[seq] = 0
        self._active = seq
        dfd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def oldest(self) -> tuple[int, list[bytes]] | None:
        """The oldest segment's records. The active segment is sealed first so it stops changing."""
        if not self._segments:
            return None
        seq = self._segments[0]
        if seq == self._active:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd, self._active = -1, None
        return seq, read_segment(self.dir / _segment_name(seq))

    def remove(self, seq: int) -> None:
        """Delete a segment whose records the broker acknowledged."""
        if seq == self._active:
            os.close(self._fd)
            self._fd, self._active = -1, None
        (self.dir / _segment_name(seq)).unlink(missing_ok=True)
        self._segments.remove(seq)
        self._sizes.pop(seq, None)

    def close(self) -> None:
        if self._fd >= 0:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd, self._active = -1, None


class Replay:
    """Sends the spool's oldest segment to the broker again, one segment at a time.

    A segment leaves the spool only when every one of its records was acknowledged; if any
    delivery failed, the whole segment is tried again after an exponential backoff (records
    may then reach the broker twice, which their deterministic event ids collapse). A record
    the producer refuses outright (too large) cannot succeed later and counts as done.
    Shared by the agent's shipper and the ingest producer, which differ only in how they
    produce and count.
    """

    def __init__(self, spool: Spool, backoff_min_s: float, backoff_max_s: float, label: str):
        self.spool = spool
        self.backoff_min = backoff_min_s
        self.backoff_max = backoff_max_s
        self.backoff = backoff_min_s
        self.label = label
        self.segment: int | None = None
        self.remaining = 0  # records of the segment not yet reported
        self.failed = 0
        self.next_at = 0.0

    @property
    def active(self) -> bool:
        return self.segment is not None

    def start(self, now: float, produce: Callable[[bytes], bool]) -> None:
        """Begin replaying the oldest segment if none is under way and the backoff allows.
        `produce(value)` returns False when the producer refused the record outright."""
        if self.segment is not None or self.spool.empty or now < self.next_at:
            return
        oldest = self.spool.oldest()
        if oldest is None:
            return
        seq, records = oldest
        if not records:
            self.spool.remove(seq)
            return
        self.segment, self.remaining, self.failed = seq, len(records), 0
        log.info("replaying spool segment", extra={"spool": self.label, "segment": seq, "records": len(records)})
        for value in records:
            if not produce(value):
                self.report(True)  # refused for good: retrying cannot help

    def report(self, delivered: bool) -> bool:
        """One record of the current segment settled (delivered, or refused for good).
        True when this completed a segment that was delivered whole (the broker is back)."""
        if not delivered:
            self.failed += 1
        self.remaining -= 1
        if self.remaining:
            return False
        seq, self.segment = self.segment, None
        if self.failed:
            self.next_at = time.monotonic() + self.backoff
            log.warning("spool replay failed, backing off",
                        extra={"spool": self.label, "segment": seq, "failed": self.failed, "next_in_s": self.backoff})
            self.backoff = min(self.backoff * 2, self.backoff_max)
            return False
        self.spool.remove(seq)  # type: ignore[arg-type]
        self.backoff = self.backoff_min
        self.next_at = 0.0
        log.info("spool segment delivered", extra={"spool": self.label, "segment": seq})
        return True
