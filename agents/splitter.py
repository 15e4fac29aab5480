"""Sans-IO line splitter: bytes in, complete lines with byte offsets out.

The tailer reads a file in chunks that end anywhere; the splitter keeps the partial tail
until its newline arrives, so a line half-written by the application is never shipped
half. Offsets are absolute byte positions in the file:

    Line.offset  where the line starts (Filebeat's `log.offset`)
    Line.end     where the next line starts; the registry stores this to resume

A line longer than `max_bytes` is cut: its first `max_bytes` bytes are kept, the rest up
to the newline is skipped as it streams in, and the line is emitted with `truncated=True`
once its newline arrives (so `end` is always a line boundary and a restart never resumes
inside the skipped remainder). This bounds memory whatever the input, as Filebeat's
`message_max_bytes` does. The newline and a `\\r` before it are not part of `data`.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Line:
    offset: int
    end: int
    data: bytes
    truncated: bool = False


class LineSplitter:
    """Feed chunks in file order; get back the lines they complete."""

    __slots__ = ("max_bytes", "_buf", "_buf_offset", "_skipping", "position")
    # Invariant: _buf holds at most max_bytes; when _skipping, _buf is the kept head of a
    # cut line starting at _buf_offset and further bytes up to the newline are dropped.

    def __init__(self, offset: int = 0, max_bytes: int = 1_048_576):
        self.max_bytes = max_bytes
        self._buf = bytearray()
        self._buf_offset = offset  # file offset of _buf[0]
        self._skipping = False  # inside the remainder of a truncated line
        self.position = offset  # file offset just after the last fed byte

    @property
    def pending(self) -> int:
        """Bytes held back waiting for a newline (at most max_bytes)."""
        return len(self._buf)

    @property
    def resume_offset(self) -> int:
        """Where to restart reading to see the held-back partial line again."""
        return self._buf_offset

    def feed(self, chunk: bytes) -> list[Line]:
        out: list[Line] = []
        if not chunk:
            return out
        start = 0
        n = len(chunk)
        base = self.position
        self.position += n
        buf = self._buf
        if self._skipping:
            nl = chunk.find(b"\n")
            if nl < 0:
                return out
            self._skipping = False
            start = nl + 1
            out.append(Line(self._buf_offset, base + start, bytes(buf), True))
            buf.clear()
            self._buf_offset = base + start
        max_bytes = self.max_bytes
        while True:
            nl = chunk.find(b"\n", start)
            if nl < 0:
                break
            if buf:
                buf += chunk[start:nl]
                data = bytes(buf)
                buf.clear()
            else:
                data = chunk[start:nl]
            line_off = self._buf_offset
            end = base + nl + 1
            self._buf_offset = end
            if data.endswith(b"\r"):
                data = data[:-1]
            if len(data) > max_bytes:
                out.append(Line(line_off, end, data[:max_bytes], True))
            else:
                out.append(Line(line_off, end, data))
            start = nl + 1
        if start < n:
            buf += chunk[start:]
            if len(buf) > max_bytes:
                del buf[max_bytes:]
                self._skipping = True
        return out

    def flush(self) -> Line | None:
        """The partial last line (a file that ends without a newline, at close_inactive)."""
        if not self._buf:
            return None
        data = bytes(self._buf)
        line = Line(self._buf_offset, self.position, data if self._skipping else data.rstrip(b"\r"), self._skipping)
        self._buf.clear()
        self._skipping = False
        self._buf_offset = self.position
        return line
