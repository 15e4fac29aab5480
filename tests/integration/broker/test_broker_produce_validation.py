"""What Kafka refuses from a producer, and how it answers retries, against the broker in a
real process over raw frames (no client library writes such batches on purpose).

Each case failed before: the batches Kafka refuses with INVALID_RECORD were stored (a
control batch from a client, a base offset other than 0, two batches in one partition, an
idempotent batch without a sequence number, records that do not parse under a right CRC -
consumers stalled on those for good); an idempotent batch overlapping an earlier one
was answered success while part of it was never written; a damaged retry was acknowledged
as a duplicate; a retry on a LogAppendTime topic lost its append time; a failed acks=0
produce left the connection open, so the producer never learned of it; and a produce larger
than a segment got MESSAGE_TOO_LARGE, which producers retry by splitting, instead of
RECORD_LIST_TOO_LARGE.
"""
from __future__ import annotations

import socket
import struct
import time

import pytest
from crc32c import crc32c

from broker_wire import kafka_call
from logwarden.broker.protocol import errors as E
from logwarden.broker.protocol.batches import build_batch
from logwarden.broker.protocol.frames import encode_request

pytestmark = pytest.mark.integration

PRODUCE, LIST_OFFSETS, METADATA, CREATE_TOPICS, INIT_PRODUCER_ID = 0, 2, 3, 19, 22
NOW = int(time.time() * 1000)


def create(s: socket.socket, topic: str, configs: dict[str, str] | None = None) -> None:
    body = {"topics": [{"name": topic, "num_partitions": 1, "replication_factor": 1, "assignments": [],
                        "configs": [{"name": k, "value": v} for k, v in (configs or {}).items()]}],
            "timeout_ms": 10_000, "validate_only": False}
    assert kafka_call(s, CREATE_TOPICS, 4, body)["topics"][0]["error_code"] == 0


def produce(s: socket.socket, topic: str, records: bytes, version: int = 8, acks: int = -1) -> dict:
    body = {"transactional_id": None, "acks": acks, "timeout_ms": 5000,
            "topics": [{"name": topic, "partitions": [{"index": 0, "records": records}]}]}
    return kafka_call(s, PRODUCE, version, body)["responses"][0]["partitions"][0]


def latest(s: socket.socket, topic: str) -> int:
    body = {"replica_id": -1, "isolation_level": 0, "topics": [
        {"name": topic, "partitions": [{"partition_index": 0, "current_leader_epoch": -1, "timestamp": -1}]}]}
    return kafka_call(s, LIST_OFFSETS, 5, body)["topics"][0]["partitions"][0]["offset"]


def patched(batch: bytes, **fields: int) -> bytes:
    """The batch with header fields rewritten and its CRC32C recomputed, as a client would send it."""
    layout = {"base_offset": (0, ">q"), "attributes": (21, ">h"), "base_sequence": (53, ">i")}
    buf = bytearray(batch)
    for name, value in fields.items():
        pos, fmt = layout[name]
        struct.pack_into(fmt, buf, pos, value)
    struct.pack_into(">I", buf, 17, crc32c(bytes(buf[21:])))
    return bytes(buf)


def cut_records(batch: bytes, n: int) -> bytes:
    """The batch with its last n bytes of records gone and its length and CRC made right:
    a CRC over broken records, as a client bug or a broken compressor produces."""
    buf = bytearray(batch[:-n])
    struct.pack_into(">i", buf, 8, len(buf) - 12)
    struct.pack_into(">I", buf, 17, crc32c(bytes(buf[21:])))
    return bytes(buf)


def pid(s: socket.socket) -> int:
    return kafka_call(s, INIT_PRODUCER_ID, 1, {"transactional_id": None, "transaction_timeout_ms": 60_000})["producer_id"]


def values(first: int, n: int) -> list[tuple[bytes | None, bytes]]:
    return [(None, f"v{i}".encode()) for i in range(first, first + n)]


def test_batches_kafka_refuses_from_a_client_are_invalid_record_and_not_stored(conn):
    create(conn, "refused")
    good = build_batch(values(0, 3), NOW)
    idem = build_batch(values(0, 3), NOW, producer_id=pid(conn), producer_epoch=0, base_sequence=0)
    cases = {
        "control batch": patched(good, attributes=0x20),
        "base offset 1234": patched(good, base_offset=1234),
        "two batches": good + good,
        "idempotent without a sequence number": patched(idem, base_sequence=-1),
        "no whole batch": good[:40],
        "records that do not parse (right CRC)": cut_records(good, 2),
        "empty": b"",
    }
    for what, records in cases.items():
        r = produce(conn, "refused", records)
        assert (r["error_code"], r["base_offset"]) == (E.INVALID_RECORD, -1), what
    zstd = patched(good, attributes=4)  # a zstd flag on Produce v6: Kafka refuses before decompressing
    assert produce(conn, "refused", zstd, version=6)["error_code"] == E.UNSUPPORTED_COMPRESSION_TYPE
    assert latest(conn, "refused") == 0  # nothing of it was written
    assert produce(conn, "refused", good)["error_code"] == 0 and latest(conn, "refused") == 3


def test_idempotent_retries_are_answered_as_kafka_does(conn):
    create(conn, "idem")
    create(conn, "idem-lat", {"message.timestamp.type": "LogAppendTime"})
    p = pid(conn)
    first = build_batch(values(0, 10), NOW, producer_id=p, producer_epoch=0, base_sequence=0)
    assert produce(conn, "idem", first)["base_offset"] == 0
    # overlapping the remembered 0..9 without being it: not a duplicate, nothing written
    for seq, n in ((5, 10), (0, 5)):
        overlap = build_batch(values(seq, n), NOW, producer_id=p, producer_epoch=0, base_sequence=seq)
        assert produce(conn, "idem", overlap)["error_code"] == E.OUT_OF_ORDER_SEQUENCE_NUMBER
    assert latest(conn, "idem") == 10
    # a retry whose bytes were damaged on the way is corrupt, not a duplicate
    damaged = bytearray(first)
    damaged[-1] ^= 0xFF
    assert produce(conn, "idem", bytes(damaged))["error_code"] == E.CORRUPT_MESSAGE
    retry = produce(conn, "idem", first)
    assert (retry["error_code"], retry["base_offset"]) == (0, 0)  # the genuine retry: original offset
    assert latest(conn, "idem") == 10
    # on a LogAppendTime topic the retry reports the original append time
    q = pid(conn)
    batch = build_batch(values(0, 2), NOW, producer_id=q, producer_epoch=0, base_sequence=0)
    sent = produce(conn, "idem-lat", batch)
    assert sent["error_code"] == 0 and sent["log_append_time_ms"] > 0
    again = produce(conn, "idem-lat", batch)
    assert (again["base_offset"], again["log_append_time_ms"]) == (0, sent["log_append_time_ms"])


def test_a_failed_acks0_produce_closes_the_connection(broker, conn):
    """Kafka closes the connection: an acks=0 producer hears of nothing else, and reconnecting
    makes it refresh its metadata instead of dropping records for good."""
    create(conn, "acks0", {"max.message.bytes": "100"})
    body = {"transactional_id": None, "acks": 0, "timeout_ms": 5000,
            "topics": [{"name": "acks0", "partitions": [{"index": 0, "records": build_batch(values(0, 30), NOW)}]}]}
    conn.sendall(encode_request(PRODUCE, 8, 5, "acks0-test", body))
    assert conn.recv(1) == b""  # closed, no answer
    assert "acks=0 produce to acks0-0 failed with error 10" in broker.log()
    with broker.connect() as s:  # a good acks=0 produce is silent
        body["topics"][0]["partitions"][0]["records"] = build_batch(values(0, 1), NOW)
        s.sendall(encode_request(PRODUCE, 8, 6, "acks0-test", body))
        assert latest(s, "acks0") == 1  # answered on the same connection, after the silent produce


def test_a_produce_larger_than_a_segment_is_record_list_too_large(conn):
    create(conn, "tiny-segments", {"segment.bytes": "1000", "max.message.bytes": "100000"})
    r = produce(conn, "tiny-segments", build_batch(values(0, 200), NOW))
    assert r["error_code"] == E.RECORD_LIST_TOO_LARGE
