import orjson

from logwarden.agents.envelope import EnvelopeTemplate
from logwarden.agents.identity import FINGERPRINT_BYTES, fingerprint_bytes
from logwarden.agents.multiline import Record
from logwarden.events import event_id, raw_event_id


def test_fingerprint_waits_for_the_first_newline():
    assert fingerprint_bytes(b"partial first li") is None
    a = fingerprint_bytes(b"first line\n")
    assert a is not None
    assert fingerprint_bytes(b"first line\nmore lines later\n") == a  # stable as the file grows
    assert fingerprint_bytes(b"other first\n") != a
    long = b"x" * (FINGERPRINT_BYTES + 10)
    assert fingerprint_bytes(long) == fingerprint_bytes(long + b"yy\n")


def template(**kw):
    args = dict(path="/var/log/app.log", device_id="2049", inode="77", fingerprint="fp1", host={"name": "web1"},
                agent={"type": "logwarden", "version": "0.1.0", "id": "aid", "name": "web1"},
                fields={"log_format": "nginx"}, tags=["prod"])
    args.update(kw)
    return EnvelopeTemplate(**args)


def test_envelope_shape_matches_the_contract():
    doc = orjson.loads(template().build(Record(42, 60, 'GET /é "q"\x01'.encode()), b"2026-01-01T00:00:00.000Z"))
    assert doc == {
        "@timestamp": "2026-01-01T00:00:00.000Z",
        "message": 'GET /é "q"\x01',
        "log": {"offset": 42, "file": {"path": "/var/log/app.log", "device_id": "2049", "inode": "77", "fingerprint": "fp1"}},
        "host": {"name": "web1"},
        "agent": {"type": "logwarden", "version": "0.1.0", "id": "aid", "name": "web1"},
        "input": {"type": "filestream"},
        "fields": {"log_format": "nginx"},
        "tags": ["prod"],
        "event": {"id": event_id("web1", "2049:77", "fp1", 42)},
    }
    assert raw_event_id(doc) == doc["event"]["id"]


def test_flags_invalid_utf8_and_optional_parts():
    doc = orjson.loads(template(fields={}, tags=[]).build(Record(0, 5, b"\xff\xfeok", ["truncated"]), b"t"))
    assert doc["log"]["flags"] == ["truncated"]
    assert doc["message"] == "\ufffd\ufffdok"
    assert "fields" not in doc and "tags" not in doc


def test_event_id_depends_on_identity_not_content():
    t = template()
    a = orjson.loads(t.build(Record(10, 20, b"same"), b"t1"))["event"]["id"]
    b = orjson.loads(t.build(Record(10, 20, b"different"), b"t2"))["event"]["id"]
    assert a == b == t.event_id(10)
    assert t.event_id(11) != a
    assert template(fingerprint="fp2").event_id(10) != a  # copytruncate / inode reuse
    assert template(inode="78").event_id(10) != a
    assert template(path="/var/log/app.log.1").event_id(10) == a  # a rename keeps the identity


def test_percent_signs_in_constant_parts_are_literal():
    t = template(path="/var/log/100%/a%d.log", tags=["%s"], fields={"x": "%%"})
    doc = orjson.loads(t.build(Record(7, 9, b"50% done %s"), b"ts"))
    assert doc["log"]["file"]["path"] == "/var/log/100%/a%d.log" and doc["tags"] == ["%s"]
    assert doc["fields"] == {"x": "%%"} and doc["message"] == "50% done %s"
