"""PartitionLog: append, read, roll, reopen (clean and unclean), indexes, timestamps."""
import os

import pytest

from logwarden.broker.storage import LogConfig, OffsetOutOfRangeError, PartitionLog, RecordBatchTooLargeError
from logwarden.broker.storage.segment import segment_name

from broker_storage_batches import make_batch, read_all, read_records


def open_log(path, **cfg):
    return PartitionLog(path, "t", 0, LogConfig(**cfg))


def vals(n, prefix=b"v", size=20):
    return [prefix + str(i).encode().rjust(size, b"0") for i in range(n)]


def test_append_assigns_offsets_and_reads_back(tmp_path):
    lg = open_log(tmp_path)
    assert (lg.log_start_offset, lg.log_end_offset) == (0, 0)
    assert lg.append(make_batch(vals(3))) == (0, 2, -1)
    assert lg.append(make_batch(vals(2)) + make_batch(vals(4))) == (3, 8, -1)
    assert lg.log_end_offset == 9
    got = read_all(lg)
    assert [r[0] for r in got] == list(range(9))
    assert [r[2] for r in got] == vals(3) + vals(2) + vals(4)
    lg.close()


def test_read_starts_at_the_batch_holding_the_offset(tmp_path):
    lg = open_log(tmp_path, index_interval_bytes=0)
    for i in range(20):
        lg.append(make_batch(vals(5, prefix=b"%02d-" % i)))
    sl = lg.read(42, 1)  # tiny max_bytes still returns one whole batch
    recs = read_records(sl.data)
    assert [r[0] for r in recs] == [40, 41, 42, 43, 44]
    assert sl.next_offset == 45
    sl = lg.read(42, 3 * sl.size)
    assert [r[0] for r in read_records(sl.data)][::5] == [40, 45, 50]
    assert sl.next_offset == 55
    end = lg.read(lg.log_end_offset, 1000)
    assert end.size == 0 and end.data == b"" and end.next_offset == 100
    with pytest.raises(OffsetOutOfRangeError):
        lg.read(101, 100)
    with pytest.raises(OffsetOutOfRangeError):
        lg.read(-1, 100)
    lg.close()


def test_read_slice_is_sendfile_ready(tmp_path):
    lg = open_log(tmp_path)
    lg.append(make_batch(vals(3)))
    sl = lg.read(0, 1 << 20)
    assert os.pread(sl.fileobj.fileno(), sl.size, sl.position) == sl.data
    r, w = os.pipe()
    try:
        assert os.sendfile(w, sl.fd, sl.position, sl.size) == sl.size
        assert os.read(r, sl.size) == sl.data
    finally:
        os.close(r)
        os.close(w)
    lg.close()


def test_roll_by_size_and_kafka_file_names(tmp_path):
    lg = open_log(tmp_path, segment_bytes=2000)
    for _ in range(30):
        lg.append(make_batch(vals(10)))  # ~420-byte batches
    names = sorted(p.name for p in tmp_path.iterdir())
    bases = [s.base_offset for s in lg.segments]
    assert len(bases) > 5
    for b in bases:
        for ext in ("log", "index", "timeindex"):
            assert f"{segment_name(b)}.{ext}" in names
    assert all(s.size <= 2000 for s in lg.segments)
    assert [r[0] for r in read_all(lg, max_bytes=700)] == list(range(300))
    lg.close()


def test_roll_by_age_uses_record_time(tmp_path):
    lg = open_log(tmp_path, segment_ms=1000)
    lg.append(make_batch(vals(2), ts=10_000))
    lg.append(make_batch(vals(2), ts=10_500))
    assert len(lg.segments) == 1
    lg.append(make_batch(vals(2), ts=11_200))
    assert [s.base_offset for s in lg.segments] == [0, 4]
    lg.close()


def test_too_large_for_segment(tmp_path):
    lg = open_log(tmp_path, segment_bytes=300)
    with pytest.raises(RecordBatchTooLargeError):
        lg.append(make_batch(vals(20)))
    assert lg.log_end_offset == 0 and lg.active.size == 0
    lg.close()


@pytest.mark.parametrize("clean", [True, False])
def test_reopen_keeps_everything(tmp_path, clean):
    lg = open_log(tmp_path, segment_bytes=3000, index_interval_bytes=100)
    for i in range(40):
        lg.append(make_batch(vals(7, prefix=b"%d-" % i), ts=1000 * i))
    before = read_all(lg)
    if clean:
        lg.close()
    else:
        lg.flush()  # recovery point at the end; files stay as a SIGKILL leaves them
    lg2 = PartitionLog(tmp_path, "t", 0, LogConfig(segment_bytes=3000, index_interval_bytes=100),
                       recovery_point=lg.recovery_point if not clean else 0, clean_shutdown=clean)
    assert lg2.log_end_offset == 280
    assert read_all(lg2) == before
    assert lg2.append(make_batch(vals(1))) == (280, 280, -1)
    assert lg2.offset_for_timestamp(20_000) == (140, 20_000)
    lg2.close()


def test_offset_index_is_sparse_and_used(tmp_path):
    lg = open_log(tmp_path, index_interval_bytes=1000)
    for _ in range(50):
        lg.append(make_batch(vals(3)))  # ~170 bytes each
    idx = lg.active.index
    assert 0 < len(idx) < 50
    # every entry points at the start of a batch whose last offset is the entry's offset
    for rel, pos in zip(idx.rel, idx.pos):
        recs = read_records(os.pread(lg.active.fd, 200, pos)[:lg.read(rel, 1).size])
        assert recs[-1][0] == rel
    lg.close()


def test_offset_for_timestamp_finds_the_record(tmp_path):
    lg = open_log(tmp_path, index_interval_bytes=0, segment_bytes=1500)
    for i in range(30):
        lg.append(make_batch(vals(4), ts=100_000 + 10 * i * 4, ts_step=10))
    # record at offset k has timestamp 100_000 + 10 k
    assert lg.offset_for_timestamp(0) == (0, 100_000)
    assert lg.offset_for_timestamp(100_000 + 10 * 57) == (57, 100_000 + 570)
    assert lg.offset_for_timestamp(100_000 + 10 * 57 - 3) == (57, 100_000 + 570)
    assert lg.offset_for_timestamp(100_000 + 10 * 119) == (119, 100_000 + 1190)
    assert lg.offset_for_timestamp(100_000 + 10 * 120) is None
    lg.close()


def test_torn_tail_is_truncated_on_unclean_open(tmp_path):
    lg = open_log(tmp_path)
    for i in range(5):
        lg.append(make_batch(vals(3)))
    size = lg.active.size
    path = lg.active.log_path
    lg.flush()
    # simulate a crash mid-write: half a batch at the end
    half = make_batch(vals(3))[:50]
    with open(path, "ab") as f:
        f.write(half)
    lg2 = PartitionLog(tmp_path, "t", 0, LogConfig(), recovery_point=0, clean_shutdown=False)
    assert lg2.log_end_offset == 15
    assert path.stat().st_size == size
    assert [r[0] for r in read_all(lg2)] == list(range(15))
    lg2.close()


def test_corrupt_batch_in_tail_truncates_from_there(tmp_path):
    lg = open_log(tmp_path)
    positions = []
    for i in range(5):
        positions.append(lg.active.size)
        lg.append(make_batch(vals(3)))
    path = lg.active.log_path
    with open(path, "r+b") as f:
        f.seek(positions[3] + 70)
        f.write(b"\xff\xff")
    lg2 = PartitionLog(tmp_path, "t", 0, LogConfig(), recovery_point=0, clean_shutdown=False)
    assert lg2.log_end_offset == 9
    assert path.stat().st_size == positions[3]
    assert lg2.append(make_batch(vals(1)))[0] == 9
    lg2.close()


def test_missing_or_stale_index_is_rebuilt(tmp_path):
    cfg = dict(segment_bytes=2000, index_interval_bytes=200)
    lg = open_log(tmp_path, **cfg)
    for i in range(30):
        lg.append(make_batch(vals(5), ts=1000 + i))
    before = read_all(lg)
    first = lg.segments[0]
    good = first.index.path.read_bytes()
    lg.close()
    first.index.path.unlink()  # missing
    second_idx = lg.segments[1].index.path
    second_idx.write_bytes(second_idx.read_bytes() + b"\x00\x00\x7f\xff\x00\x00\x00\x01")  # stale entry
    lg.segments[2].time_index.path.write_bytes(b"\x01\x02\x03")  # torn
    lg2 = PartitionLog(tmp_path, "t", 0, LogConfig(**cfg), clean_shutdown=True)
    assert first.index.path.read_bytes() == good
    assert read_all(lg2) == before
    assert lg2.offset_for_timestamp(1000 + 17) is not None
    lg2.close()


def test_log_append_time_stamps_batches(tmp_path):
    lg = open_log(tmp_path, message_timestamp_type="LogAppendTime")
    base, last, t = lg.append(make_batch(vals(3), ts=5), now_ms=1_800_000_000_000)
    assert (base, last, t) == (0, 2, 1_800_000_000_000)
    from kafka.record import MemoryRecords
    batch = MemoryRecords(lg.read(0, 1000).data).next_batch()
    assert batch.validate_crc() and batch.timestamp_type == 1
    assert batch.max_timestamp == 1_800_000_000_000
    assert lg.offset_for_timestamp(1_700_000_000_000) == (0, 1_800_000_000_000)
    lg.close()


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_compressed_batches_stored_as_received_and_searchable(tmp_path, codec):
    lg = open_log(tmp_path)
    raw = make_batch(vals(50), ts=1000, ts_step=10, compression=codec)
    lg.append(raw)
    data = lg.read(0, 1 << 20).data
    assert data[8:] == raw[8:]  # byte for byte, apart from the base offset
    assert [r[2] for r in read_records(data)] == vals(50)
    assert lg.offset_for_timestamp(1000 + 10 * 33 - 5) == (33, 1330)  # found inside the compressed batch
    lg.close()


def test_failed_write_keeps_nothing(tmp_path):
    """A write the kernel refuses (here EFBIG from RLIMIT_FSIZE, as ENOSPC would) leaves the
    log exactly as before and raises KafkaStorageError (Kafka error 56)."""
    import resource
    from logwarden.broker.storage import KafkaStorageError
    lg = open_log(tmp_path)
    lg.append(make_batch(vals(5)))
    size, leo = lg.active.size, lg.log_end_offset
    old = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size + 100, old[1]))
    try:
        with pytest.raises(KafkaStorageError) as exc:
            lg.append(make_batch(vals(40)))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old)
    assert exc.value.kafka_error_code == 56
    assert (lg.active.size, lg.log_end_offset) == (size, leo)
    assert lg.active.log_path.stat().st_size == size
    assert lg.append(make_batch(vals(2)))[0] == leo
    assert [r[0] for r in read_all(lg)] == list(range(leo + 2))
    lg.close()
