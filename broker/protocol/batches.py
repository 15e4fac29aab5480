"""Reading record-batch headers without touching the records (sans-IO).

Kafka v2 record batch header, byte by byte (all big-endian):
    0  baseOffset int64          8  batchLength int32 (bytes after this field)
   12  partitionLeaderEpoch int32  16 magic int8 (=2)   17 crc uint32 (CRC32C of 21..end)
   21  attributes int16 (bits 0-2 compression, 3 timestampType, 4 transactional, 5 control)
   23  lastOffsetDelta int32     27 baseTimestamp int64   35 maxTimestamp int64
   43  producerId int64          51 producerEpoch int16   53 baseSequence int32
   57  recordCount int32         61 records...
The broker reads only these 61 bytes per batch: enough for idempotent-producer sequence
checks, never per record.
"""
from __future__ import annotations

import struct
from typing import Iterator

from logwarden.broker.storage.batch import HEADER, HEADER_SIZE, LOG_OVERHEAD, BatchHeader
from logwarden.broker.storage.records import read_varint

# One definition of the v2 batch header serves the wire protocol and the log.
HEADER_BYTES = HEADER_SIZE
_head = HEADER


def iter_batches(data: memoryview | bytes) -> Iterator[BatchHeader]:
    """Headers of the complete v2 batches in `data`; stops at the first incomplete one."""
    pos, end = 0, len(data)
    while pos + HEADER_BYTES <= end:
        h = BatchHeader._make(_head.unpack_from(data, pos))
        if h.batch_length < HEADER_BYTES - LOG_OVERHEAD or pos + h.size > end:
            return
        yield h
        pos += h.size


# ---- building and reading small uncompressed batches -----------------------------------
# Used for the broker's own internal records (committed offsets) and by tests; client
# data is never rebuilt. Record layout (varints are zigzag):
#   length varint, attributes int8, timestampDelta varlong, offsetDelta varint,
#   keyLength varint, key, valueLength varint, value, headerCount varint (0 here)

def _zigzag(n: int) -> bytes:
    v = (n << 1) ^ (n >> 63)
    out = bytearray()
    while v > 0x7F:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def build_batch(records: list[tuple[bytes | None, bytes | None]], timestamp_ms: int,
                producer_id: int = -1, producer_epoch: int = -1, base_sequence: int = -1) -> bytes:
    """An uncompressed v2 record batch (base offset 0; the log assigns the real one)."""
    import crc32c

    body = bytearray()
    for i, (key, value) in enumerate(records):
        rec = bytearray(b"\0")  # attributes
        rec += _zigzag(0) + _zigzag(i)
        rec += _zigzag(-1) if key is None else _zigzag(len(key)) + key
        rec += _zigzag(-1) if value is None else _zigzag(len(value)) + value
        rec += _zigzag(0)
        body += _zigzag(len(rec)) + rec
    after_crc = struct.pack(">hiqqqhii", 0, len(records) - 1, timestamp_ms, timestamp_ms,
                            producer_id, producer_epoch, base_sequence, len(records)) + bytes(body)
    crc = crc32c.crc32c(after_crc)
    length = 4 + 1 + 4 + len(after_crc)  # leader epoch + magic + crc + rest
    return struct.pack(">qiibI", 0, length, 0, 2, crc) + after_crc


def iter_records(batch: memoryview | bytes, h: BatchHeader) -> Iterator[tuple[int, int, bytes | None, bytes | None]]:
    """(offset, timestamp, key, value) of an UNCOMPRESSED batch starting at batch[0]."""
    if h.compression:
        raise ValueError("compressed batch")
    pos = HEADER_BYTES
    for _ in range(h.records_count):
        _len, pos = read_varint(batch, pos)
        pos += 1  # attributes
        ts_delta, pos = read_varint(batch, pos)
        off_delta, pos = read_varint(batch, pos)
        klen, pos = read_varint(batch, pos)
        key = None if klen < 0 else bytes(batch[pos:pos + klen])
        pos += max(klen, 0)
        vlen, pos = read_varint(batch, pos)
        value = None if vlen < 0 else bytes(batch[pos:pos + vlen])
        pos += max(vlen, 0)
        nh, pos = read_varint(batch, pos)
        for _ in range(nh):
            hk, pos = read_varint(batch, pos)
            pos += hk
            hv, pos = read_varint(batch, pos)
            pos += max(hv, 0)
        yield h.base_offset + off_delta, h.base_timestamp + ts_delta, key, value
