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
from lwtest import consume

pytestmark = pytest.mark.integration
TOKEN = "tok-for-tests-123"


def base_cfg(fresh_broker, tmp_path, **ingest):
    ing = {"syslog_udp": "127.0.0.1:0", "syslog_tcp": "127.0.0.1:0", "http": "127.0.0.1:0",
           "tokens": [{"name": "web", "token": TOKEN, "format": "nginx", "tags": ["edge"]}]}
    ing.update(ingest)
    return Config(data_dir=str(tmp_path / "data"), kafka={"bootstrap_servers": fresh_broker.bootstrap}, ingest=ing)


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


def test_syslog_udp_tcp_raw_and_logger(tmp_path, fresh_broker, run_ingest):
    r = run_ingest(base_cfg(fresh_broker, tmp_path))
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
    docs = consume(fresh_broker.bootstrap, "logs.raw", expected)
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


def test_syslog_over_tls(tmp_path, fresh_broker, run_ingest):
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    r = run_ingest(base_cfg(fresh_broker, tmp_path, syslog_udp=None, syslog_tcp=None, http=None, syslog_tls="127.0.0.1:0",
                            tls_cert_file=str(tmp_path / "server.pem"), tls_key_file=str(tmp_path / "server.pem")))
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    host, port = r.addr("syslog_tls")
    msgs = [b"<86>1 2026-11-26T10:00:00Z h sudo 7 - - tls %d" % i for i in range(10)]
    with socket.create_connection((host, port)) as raw, ctx.wrap_socket(raw, server_hostname="localhost") as s:
        s.sendall(b"".join(b"%d %s" % (len(m), m) for m in msgs))
    docs = consume(fresh_broker.bootstrap, "logs.raw", 10)
    assert sorted(d["message"] for d in docs) == sorted(m.decode() for m in msgs)
    assert all(d["log"]["syslog"]["transport"] == "tls" for d in docs)
    with socket.create_connection((host, port)) as raw:  # plain TCP to a TLS port: refused, no event
        raw.sendall(b"<13>not tls\n")
        raw.recv(100)


def test_http_ingest_and_retry_dedupe(tmp_path, fresh_broker, run_ingest):
    r = run_ingest(base_cfg(fresh_broker, tmp_path))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    body = b'plain line one\n{"message": "json line", "service": {"name": "api"}}\n\n{"level": "warn"}\n'
    first = httpx.post(r.url() + "/ingest", content=body, headers=auth, timeout=30)
    assert first.status_code == 200 and first.json() == {"accepted": 3, "errors": False}
    again = httpx.post(r.url() + "/ingest", content=body, headers=auth, timeout=30)  # a retry of the same request
    assert again.status_code == 200
    keyed = httpx.post(r.url() + "/ingest?format=json", content=b"plain line one\n", headers={**auth, "Idempotency-Key": "req-7"}, timeout=30)
    assert keyed.status_code == 200
    docs = consume(fresh_broker.bootstrap, "logs.raw", 7)
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


def test_elasticsearch_helpers_bulk(tmp_path, fresh_broker, run_ingest):
    r = run_ingest(base_cfg(fresh_broker, tmp_path))
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
    import gzip

    gz = httpx.post(r.url() + "/_bulk", headers={"Authorization": f"ApiKey {TOKEN}", "Content-Encoding": "gzip",
                                                 "Content-Type": "application/x-ndjson"}, timeout=30,
                    content=gzip.compress(b'{"index":{"_index":"fb"}}\n{"message":"gzipped like Filebeat sends"}\n'))
    assert gz.status_code == 200 and gz.json()["errors"] is False
    docs = consume(fresh_broker.bootstrap, "logs.raw", 304)
    assert len(docs) == 304
    assert any(x["message"] == "gzipped like Filebeat sends" for x in docs)
    d = next(x for x in docs if x["message"] == "bulk 5")
    assert d["event"]["dataset"] == "nginx.access" and d["log"]["offset"] == 50 and d["fields"]["log_format"] == "nginx"
    same = [x for x in docs if x["message"] == "with id"]
    assert len(same) == 2 and raw_event_id(same[0]) == raw_event_id(same[1])  # same _id, same event
    assert len({raw_event_id(x) for x in docs}) == 303


def test_syslog_tls_requires_client_certificates_when_configured(tmp_path, fresh_broker, run_ingest):
    ca = trustme.CA()
    ca.issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    r = run_ingest(base_cfg(fresh_broker, tmp_path, syslog_udp=None, syslog_tcp=None, http=None, syslog_tls="127.0.0.1:0",
                            tls_cert_file=str(tmp_path / "server.pem"), tls_key_file=str(tmp_path / "server.pem"),
                            tls_client_ca_file=str(tmp_path / "ca.pem")))
    host, port = r.addr("syslog_tls")
    anonymous = ssl.create_default_context()
    ca.configure_trust(anonymous)
    try:
        with socket.create_connection((host, port)) as raw, anonymous.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(b"<13>no client cert\n")
            assert s.recv(1) == b""  # TLS 1.3 learns of the refusal on the first read: closed
    except (ssl.SSLError, ConnectionError):
        pass  # or the handshake itself fails
    client = ssl.create_default_context()
    ca.configure_trust(client)
    ca.issue_cert("client.example").configure_cert(client)
    with socket.create_connection((host, port)) as raw, client.wrap_socket(raw, server_hostname="localhost") as s:
        s.sendall(b"<13>with a client cert\n")
    docs = consume(fresh_broker.bootstrap, "logs.raw", 1)
    assert [d["message"] for d in docs] == ["<13>with a client cert"]



@pytest.mark.parametrize("client_certs", [False, True])
def test_http_ingest_over_tls(tmp_path, fresh_broker, run_ingest, client_certs):
    # HTTP ingest (NDJSON and _bulk) had no TLS: tokens and events crossed the network in clear.
    ca = trustme.CA()
    ca.issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    r = run_ingest(base_cfg(fresh_broker, tmp_path, syslog_udp=None, syslog_tcp=None, http_tls=True,
                            tls_cert_file=str(tmp_path / "server.pem"), tls_key_file=str(tmp_path / "server.pem"),
                            tls_client_ca_file=str(tmp_path / "ca.pem") if client_certs else None))
    host, port = r.addr("http")
    url, auth = f"https://localhost:{port}/ingest", {"Authorization": f"Bearer {TOKEN}"}
    trusted = ssl.create_default_context()
    ca.configure_trust(trusted)
    if client_certs:
        with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):  # no client certificate
            httpx.post(url, content=b"refused\n", headers=auth, verify=trusted, timeout=10)
        ca.issue_cert("client.example").configure_cert(trusted)
    with pytest.raises(httpx.ConnectError):  # a certificate the client does not trust
        httpx.post(url, content=b"untrusted\n", headers=auth, verify=ssl.create_default_context(), timeout=10)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError, httpx.ConnectError)):  # plain HTTP to the TLS port
        httpx.post(f"http://{host}:{port}/ingest", content=b"plain\n", headers=auth, timeout=10)
    ok = httpx.post(url, content=b"over tls one\nover tls two\n", headers=auth, verify=trusted, timeout=30)
    assert ok.status_code == 200 and ok.json() == {"accepted": 2, "errors": False}
    docs = consume(fresh_broker.bootstrap, "logs.raw", 2)
    assert sorted(d["message"] for d in docs) == ["over tls one", "over tls two"]

RSYSLOG_FORWARDER = """
global(workDirectory="{work}")
module(load="imtcp")
input(type="imtcp" port="{inport}" address="127.0.0.1" ruleset="fwd")
ruleset(name="fwd") {{
  action(type="omfwd" target="127.0.0.1" port="{tcp}" protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
  action(type="omfwd" target="127.0.0.1" port="{udp}" protocol="udp" template="RSYSLOG_TraditionalForwardFormat")
}}
"""


@pytest.mark.skipif(shutil.which("rsyslogd") is None, reason="rsyslog is not installed")
def test_rsyslog_forwards_octet_counted_tcp_and_udp(tmp_path, fresh_broker, run_ingest):
    from lwtest import free_port, port_open, wait_until

    r = run_ingest(base_cfg(fresh_broker, tmp_path))
    (tmp_path / "rs").mkdir()
    inport = free_port()
    conf = tmp_path / "rsyslog.conf"
    conf.write_text(RSYSLOG_FORWARDER.format(work=tmp_path / "rs", inport=inport, tcp=r.addr("syslog_tcp")[1], udp=r.addr("syslog_udp")[1]))
    proc = subprocess.Popen(["rsyslogd", "-n", "-f", str(conf), "-i", str(tmp_path / "rs.pid")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: port_open("127.0.0.1", inport) or proc.poll() is not None, timeout=20) and proc.poll() is None
        with socket.create_connection(("127.0.0.1", inport)) as s:
            s.sendall(b"".join(b"<86>Nov 26 10:00:%02d gw sudo[7]: relayed %d with a\ttab\n" % (i, i) for i in range(25)))
        docs = consume(fresh_broker.bootstrap, "logs.raw", 50)
    finally:
        proc.terminate()
        proc.wait(20)
    tcp = [d for d in docs if d["log"]["syslog"]["transport"] == "tcp"]
    udp = [d for d in docs if d["log"]["syslog"]["transport"] == "udp"]
    assert len(tcp) == 25 and len(udp) == 25
    # RFC 5424 over octet counting: "<86>1 2026-...T10:00:07... gw sudo 7 - - relayed 7 ..."
    assert all(d["message"].startswith("<86>1 ") for d in tcp)
    assert sorted(int(d["message"].split("relayed ")[1].split()[0]) for d in tcp) == list(range(25))
    assert all(d["message"].startswith("<86>Nov 26") and "relayed" in d["message"] for d in udp)


def test_syslog_is_spooled_while_the_broker_is_away_and_replayed(tmp_path, fresh_broker, run_ingest):
    from lwtest import wait_until

    if not fresh_broker.durable:
        pytest.skip("needs a broker that keeps its data across a restart")
    r = run_ingest(base_cfg(fresh_broker, tmp_path, delivery_timeout_ms=500, retry_backoff_ms=100, retry_backoff_max_ms=300))
    tcp = r.addr("syslog_tcp")

    def send(lines):
        with socket.create_connection(tcp) as s:
            s.sendall(b"".join(b"<13>%s\n" % x.encode() for x in lines))

    send([f"before {i}" for i in range(10)])
    assert len(consume(fresh_broker.bootstrap, "logs.raw", 10)) == 10
    fresh_broker.stop()
    send([f"during {i}" for i in range(20)])
    producer = r.ingest.producer
    assert wait_until(lambda: producer.spooled >= 20, timeout=30)
    fresh_broker.start()
    assert wait_until(lambda: producer.spool.empty, timeout=60)
    docs = consume(fresh_broker.bootstrap, "logs.raw", 30)
    assert {d["message"] for d in docs} == {f"<13>before {i}" for i in range(10)} | {f"<13>during {i}" for i in range(20)}
    assert producer.counts["syslog"][2] == 0  # nothing lost
