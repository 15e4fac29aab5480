"""Syslog and HTTP senders -> ingest -> broker -> confluent-kafka consumer."""
import logging
import logging.handlers
import shutil
import socket
import ssl
import subprocess

import httpx
import pytest
import trustme
from elasticsearch import Elasticsearch, helpers

from logwarden.config import Config
from logwarden.events import raw_event_id
from agent_testlib import consume

pytestmark = pytest.mark.integration
TOKEN = "tok-for-tests-123"


def base_cfg(broker, tmp_path, **ingest):
    ing = {"syslog_udp": "127.0.0.1:0", "syslog_tcp": "127.0.0.1:0", "http": "127.0.0.1:0",
           "tokens": [{"name": "web", "token": TOKEN, "format": "nginx", "tags": ["edge"]}]}
    ing.update(ingest)
    return Config(data_dir=str(tmp_path / "data"), kafka={"bootstrap_servers": broker.bootstrap}, ingest=ing)


def send_with_handler(address, socktype, messages):
    logger = logging.getLogger(f"test-syslog-{socktype}")
    logger.propagate = False
    handler = logging.handlers.SysLogHandler(address=address, socktype=socktype, facility=logging.handlers.SysLogHandler.LOG_AUTH)
    handler.setFormatter(logging.Formatter("sshd[42]: %(message)s"))
    logger.addHandler(handler)
    try:
        for m in messages:
            logger.warning(m)
    finally:
        logger.removeHandler(handler)
        handler.close()


def test_syslog_udp_tcp_raw_and_logger(tmp_path, broker, run_ingest):
    r = run_ingest(base_cfg(broker, tmp_path))
    udp, tcp = r.addr("syslog_udp"), r.addr("syslog_tcp")
    send_with_handler(udp, socket.SOCK_DGRAM, [f"udp message {i}" for i in range(20)])
    send_with_handler(tcp, socket.SOCK_STREAM, [f"tcp message {i}" for i in range(20)])
    octet = [b"<38>1 2026-11-26T10:00:00Z host app 1 - - octet one", b"<38>1 2026-11-26T10:00:01Z host app 1 - - two\nlines"]
    with socket.create_connection(tcp) as s:  # RFC 6587 octet counting, then newline framing on the same stream
        s.sendall(b"".join(b"%d %s" % (len(m), m) for m in octet) + b"<13>newline framed\n")
    expected = 20 + 20 + 3
    if shutil.which("logger"):
        subprocess.run(["logger", "--server", tcp[0], "--port", str(tcp[1]), "--tcp", "--octet-count", "--rfc5424", "-t", "utiltest", "from util-linux tcp"], check=True)
        subprocess.run(["logger", "--server", udp[0], "--port", str(udp[1]), "--udp", "--rfc3164", "-t", "utiltest", "from util-linux udp"], check=True)
        expected += 2
    docs = consume(broker.bootstrap, "logs.raw", expected)
    msgs = [d["message"] for d in docs]
    assert len(docs) == expected
    for i in range(20):
        # facility auth (4) * 8 + warning (4) = 36
        assert f"<36>sshd[42]: udp message {i}" in msgs and f"<36>sshd[42]: tcp message {i}" in msgs
    assert octet[0].decode() in msgs and octet[1].decode() in msgs and "<13>newline framed" in msgs
    if shutil.which("logger"):
        assert any(m.endswith("from util-linux tcp") and "utiltest" in m for m in msgs)
        assert any(m.endswith("from util-linux udp") for m in msgs)
    d = next(d for d in docs if d["message"].endswith("tcp message 0"))
    assert d["input"] == {"type": "syslog"} and d["fields"] == {"log_format": "syslog"}
    assert d["log"]["syslog"] == {"transport": "tcp"} and d["log"]["source"]["address"].startswith("127.0.0.1:")
    assert len({raw_event_id(x) for x in docs}) == expected


def test_syslog_over_tls(tmp_path, broker, run_ingest):
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    r = run_ingest(base_cfg(broker, tmp_path, syslog_udp=None, syslog_tcp=None, http=None, syslog_tls="127.0.0.1:0",
                            tls_cert_file=str(tmp_path / "server.pem"), tls_key_file=str(tmp_path / "server.pem")))
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    host, port = r.addr("syslog_tls")
    msgs = [b"<86>1 2026-11-26T10:00:00Z h sudo 7 - - tls %d" % i for i in range(10)]
    with socket.create_connection((host, port)) as raw, ctx.wrap_socket(raw, server_hostname="localhost") as s:
        s.sendall(b"".join(b"%d %s" % (len(m), m) for m in msgs))
    docs = consume(broker.bootstrap, "logs.raw", 10)
    assert sorted(d["message"] for d in docs) == sorted(m.decode() for m in msgs)
    assert all(d["log"]["syslog"]["transport"] == "tls" for d in docs)
    with socket.create_connection((host, port)) as raw:  # plain TCP to a TLS port: refused, no event
        raw.sendall(b"<13>not tls\n")
        raw.recv(100)


def test_http_ingest_and_retry_dedupe(tmp_path, broker, run_ingest):
    r = run_ingest(base_cfg(broker, tmp_path))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    body = b'plain line one\n{"message": "json line", "service": {"name": "api"}}\n\n{"level": "warn"}\n'
    first = httpx.post(r.url() + "/ingest", content=body, headers=auth, timeout=30)
    assert first.status_code == 200 and first.json() == {"accepted": 3, "errors": False}
    again = httpx.post(r.url() + "/ingest", content=body, headers=auth, timeout=30)  # a retry of the same request
    assert again.status_code == 200
    keyed = httpx.post(r.url() + "/ingest?format=json", content=b"plain line one\n", headers={**auth, "Idempotency-Key": "req-7"}, timeout=30)
    assert keyed.status_code == 200
    docs = consume(broker.bootstrap, "logs.raw", 7)
    assert len(docs) == 7
    ids = {}
    for d in docs:
        ids.setdefault((d["message"], d["fields"]["log_format"]), set()).add(raw_event_id(d))
    assert ids[("plain line one", "nginx")] and len(ids[("plain line one", "nginx")]) == 1  # the retry dedupes
    assert len(ids[("json line", "nginx")]) == 1
    assert ids[("plain line one", "json")] != ids[("plain line one", "nginx")]  # a different request
    j = next(d for d in docs if d["message"] == "json line")
    assert j["service"] == {"name": "api"} and j["input"] == {"type": "http"}
    assert j["fields"]["ingest_source"] == "web" and j["tags"] == ["edge"]
    assert any(d.get("level") == "warn" and d["message"] == '{"level": "warn"}' for d in docs)


def test_elasticsearch_helpers_bulk(tmp_path, broker, run_ingest):
    r = run_ingest(base_cfg(broker, tmp_path))
    es = Elasticsearch(r.url(), api_key=TOKEN, request_timeout=30)
    actions = [{"_index": "filebeat-8", "_source": {"message": f"bulk {i}", "log": {"file": {"path": "/var/log/x.log"}, "offset": i * 10},
                                                     "event": {"dataset": "nginx.access", "module": "nginx"}}} for i in range(300)]
    actions.append({"_index": "filebeat-8", "_id": "fixed-1", "_source": {"message": "with id"}})
    ok, errors = helpers.bulk(es, actions, chunk_size=100)
    assert ok == 301 and errors == []
    ok2, _ = helpers.bulk(es, [{"_index": "filebeat-8", "_id": "fixed-1", "_source": {"message": "with id"}}])
    assert ok2 == 1
    resp = httpx.post(r.url() + "/logs/_bulk", headers={"Authorization": f"ApiKey {TOKEN}"}, timeout=30,
                      content=b'{"create":{}}\n{"message":"m"}\n{"index":{}}\n{broken\n')
    item_ok, item_bad = resp.json()["items"]
    assert item_ok["create"]["status"] == 201 and item_ok["create"]["_index"] == "logs"
    assert item_bad["index"]["status"] == 400
    docs = consume(broker.bootstrap, "logs.raw", 303)
    assert len(docs) == 303
    d = next(x for x in docs if x["message"] == "bulk 5")
    assert d["event"]["dataset"] == "nginx.access" and d["log"]["offset"] == 50 and d["fields"]["log_format"] == "nginx"
    same = [x for x in docs if x["message"] == "with id"]
    assert len(same) == 2 and raw_event_id(same[0]) == raw_event_id(same[1])  # same _id, same event
    assert len({raw_event_id(x) for x in docs}) == 302
