"""TLS listener (trustme certificates) and SASL PLAIN / SCRAM-SHA-256 / SCRAM-SHA-512 with
hashed credentials, exercised by confluent-kafka and kafka-python."""
from __future__ import annotations

import time
import uuid

import pytest
import trustme
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from broker_wire import kafka_call
from lwtest import Broker
from logwarden.broker.security.scram import hash_password

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("certs")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(str(d / "ca.pem"))
    cert.private_key_pem.write_to_path(str(d / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(d / "cert.pem"))
    for extra in cert.cert_chain_pems[1:]:
        with open(d / "cert.pem", "ab") as f:
            f.write(extra.bytes())
    return d


USERS = {"alice": hash_password("wonderland"), "bob": hash_password("builder")}


def start(tmp_path, protocol: str, certs=None) -> Broker:
    broker = {"security_protocol": protocol, "sasl_users": USERS}
    if certs is not None:
        broker.update(tls_certfile=str(certs / "cert.pem"), tls_keyfile=str(certs / "key.pem"))
    return Broker(tmp_path, broker).start()


def round_trip(settings: dict) -> None:
    topic = f"sec-{uuid.uuid4().hex[:6]}"
    p = Producer({**settings, "acks": "all", "enable.idempotence": True})
    for i in range(100):
        p.produce(topic, value=f"secret {i}".encode())
    assert p.flush(20) == 0
    c = Consumer({**settings, "group.id": "sec", "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    got = []
    deadline = time.monotonic() + 20
    while len(got) < 100 and time.monotonic() < deadline:
        got += [m.value() for m in c.consume(100, 0.5) if not m.error()]
    c.commit(asynchronous=False)
    c.close()
    assert sorted(got) == sorted(f"secret {i}".encode() for i in range(100))  # 4 auto-created partitions


def test_tls_listener(tmp_path, certs):
    b = start(tmp_path, "SSL", certs)
    try:
        round_trip({"bootstrap.servers": b.bootstrap, "security.protocol": "SSL",
                    "ssl.ca.location": str(certs / "ca.pem")})
        # a plaintext client cannot talk to the TLS listener
        with pytest.raises(KafkaException):
            AdminClient({"bootstrap.servers": b.bootstrap, "socket.timeout.ms": 2000}).list_topics(timeout=3)
    finally:
        assert b.stop() == 0, b.log()


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_plaintext_mechanisms(tmp_path, mechanism):
    b = start(tmp_path, "SASL_PLAINTEXT")
    try:
        base = {"bootstrap.servers": b.bootstrap, "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": mechanism}
        round_trip({**base, "sasl.username": "alice", "sasl.password": "wonderland"})
        bad = AdminClient({**base, "sasl.username": "alice", "sasl.password": "wrong"})
        with pytest.raises(KafkaException):
            bad.list_topics(timeout=3)
        assert "SASL authentication failed" in b.log()
    finally:
        assert b.stop() == 0, b.log()


def test_sasl_ssl_scram_with_kafka_python(tmp_path, certs):
    from kafka import KafkaConsumer, KafkaProducer

    b = start(tmp_path, "SASL_SSL", certs)
    try:
        opts = dict(bootstrap_servers=b.bootstrap, security_protocol="SASL_SSL", ssl_cafile=str(certs / "ca.pem"),
                    sasl_mechanism="SCRAM-SHA-512", sasl_plain_username="bob", sasl_plain_password="builder")
        p = KafkaProducer(acks="all", **opts)
        for i in range(50):
            p.send("kp-secure", f"kp {i}".encode())
        p.flush(20)
        p.close()
        c = KafkaConsumer("kp-secure", group_id="kp-sec", auto_offset_reset="earliest", consumer_timeout_ms=10000, **opts)
        got = []
        for m in c:
            got.append(m.value)
            if len(got) == 50:
                break
        c.close()
        assert sorted(got) == sorted(f"kp {i}".encode() for i in range(50))
        # librdkafka over SASL_SSL with SCRAM-SHA-256 too
        round_trip({"bootstrap.servers": b.bootstrap, "security.protocol": "SASL_SSL", "ssl.ca.location": str(certs / "ca.pem"),
                    "sasl.mechanism": "SCRAM-SHA-256", "sasl.username": "alice", "sasl.password": "wonderland"})
    finally:
        assert b.stop() == 0, b.log()


def test_sasl_handshake_v0_with_bare_plain_tokens(tmp_path):
    """Old clients: SaslHandshake v0, then the SASL token as a bare size-prefixed frame."""
    import socket
    import struct

    from logwarden.broker.protocol.frames import decode_response, encode_request

    from broker_wire import recv_exact

    def handshake(s):
        s.sendall(encode_request(17, 0, 1, "old", {"mechanism": "PLAIN"}))
        size = struct.unpack(">i", recv_exact(s, 4))[0]
        assert decode_response(17, 0, recv_exact(s, size))[1]["error_code"] == 0

    b = start(tmp_path, "SASL_PLAINTEXT")
    try:
        with socket.create_connection(("127.0.0.1", b.port), timeout=10) as s:
            # before authentication, only the SASL exchange is allowed
            handshake(s)
            token = b"\0alice\0wonderland"
            s.sendall(struct.pack(">i", len(token)) + token)
            assert struct.unpack(">i", recv_exact(s, 4))[0] == 0  # empty server token: accepted
            s.sendall(encode_request(3, 1, 2, "old", {"topics": None}))
            size = struct.unpack(">i", recv_exact(s, 4))[0]
            assert decode_response(3, 1, recv_exact(s, size))[1]["brokers"][0]["port"] == b.port
        with socket.create_connection(("127.0.0.1", b.port), timeout=10) as s:
            handshake(s)
            token = b"\0alice\0nope"
            s.sendall(struct.pack(">i", len(token)) + token)
            assert s.recv(1) == b""  # wrong password: closed
        with socket.create_connection(("127.0.0.1", b.port), timeout=10) as s:
            s.sendall(encode_request(3, 1, 3, "eager", {"topics": None}))
            assert s.recv(1) == b""  # Metadata before authenticating: closed
        assert "SASL authentication failed" in b.log() and "Metadata before SASL authentication" in b.log()
    finally:
        assert b.stop() == 0, b.log()


def test_sasl_failures_close_the_connection_as_kafka_does(tmp_path):
    """Kafka's authenticator answers a failed SASL step and then closes the connection - a
    wrong password only after a delay - so passwords cannot be tried one after another on
    one connection; it refuses a second login on an authenticated connection, and frames
    over 512 KiB before authentication. Before, all of these left the connection open (a
    wrong password could be retried at once, and `bob` could take over `alice`'s connection)."""
    import socket
    import struct

    from logwarden.broker.protocol.frames import encode_request

    def closed(s: socket.socket) -> bool:
        try:
            return s.recv(1) == b""
        except ConnectionResetError:
            return True

    def handshake(s: socket.socket, mechanism: str = "PLAIN") -> int:
        return kafka_call(s, 17, 1, {"mechanism": mechanism})["error_code"]

    def login(s: socket.socket, user: str, password: str) -> dict:
        return kafka_call(s, 36, 1, {"auth_bytes": f"\0{user}\0{password}".encode()})

    b = start(tmp_path, "SASL_PLAINTEXT")
    try:
        with b.connect() as s:  # wrong password: the error, then the connection closes
            assert handshake(s) == 0
            t0 = time.monotonic()
            r = login(s, "alice", "nope")
            assert r["error_code"] == 58 and time.monotonic() - t0 >= 0.09  # answered after the delay
            assert closed(s)
        with b.connect() as s:  # an unsupported mechanism: the enabled list, then closed
            r = kafka_call(s, 17, 1, {"mechanism": "GSSAPI"})
            assert r["error_code"] == 33 and "PLAIN" in r["mechanisms"]
            assert closed(s)
        with b.connect() as s:  # SaslAuthenticate before SaslHandshake
            assert login(s, "alice", "wonderland")["error_code"] == 34
            assert closed(s)
        with b.connect() as s:  # after the handshake only SaslAuthenticate
            assert handshake(s) == 0
            s.sendall(encode_request(18, 2, 9, "t", {}))
            assert closed(s)
        with b.connect() as s:  # a second login on an authenticated connection: refused, connection kept
            assert handshake(s) == 0 and login(s, "alice", "wonderland")["error_code"] == 0
            again = login(s, "bob", "builder")
            assert again["error_code"] == 34 and "after successful authentication" in again["error_message"]
            assert handshake(s) == 34
            assert kafka_call(s, 3, 1, {"topics": None})["brokers"]  # still alice's, still open
        with b.connect() as s:  # 512 KiB is the most before authentication (Kafka's sasl.server.max.receive.size)
            s.sendall(struct.pack(">i", 90 << 20) + b"\0" * 16)
            assert closed(s)
        with b.connect() as s:  # and after it, max_request_bytes again
            assert handshake(s) == 0 and login(s, "alice", "wonderland")["error_code"] == 0
            big = {"topics": [{"name": "t" + str(i)} for i in range(30_000)], "allow_auto_topic_creation": False,
                   "include_cluster_authorized_operations": False, "include_topic_authorized_operations": False}
            assert len(kafka_call(s, 3, 8, big)["topics"]) == 30_000  # a ~600 KiB request
    finally:
        assert b.stop() == 0, b.log()


def test_sasl_handshake_on_a_listener_without_sasl_is_illegal_state(tmp_path):
    """Kafka: ILLEGAL_SASL_STATE (librdkafka then points at the protocol, not at the mechanism)."""
    b = Broker(tmp_path).start()
    try:
        with b.connect() as s:
            assert kafka_call(s, 17, 1, {"mechanism": "PLAIN"})["error_code"] == 34
            assert kafka_call(s, 18, 2, {})["error_code"] == 0  # and the connection carries on
    finally:
        assert b.stop() == 0, b.log()
