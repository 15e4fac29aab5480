"""Kafka framing (sans-IO): size-prefixed frames in, request headers + bodies out.

Every Kafka request is `int32 size` followed by `size` bytes: a request header
(api_key int16, api_version int16, correlation_id int32, client_id nullable string, and
for flexible versions a tagged-field section) and the body. `FrameDecoder` is fed the
socket's bytes and returns complete frames. It works as an asyncio BufferedProtocol
buffer source: it first receives the 4-byte size, then allocates exactly one bytearray
for the frame and lets the socket read straight into it, so a Produce body is never
copied between the kernel and the log (`feed()` does the same for byte strings).

Frames larger than `max_frame_bytes` or with a size below the smallest header raise
`FrameError`: the connection must then be closed, as Kafka does, because the stream can no
longer be resynchronised.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from .schemas import APIS, API_VERSIONS
from .types import DecodeError, Writer, _i16, skip_tagged_fields

# Kafka's socket.request.max.bytes default: 100 MiB.
DEFAULT_MAX_FRAME_BYTES = 100 * 1024 * 1024
MIN_HEADER_BYTES = 10  # api_key + api_version + correlation_id + client_id length

_size = struct.Struct(">i")
_hdr = struct.Struct(">hhi")
# Frame buffers between these sizes are kept for the connection's next frame: a new
# bytearray is zero-filled (memset: 4 % of the broker's CPU on a produce benchmark), and a
# producer's frames are all about the same size. Larger ones are not kept idle per connection.
REUSE_MIN_BYTES = 64 * 1024
REUSE_MAX_BYTES = 16 * 1024 * 1024


class FrameError(Exception):
    """The byte stream is unusable; close the connection."""


class FrameDecoder:
    __slots__ = ("max_frame_bytes", "_hdr", "_hdr_n", "_body", "_body_n", "_size", "_spare")

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES):
        self.max_frame_bytes = max_frame_bytes
        self._hdr = bytearray(4)
        self._hdr_n = 0
        self._body: bytearray | None = None
        self._body_n = 0
        self._size = 0
        self._spare: bytearray | None = None  # the last large frame's buffer, if nothing uses it any more

    def _new_body(self, size: int) -> bytearray:
        spare, self._spare = self._spare, None
        if spare is not None and size <= len(spare) < 2 * size:
            try:  # a resize fails while any memoryview of it is alive (a parked request, say)
                spare.append(0)
                del spare[-1]
                return spare
            except BufferError:
                pass
        return bytearray(size)

    def get_buffer(self) -> memoryview:
        """Where the next received bytes must go (never empty)."""
        if self._body is None:
            return memoryview(self._hdr)[self._hdr_n:]
        return memoryview(self._body)[self._body_n:self._size]

    def buffer_updated(self, n: int) -> memoryview | None:
        """`n` bytes were written into the last get_buffer(); returns a finished frame or None."""
        if self._body is None:
            self._hdr_n += n
            if self._hdr_n < 4:
                return None
            size = _size.unpack(self._hdr)[0]
            self._hdr_n = 0
            if size < MIN_HEADER_BYTES or size > self.max_frame_bytes:
                raise FrameError(f"frame size {size} outside [{MIN_HEADER_BYTES}, {self.max_frame_bytes}]")
            self._body = self._new_body(size) if size >= REUSE_MIN_BYTES else bytearray(size)
            self._size = size
            self._body_n = 0
            return None
        self._body_n += n
        if self._body_n < self._size:
            return None
        body, self._body = self._body, None
        if REUSE_MIN_BYTES <= len(body) <= REUSE_MAX_BYTES:
            self._spare = body
        return memoryview(body)[:self._size]

    def feed(self, data: bytes) -> list[memoryview]:
        """Push bytes (tests, fuzzing); returns every frame they complete."""
        out = []
        view = memoryview(data)
        while view:
            buf = self.get_buffer()
            n = min(len(buf), len(view))
            buf[:n] = view[:n]
            view = view[n:]
            frame = self.buffer_updated(n)
            if frame is not None:
                out.append(frame)
        return out


@dataclass
class RequestHeader:
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None


def parse_header(frame: memoryview) -> tuple[RequestHeader, int]:
    """Header and the body's start position. Raises DecodeError on a malformed header."""
    if len(frame) < MIN_HEADER_BYTES:
        raise DecodeError("frame shorter than a request header")
    key, version, corr = _hdr.unpack_from(frame, 0)
    n = _i16.unpack_from(frame, 8)[0]
    pos = 10
    client_id = None
    if n >= 0:
        if pos + n > len(frame):
            raise DecodeError("client_id runs past the frame")
        client_id = str(frame[pos:pos + n], "utf-8", "replace")
        pos += n
    elif n != -1:
        raise DecodeError(f"negative client_id length {n}")
    api = APIS.get(key)
    if api is not None and api.flexible(version) and version <= api.max_version:
        # A too-new version is only ever answered (ApiVersions) or refused: its header
        # layout is not ours to judge, so it is not parsed further.
        pos = skip_tagged_fields(frame, pos)
    return RequestHeader(key, version, corr, client_id), pos


def encode_response(correlation_id: int, api_key: int, version: int, body: dict[str, Any]) -> list[Any]:
    """The frame chunks (size, header, body) of a response, ready for transport.writelines."""
    api = APIS[api_key]
    w = Writer()
    w.buf += b"\0\0\0\0" + _size.pack(correlation_id)
    if api.flexible(version) and api_key != API_VERSIONS.key:
        w.buf.append(0)  # response header v1: empty tagged fields
    api.codecs(version)[1].encode(w, body)
    chunks = w.finish()
    first = chunks[0]
    first[0:4] = _size.pack(w.size - 4)
    return chunks


def encode_request(api_key: int, version: int, correlation_id: int, client_id: str | None, body: dict[str, Any]) -> bytes:
    """A whole request frame; used by tests and the benchmark's raw probes."""
    api = APIS[api_key]
    w = Writer()
    w.buf += _hdr.pack(api_key, version, correlation_id)
    if client_id is None:
        w.buf += _i16.pack(-1)
    else:
        cid = client_id.encode()
        w.buf += _i16.pack(len(cid)) + cid
    if api.flexible(version):
        w.buf.append(0)
    api.codecs(version)[0].encode(w, body)
    data = b"".join(bytes(c) for c in w.finish())
    return _size.pack(len(data)) + data


def decode_response(api_key: int, version: int, frame: bytes) -> tuple[int, dict[str, Any]]:
    """(correlation_id, body) of a response frame without its size prefix (tests)."""
    api = APIS[api_key]
    view = memoryview(frame)
    corr = _size.unpack_from(view, 0)[0]
    pos = 4
    if api.flexible(version) and api_key != API_VERSIONS.key:
        pos = skip_tagged_fields(view, pos)
    body, pos = api.codecs(version)[1].decode(view, pos)
    if pos != len(view):
        raise DecodeError(f"{len(view) - pos} trailing bytes")
    return corr, body
