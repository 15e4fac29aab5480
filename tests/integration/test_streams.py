"""docs/streams.md, held true against the built-in broker:

* what the parsers make of the documents Filebeat's Kafka output and Vector's kafka sink put
  on logs.raw (the shapes docs/streams.md gives), through a real `logwarden worker parsers`;
* docs/examples/failed_logins.py, a stream processor in plain confluent-kafka, reading the
  resulting logs.ecs in its own group and writing the derived logins.failed topic.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from lwtest import Broker
from logwarden.events import raw_event_id
from lwtest import Proc, logwarden_cmd

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "failed_logins.py"
LINE = "Dec  7 10:00:{s:02d} web-1 sshd[4242]: Failed password for invalid user admin from 203.0.113.{ip} port 5{s:04d} ssh2"
ACCEPTED = "Dec  7 10:00:30 web-1 sshd[4300]: Accepted publickey for deploy from 198.51.100.7 port 50022 ssh2: ED25519 SHA256:abc"


def filebeat(line: str, offset: int) -> dict:
    """The JSON document Filebeat 8's filestream input sends through output.kafka (codec json)."""
    return {"@timestamp": "2026-12-07T10:00:31.123Z",
            "@metadata": {"beat": "filebeat", "type": "_doc", "version": "8.15.0"},
            "message": line, "input": {"type": "filestream"}, "ecs": {"version": "8.0.0"},
            "log": {"offset": offset, "file": {"path": "/var/log/auth.log", "inode": "1835014", "device_id": "66306"}},
            "host": {"name": "web-1"},
            "agent": {"type": "filebeat", "version": "8.15.0", "name": "web-1", "id": "b1", "ephemeral_id": "e1"}}


def vector_plain(line: str) -> dict:
    """Vector's file source through its kafka sink with `encoding.codec = "json"` and no remap."""
    return {"file": "/var/log/auth.log", "host": "web-2", "message": line, "source_type": "file",
            "timestamp": "2026-12-07T10:00:31.123456789Z"}


def vector_remapped(line: str, offset: int) -> dict:
    """The same after docs/streams.md's remap transform: an envelope like the agent's."""
    return {"@timestamp": "2026-12-07T10:00:31.123456789Z", "message": line, "host": {"name": "web-3"},
            "log": {"file": {"path": "/var/log/auth.log"}, "offset": offset}, "input": {"type": "vector"},
            "event": {"id": f"v-{offset}"}, "fields": {"log_format": "syslog"}}


def read_all(bootstrap: str, topic: str, n: int, timeout: float = 60) -> list:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{time.monotonic_ns()}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    out: list = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < n and time.monotonic() < deadline:
            out += [m for m in c.consume(500, 0.5) if m.error() is None]
    finally:
        c.close()
    assert len(out) >= n, f"{topic}: {len(out)} of {n} records within {timeout:.0f} s"
    return out


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path, {"default_partitions": 2}).start()
    yield b
    b.stop()


def test_shippers_documents_parse_and_the_example_processor_derives_failed_logins(broker, tmp_path):
    parsers = Proc(logwarden_cmd("worker", "parsers", "-c", str(broker.config_path)), tmp_path / "parsers.log")
    example = None
    try:
        p = Producer({"bootstrap.servers": broker.bootstrap})
        sent = {
            "filebeat": filebeat(LINE.format(s=1, ip=1), 0),
            "filebeat-accepted": filebeat(ACCEPTED, 120),
            "vector": vector_plain(LINE.format(s=2, ip=2)),
            "vector-remapped": vector_remapped(LINE.format(s=3, ip=3), 0),
        }
        for doc in sent.values():
            p.produce("logs.raw", orjson.dumps(doc))
        assert p.flush(30) == 0

        events = {}
        for m in read_all(broker.bootstrap, "logs.ecs", len(sent)):
            d = orjson.loads(m.value())
            events[d["event"]["id"]] = d
        assert len(events) == len(sent), "\n" + parsers.output()

        # Filebeat's document is an envelope as it is: parsed, its id from host+inode+offset.
        fb = events[raw_event_id(sent["filebeat"])]
        assert (fb["process"]["name"], fb["source"]["ip"], fb["user"]["name"], fb["event"]["outcome"]) == \
            ("sshd", "203.0.113.1", "admin", "failure")
        assert fb["host"]["name"] == "web-1" and fb["log"]["file"]["inode"] == "1835014"
        assert fb["@metadata"]["beat"] == "filebeat"  # carried over, as any envelope key

        # Vector's plain document parses too, but loses what identifies it: `host` (a string,
        # not an object) is dropped, `file`/`timestamp`/`source_type` stay as top-level keys, and
        # the id is a hash of the message alone - two identical lines would collapse into one.
        vec = next(d for d in events.values() if d.get("source_type") == "file")
        assert vec["source"]["ip"] == "203.0.113.2" and vec["file"] == "/var/log/auth.log"
        assert "name" not in vec["host"] and vec["host"]["hostname"] == "web-1"  # from the line
        assert vec["event"]["id"] == raw_event_id({"message": sent["vector"]["message"]})

        # After the remap: an envelope like the agent's, with its own id.
        rv = events["v-0"]
        assert rv["host"]["name"] == "web-3" and rv["source"]["ip"] == "203.0.113.3" and rv["log"]["offset"] == 0

        # The stream processor: logs.ecs -> logins.failed, in its own group.
        example_log = tmp_path / "example.log"
        with open(example_log, "wb") as fh:
            example = subprocess.Popen([sys.executable, str(EXAMPLE), "--bootstrap", broker.bootstrap],
                                       stdout=fh, stderr=subprocess.STDOUT, cwd="/")
        derived = read_all(broker.bootstrap, "logins.failed", 3)
        got = {orjson.loads(m.value())["source.ip"]: (m.key(), orjson.loads(m.value())) for m in derived}
        assert sorted(got) == ["203.0.113.1", "203.0.113.2", "203.0.113.3"]
        for ip, (key, rec) in got.items():
            assert key == ip.encode() and rec["user.name"] == "admin" and rec["event.id"] in events
        assert got["203.0.113.1"][1]["host.name"] == "web-1"

        # SIGTERM: it commits what it wrote and exits 0; its group covers every event.
        example.send_signal(signal.SIGTERM)
        assert example.wait(30) == 0, example_log.read_text()
        assert "read 4 events, wrote 3 failed logins" in example_log.read_text()
        c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "failed-logins"})
        try:
            tps = [TopicPartition("logs.ecs", p) for p in c.list_topics("logs.ecs", timeout=10).topics["logs.ecs"].partitions]
            ends = [c.get_watermark_offsets(tp, timeout=10)[1] for tp in tps]
            assert [max(tp.offset, 0) for tp in c.committed(tps, timeout=10)] == ends  # an empty partition: none
        finally:
            c.close()
    finally:
        if example is not None and example.poll() is None:
            example.kill()
            example.wait(10)
        parsers.kill()


def test_failed_login_selection():
    """The example's filter, on its own: only failed authentications; unreadable records skipped."""
    sys.path.insert(0, str(EXAMPLE.parent))
    try:
        import failed_logins
    finally:
        sys.path.pop(0)
    doc = {"@timestamp": "t", "event": {"id": "e1", "category": ["authentication"], "outcome": "failure"},
           "source": {"ip": "192.0.2.1"}, "user": {"name": "root"}, "host": {"name": "h"}}
    key, value = failed_logins.failed_login(orjson.dumps(doc))
    assert key == b"192.0.2.1" and orjson.loads(value) == {"@timestamp": "t", "event.id": "e1", "source.ip": "192.0.2.1",
                                                           "user.name": "root", "host.name": "h"}
    doc["event"]["outcome"] = "success"
    assert failed_logins.failed_login(orjson.dumps(doc)) is None
    assert failed_logins.failed_login(orjson.dumps({"event.category": "authentication", "event.outcome": "failure"}))[0] is None
    for junk in (b"{not json", b"[1]", b"", None):
        assert failed_logins.failed_login(junk) is None
