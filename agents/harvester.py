"""One open file being read: the IO shell around the splitter, the joiner and the state table.

A harvester owns a file descriptor, not a path: after a rename it keeps reading the same
bytes (state `rotated`) until the end (`drained`), while discovery opens a new harvester
for whatever now sits at the path. Reads use `os.pread` at the splitter's position, so
the descriptor's own offset never matters. `check()` compares the descriptor with the
path (moved?), the size with the position (copytruncate: restart at 0), and the first
line with the fingerprint (truncated and refilled past the old position between polls).

Offsets handed out in records are absolute; the acknowledgement tracker belongs to the
harvester's current *generation*: a truncation starts a new tracker, so late
acknowledgements of the old content can never move the new content's offset.

A generation that ends (truncation) leaves a `Handoff`: its fingerprint, the end of the
last complete line read (`resume`) and the TAIL_BYTES before it. copytruncate put those
bytes, and the lines after them the agent had not read yet, into a copy with the same
first line; the service resumes that copy at `resume` when its bytes match `tail`.
"""
from __future__ import annotations

import itertools
import logging
import os
import time
from dataclasses import dataclass, field

from .config import FileSource
from .identity import FINGERPRINT_BYTES, file_key, fingerprint_bytes, fingerprint_fd
from .lifecycle import FileEvent, FileState, transition
from .multiline import MultilineJoiner, Record
from .registry import AckTracker
from .splitter import LineSplitter

log = logging.getLogger(__name__)
_opened = itertools.count()  # open order: which of two harvesters of one path holds the older lines
TAIL_BYTES = 256  # bytes before a resume point a copy must repeat to continue there


@dataclass(frozen=True, slots=True)
class Handoff:
    """Where a file's content was read up to when it was truncated (see the module docstring)."""

    fingerprint: str
    resume: int  # end of the last complete line read
    tail: bytes  # the (up to) TAIL_BYTES bytes before `resume`
    # the truncated original's identity (not part of what a handoff is): its copy's lines carry
    # it, so a line read again from the copy has the event.id it had from the original
    device_id: str = field(default="", compare=False)
    inode: str = field(default="", compare=False)

    def matches(self, fd: int) -> bool:
        """The file behind `fd` holds the same bytes before `resume`: it is a copy of that content."""
        if self.resume == 0:
            return True
        return bool(self.tail) and os.pread(fd, len(self.tail), self.resume - len(self.tail)) == self.tail


class Harvester:
    def __init__(self, source: FileSource, path: str, offset: int = 0, fingerprint: str | None = None):
        self.source = source
        self.path = path
        self.fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        st = os.fstat(self.fd)
        self.key = file_key(st)
        self.seq = next(_opened)
        self.device_id, _, self.inode = self.key.partition(":")
        self.state = FileState.DISCOVERED
        self.fingerprint = fingerprint or fingerprint_fd(self.fd)
        self.template = None  # EnvelopeTemplate, built by the service once the fingerprint is known
        self.last_activity = time.monotonic()
        self.eof = False
        self.suspect = False  # read() saw the first line change: check() must run now
        self.leftover: tuple[Record, str | None, AckTracker] | None = None  # see check()
        self.handoff: Handoff | None = None  # the generation the last truncation ended; the service takes it
        self.copy_of: "Harvester | None" = None  # set by the service: held while that file is read (Agent._held_copy)
        self._restart(offset)
        self.fire(FileEvent.OPEN)

    def bytes_before(self, offset: int) -> bytes | None:
        """The (up to TAIL_BYTES) bytes before `offset`, for the registry (None once closed or
        when they cannot be read): a copy of this content must repeat them to continue there."""
        n = min(offset, TAIL_BYTES)
        if self.fd < 0 or n == 0:
            return None
        try:
            data = os.pread(self.fd, n, offset - n)
        except OSError:
            return None
        return data if len(data) == n else None

    def _restart(self, offset: int) -> None:
        self.splitter = LineSplitter(offset, self.source.max_line_bytes)
        n = min(offset, TAIL_BYTES)
        self.tail = os.pread(self.fd, n, offset - n) if n else b""  # the bytes before splitter.resume_offset
        ml = self.source.multiline
        self.joiner = MultilineJoiner(ml) if ml else None
        self.tracker = AckTracker(offset)

    def fire(self, event: FileEvent) -> None:
        new = transition(self.state, event)
        if new is not self.state:
            log.debug("file %s", new.value, extra={"path": self.path, "file_key": self.key, "event": event.value, "offset": self.splitter.position})
        self.state = new

    @property
    def position(self) -> int:
        return self.splitter.position

    def resume_at(self, offset: int) -> None:
        """Start a file that was never read at `offset` instead (a copy continuing a truncated file)."""
        self._restart(offset)

    def size(self) -> int:
        """The file's size now (0 once closed)."""
        try:
            return os.fstat(self.fd).st_size
        except OSError:
            return 0

    def lag_bytes(self) -> int:
        """Bytes of the file not read yet: grows while the harvester is held back or stuck."""
        return max(0, self.size() - self.splitter.position) if self.fd >= 0 else 0

    def read(self, limit: int, now: float) -> tuple[list[Record], int]:
        """Read up to `limit` bytes; returns the complete records and the byte count read."""
        if self.fingerprint is None:
            self.fingerprint = fingerprint_fd(self.fd)
            if self.fingerprint is None:  # first line incomplete: nothing can be shipped yet
                self._at_eof()
                return [], 0
        chunk = os.pread(self.fd, limit, self.splitter.position)
        if not chunk:
            self._at_eof()
            return self._poll_joiner(now), 0
        if self._refilled():
            # truncated and rewritten past our position since the last poll: these bytes
            # belong to new content; check() restarts at 0 instead
            self.suspect = True
            return [], 0
        if self.eof:
            self.eof = False
            self.fire(FileEvent.GREW)
        self.last_activity = now
        base = self.splitter.position
        lines = self.splitter.feed(chunk)
        if lines:
            end = self.splitter.resume_offset - base
            self.tail = chunk[max(0, end - TAIL_BYTES):end]
        if self.joiner is not None:
            recs = self.joiner.feed(lines, now)
            late = self.joiner.poll(now)
            if late is not None:
                recs.append(late)
        else:
            recs = lines
        if len(chunk) < limit:
            self._at_eof()
        return recs, len(chunk)

    def _poll_joiner(self, now: float) -> list[Record]:
        if self.joiner is None:
            return []
        late = self.joiner.poll(now)
        return [late] if late is not None else []

    def _at_eof(self) -> None:
        if not self.eof:
            self.eof = True
            self.fire(FileEvent.EOF)

    def check(self) -> FileEvent | None:
        """Poll-time checks; returns the event that happened (MOVED, TRUNCATED) if any."""
        try:
            size = os.fstat(self.fd).st_size
        except OSError:
            return None
        if size < self.splitter.position or self.suspect or self._refilled():
            self.suspect = False
            log.warning("file truncated, reading from offset 0", extra={"path": self.path, "file_key": self.key, "size": size, "offset": self.splitter.position})
            pending = self.joiner.flush() if self.joiner is not None else None
            if pending is not None:
                # complete lines of the old content waiting for their record's end: ship them
                self.leftover = (pending, self.fingerprint, self.tracker)
            if self.fingerprint is not None:
                self.handoff = Handoff(self.fingerprint, self.splitter.resume_offset, self.tail, self.device_id, self.inode)
            self.fingerprint = fingerprint_fd(self.fd)
            self.template = None
            self._restart(0)
            self.eof = False
            self.fire(FileEvent.TRUNCATED)
            return FileEvent.TRUNCATED
        if self.state is FileState.TAILING:
            try:
                moved = file_key(os.stat(self.path)) != self.key
            except FileNotFoundError:
                moved = True
            except OSError:
                moved = False
            if moved:
                self.fire(FileEvent.MOVED)
                self.eof = False  # the next read to the end must report EOF: rotated -> drained
                return FileEvent.MOVED
        return None

    @property
    def removed(self) -> bool:
        """The file has no name left (every link deleted); only our descriptor keeps it."""
        try:
            return os.fstat(self.fd).st_nlink == 0
        except OSError:
            return True

    def _refilled(self) -> bool:
        """Truncated and rewritten between two polls: the first line changed.

        Also at position 0: a file not read yet (held back by backpressure) that was
        truncated and refilled is new content, and its old first line names the content a
        copytruncate copy carries."""
        if self.fingerprint is None:
            return False
        fp = fingerprint_bytes(os.pread(self.fd, FINGERPRINT_BYTES, 0))
        return fp is not None and fp != self.fingerprint

    def flush_partial(self) -> list[Record]:
        """At close: ship a last line that never got its newline, and any pending multiline record."""
        out: list[Record] = []
        if self.joiner is not None:
            rec = self.joiner.flush()
            if rec is not None:
                out.append(rec)
        line = self.splitter.flush()
        if line is not None and line.data:
            out.append(line)
        return out

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
