"""Malformed, truncated, oversized and unknown requests: the right error code or a closed
connection with a log line; the broker keeps serving and the log stays intact."""
from __future__ import annotations

import socket
import struct

import pytest

from broker_wire import kafka_call, recv_exact
from lwtest import Broker
from logwarden.broker.protocol.batches import build_batch
from logwarden.broker.protocol.frames import decode_response, encode_request

pytestmark = [pytest.mark.integration, pytest.mark.broker_config(max_request_bytes=1024 * 1024)]

# Recent record timestamps: retention.ms (7 days) may delete older segments at any time.
NOW = int(__import__("time").time() * 1000)


def connect(broker) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", broker.port), timeout=10)
    return s


def call(s: socket.socket, api: int, version: int, body: dict, corr: int = 1, resp_version: int | None = None) -> dict:
    return kafka_call(s, api, version, body, corr, resp_version, client_id="bad-input-test")


def closed(s: socket.socket) -> bool:
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True


def still_serving(broker) -> None:
    with connect(broker) as s:
        assert call(s, 18, 2, {})["error_code"] == 0


def produce_req(topic: str, records: bytes) -> dict:
    return {"transactional_id": None, "acks": -1, "timeout_ms": 5000,
            "topics": [{"name": topic, "partitions": [{"index": 0, "records": records}]}]}


@pytest.mark.parametrize("size", [-5, 0, 3, 2 * 1024 * 1024, 0x7FFFFFFF])
def test_frame_size_out_of_range_closes_the_connection(broker, size):
    with connect(broker) as s:
        s.sendall(struct.pack(">i", size) + b"\0" * 16)
        assert closed(s)
    still_serving(broker)
    assert "closing connection" in broker.log()


def test_truncated_frame_then_disconnect(broker):
    with connect(broker) as s:
        s.sendall(struct.pack(">i", 500) + b"\0\x12\0\0" + b"partial")
    still_serving(broker)


def test_unknown_api_key_closes_the_connection(broker):
    with connect(broker) as s:
        s.sendall(struct.pack(">ihhih", 10, 999, 0, 7, -1))
        assert closed(s)
    assert "unknown api_key 999" in broker.log()
    still_serving(broker)


def test_api_versions_too_new_gets_error_35_and_the_list_in_v0(broker):
    with connect(broker) as s:
        s.sendall(struct.pack(">ihhih", 10, 18, 99, 5, -1))
        size = struct.unpack(">i", recv_exact(s, 4))[0]
        corr, resp = decode_response(18, 0, recv_exact(s, size))
    assert corr == 5 and resp["error_code"] == 35
    assert {a["api_key"] for a in resp["api_keys"]} >= {0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 18, 22}


def test_unsupported_version_of_another_api_closes(broker):
    with connect(broker) as s:
        s.sendall(struct.pack(">ihhih", 10, 0, 1, 5, -1))  # Produce v1 is below our range
        assert closed(s)
    still_serving(broker)


def test_truncated_body_closes(broker):
    frame = encode_request(3, 8, 1, "x", {"topics": [{"name": "abcdef"}], "allow_auto_topic_creation": False,
                                          "include_cluster_authorized_operations": False,
                                          "include_topic_authorized_operations": False})
    cut = frame[4:-6]
    with connect(broker) as s:
        s.sendall(struct.pack(">i", len(cut)) + cut)
        assert closed(s)
    assert "malformed Metadata v8 request" in broker.log()
    still_serving(broker)


def test_bad_crc_is_corrupt_message_and_writes_nothing(broker):
    good = build_batch([(b"k", b"good")], NOW)
    bad = bytearray(build_batch([(b"k", b"evil")], NOW))
    bad[-1] ^= 0xFF  # payload changed, CRC not
    with connect(broker) as s:
        ok = call(s, 0, 8, produce_req("crc-topic", good))
        assert ok["responses"][0]["partitions"][0]["error_code"] == 0
        r = call(s, 0, 8, produce_req("crc-topic", bytes(bad)), corr=2)
        assert r["responses"][0]["partitions"][0]["error_code"] == 2  # CORRUPT_MESSAGE
        r = call(s, 0, 8, produce_req("crc-topic", good[:40]), corr=3)  # shorter than a batch header
        assert r["responses"][0]["partitions"][0]["error_code"] == 87  # INVALID_RECORD: no whole batch, as Kafka
        r = call(s, 2, 5, {"replica_id": -1, "isolation_level": 0, "topics": [
            {"name": "crc-topic", "partitions": [{"partition_index": 0, "current_leader_epoch": -1, "timestamp": -1}]}]},
                 corr=4)
        assert r["topics"][0]["partitions"][0]["offset"] == 1  # only the good batch is in the log


def test_unknown_topic_partition_and_bad_offsets(broker):
    with connect(broker) as s:
        r = call(s, 0, 8, produce_req("crc-topic-2", build_batch([(None, b"v")], NOW)))
        assert r["responses"][0]["partitions"][0]["error_code"] == 0
        req = produce_req("crc-topic-2", build_batch([(None, b"v")], NOW))
        req["topics"][0]["partitions"][0]["index"] = 99
        r = call(s, 0, 8, req, corr=2)
        assert r["responses"][0]["partitions"][0]["error_code"] == 3  # UNKNOWN_TOPIC_OR_PARTITION
        fetch = {"replica_id": -1, "max_wait_ms": 0, "min_bytes": 0, "max_bytes": 1 << 20, "isolation_level": 1,
                 "session_id": 0, "session_epoch": -1, "forgotten_topics_data": [], "rack_id": "",
                 "topics": [{"topic": "crc-topic-2", "partitions": [{"partition": 0, "fetch_offset": 50,
                                                                    "partition_max_bytes": 1 << 20}]}]}
        r = call(s, 1, 11, fetch, corr=3)
        assert r["responses"][0]["partitions"][0]["error_code"] == 1  # OFFSET_OUT_OF_RANGE
    still_serving(broker)


# Structurally valid requests with random field values (negative partitions, huge offsets,
# odd names, random record bytes...) reach the handlers: each must get an answer or a
# closed connection, and the broker must keep serving.
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from logwarden.broker.protocol.schemas import APIS  # noqa: E402

def _codec_tests():
    """The schema-driven hypothesis strategies live beside the codec's unit tests."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "unit" / "test_broker_codec.py"
    spec = importlib.util.spec_from_file_location("broker_codec_strategies", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_STRATEGY = _codec_tests().strategy


@pytest.fixture(scope="module")
def broker_without_auto_create(tmp_path_factory):
    # no auto-creation: random topic names in Metadata/Produce would each create a topic (fsyncs)
    b = Broker(tmp_path_factory.mktemp("fuzz"), {"auto_create_topics": False}).start()
    yield b
    assert b.stop() == 0, b.log()
FUZZ_APIS = [(a, v) for a in APIS.values() for v in range(a.min_version, a.max_version + 1)
             if a.name not in ("SaslHandshake", "SaslAuthenticate")]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.data())
def test_random_but_well_formed_requests_never_break_the_broker(broker_without_auto_create, data):
    broker = broker_without_auto_create
    strategy = _STRATEGY
    api, version = data.draw(st.sampled_from(FUZZ_APIS))
    body = data.draw(strategy(api.request, version))
    if api.name == "Fetch":
        body["max_wait_ms"] = min(abs(body["max_wait_ms"]), 50)  # do not park the test for days
    if api.name in ("CreateTopics", "CreatePartitions"):
        # creating topics costs fsyncs (slow on a busy disk) and is covered elsewhere: validate only
        body["validate_only"] = True
    with connect(broker) as s:
        s.settimeout(10)
        s.sendall(encode_request(api.key, version, 3, "fuzz", body))
        try:
            head = s.recv(4, socket.MSG_WAITALL)
        except (ConnectionResetError, socket.timeout):
            head = b""
        if len(head) == 4:
            size = struct.unpack(">i", head)[0]
            decode_response(api.key, version, recv_exact(s, size))
    still_serving(broker)


def test_clients_cannot_write_or_delete_the_internal_offsets_topic(broker):
    with connect(broker) as s:
        r = call(s, 0, 8, produce_req("__consumer_offsets", build_batch([(b"junk", b"junk")], NOW)))
        assert r["responses"][0]["partitions"][0]["error_code"] == 17  # INVALID_TOPIC_EXCEPTION
        r = call(s, 20, 3, {"topic_names": ["__consumer_offsets"], "timeout_ms": 1000}, corr=2)
        assert r["responses"][0]["error_code"] == 17


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_a_client_that_does_not_read_its_answers_cannot_grow_broker_memory(broker):
    """500 pipelined fetches of 200 KB each (100 MB of answers) from a client that does not
    read: the broker stops handling that connection's requests while its send buffer is
    full, so its memory stays bounded; afterwards every answer arrives, in order."""
    values = [bytes([65 + i % 26]) * 1000 for i in range(200)]
    with connect(broker) as s:
        r = call(s, 0, 8, produce_req("hoard", build_batch([(None, v) for v in values], NOW)))
        assert r["responses"][0]["partitions"][0]["error_code"] == 0
    fetch = {"replica_id": -1, "max_wait_ms": 0, "min_bytes": 0, "max_bytes": 1 << 20, "isolation_level": 1,
             "session_id": 0, "session_epoch": -1, "forgotten_topics_data": [], "rack_id": "",
             "topics": [{"topic": "hoard", "partitions": [{"partition": 0, "fetch_offset": 0,
                                                          "partition_max_bytes": 1 << 20}]}]}
    before = rss_bytes(broker.proc.pid)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    s.connect(("127.0.0.1", broker.port))
    with s:
        s.setblocking(False)
        pending = b"".join(encode_request(1, 11, i, "hoarder", fetch) for i in range(500))
        while pending:  # send everything we can; the broker stops reading once it is stuck
            try:
                pending = pending[s.send(pending):]
            except BlockingIOError:
                break
        import time
        time.sleep(1.0)  # let the broker do whatever it would do with the requests it has
        grown = rss_bytes(broker.proc.pid) - before
        still_serving(broker)
        s.setblocking(True)
        s.settimeout(30)
        if pending:
            s.sendall(pending)
        for i in range(500):
            size = struct.unpack(">i", recv_exact(s, 4))[0]
            corr, body = decode_response(1, 11, recv_exact(s, size))
            assert corr == i
    assert grown < 40 * 1024 * 1024, f"broker grew by {grown / 1e6:.0f} MB"


def test_idle_connections_are_closed(tmp_path):
    import time

    b = Broker(tmp_path, {"connections_max_idle_ms": 500}).start()
    try:
        with connect(b) as idle, connect(b) as chatty:
            call(idle, 18, 2, {})
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:  # keep one connection busy, leave the other alone
                call(chatty, 18, 2, {})
                time.sleep(0.1)
            assert closed(idle)
            assert call(chatty, 18, 2, {})["error_code"] == 0
        assert "closing idle connection" in b.log()
    finally:
        assert b.stop() == 0, b.log()
