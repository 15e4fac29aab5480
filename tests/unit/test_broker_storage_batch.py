"""Sans-IO batch validation: real batches pass, every kind of damage is refused."""
import struct

import pytest

from logwarden.broker.storage import CorruptRecordError, RecordTooLargeError
from logwarden.broker.storage.batch import parse_header, rewrite_base_offset, scan_valid, validate_produce

from broker_storage_batches import make_batch, read_records


def test_valid_batches_back_to_back():
    data = make_batch([b"a", b"b", b"c"]) + make_batch([b"d"])
    infos = validate_produce(data, 1 << 20)
    assert [(i.last_offset_delta, i.position) for i in infos] == [(2, 0), (0, len(make_batch([b"a", b"b", b"c"])))]
    assert sum(i.size for i in infos) == len(data)


def test_rewrite_base_offset_keeps_crc_valid():
    buf = bytearray(make_batch([b"x", b"y"]))
    rewrite_base_offset(buf, 0, 1234)
    assert parse_header(buf).base_offset == 1234
    assert [r[0] for r in read_records(bytes(buf))] == [1234, 1235]
    validate_produce(buf, 1 << 20)


@pytest.mark.parametrize("damage", ["crc", "magic", "short", "length_small", "length_big", "empty", "count"])
def test_damaged_batches_are_refused(damage):
    good = bytearray(make_batch([b"hello", b"world"]))
    if damage == "crc":
        good[-1] ^= 0xFF
    elif damage == "magic":
        good[16] = 1
    elif damage == "short":
        good = good[:40]
    elif damage == "length_small":
        struct.pack_into(">i", good, 8, 10)
    elif damage == "length_big":
        struct.pack_into(">i", good, 8, len(good))
    elif damage == "empty":
        good = bytearray()
    elif damage == "count":
        struct.pack_into(">i", good, 23, 5)  # lastOffsetDelta no longer matches recordsCount
        # fix the CRC so only the count mismatch is wrong
        from crc32c import crc32c
        struct.pack_into(">I", good, 17, crc32c(bytes(good[21:])))
    with pytest.raises(CorruptRecordError):
        validate_produce(good, 1 << 20)


def test_second_batch_damage_refuses_all():
    data = bytearray(make_batch([b"a"]) + make_batch([b"b"]))
    data[-1] ^= 1
    with pytest.raises(CorruptRecordError):
        validate_produce(data, 1 << 20)


def test_too_large():
    data = make_batch([b"x" * 1000])
    with pytest.raises(RecordTooLargeError):
        validate_produce(data, 500)


def test_scan_valid_stops_at_torn_tail():
    a, b = make_batch([b"a"]), make_batch([b"b", b"c"])
    data = bytearray(a + b)
    struct.pack_into(">q", data, len(a), 1)  # offsets as the log stores them
    batches, end, why = scan_valid(memoryview(bytes(data[:-3])), 0, len(data) - 3, 0)
    assert len(batches) == 1 and end == len(a) and why
    batches, end, why = scan_valid(memoryview(bytes(data)), 0, len(data), 0)
    assert len(batches) == 2 and end == len(data) and why is None


def test_short_write_resumes_with_the_rest():
    from logwarden.broker.storage.segment import _skip
    assert [bytes(b) for b in _skip([b"abc", b"de", b"fgh"], 4)] == [b"e", b"fgh"]
    assert [bytes(b) for b in _skip([b"abc", b"de"], 5)] == []
    assert [bytes(b) for b in _skip([b"abc"], 0)] == [b"abc"]
