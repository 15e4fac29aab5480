"""Decoding the records inside a v2 batch — never on the fetch path.

Compaction (it needs keys), key checks on compacted topics, and ListOffsets by timestamp
(it needs the first record at or after a time) look inside batches; a produce only has
its record framing checked (check_records: in C when broker/_records.c was built). A record:

    length varint | attributes int8 | timestampDelta varlong | offsetDelta varint |
    keyLength varint (-1 = null) | key | valueLength varint (-1 = null) | value |
    headerCount varint | headers (keyLength varint, key, valueLength varint, value)*

Varints are zigzag-encoded (protobuf style). Compressed batches are decompressed with
zlib (gzip) or cramjam (snappy, lz4, zstd); an unknown codec raises UnsupportedCompression
and callers fall back to batch-level answers.
"""
from __future__ import annotations

import struct
import zlib
from typing import NamedTuple

import cramjam
from crc32c import crc32c

from .batch import ATTR_COMPRESSION_MASK, CRC_START, HEADER, HEADER_SIZE, BatchHeader, BatchInfo
from .errors import CorruptRecordError, InvalidRecordError

_U32 = struct.Struct(">I")


class UnsupportedCompression(Exception):
    pass


class Record(NamedTuple):
    start: int  # position of the record (its length varint) in the records payload
    end: int
    offset_delta: int
    timestamp_delta: int
    key: bytes | None
    value_is_null: bool


def read_varint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    """A zigzag varint (at most 10 bytes) at `pos`: IndexError when the buffer ends first."""
    try:
        return _varint(buf, pos, len(buf), 10)
    except ValueError:
        raise CorruptRecordError("varint too long") from None


def decompress(codec: int, data: bytes | memoryview) -> bytes:
    if codec == 0:
        return bytes(data)
    if codec == 1:
        return zlib.decompress(bytes(data), 47)  # gzip or zlib header
    if codec == 2:
        data = bytes(data)
        if data[:8] == b"\x82SNAPPY\x00":  # xerial framing used by the Java client
            out = bytearray()
            pos = 16
            while pos < len(data):
                (n,) = _U32.unpack_from(data, pos)
                out += bytes(cramjam.snappy.decompress_raw(data[pos + 4:pos + 4 + n]))
                pos += 4 + n
            return bytes(out)
        return bytes(cramjam.snappy.decompress_raw(data))
    if codec == 3:
        return bytes(cramjam.lz4.decompress(bytes(data)))
    if codec == 4:
        return bytes(cramjam.zstd.decompress(bytes(data)))
    raise UnsupportedCompression(f"unknown compression codec {codec}")


def _varint(buf: bytes | memoryview, pos: int, end: int, max_bytes: int) -> tuple[int, int]:
    """A zigzag varint of at most max_bytes bytes before `end`: IndexError when `end` comes
    first, ValueError when it runs longer."""
    raw = shift = 0
    for _ in range(max_bytes):
        if pos >= end:
            raise IndexError("varint cut short")
        b = buf[pos]
        pos += 1
        raw |= (b & 0x7F) << shift
        if not b & 0x80:
            return (raw >> 1) ^ -(raw & 1), pos
        shift += 7
    raise ValueError("varint too long")


def records_problem(payload: bytes | memoryview, count: int) -> str | None:
    """None when payload is exactly `count` well-formed records, else what is wrong: the
    Python twin of broker/_records.c's check(), with the same verdicts."""
    pos, end = 0, len(payload)
    for _ in range(max(count, 0)):
        try:
            length, pos = _varint(payload, pos, end, 5)
        except (ValueError, IndexError):
            return "a record's length is not a valid varint"
        if length < 0:
            return "a record's length is not a valid varint"
        if length > end - pos:
            return "a record runs past the end of its batch"
        stop = pos + length
        if pos >= stop:
            return "a record is too short for its attributes"
        pos += 1
        try:
            _, pos = _varint(payload, pos, stop, 10)
        except (ValueError, IndexError):
            return "a record's timestamp delta is not a valid varint"
        try:
            _, pos = _varint(payload, pos, stop, 5)
        except (ValueError, IndexError):
            return "a record's offset delta is not a valid varint"
        for what in ("key", "value"):
            try:
                n, pos = _varint(payload, pos, stop, 5)
            except (ValueError, IndexError):
                n = -2
            if n < -1 or n > stop - pos:
                return f"a record's {what} length does not fit the record"
            pos += max(n, 0)
        try:
            headers, pos = _varint(payload, pos, stop, 5)
        except (ValueError, IndexError):
            headers = -1
        if headers < 0:
            return "a record's header count is not valid"
        for _ in range(headers):
            for what, least in (("key", 0), ("value", -1)):
                try:
                    n, pos = _varint(payload, pos, stop, 5)
                except (ValueError, IndexError):
                    n = -2
                if n < least or n > stop - pos:
                    return f"a record header's {what} length does not fit the record"
                pos += max(n, 0)
        if pos != stop:
            return "a record's fields do not add up to its length"
    if pos != end:
        return "a negative record count" if count < 0 else "bytes left over after the batch's last record"
    return None


try:  # the same walk in C (broker/_records.c), built at install time when a compiler was there
    from logwarden.broker._records import check as _check_in_c
except ImportError:  # pragma: no cover - exercised when the extension is absent
    _check_in_c = None


def check_records(mv: memoryview, batches: list[BatchInfo]) -> None:
    """Kafka parses every record of a produced batch (LogValidator); a batch whose CRC is
    right but whose records are not - a client bug, or a compressor that wrote a broken
    frame before the CRC was taken - is refused with INVALID_RECORD here rather than
    stored, where every consumer of the partition would stall on it."""
    check = _check_in_c or records_problem
    for b in batches:
        h = BatchHeader._make(HEADER.unpack_from(mv, b.position))
        payload: bytes | memoryview = mv[b.position + HEADER_SIZE:b.position + b.size]
        codec = h.attributes & ATTR_COMPRESSION_MASK
        if codec:
            try:
                payload = decompress(codec, payload)
            except UnsupportedCompression:
                raise InvalidRecordError(f"unknown compression codec {codec}") from None
            except Exception as exc:  # each codec library raises its own error type
                raise InvalidRecordError(f"the batch's records do not decompress: {exc}") from None
        why = check(payload, h.records_count)
        if why is not None:
            raise InvalidRecordError(f"batch at offset delta 0..{h.last_offset_delta}: {why}")


def decode(batch: bytes | memoryview) -> tuple[BatchHeader, bytes, list[Record]]:
    """Header, uncompressed records payload, and the records of one whole batch."""
    h = BatchHeader._make(HEADER.unpack_from(batch, 0))
    payload = decompress(h.attributes & ATTR_COMPRESSION_MASK, memoryview(batch)[HEADER_SIZE:12 + h.batch_length])
    out: list[Record] = []
    pos = 0
    try:
        for _ in range(h.records_count):
            start = pos
            length, pos = read_varint(payload, pos)
            end = pos + length
            pos += 1  # attributes
            ts_delta, pos = read_varint(payload, pos)
            off_delta, pos = read_varint(payload, pos)
            klen, pos = read_varint(payload, pos)
            key = None
            if klen >= 0:
                key = payload[pos:pos + klen]
                pos += klen
            vlen, pos = read_varint(payload, pos)
            out.append(Record(start, end, off_delta, ts_delta, key, vlen < 0))
            pos = end
    except IndexError:
        raise CorruptRecordError("record runs past the end of its batch") from None
    if pos != len(payload):
        raise CorruptRecordError(f"records end at {pos} but the batch holds {len(payload)} bytes")
    return h, payload, out


def check_keys(mv: memoryview, batches: list[BatchInfo]) -> None:
    """Compacted topics refuse records without a key (Kafka: INVALID_RECORD)."""
    for b in batches:
        try:
            h, _, recs = decode(mv[b.position:b.position + b.size])
        except UnsupportedCompression:
            continue
        if h.attributes & 0x20:
            continue  # control batches carry their own keys
        if any(r.key is None for r in recs):
            raise InvalidRecordError("compacted topics accept only records with a key")


def first_record_at_or_after(batch: bytes, ts_ms: int) -> tuple[int, int] | None:
    """(offset, timestamp) of the first record in `batch` with timestamp >= ts_ms."""
    try:
        h, _, recs = decode(batch)
    except UnsupportedCompression:
        return None
    if h.attributes & 0x08:  # LogAppendTime: every record carries maxTimestamp
        return (h.base_offset, h.max_timestamp) if h.max_timestamp >= ts_ms else None
    for r in recs:
        t = h.base_timestamp + r.timestamp_delta
        if t >= ts_ms:
            return h.base_offset + r.offset_delta, t
    return None


def rebuild_batch(h: BatchHeader, payload: bytes, keep: list[Record]) -> bytes:
    """A batch holding only `keep` (uncompressed), same base offset and lastOffsetDelta.

    Keeping lastOffsetDelta preserves the producer's offset range, as Kafka's cleaner does;
    each record keeps its own offsetDelta, so offsets never change."""
    body = b"".join(payload[r.start:r.end] for r in keep)
    attrs = h.attributes & ~ATTR_COMPRESSION_MASK
    length = HEADER_SIZE - 12 + len(body)
    head = bytearray(HEADER.pack(h.base_offset, length, h.leader_epoch, 2, 0, attrs, h.last_offset_delta,
                                 h.base_timestamp, h.max_timestamp, h.producer_id, h.producer_epoch,
                                 h.base_sequence, len(keep)))
    crc = crc32c(bytes(head[CRC_START:]) + body)
    _U32.pack_into(head, 17, crc)
    return bytes(head) + body
