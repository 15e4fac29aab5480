"""kafka-python, aiokafka, kcat, a two-member confluent-kafka group and every compression
codec against the built-in broker in a real process - and the same scenarios against real
Apache Kafka 4.4 (tests/engines) as the reference: where the two differ, Kafka is right."""
from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import sys
import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from broker_wire import kafka_call
from lwtest import Broker
from logwarden.broker.protocol.batches import iter_batches

# every scenario against the built-in broker and against the real Kafka (the `broker` fixture)
pytestmark = [pytest.mark.integration, pytest.mark.parametrize("broker", ["builtin", "kafka"], indirect=True, scope="module")]


def builtin_only(broker, why: str) -> None:
    """For a scenario that pins a choice of the built-in broker where Kafka does otherwise."""
    if not isinstance(broker, Broker):
        pytest.skip(f"built-in broker only: {why}")


def new_topic(broker, partitions: int = 1) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})  # must outlive the future
    admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])[name].result(10)
    return name


def raw_fetch(broker, topic: str, partition: int = 0, offset: int = 0) -> bytes:
    """The records bytes of one Fetch v11 response, read over a plain socket."""
    req = {"replica_id": -1, "max_wait_ms": 0, "min_bytes": 0, "max_bytes": 1 << 24, "isolation_level": 0,
           "session_id": 0, "session_epoch": -1,
           "topics": [{"topic": topic, "partitions": [{"partition": partition, "fetch_offset": offset,
                                                      "partition_max_bytes": 1 << 24}]}],
           "forgotten_topics_data": [], "rack_id": ""}
    with socket.create_connection(("127.0.0.1", broker.port)) as s:
        body = kafka_call(s, 1, 11, req, corr=42, client_id="raw")
    part = body["responses"][0]["partitions"][0]
    assert part["error_code"] == 0
    return bytes(part["records"])


@pytest.mark.parametrize("codec,attr", [("gzip", 1), ("snappy", 2), ("lz4", 3), ("zstd", 4)])
def test_compressed_batches_are_stored_and_served_as_received(broker, codec, attr):
    topic = new_topic(broker)
    p = Producer({"bootstrap.servers": broker.bootstrap, "compression.type": codec, "linger.ms": 50,
                  "enable.idempotence": True})
    for i in range(2000):
        p.produce(topic, value=(f"line {i} " + "x" * 50).encode())
    assert p.flush(20) == 0
    batches = list(iter_batches(raw_fetch(broker, topic)))
    assert batches and all(b.compression == attr for b in batches)
    assert sum(b.records_count for b in batches) == 2000
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": f"g-{codec}", "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    got = []
    deadline = time.monotonic() + 20
    while len(got) < 2000 and time.monotonic() < deadline:
        got += [m.value() for m in c.consume(1000, 0.5) if not m.error()]
    c.close()
    assert got == [(f"line {i} " + "x" * 50).encode() for i in range(2000)]


def test_kafka_python_idempotent_producer_and_group_consumer(broker):
    from kafka import KafkaConsumer, KafkaProducer

    topic = new_topic(broker, 2)
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", enable_idempotence=True,
                      compression_type="gzip")
    futures = [p.send(topic, key=str(i % 2).encode(), value=f"kp-{i}".encode()) for i in range(1000)]
    p.flush(20)
    assert all(f.get(10).offset >= 0 for f in futures)
    p.close()
    c = KafkaConsumer(topic, bootstrap_servers=broker.bootstrap, group_id="kp-group", auto_offset_reset="earliest",
                      enable_auto_commit=False, consumer_timeout_ms=10000)
    got = []
    for m in c:
        got.append(m.value)
        if len(got) == 1000:
            break
    c.commit()
    c.close()
    assert sorted(got) == sorted(f"kp-{i}".encode() for i in range(1000))
    c2 = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id="kp-group")
    from kafka import TopicPartition
    assert sum(c2.committed(TopicPartition(topic, p)) or 0 for p in range(2)) == 1000
    c2.close()


def test_aiokafka_producer_and_group_consumer(broker):
    import aiokafka

    topic = new_topic(broker, 2)

    async def main() -> list[bytes]:
        prod = aiokafka.AIOKafkaProducer(bootstrap_servers=broker.bootstrap, enable_idempotence=True,
                                         compression_type="zstd")
        await prod.start()
        try:
            for i in range(500):
                await prod.send(topic, f"ak-{i}".encode())
            await prod.flush()
        finally:
            await prod.stop()
        cons = aiokafka.AIOKafkaConsumer(topic, bootstrap_servers=broker.bootstrap, group_id="ak-group",
                                         auto_offset_reset="earliest", enable_auto_commit=False)
        await cons.start()
        got: list[bytes] = []
        try:
            while len(got) < 500:
                batch = await asyncio.wait_for(cons.getmany(timeout_ms=500), 20)
                for msgs in batch.values():
                    got += [m.value for m in msgs]
            await cons.commit()
        finally:
            await cons.stop()
        return got

    got = asyncio.run(main())
    assert sorted(got) == sorted(f"ak-{i}".encode() for i in range(500))


@pytest.mark.skipif(shutil.which("kcat") is None, reason="Debian package kcat is not installed")
def test_kcat_produce_consume_and_metadata(broker):
    topic = new_topic(broker, 1)
    lines = "".join(f"kcat line {i}\n" for i in range(100))
    subprocess.run(["kcat", "-b", broker.bootstrap, "-t", topic, "-P", "-z", "snappy"], input=lines.encode(),
                   check=True, timeout=30)
    out = subprocess.run(["kcat", "-b", broker.bootstrap, "-t", topic, "-C", "-o", "beginning", "-e", "-q"],
                         capture_output=True, check=True, timeout=30).stdout.decode()
    assert out == lines
    meta = json.loads(subprocess.run(["kcat", "-b", broker.bootstrap, "-L", "-J"], capture_output=True, check=True,
                                     timeout=30).stdout)
    assert meta["brokers"][0]["id"] == 0
    assert any(t["topic"] == topic and len(t["partitions"]) == 1 for t in meta["topics"])
    # kcat's balanced consumer group (-G) reads the same lines
    out = subprocess.run(["kcat", "-b", broker.bootstrap, "-G", "kcat-group", "-o", "beginning", "-e", "-q", topic],
                         capture_output=True, timeout=60).stdout.decode()
    assert out == lines


MEMBER = r"""
import json, os, sys, time
from confluent_kafka import Consumer
bootstrap, topic, stop_file = sys.argv[1], sys.argv[2], sys.argv[3]
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "pair", "auto.offset.reset": "earliest",
              "enable.auto.commit": False, "session.timeout.ms": 6000, "heartbeat.interval.ms": 500})
assigned = set()
c.subscribe([topic], on_assign=lambda c_, ps: assigned.update(p.partition for p in ps))
print("ready", flush=True)
got = []
deadline = time.monotonic() + 90
while time.monotonic() < deadline and not os.path.exists(stop_file):
    msgs = [m for m in c.consume(500, 0.2) if not m.error()]
    got += [(m.partition(), m.offset()) for m in msgs]
    if msgs:
        c.commit(asynchronous=False)
final = sorted(p.partition for p in c.assignment())
c.close()
print(json.dumps({"got": got, "final": final}), flush=True)
"""


def test_two_confluent_members_share_the_partitions(broker, tmp_path):
    # The members leave only once every record is committed: the first to close hands its
    # partitions to the other, so "final" is only meaningful while both are still members.
    topic, stop = new_topic(broker, 4), tmp_path / "stop"
    procs = []
    for _ in range(2):
        procs.append(subprocess.Popen([sys.executable, "-c", MEMBER, broker.bootstrap, topic, str(stop)],
                                      stdout=subprocess.PIPE, text=True))
    try:
        for pr in procs:
            assert pr.stdout.readline().strip() == "ready"
        time.sleep(3)  # both members joined: the group rebalanced to two
        p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
        for i in range(4000):
            p.produce(topic, key=str(i).encode(), value=str(i).encode(), partition=i % 4)
        assert p.flush(20) == 0
        probe = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "pair"})  # OffsetFetch only, never joins
        deadline, done = time.monotonic() + 60, 0
        while time.monotonic() < deadline and done < 4000:
            done = sum(max(tp.offset, 0) for tp in probe.committed([TopicPartition(topic, q) for q in range(4)], 10))
            time.sleep(0.2)
        probe.close()
        stop.touch()
        results = [json.loads(pr.communicate(timeout=60)[0].strip().splitlines()[-1]) for pr in procs]
    finally:
        for pr in procs:
            if pr.poll() is None:
                pr.kill()
                pr.wait()
    assert done == 4000
    finals = [set(r["final"]) for r in results]
    assert all(finals) and finals[0].isdisjoint(finals[1]) and finals[0] | finals[1] == {0, 1, 2, 3}
    records = [tuple(x) for r in results for x in r["got"]]
    assert len(records) == len(set(records)) == 4000


RSYSLOG_CONF = """
global(workDirectory="{work}")
module(load="imtcp")
module(load="omkafka")
template(name="msgonly" type="string" string="%msg%")
input(type="imtcp" port="{tcp_port}" address="127.0.0.1" ruleset="tokafka")
ruleset(name="tokafka") {{
  action(type="omkafka" broker=["{bootstrap}"] topic="{topic}" template="msgonly"
         confParam=["compression.codec=snappy", "socket.timeout.ms=10000"]
         partitions.auto="on")
}}
"""


@pytest.mark.skipif(shutil.which("rsyslogd") is None or not __import__("os").path.exists(
    "/usr/lib/x86_64-linux-gnu/rsyslog/omkafka.so"), reason="Debian packages rsyslog and rsyslog-kafka are not installed")
def test_rsyslog_omkafka_ships_into_a_topic(broker, tmp_path):
    from lwtest import free_port

    topic = new_topic(broker, 2)
    tcp_port = free_port()
    work = tmp_path / "rsyslog"
    work.mkdir()
    conf = tmp_path / "rsyslog.conf"
    conf.write_text(RSYSLOG_CONF.format(work=work, tcp_port=tcp_port, bootstrap=broker.bootstrap, topic=topic))
    proc = subprocess.Popen(["rsyslogd", "-n", "-f", str(conf), "-i", str(tmp_path / "rsyslog.pid")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", tcp_port), timeout=1)
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read().decode()
                time.sleep(0.1)
        # Today's time in the header: omkafka stamps the record with the message's time, and a
        # fixed old date fell behind the topic's 7-day retention once the calendar moved on, so
        # the broker's housekeeping could delete the records before they were read.
        stamp = time.strftime("%b %e %H:%M:%S", time.localtime())
        with sock:
            for i in range(200):
                sock.sendall(f"<13>{stamp} web1 app[42]: rsyslog line {i}\n".encode())
        c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "rsyslog-check", "auto.offset.reset": "earliest"})
        c.subscribe([topic])
        got = []
        deadline = time.monotonic() + 30
        while len(got) < 200 and time.monotonic() < deadline:
            got += [m.value().decode().strip() for m in c.consume(200, 0.5) if not m.error()]
        c.close()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert sorted(got) == sorted(f"rsyslog line {i}" for i in range(200))


WATCHER = r"""
import sys
from confluent_kafka import Consumer
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": sys.argv[3], "session.timeout.ms": 2000,
              "heartbeat.interval.ms": 200, "auto.offset.reset": "earliest"})
c.subscribe([sys.argv[2]], on_assign=lambda c_, ps: print("assigned", sorted(p.partition for p in ps), flush=True))
while True:
    c.poll(0.2)
"""


def test_session_timeout_of_a_killed_member_hands_its_partitions_over(broker):
    topic = new_topic(broker, 4)
    a = subprocess.Popen([sys.executable, "-c", WATCHER, broker.bootstrap, topic, "watchers"], stdout=subprocess.PIPE, text=True)
    b = None
    try:
        assert a.stdout.readline().split(" ", 1)[1].strip() == "[0, 1, 2, 3]"
        b = subprocess.Popen([sys.executable, "-c", WATCHER, broker.bootstrap, topic, "watchers"], stdout=subprocess.PIPE, text=True)
        # eager rebalance: A gives everything up and gets its half back
        lines = []
        while True:
            lines.append(a.stdout.readline().strip())
            if lines[-1] != "assigned []":
                break
        assert len(json.loads(lines[-1].split(" ", 1)[1])) == 2
        b.kill()  # SIGKILL: no LeaveGroup, only the session timeout can notice
        b.wait()
        while True:
            line = a.stdout.readline().strip()
            if line != "assigned []":
                break
        assert line == "assigned [0, 1, 2, 3]"
    finally:
        for pr in (a, b):
            if pr is not None and pr.poll() is None:
                pr.kill()
                pr.wait()


def test_create_topics_validate_only_checks_everything_and_creates_nothing(broker):
    """CreateTopics with validate_only runs the checks a creation would (name, partitions,
    configs, existence) and answers as Kafka does, without creating the topic."""
    from confluent_kafka import KafkaError

    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    existing = new_topic(broker)
    fresh = f"v-{uuid.uuid4().hex[:8]}"

    def outcome(topic: NewTopic) -> int:
        try:
            admin.create_topics([topic], validate_only=True)[topic.topic].result(10)
            return KafkaError.NO_ERROR
        except Exception as exc:  # KafkaException carrying the broker's error code
            return exc.args[0].code()

    assert outcome(NewTopic(fresh, num_partitions=3, replication_factor=1)) == KafkaError.NO_ERROR
    assert outcome(NewTopic("bad name!", num_partitions=1, replication_factor=1)) == KafkaError.TOPIC_EXCEPTION
    assert outcome(NewTopic(fresh, num_partitions=1, replication_factor=1,
                            config={"cleanup.policy": "sometimes"})) == KafkaError.INVALID_CONFIG
    assert outcome(NewTopic(existing, num_partitions=1, replication_factor=1)) == KafkaError.TOPIC_ALREADY_EXISTS
    assert fresh not in admin.list_topics(timeout=10).topics


def test_producing_to_an_impossible_topic_name_fails_at_once(broker):
    """Metadata answers a name that can never be a topic with INVALID_TOPIC_EXCEPTION, as
    Kafka does, so librdkafka fails the records at once; with UNKNOWN_TOPIC_OR_PARTITION it
    kept them queued until message.timeout.ms, waiting for a topic that cannot appear."""
    from confluent_kafka import KafkaError

    errors: list[int] = []
    p = Producer({"bootstrap.servers": broker.bootstrap, "message.timeout.ms": 120_000})
    p.produce("bad name!", b"x", on_delivery=lambda err, msg: errors.append(err.code() if err else 0))
    assert p.flush(20) == 0, "the record is still queued: the broker did not say the name is invalid"
    assert errors == [KafkaError.TOPIC_EXCEPTION]


def test_a_transactional_producer_fails_at_once_instead_of_hanging(broker):
    """Transactions are not supported. librdkafka asks for a transaction coordinator anyway;
    told "here", its init_transactions succeeded, the records were never sent and
    commit_transaction timed out 15 s later with a retriable error. Now init_transactions
    fails at once with a fatal error that says why."""
    from confluent_kafka import KafkaException

    builtin_only(broker, "Kafka has transactions")
    p = Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": f"tx-{uuid.uuid4().hex[:6]}"})
    t0 = time.monotonic()
    with pytest.raises(KafkaException) as info:
        p.init_transactions(30)
    assert time.monotonic() - t0 < 20  # not the API timeout: refused, not waited for
    err = info.value.args[0]
    assert err.fatal() or err.name() == "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", err
    with socket.create_connection(("127.0.0.1", broker.port), timeout=10) as s:
        r = kafka_call(s, 10, 2, {"key": "tx-1", "key_type": 1})
        assert r["error_code"] == 53 and "not supported" in r["error_message"]
        assert kafka_call(s, 22, 1, {"transactional_id": "tx-1", "transaction_timeout_ms": 60_000})["error_code"] == 53
        assert kafka_call(s, 22, 1, {"transactional_id": None, "transaction_timeout_ms": 60_000})["producer_id"] >= 0


def test_metadata_answers_each_topic_once(broker):
    topic = new_topic(broker, 2)
    with socket.create_connection(("127.0.0.1", broker.port), timeout=10) as s:
        r = kafka_call(s, 3, 8, {"topics": [{"name": topic}, {"name": topic}], "allow_auto_topic_creation": False,
                                 "include_cluster_authorized_operations": False,
                                 "include_topic_authorized_operations": False})
    assert [t["name"] for t in r["topics"]] == [topic]  # Kafka collects the names into a set
