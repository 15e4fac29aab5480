"""The durable offset registry and the acknowledgement tracker that feeds it.

On disk, `<data_dir>/agent/registry.json` (JSON, one document)::

    {"version": 1,
     "files": {"2049:131075": {"path": "/var/log/app.log", "device_id": "2049",
                               "inode": "131075", "fingerprint": "9f1c...", "offset": 81920,
                               "updated": "2026-11-26T15:40:00.123Z", "tail": "0a2d2d..."}}}

`tail` is the hex of the (up to 256) bytes before `offset`, read when the offset moved: a
copytruncate copy found after a restart continues at `offset` only if it repeats them.
`offset` is the byte where reading resumes: the end of the last line whose record the
broker acknowledged (acks=all) or that sits fsync'd in the disk spool. It is written
atomically: the whole document goes to `registry.json.tmp`, is fsync'd, renamed over
`registry.json`, and the directory is fsync'd, so a crash (SIGKILL, power loss) leaves
either the old or the new registry, never a torn one. A crash between an acknowledgement
and the next flush re-reads at most `registry_flush_ms` worth of lines: duplicates with
identical `event.id`, which the index collapses; never a lost line.

`AckTracker` turns per-record delivery reports, which may arrive out of order across
partitions, into a contiguous acknowledged prefix of one file: records get consecutive
sequence numbers when produced, and `committed` only moves past a record once it and every
record before it are acknowledged.
"""
from __future__ import annotations

import logging
import os
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

from logwarden.events import now_iso

log = logging.getLogger(__name__)
VERSION = 1


@dataclass(slots=True)
class Entry:
    path: str
    device_id: str
    inode: str
    fingerprint: str | None
    offset: int
    updated: str = ""
    tail: str = ""  # hex of the (up to 256) bytes before `offset`: lets a copytruncate copy found
                    # after a restart continue where this file's reading ended (agents/service.py)


class Registry:
    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.entries: dict[str, Entry] = {}
        self._dirty = False
        self.load()

    def load(self) -> None:
        try:
            doc = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return
        except (OSError, orjson.JSONDecodeError) as exc:
            # Only a foreign hand could tear it (writes are atomic); starting over re-ships
            # lines (identical event ids), which is safer than refusing to start.
            log.error("registry unreadable, starting from scratch", extra={"path": str(self.path), "error": str(exc)})
            return
        for key, e in (doc.get("files") or {}).items():
            try:
                self.entries[key] = Entry(str(e["path"]), str(e["device_id"]), str(e["inode"]), e.get("fingerprint"), int(e["offset"]), e.get("updated", ""),
                                          str(e.get("tail") or ""))
            except (KeyError, TypeError, ValueError):
                log.warning("skipping malformed registry entry", extra={"key": key})

    def get(self, key: str) -> Entry | None:
        return self.entries.get(key)

    def set(self, key: str, path: str, fingerprint: str | None, offset: int, tail: bytes | None = None) -> None:
        """`tail`: the bytes before `offset` (kept from the entry when not given and the offset is unchanged)."""
        e = self.entries.get(key)
        if e is not None and e.offset == offset and e.fingerprint == fingerprint and e.path == path \
                and (tail is None or tail.hex() == e.tail):
            return
        dev, _, ino = key.partition(":")
        keep = e.tail if e is not None and e.offset == offset and e.fingerprint == fingerprint else ""
        self.entries[key] = Entry(path, dev, ino, fingerprint, offset, now_iso(), tail.hex() if tail is not None else keep)
        self._dirty = True

    def remove(self, key: str) -> None:
        if self.entries.pop(key, None) is not None:
            self._dirty = True

    @property
    def dirty(self) -> bool:
        return self._dirty

    def flush(self, force: bool = False) -> bool:
        """Write atomically if anything changed; True when a write happened."""
        if not (self._dirty or force):
            return False
        doc = {"version": VERSION, "files": {k: asdict(e) for k, e in self.entries.items()}}
        data = orjson.dumps(doc, option=orjson.OPT_INDENT_2)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        dfd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        self._dirty = False
        return True


class AckTracker:
    """Contiguous acknowledged prefix of one file's produced records."""

    __slots__ = ("committed", "_base", "_ends", "_early")

    def __init__(self, offset: int):
        self.committed = offset  # resume offset covered by acknowledgements
        self._base = 0  # sequence number of _ends[0]
        self._ends: deque[int] = deque()
        self._early: set[int] = set()  # acknowledged out of order, waiting for the gap

    def add(self, end: int) -> int:
        """Register a record ending at `end`; returns its sequence number for ack()."""
        self._ends.append(end)
        return self._base + len(self._ends) - 1

    def extend(self, ends: list[int]) -> int:
        """Register records in order; returns the sequence number of the first."""
        first = self._base + len(self._ends)
        self._ends.extend(ends)
        return first

    def ack(self, seq: int) -> None:
        if seq != self._base:
            if seq > self._base:
                self._early.add(seq)
            return
        ends, early = self._ends, self._early
        self.committed = ends.popleft()
        self._base += 1
        while early and self._base in early:
            early.discard(self._base)
            self.committed = ends.popleft()
            self._base += 1

    @property
    def pending(self) -> int:
        return len(self._ends)
