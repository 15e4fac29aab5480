"""Child process for the storage SIGKILL test: appends numbered batches forever.

After each PartitionLog.append() returns it prints `ACK <partition> <base> <last> <first_seq>`
and flushes stdout, so the parent knows exactly which batches were acknowledged when it
kills this process. Record values are `<partition>:<seq>` so the parent can check order
and uniqueness. Runs with the default flush policy plus the background maintenance thread,
as the broker does."""
import sys
import time
from pathlib import Path

from kafka.record.default_records import DefaultRecordBatchBuilder

from logwarden.broker.storage import LogConfig, LogManager


def batch(part: int, first: int, n: int, pad: int) -> bytes:
    b = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False,
                                  producer_id=-1, producer_epoch=-1, base_sequence=-1, batch_size=1 << 30)
    for i in range(n):
        b.append(i, timestamp=int(time.time() * 1000), key=None,
                 value=b"%d:%d:" % (part, first + i) + b"x" * pad, headers=[])
    return bytes(b.build())


def main() -> None:
    data_dir, partitions, segment_bytes = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    m = LogManager(data_dir, LogConfig(segment_bytes=segment_bytes))
    if not m.has_topic("t"):
        m.create_topic("t", partitions)
    m.start_background(0.05)
    seq = {}
    for p in range(partitions):
        lg = m.get("t", p)
        seq[p] = lg.log_end_offset  # one record per offset, so the next seq is the LEO
    print("READY", flush=True)
    k = 0
    while True:
        p = k % partitions
        n = 1 + (k * 7919) % 300  # 1..300 records per batch, sizes vary
        base, last, _ = m.get("t", p).append(batch(p, seq[p], n, pad=(k % 5) * 40))
        print(f"ACK {p} {base} {last} {seq[p]}", flush=True)
        seq[p] += n
        k += 1


if __name__ == "__main__":
    main()
