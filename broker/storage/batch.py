"""Kafka v2 record batch headers, sans-IO: bytes in, header fields out.

One batch, big-endian, byte by byte (KIP-98 "message format v2"):

     0  baseOffset            int64   assigned by the broker; NOT covered by the CRC
     8  batchLength           int32   bytes after this field: batch size = 12 + batchLength
    12  partitionLeaderEpoch  int32
    16  magic                 int8    must be 2
    17  crc                   uint32  CRC32C (Castagnoli) of bytes 21 .. end of batch
    21  attributes            int16   bits 0-2 compression, 3 timestamp type (1 = LogAppendTime),
                                      4 transactional, 5 control batch
    23  lastOffsetDelta       int32   last offset = baseOffset + lastOffsetDelta
    27  baseTimestamp         int64
    35  maxTimestamp          int64
    43  producerId            int64
    51  producerEpoch         int16
    53  baseSequence          int32
    57  recordsCount          int32
    61  records ...           (compressed as a whole when attributes & 7 != 0)

Because the CRC starts at `attributes`, the broker assigns offsets by overwriting the first
8 bytes and never recomputes the CRC: per batch the work is one `unpack_from` and one
CRC32C pass (hardware accelerated), independent of how many records the batch holds.
"""
from __future__ import annotations

import struct
from typing import NamedTuple

from crc32c import crc32c

from .errors import CorruptRecordError, RecordTooLargeError

HEADER = struct.Struct(">qiibIhiqqqhii")
HEADER_SIZE = HEADER.size  # 61
LOG_OVERHEAD = 12  # baseOffset + batchLength, the part before batchLength starts counting
CRC_START = 21
MAGIC_OFFSET = 16
MIN_BATCH_LENGTH = HEADER_SIZE - LOG_OVERHEAD  # 49
OFFSET = struct.Struct(">q")
_PREFIX = struct.Struct(">qi")  # baseOffset, batchLength
ATTR_COMPRESSION_MASK = 0x07
ATTR_TIMESTAMP_TYPE = 0x08
ATTR_TRANSACTIONAL = 0x10
ATTR_CONTROL = 0x20


class BatchHeader(NamedTuple):
    base_offset: int
    batch_length: int
    leader_epoch: int
    magic: int
    crc: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    records_count: int

    @property
    def size(self) -> int:
        return LOG_OVERHEAD + self.batch_length

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta

    @property
    def compression(self) -> int:
        return self.attributes & ATTR_COMPRESSION_MASK

    @property
    def is_control(self) -> bool:
        return bool(self.attributes & ATTR_CONTROL)


class BatchInfo(NamedTuple):
    """Where a batch sits in a buffer and the header fields the log keeps per batch."""
    position: int
    size: int
    base_offset: int
    last_offset_delta: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int


def parse_header(buf: memoryview | bytes, pos: int = 0) -> BatchHeader:
    """Decode the 61-byte header at `pos` (no validation)."""
    return BatchHeader._make(HEADER.unpack_from(buf, pos))


def read_prefix(buf: memoryview | bytes, pos: int = 0) -> tuple[int, int]:
    """(baseOffset, total batch size) from the first 12 bytes at `pos`."""
    base, length = _PREFIX.unpack_from(buf, pos)
    return base, LOG_OVERHEAD + length


def rewrite_base_offset(buf: bytearray | memoryview, pos: int, offset: int) -> None:
    """Overwrite the baseOffset of the batch at `pos` in place; the CRC stays valid."""
    OFFSET.pack_into(buf, pos, offset)


_I16 = struct.Struct(">h")
_U32 = struct.Struct(">I")


def set_log_append_time(buf: bytearray, pos: int, size: int, now_ms: int) -> None:
    """Stamp the batch at `pos` with LogAppendTime: attribute bit 3, maxTimestamp = now_ms,
    and a recomputed CRC (both fields lie inside the CRC). O(batch bytes), like Kafka."""
    (attrs,) = _I16.unpack_from(buf, pos + 21)
    _I16.pack_into(buf, pos + 21, attrs | ATTR_TIMESTAMP_TYPE)
    OFFSET.pack_into(buf, pos + 35, now_ms)
    _U32.pack_into(buf, pos + 17, crc32c(memoryview(buf)[pos + CRC_START:pos + size]))


def batch_crc(buf: memoryview | bytes, pos: int, size: int) -> int:
    return crc32c(memoryview(buf)[pos + CRC_START:pos + size])


def check_batch(mv: memoryview, pos: int, end: int) -> tuple[BatchHeader | None, str | None]:
    """Validate the batch at `pos` of mv[:end]: (header, None) or (None, reason)."""
    if end - pos < HEADER_SIZE:
        return None, f"{end - pos} bytes at position {pos} are fewer than a batch header ({HEADER_SIZE})"
    h = BatchHeader._make(HEADER.unpack_from(mv, pos))
    if h.magic != 2:
        return None, f"unsupported magic {h.magic} at position {pos} (only v2 record batches are accepted)"
    if h.batch_length < MIN_BATCH_LENGTH:
        return None, f"batch length {h.batch_length} at position {pos} is shorter than its header"
    size = LOG_OVERHEAD + h.batch_length
    if pos + size > end:
        return None, f"batch at position {pos} declares {size} bytes but only {end - pos} remain"
    if crc32c(mv[pos + CRC_START:pos + size]) != h.crc:
        return None, f"CRC32C mismatch in batch at position {pos}"
    if h.last_offset_delta < 0 or h.records_count < 0:
        return None, f"negative lastOffsetDelta/recordsCount in batch at position {pos}"
    return h, None


def validate_produce(records: bytes | bytearray | memoryview, max_message_bytes: int) -> list[BatchInfo]:
    """Validate the RECORDS field of a Produce request: one or more whole v2 batches.

    Raises CorruptRecordError / RecordTooLargeError; nothing is written before this passes."""
    mv = records if isinstance(records, memoryview) else memoryview(records)
    if mv.format != "B" or mv.ndim != 1:
        mv = mv.cast("B")
    end = len(mv)
    if end == 0:
        raise CorruptRecordError("empty record set")
    out: list[BatchInfo] = []
    pos = 0
    while pos < end:
        h, why = check_batch(mv, pos, end)
        if h is None:
            raise CorruptRecordError(why)
        size = LOG_OVERHEAD + h.batch_length
        if size > max_message_bytes:
            raise RecordTooLargeError(f"batch of {size} bytes exceeds max.message.bytes={max_message_bytes}")
        if h.records_count == 0 or h.records_count != h.last_offset_delta + 1:
            raise CorruptRecordError(
                f"batch at position {pos} has recordsCount={h.records_count} but lastOffsetDelta={h.last_offset_delta}")
        out.append(BatchInfo(pos, size, h.base_offset, h.last_offset_delta, h.max_timestamp,
                             h.producer_id, h.producer_epoch, h.base_sequence))
        pos += size
    return out


def scan_valid(mv: memoryview, start: int, end: int, next_offset: int | None,
               verify_crc: bool = True, contiguous: bool = False,
               max_offset: int | None = None) -> tuple[list[BatchInfo], int, str | None]:
    """Walk batches in mv[start:end] as read back from a segment file (recovery).

    Stops at the first batch that is torn, corrupt or whose offsets go backwards (each base
    offset must be >= `next_offset`, the previous batch's last offset + 1, and equal to it
    when `contiguous`; no last offset may pass `max_offset`). The CRC does not cover the
    baseOffset, so these offset rules are what catches a damaged one. Returns the
    valid batches, the position just after the last valid one, and why it stopped (None
    when the whole range was valid). A batch running past `end` is reported as torn, so
    callers reading in chunks must extend the chunk and retry before truncating."""
    out: list[BatchInfo] = []
    pos = start
    while pos < end:
        if verify_crc:
            h, why = check_batch(mv, pos, end)
            if h is None:
                return out, pos, why
        else:
            if end - pos < HEADER_SIZE:
                return out, pos, "torn header"
            h = BatchHeader._make(HEADER.unpack_from(mv, pos))
            if h.magic != 2 or h.batch_length < MIN_BATCH_LENGTH or pos + LOG_OVERHEAD + h.batch_length > end:
                return out, pos, f"bad header at position {pos}"
        if next_offset is not None and (h.base_offset < next_offset or (contiguous and h.base_offset != next_offset)):
            return out, pos, f"batch at position {pos} has base offset {h.base_offset}, expected {next_offset}"
        if max_offset is not None and h.base_offset + h.last_offset_delta > max_offset:
            return out, pos, f"batch at position {pos} ends at offset {h.base_offset + h.last_offset_delta} past {max_offset}"
        size = LOG_OVERHEAD + h.batch_length
        out.append(BatchInfo(pos, size, h.base_offset, h.last_offset_delta, h.max_timestamp,
                             h.producer_id, h.producer_epoch, h.base_sequence))
        next_offset = h.base_offset + h.last_offset_delta + 1
        pos += size
    return out, pos, None
