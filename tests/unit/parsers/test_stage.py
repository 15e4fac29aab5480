"""ParserStage.process on real confluent_kafka.Message objects: outputs per event, DLQ,
routes, drops, auditd joining within a batch, and unserialisable output."""
import orjson
from confluent_kafka import Message

from logwarden.config import Config
from logwarden.events import raw_event_id
from logwarden.parsers.service import ParserStage

from parsers_testlib import envelope

SSHD = "Nov 26 10:01:02 web-1 sshd[4242]: Failed password for invalid user admin from 203.0.113.5 port 52311 ssh2"
NGINX = '198.51.100.23 - - [26/Nov/2026:10:00:00 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "probe"'


def msgs(*values: bytes) -> list[Message]:
    return [Message(topic="logs.raw", partition=0, offset=i, key=f"k{i}".encode(), value=v) for i, v in enumerate(values)]


def stage(**parsers) -> ParserStage:
    return ParserStage(Config.model_validate({"parsers": {"timezone": "UTC", **parsers}}))


def test_outputs_dlq_and_keys():
    s = stage()
    good = envelope(SSHD)
    out = list(s.process(msgs(orjson.dumps(good), b"{broken", orjson.dumps(envelope("zzz", fields={"log_format": "nginx"})))))
    assert [o.topic for o in out] == ["logs.ecs", "logs.dlq", "logs.dlq"]
    assert [o.key for o in out] == [b"k0", b"k1", b"k2"]
    doc = orjson.loads(out[0].value)
    assert doc["event"]["id"] == raw_event_id(good) and doc["event"]["outcome"] == "failure"
    broken = orjson.loads(out[1].value)
    assert broken["raw"] == "{broken" and broken["error"]["type"] == "envelope" and broken["event"]["kind"] == "pipeline_error"
    bad = orjson.loads(out[2].value)
    assert bad["error"]["type"] == "nginx" and bad["raw"]["message"] == "zzz"


def test_routes_and_drops():
    s = stage(routes=[{"name": "auth", "when": {"equals": {"event.category": "authentication"}}, "topic": "logs.auth"}],
              pipelines=[{"name": "hc", "match": {"fields": {"log_format": "nginx"}},
                          "processors": [{"type": "drop", "when": {"equals": {"url.path": "/healthz"}}}]}])
    out = list(s.process(msgs(orjson.dumps(envelope(SSHD)), orjson.dumps(envelope(NGINX, fields={"log_format": "nginx"})))))
    assert [o.topic for o in out] == ["logs.ecs", "logs.auth"] and out[0].value == out[1].value


def test_auditd_records_joined_within_a_batch_and_flushed_at_its_end():
    lines = ['type=SYSCALL msg=audit(1700000000.123:900): pid=11 auid=1000 uid=0 comm="cat" exe="/usr/bin/cat" success=yes',
             'type=EXECVE msg=audit(1700000000.123:900): argc=2 a0="cat" a1="/etc/shadow"',
             'type=CWD msg=audit(1700000000.123:900): cwd="/root"']
    envs = [envelope(line, fields={"log_format": "auditd"}, log={"file": {"path": "/var/log/audit/audit.log"}, "offset": i * 100})
            for i, line in enumerate(lines)]
    s = stage()
    out = list(s.process(msgs(*(orjson.dumps(e) for e in envs))))
    assert len(out) == 1 and out[0].key == b"k0"
    doc = orjson.loads(out[0].value)
    assert doc["process"]["args"] == ["cat", "/etc/shadow"] and doc["event"]["id"] == raw_event_id(envs[0])
    assert s.joiner.pending == {}  # nothing waits past the batch (its offsets are committed after it)
    out = list(stage(auditd_join=False).process(msgs(*(orjson.dumps(e) for e in envs))))
    assert len(out) == 3


def test_unserialisable_event_goes_to_dlq_not_an_exception():
    s = stage(pipelines=[{"name": "big", "processors": [{"type": "set", "field": "labels.n", "value": 2**70}]}])
    out = list(s.process(msgs(orjson.dumps(envelope(SSHD)))))
    assert [o.topic for o in out] == ["logs.dlq"]
    d = orjson.loads(out[0].value)
    assert "cannot be serialised" in d["error"]["message"] and d["raw"]["message"] == SSHD
