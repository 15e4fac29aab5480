"""Test helper: real Kafka v2 batches built by kafka-python, and a reader to check them.

kafka-python is an independent implementation of the format, so batches it builds and
reads validate the storage code against something other than itself."""
from __future__ import annotations

from kafka.record import MemoryRecords
from kafka.record.default_records import DefaultRecordBatchBuilder

CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def make_batch(values: list[bytes | None], keys: list[bytes | None] | None = None, ts: int = 1_700_000_000_000,
               ts_step: int = 1, compression: str = "none", producer_id: int = -1, producer_epoch: int = -1,
               base_sequence: int = -1) -> bytes:
    b = DefaultRecordBatchBuilder(magic=2, compression_type=CODECS[compression], is_transactional=False,
                                  producer_id=producer_id, producer_epoch=producer_epoch,
                                  base_sequence=base_sequence, batch_size=1 << 30)
    for i, v in enumerate(values):
        b.append(i, timestamp=ts + i * ts_step, key=keys[i] if keys else None, value=v, headers=[])
    return bytes(b.build())


def read_records(data: bytes) -> list[tuple[int, bytes | None, bytes | None, int]]:
    """(offset, key, value, timestamp) of every record in whole batches, CRCs checked."""
    out = []
    mr = MemoryRecords(bytes(data))
    while True:
        batch = mr.next_batch()
        if batch is None:
            break
        assert batch.validate_crc(), "CRC of a stored batch does not verify"
        for r in batch:
            out.append((r.offset, r.key, r.value, r.timestamp))
    return out


def read_all(plog, start: int | None = None, max_bytes: int = 1 << 20) -> list[tuple[int, bytes | None, bytes | None, int]]:
    """Everything from `start` (default log start) to the log end, via repeated read()."""
    off = plog.log_start_offset if start is None else start
    out = []
    while off < plog.log_end_offset:
        sl = plog.read(off, max_bytes)
        assert sl.size > 0
        recs = read_records(sl.data)
        out.extend(r for r in recs if r[0] >= off)
        off = sl.next_offset
    return out
