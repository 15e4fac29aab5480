"""Storage-layer benchmark: PartitionLog append/read/recovery against raw file I/O.

Measures, on one partition in a temporary directory:
  append   - 100-byte records in 1000-record v2 batches (and 1- and 10-record batches),
             through PartitionLog.append (validation, CRC32C, offset assignment, index);
  raw      - the peer: the same bytes written with one os.write per batch to a plain file,
             i.e. what the kernel's page cache allows without any broker logic;
  read     - whole-log scan through PartitionLog.read with 1 MiB slices (ReadSlice.data);
  recover  - an unclean reopen of a log: CRC32C re-validation of every batch from the
             recovery point and index rebuild;
  fsync    - flush() of everything appended (the flush.ms work moved off the hot path).

Usage: python bench/broker_storage.py [--records 2000000] [--dir /tmp]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from kafka.record.default_records import DefaultRecordBatchBuilder

from logwarden.broker.storage import LogConfig, PartitionLog


def make_batch(n: int, size: int = 100) -> bytes:
    b = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False, producer_id=-1,
                                  producer_epoch=-1, base_sequence=-1, batch_size=1 << 30)
    now = int(time.time() * 1000)
    for i in range(n):
        b.append(i, timestamp=now, key=None, value=os.urandom(size // 2).hex().encode(), headers=[])
    return bytes(b.build())


def bench_append(d: Path, batch: bytes, per_batch: int, records: int) -> tuple[float, PartitionLog]:
    lg = PartitionLog(d, "bench", 0, LogConfig(flush_ms=None))
    n = records // per_batch
    t = time.perf_counter()
    for _ in range(n):
        lg.append(batch)
    return n * per_batch / (time.perf_counter() - t), lg


def bench_raw(d: Path, batch: bytes, per_batch: int, records: int) -> float:
    n = records // per_batch
    fd = os.open(d / "raw.bin", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    t = time.perf_counter()
    for _ in range(n):
        os.write(fd, batch)
    dt = time.perf_counter() - t
    os.close(fd)
    return n * per_batch / dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=2_000_000)
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()
    big = make_batch(1000)
    print(f"batch: 1000 x 100-byte records = {len(big)} bytes")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp)
        raw = bench_raw(root, big, 1000, args.records)
        rate, lg = bench_append(root / "log", big, 1000, args.records)
        mb = rate * len(big) / 1000 / 1e6
        print(f"append 1000-record batches: {rate:12,.0f} records/s ({mb:,.0f} MB/s)   "
              f"raw os.write peer: {raw:12,.0f} records/s   ratio {rate / raw:.2f}")
        t = time.perf_counter()
        lg.flush()
        print(f"fsync of {lg.size_bytes / 1e6:,.0f} MB: {time.perf_counter() - t:.2f} s")
        t = time.perf_counter()
        off = n = 0
        while off < lg.log_end_offset:
            sl = lg.read(off, 1 << 20)
            _ = sl.data
            off = sl.next_offset
            n += 1
        dt = time.perf_counter() - t
        print(f"read 1 MiB slices (pread):  {lg.log_end_offset / dt:12,.0f} records/s ({n / dt:,.0f} reads/s)")
        lg.close()
        t = time.perf_counter()
        lg2 = PartitionLog(root / "log", "bench", 0, LogConfig(), recovery_point=0, clean_shutdown=False)
        dt = time.perf_counter() - t
        print(f"unclean recovery of {lg2.size_bytes / 1e6:,.0f} MB: {dt:.2f} s ({lg2.size_bytes / dt / 1e6:,.0f} MB/s)")
        t = time.perf_counter()
        lg2.close()
        lg3 = PartitionLog(root / "log", "bench", 0, LogConfig(), clean_shutdown=True)
        print(f"clean open: {(time.perf_counter() - t) * 1000:.0f} ms")
        lg3.close()
        for per in (10, 1):
            small = make_batch(per)
            recs = min(args.records, 200_000 * per)
            raw = bench_raw(root, small, per, recs)
            rate, lg = bench_append(root / f"log{per}", small, per, recs)
            lg.close()
            print(f"append {per:>4}-record batches: {rate:12,.0f} records/s ({rate / per * 1e-3:,.0f}k batches/s)   "
                  f"raw peer: {raw:12,.0f}   ratio {rate / raw:.2f}")


if __name__ == "__main__":
    main()
