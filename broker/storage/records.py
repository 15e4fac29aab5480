"""Decoding the records inside a v2 batch — never on the produce or fetch path.

Only compaction (it needs keys), key checks on compacted topics, and ListOffsets by
timestamp (it needs the first record at or after a time) look inside batches. A record:

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
    shift = 0
    raw = 0
    while True:
        b = buf[pos]
        pos += 1
        raw |= (b & 0x7F) << shift
        if not b & 0x80:
            break
        shift += 7
        if shift > 63:
            raise CorruptRecordError("varint too long")
    return (raw >> 1) ^ -(raw & 1), pos


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
