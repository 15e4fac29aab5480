"""The record-framing check of a produced batch: broker/_records.c and its Python twin
(storage/records.py records_problem) give the same verdict on any bytes, and storage
refuses a batch whose CRC is right but whose records are not (Kafka: INVALID_RECORD)."""
from __future__ import annotations

import cramjam
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logwarden.broker.protocol.batches import _zigzag, build_batch
from logwarden.broker.storage import InvalidRecordError, LogConfig, PartitionLog
from logwarden.broker.storage.batch import CRC_START, HEADER_SIZE
from logwarden.broker.storage.records import records_problem

_records = pytest.importorskip("logwarden.broker._records", reason="broker/_records.c is not installed (no C compiler at install time)")


def record(key: bytes | None, value: bytes | None, headers: list[tuple[bytes, bytes | None]] = ()) -> bytes:
    body = bytearray(b"\0") + _zigzag(5) + _zigzag(0)
    for part in (key, value):
        body += _zigzag(-1) if part is None else _zigzag(len(part)) + part
    body += _zigzag(len(headers))
    for hk, hv in headers:
        body += _zigzag(len(hk)) + hk + (_zigzag(-1) if hv is None else _zigzag(len(hv)) + hv)
    return bytes(_zigzag(len(body)) + body)


GOOD = record(b"k", b"value") + record(None, None) + record(b"", b"v", [(b"h", b"x"), (b"n", None)])

BAD = {
    "truncated": GOOD[:-3],
    "left over": GOOD + b"\0",
    "length past the end": _zigzag(100) + b"\0" * 10,
    "unterminated varint": b"\xff" * 6,
    "key length below -1": bytes(_zigzag(5) + b"\0\0\0" + _zigzag(-2) + b"\0"),
    "negative header key": bytes(_zigzag(8) + b"\0\0\0" + _zigzag(-1) + _zigzag(-1) + _zigzag(1) + _zigzag(-1) + _zigzag(-1)),
    "fields short of the length": bytes(_zigzag(9) + b"\0\0\0\1\1\0\0\0\0"),
}


def both(payload: bytes, count: int) -> tuple[str | None, str | None]:
    return _records.check(payload, count), records_problem(payload, count)


def test_well_formed_records_pass_in_c_and_in_python():
    assert both(GOOD, 3) == (None, None)
    assert both(memoryview(GOOD)[:], 3) == (None, None)
    batch = build_batch([(b"k%d" % i, b"v" * i) for i in range(50)], 0)
    assert both(batch[HEADER_SIZE:], 50) == (None, None)


@pytest.mark.parametrize("name", sorted(BAD))
def test_malformed_records_get_the_same_verdict_in_c_and_in_python(name):
    c, py = both(BAD[name], 3 if name in ("truncated", "left over") else 1)
    assert c is not None and c == py, (c, py)


def test_a_count_that_disagrees_with_the_records_is_refused():
    assert both(GOOD, 2)[0] == "bytes left over after the batch's last record" == both(GOOD, 2)[1]
    assert both(GOOD, 4)[0] is not None and both(GOOD, 4)[0] == both(GOOD, 4)[1]


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=64), st.integers(min_value=0, max_value=4))
def test_c_and_python_agree_on_any_bytes(data, count):
    assert _records.check(data, count) == records_problem(data, count)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=len(GOOD) - 1), st.integers(min_value=0, max_value=255))
def test_c_and_python_agree_on_any_single_byte_change(pos, byte):
    data = bytearray(GOOD)
    data[pos] = byte
    assert _records.check(bytes(data), 3) == records_problem(bytes(data), 3)


def with_payload(batch: bytes, payload: bytes, attributes: int | None = None) -> bytes:
    """The batch's header over another payload, with a correct length and CRC: what a client
    with a bug (or a broken compressor) would send."""
    import struct

    from crc32c import crc32c
    buf = bytearray(batch[:HEADER_SIZE]) + payload
    struct.pack_into(">i", buf, 8, len(buf) - 12)
    if attributes is not None:
        struct.pack_into(">h", buf, 21, attributes)
    struct.pack_into(">I", buf, 17, crc32c(bytes(buf[CRC_START:])))
    return bytes(buf)


def test_storage_refuses_a_batch_with_a_good_crc_and_broken_records(tmp_path):
    log = PartitionLog(tmp_path / "t-0", "t", 0, LogConfig())
    try:
        good = build_batch([(None, b"a"), (None, b"b")], 0)
        broken = with_payload(good, good[HEADER_SIZE:-2])  # the last record cut short
        with pytest.raises(InvalidRecordError, match="runs past|do not add up|fit the record"):
            log.append(broken)
        lz4 = with_payload(good, bytes(cramjam.lz4.compress(good[HEADER_SIZE:])), attributes=3)
        assert log.append(lz4)[0] == 0  # a good compressed batch passes
        garbage = with_payload(good, b"\x04\x22\x4d\x18garbage-not-a-frame", attributes=3)
        with pytest.raises(InvalidRecordError, match="do not decompress"):
            log.append(garbage)
        assert log.log_end_offset == 2  # only the good batch is in the log
    finally:
        log.close()


_field = st.one_of(st.none(), st.binary(max_size=200))
_record = st.builds(record, _field, _field, st.lists(st.tuples(st.binary(max_size=8), _field), max_size=3))


@settings(max_examples=300, deadline=None)
@given(st.lists(_record, min_size=1, max_size=6), st.data())
def test_c_and_python_agree_on_generated_records_and_their_corruptions(records, data):
    payload = b"".join(records)
    assert both(payload, len(records)) == (None, None)
    pos = data.draw(st.integers(min_value=0, max_value=len(payload) - 1))
    damaged = bytearray(payload)
    damaged[pos] = data.draw(st.integers(min_value=0, max_value=255))
    assert _records.check(bytes(damaged), len(records)) == records_problem(bytes(damaged), len(records))
