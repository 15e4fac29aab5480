"""Sans-IO line splitter: bytes in, complete lines with byte offsets out.

The tailer reads a file in chunks that end anywhere; the splitter keeps the partial tail
until its newline arrives, so a line half-written by the application is never shipped
half. Offsets are absolute byte positions in the file:

    Line.offset  where the line starts (Filebeat's `log.offset`)
    Line.end     where the next line starts; the registry stores this to resume

A line longer than `max_bytes` is cut: its first `max_bytes` bytes are kept, the rest up
to the newline is skipped as it streams in, and the line is emitted flagged "truncated"
once its newline arrives (so `end` is always a line boundary and a restart never resumes
inside the skipped remainder). This bounds memory whatever the input, as Filebeat's
`message_max_bytes` does. The newline and a `\\r` before it are not part of `data`.

Hot path: the complete lines of a chunk are cut with one `bytes.split` and the checks for
`\\r` and overlong lines run once per chunk (C speed); per line only the offset is added.
"""
from __future__ import annotations

from dataclasses import dataclass

TRUNCATED: tuple[str, ...] = ("truncated",)


@dataclass(slots=True)
class Line:
    """A line, or a joined multiline record (multiline.py uses the same type)."""

    offset: int
    end: int
    data: bytes
    flags: tuple[str, ...] | list[str] = ()

    @property
    def truncated(self) -> bool:
        return "truncated" in self.flags


class LineSplitter:
    """Feed chunks in file order; get back the lines they complete."""

    __slots__ = ("max_bytes", "_buf", "_buf_offset", "_skipping", "position", "truncated")
    # Invariant: _buf holds at most max_bytes; when _skipping, _buf is the kept head of a
    # cut line starting at _buf_offset and further bytes up to the newline are dropped.

    def __init__(self, offset: int = 0, max_bytes: int = 1_048_576):
        self.max_bytes = max_bytes
        self._buf = bytearray()
        self._buf_offset = offset  # file offset of _buf[0]
        self._skipping = False  # inside the remainder of a truncated line
        self.position = offset  # file offset just after the last fed byte
        self.truncated = 0  # lines cut so far (the caller may reset it)

    @property
    def pending(self) -> int:
        """Bytes held back waiting for a newline (at most max_bytes)."""
        return len(self._buf)

    @property
    def resume_offset(self) -> int:
        """Where to restart reading to see the held-back partial line again."""
        return self._buf_offset

    def _line(self, offset: int, end: int, data: bytes) -> Line:
        if data[-1:] == b"\r":
            data = data[:-1]
        if len(data) > self.max_bytes:
            self.truncated += 1
            return Line(offset, end, data[: self.max_bytes], TRUNCATED)
        return Line(offset, end, data)

    def feed(self, chunk: bytes) -> list[Line]:
        out: list[Line] = []
        if not chunk:
            return out
        base = self.position
        self.position += len(chunk)
        first = chunk.find(b"\n")
        buf = self._buf
        if first < 0:  # no line ends here: keep (a bounded head of) it
            if not self._skipping:
                buf += chunk
                if len(buf) > self.max_bytes:
                    del buf[self.max_bytes:]
                    self._skipping = True
            return out
        # 1. the line that was pending, completed by chunk[:first]
        if self._skipping:
            self.truncated += 1
            out.append(Line(self._buf_offset, base + first + 1, bytes(buf), TRUNCATED))
            self._skipping = False
        else:
            if buf:
                buf += chunk[:first]
                data = bytes(buf)
            else:
                data = chunk[:first]
            out.append(self._line(self._buf_offset, base + first + 1, data))
        buf.clear()
        # 2. every further complete line, in one split
        last = chunk.rfind(b"\n")
        off = base + first + 1
        if last > first:
            body = chunk[first + 1:last]
            parts = body.split(b"\n")
            if b"\r" in body or len(body) > self.max_bytes and max(map(len, parts)) > self.max_bytes:
                for p in parts:
                    end = off + len(p) + 1
                    out.append(self._line(off, end, p))
                    off = end
            else:
                for p in parts:
                    end = off + len(p) + 1
                    out.append(Line(off, end, p))
                    off = end
        # 3. the new partial tail
        self._buf_offset = base + last + 1
        if last + 1 < len(chunk):
            buf += chunk[last + 1:]
            if len(buf) > self.max_bytes:
                del buf[self.max_bytes:]
                self._skipping = True
        return out

    def flush(self) -> Line | None:
        """The partial last line (a file that ends without a newline, at close_inactive)."""
        if not self._buf:
            return None
        data = bytes(self._buf)
        if self._skipping:
            self.truncated += 1
            line = Line(self._buf_offset, self.position, data, TRUNCATED)
        else:
            line = self._line(self._buf_offset, self.position, data)
        self._buf.clear()
        self._buf_offset = self.position
        self._skipping = False
        return line
