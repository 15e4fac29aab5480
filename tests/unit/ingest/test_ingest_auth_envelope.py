import base64

import orjson
import pytest

from logwarden.events import event_id, raw_event_id
from logwarden.ingest.auth import AuthError, Authenticator
from logwarden.ingest.config import IngestConfig, IngestToken
from logwarden.ingest.envelope import Envelopes, bulk_id, http_id, syslog_id

T1 = IngestToken(name="web", token="s3cret-web-token", format="nginx", fields={"dc": "eu"}, tags=["edge"])
T2 = IngestToken(name="fw", token="s3cret-fw-token")


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


@pytest.mark.parametrize("header,name", [
    ("Bearer s3cret-web-token", "web"),
    ("ApiKey s3cret-fw-token", "fw"),
    (f"ApiKey {b64('id123:s3cret-web-token')}", "web"),
    (f"Basic {b64('filebeat:s3cret-fw-token')}", "fw"),
])
def test_accepted_schemes(header, name):
    assert Authenticator([T1, T2]).check(header).name == name


@pytest.mark.parametrize("header,msg", [
    (None, "missing authentication credentials"),
    ("Bearer nope", "invalid token"),
    (f"Basic {b64('u:nope')}", "invalid token"),
    ("Digest abc", "unsupported authorization scheme"),
])
def test_refused(header, msg):
    with pytest.raises(AuthError, match=msg):
        Authenticator([T1]).check(header)


def test_no_tokens_means_open():
    assert Authenticator([]).check(None) is None


def test_config_checks():
    with pytest.raises(ValueError, match="tls_cert_file"):
        IngestConfig(syslog_tls="127.0.0.1:6514")
    with pytest.raises(ValueError, match="unique"):
        IngestConfig(tokens=[T1, T1])
    with pytest.raises(ValueError):
        IngestConfig(http="localhost:notaport")


ENV = Envelopes("ingest1", {"type": "logwarden-ingest", "version": "0.1.0", "id": "boot", "name": "ingest1"}, "syslog")


def test_syslog_envelope():
    eid = syslog_id("tcp", "127.0.0.1:514", "boot", 3, 7)
    doc = orjson.loads(ENV.syslog(b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed", peer="10.1.2.3:5000", transport="tcp", eid=eid))
    assert doc["message"] == "<34>Oct 11 22:14:15 mymachine su: 'su root' failed"
    assert doc["input"] == {"type": "syslog"} and doc["fields"] == {"log_format": "syslog"}
    assert doc["log"] == {"source": {"address": "10.1.2.3:5000"}, "syslog": {"transport": "tcp"}}
    assert raw_event_id(doc) == eid == event_id("syslog", "tcp", "127.0.0.1:514", "boot", 3, 7)
    assert syslog_id("tcp", "127.0.0.1:514", "boot", 3, 8) != eid


def test_http_envelope_keeps_a_shippers_document():
    sent = {"@timestamp": "2026-01-01T00:00:00Z", "message": "GET /", "log": {"file": {"path": "/var/log/nginx/access.log"}, "offset": 5},
            "agent": {"type": "filebeat"}, "event": {"dataset": "nginx.access", "module": "nginx"}, "tags": ["a"]}
    doc = orjson.loads(ENV.http(dict(sent), b"", peer="10.0.0.1:4000", source=T1, log_format=None, eid="E", timestamp="T"))
    assert doc["@timestamp"] == "2026-01-01T00:00:00Z" and doc["agent"] == {"type": "filebeat"}
    assert doc["log"]["file"]["path"] == "/var/log/nginx/access.log" and doc["log"]["source"]["address"] == "10.0.0.1:4000"
    assert doc["event"] == {"dataset": "nginx.access", "module": "nginx", "id": "E"}
    assert doc["input"] == {"type": "http"}
    assert doc["fields"] == {"log_format": "nginx", "ingest_source": "web", "dc": "eu"}
    assert doc["tags"] == ["a", "edge"]


def test_http_envelope_from_plain_and_odd_lines():
    plain = orjson.loads(ENV.http(None, b"just text", peer="p", source=None, log_format="logfmt", eid="E1", timestamp="T"))
    assert plain["message"] == "just text" and plain["fields"] == {"log_format": "logfmt"} and plain["@timestamp"] == "T"
    nomsg = orjson.loads(ENV.http(None, b'{"level":"info","msg":"x"}', peer="p", source=None, log_format=None, eid="E2", timestamp="T"))
    assert nomsg["message"] == '{"level":"info","msg":"x"}' and nomsg["level"] == "info"
    string = orjson.loads(ENV.http(None, b'"a json string"', peer="p", source=None, log_format=None, eid="E3", timestamp="T"))
    assert string["message"] == "a json string"
    own = orjson.loads(ENV.http(None, b'{"message":"m","event":{"id":"mine"}}', peer="p", source=None, log_format=None, eid="E4", timestamp="T"))
    assert own["event"]["id"] == "mine"


def test_ids_for_retries():
    assert http_id("web", "body:abc", 0) == http_id("web", "body:abc", 0) != http_id("web", "body:abc", 1)
    assert bulk_id("web", "logs", "1") != bulk_id("fw", "logs", "1")


def test_syslog_template_matches_the_dict_envelope():
    from logwarden.ingest.envelope import SyslogTemplate

    tpl = SyslogTemplate(ENV, peer="10.1.2.3:5000", transport="tcp", listen="127.0.0.1:514", boot="boot", conn=3)
    for truncated in (False, True):
        fast = orjson.loads(tpl.build(b"<34>100% \xff", 7, b"2026-01-01T00:00:00.000Z", truncated))
        slow = orjson.loads(ENV.syslog(b"<34>100% \xff", peer="10.1.2.3:5000", transport="tcp",
                                       eid=syslog_id("tcp", "127.0.0.1:514", "boot", 3, 7), truncated=truncated))
        slow["@timestamp"] = "2026-01-01T00:00:00.000Z"
        assert fast == slow
