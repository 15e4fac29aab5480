"""`logwarden ingest -c FILE` as a real process: listens, ships, stops cleanly on SIGTERM."""
import socket

import httpx
import pytest

from logwarden.events import raw_event_id
from lwtest import Proc, consume, free_port, logwarden_cmd, port_open, wait_until

pytestmark = pytest.mark.integration


def test_ingest_process_ships_and_exits_zero_on_sigterm(tmp_path, fresh_broker):
    tcp, http = free_port(), free_port()
    cfg = tmp_path / "logwarden.yml"
    cfg.write_text(f"""
data_dir: {tmp_path / 'data'}
kafka:
  bootstrap_servers: {fresh_broker.bootstrap}
ingest:
  syslog_tcp: 127.0.0.1:{tcp}
  http: 127.0.0.1:{http}
  tokens:
    - {{name: ci, token: "${{INGEST_TOKEN}}"}}
""")
    p = Proc(logwarden_cmd("ingest", "-c", str(cfg)), tmp_path / "ingest.log", {"INGEST_TOKEN": "a-long-test-token"})
    try:
        assert wait_until(lambda: port_open("127.0.0.1", http) and port_open("127.0.0.1", tcp), timeout=30, procs=[p]), p.output()
        with socket.create_connection(("127.0.0.1", tcp)) as s:
            s.sendall(b"<34>Nov 26 10:00:00 fw01 kernel: DROP IN=eth0 SRC=192.0.2.1\n")
        resp = httpx.post(f"http://127.0.0.1:{http}/ingest", content=b"hello over http\n",
                          headers={"Authorization": "Bearer a-long-test-token"}, timeout=30)
        assert resp.status_code == 200
        docs = consume(fresh_broker.bootstrap, "logs.raw", 2)
    finally:
        rc = p.stop()
    assert rc == 0
    assert sorted(d["message"] for d in docs) == ["<34>Nov 26 10:00:00 fw01 kernel: DROP IN=eth0 SRC=192.0.2.1", "hello over http"]
    assert {d["input"]["type"] for d in docs} == {"syslog", "http"}
    assert len({raw_event_id(d) for d in docs}) == 2
    stderr = p.log()   # stdout and stderr: the JSON log records go to stderr
    assert '"ingest started"' in stderr and '"ingest stopped"' in stderr
