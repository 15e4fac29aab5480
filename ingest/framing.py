"""Sans-IO syslog stream framing (RFC 6587), auto-detected frame by frame.

Two framings exist on TCP/TLS and senders do not announce which they use:

    octet counting           "<MSG-LEN> <SYSLOG-MSG>"   MSG-LEN = NONZERO-DIGIT *DIGIT, then one space
                             (RFC 5425 for TLS; rsyslog `TCP_Framing="octet-counted"`)
    non-transparent framing  "<SYSLOG-MSG>\\n"           a trailer: LF, or NUL (CR before it dropped)

A syslog message starts with '<' (its PRI), an octet-counted frame with a digit, so the
first byte of each frame decides. Deciding per frame rather than per connection costs
nothing and survives senders that switch. Bytes in, `Frame`s out; a partial frame is kept
for the next feed. Oversized messages are cut to `max_bytes` and flagged: an octet-counted
one is skipped to its announced end, a newline-framed one to its trailer; memory stays
bounded either way. A length that is not digits-then-space is a framing error, reported
and treated as the start of a newline-framed message so no byte is silently dropped.
"""
from __future__ import annotations

from dataclasses import dataclass

MAX_LENGTH_DIGITS = 10  # an octet count longer than this is not a length but garbage


def _trailer(buf: bytearray) -> int:
    nl, nul = buf.find(b"\n"), buf.find(b"\x00")
    if nl < 0 or (0 <= nul < nl):
        return nul
    return nl


@dataclass(slots=True)
class Frame:
    data: bytes
    truncated: bool = False


class SyslogFramer:
    def __init__(self, max_bytes: int = 65536):
        self.max_bytes = max_bytes
        self._buf = bytearray()
        self._skip = 0  # bytes of an oversized octet-counted message still to discard
        self._skip_line = False  # discarding the rest of an oversized newline-framed message
        self._cut: bytes | None = None  # kept head of the message being skipped
        self.errors = 0  # framing errors seen (malformed octet counts)

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        out: list[Frame] = []
        buf = self._buf
        while buf:
            if self._skip:
                n = min(self._skip, len(buf))
                del buf[:n]
                self._skip -= n
                if self._skip == 0:
                    out.append(Frame(self._cut or b"", True))
                    self._cut = None
                continue
            if self._skip_line:
                nl = _trailer(buf)
                if nl < 0:
                    buf.clear()
                    break
                del buf[: nl + 1]
                self._skip_line = False
                out.append(Frame(self._cut or b"", True))
                self._cut = None
                continue
            first = buf[0]
            if first in b"\r\n\x00 ":  # stray trailers between frames
                del buf[:1]
                continue
            if 0x31 <= first <= 0x39:  # nonzero digit: octet counting
                sp = buf.find(b" ", 0, MAX_LENGTH_DIGITS + 1)
                if sp < 0:
                    if len(buf) <= MAX_LENGTH_DIGITS and bytes(buf).isdigit():
                        break  # the length is still arriving
                    self.errors += 1
                elif bytes(buf[:sp]).isdigit():
                    length = int(buf[:sp])
                    start = sp + 1
                    if length > self.max_bytes:
                        if len(buf) - start < self.max_bytes:
                            break  # wait for the head we keep (bounded by max_bytes)
                        self._cut = bytes(buf[start: start + self.max_bytes])
                        del buf[:start]
                        self._skip = length  # the head is skipped too: it was copied
                        continue
                    if len(buf) - start < length:
                        break
                    out.append(Frame(bytes(buf[start: start + length]).rstrip(b"\r\n\x00")))
                    del buf[: start + length]
                    continue
                else:
                    self.errors += 1
            # non-transparent framing: LF or NUL ends the message (Python's SysLogHandler
            # and some appliances send NUL without LF)
            end = _trailer(buf)
            if end < 0:
                if len(buf) > self.max_bytes:
                    self._cut = bytes(buf[: self.max_bytes])
                    buf.clear()
                    self._skip_line = True
                break
            line = bytes(buf[:end]).rstrip(b"\r\x00")
            del buf[: end + 1]
            if len(line) > self.max_bytes:
                out.append(Frame(line[: self.max_bytes], True))
            elif line:
                out.append(Frame(line))
        return out

    def close(self) -> list[Frame]:
        """End of stream: a last newline-framed message without its trailer still counts."""
        out: list[Frame] = []
        if self._cut is not None:
            out.append(Frame(self._cut, True))
            self._cut = None
        elif self._buf and not self._skip and not (0x31 <= self._buf[0] <= 0x39):
            line = bytes(self._buf).rstrip(b"\r\n\x00")
            if line:
                out.append(Frame(line[: self.max_bytes], len(line) > self.max_bytes))
        self._buf.clear()
        return out
