"""Sparse offset and time indexes of one segment, Kafka's file formats.

`.index` entries (8 bytes, big-endian): relative offset u32 | file position u32. An entry
(R, P) says: the batch starting at byte P of the .log ends at offset base + R. An entry is
added when more than index.interval.bytes were appended since the previous one, so a
lookup lands at most about that many bytes before the batch sought.

`.timeindex` entries (12 bytes): timestamp i64 | relative offset u32, where the timestamp
is the largest seen in the segment so far and the offset is the first batch reaching it;
timestamps strictly increase from one entry to the next.

Both live in memory as arrays (bisect searches them) and are appended to their files as
entries are added, through an O_APPEND descriptor. After an unclean stop the files may lag
or carry entries past a truncation point; `load()` applies Kafka's sanity checks and the
segment rebuilds an index that fails them.
"""
from __future__ import annotations

import os
import struct
import threading
from array import array
from bisect import bisect_left, bisect_right
from pathlib import Path

OFFSET_ENTRY = struct.Struct(">II")
TIME_ENTRY = struct.Struct(">qI")
_BIG = array("I", [1]).tobytes() != b"\x00\x00\x00\x01"  # host is little-endian: swap


class _IndexFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        # The maintenance thread fsyncs while the event loop may roll the segment, which
        # closes these files: closing waits for an fsync in flight, or the fsync could hit
        # a closed descriptor (EBADF) or the file that reused its number.
        self._fd_lock = threading.Lock()

    def touch(self) -> None:
        """Create the (empty) file now, as Kafka does for every new segment."""
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def _write(self, data: bytes) -> None:
        if self._fd is None:
            self.touch()
        os.write(self._fd, data)

    def close(self) -> None:
        with self._fd_lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def fsync(self) -> None:
        with self._fd_lock:
            if self._fd is not None:
                os.fsync(self._fd)

    def _read(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None

    def _rewrite(self, data: bytes) -> None:
        self.close()
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, self.path)


class OffsetIndex(_IndexFile):
    def __init__(self, path: Path, base_offset: int) -> None:
        super().__init__(path)
        self.base_offset = base_offset
        self.rel = array("I")
        self.pos = array("I")

    def __len__(self) -> int:
        return len(self.rel)

    def append(self, offset: int, position: int) -> None:
        rel = offset - self.base_offset
        self.rel.append(rel)
        self.pos.append(position)
        self._write(OFFSET_ENTRY.pack(rel, position))

    def lookup(self, offset: int) -> tuple[int, int]:
        """(offset, position) of the last entry whose offset is <= `offset`, else (base, 0).

        The batch holding `offset` starts at or after that position."""
        i = bisect_right(self.rel, offset - self.base_offset) - 1
        if i < 0:
            return self.base_offset, 0
        return self.base_offset + self.rel[i], self.pos[i]

    def floor_position(self, position: int) -> int:
        """The last indexed batch start at or before `position` (0 if none): a batch boundary."""
        i = bisect_right(self.pos, position) - 1
        return self.pos[i] if i >= 0 else 0

    def last(self) -> tuple[int, int] | None:
        if not self.rel:
            return None
        return self.base_offset + self.rel[-1], self.pos[-1]

    def load(self, log_size: int, next_base: int | None) -> bool:
        """Read the file; False (index must be rebuilt) when it is missing or fails a check."""
        data = self._read()
        if data is None or len(data) % OFFSET_ENTRY.size:
            return False
        flat = array("I", data)
        if _BIG:
            flat.byteswap()
        rel, pos = flat[0::2], flat[1::2]
        for i in range(1, len(rel)):
            if rel[i] <= rel[i - 1] or pos[i] <= pos[i - 1]:
                return False
        if rel and (pos[-1] >= log_size or (next_base is not None and self.base_offset + rel[-1] >= next_base)):
            return False
        self.rel, self.pos = rel, pos
        return True

    def reset(self, entries: list[tuple[int, int]]) -> None:
        """Replace contents (rebuild after recovery or truncation) and rewrite the file."""
        self.rel = array("I", (o - self.base_offset for o, _ in entries))
        self.pos = array("I", (p for _, p in entries))
        self._rewrite(b"".join(OFFSET_ENTRY.pack(o - self.base_offset, p) for o, p in entries))


class TimeIndex(_IndexFile):
    def __init__(self, path: Path, base_offset: int) -> None:
        super().__init__(path)
        self.base_offset = base_offset
        self.ts: list[int] = []
        self.rel: list[int] = []

    def __len__(self) -> int:
        return len(self.ts)

    def maybe_append(self, timestamp: int, offset: int) -> None:
        """Add (timestamp, offset) if the timestamp is newer than the last entry's."""
        if self.ts and timestamp <= self.ts[-1]:
            return
        if timestamp < 0:
            return
        rel = offset - self.base_offset
        self.ts.append(timestamp)
        self.rel.append(rel)
        self._write(TIME_ENTRY.pack(timestamp, rel))

    def lookup_before(self, timestamp: int) -> int:
        """Offset of the last entry with a timestamp < `timestamp`, else the base offset.

        Every batch before that offset has a max timestamp below `timestamp` too."""
        i = bisect_left(self.ts, timestamp) - 1
        return self.base_offset + self.rel[i] if i >= 0 else self.base_offset

    def last(self) -> tuple[int, int] | None:
        if not self.ts:
            return None
        return self.ts[-1], self.base_offset + self.rel[-1]

    def load(self, next_base: int | None) -> bool:
        data = self._read()
        if data is None or len(data) % TIME_ENTRY.size:
            return False
        ts, rel = [], []
        for t, r in TIME_ENTRY.iter_unpack(data):
            if ts and (t <= ts[-1] or r < rel[-1]):
                return False
            ts.append(t)
            rel.append(r)
        if rel and next_base is not None and self.base_offset + rel[-1] >= next_base:
            return False
        self.ts, self.rel = ts, rel
        return True

    def reset(self, entries: list[tuple[int, int]]) -> None:
        self.ts = [t for t, _ in entries]
        self.rel = [o - self.base_offset for _, o in entries]
        self._rewrite(b"".join(TIME_ENTRY.pack(t, o - self.base_offset) for t, o in entries))
