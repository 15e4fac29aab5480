"""The rules stage as real processes: `logwarden broker` + `logwarden worker rules`.

ECS events go in on logs.ecs through confluent-kafka; alert documents come out on `alerts`,
a bad message on logs.dlq, a webhook notifier receives the alert, a rule file added while
the worker runs is picked up (hot reload), offsets are committed, SIGTERM exits 0."""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from lwtest import Stack, free_port, wait_listening

pytestmark = pytest.mark.integration

CURL_RULE = """title: Curl to pastebin
id: 0b7e2d1c-5a4f-4e3d-9c2b-1a0f9e8d7c6b
level: medium
author: Test Author
logsource: {product: linux, category: process_creation}
detection:
  sel:
    Image|endswith: /curl
    CommandLine|contains: pastebin
  condition: sel
"""


def ssh(i: int) -> dict:
    return {"@timestamp": f"2026-11-26T10:01:{i:02d}Z", "message": f"Failed password for invalid user admin from 203.0.113.5 port {5000 + i} ssh2",
            "event": {"id": f"ssh-{i}", "kind": "event", "category": ["authentication"], "outcome": "failure"},
            "process": {"name": "sshd", "pid": 42}, "source": {"ip": "203.0.113.5", "port": 5000 + i}, "host": {"name": "bastion"}}


def proc(i: int, exe: str = "/usr/bin/curl") -> dict:
    return {"@timestamp": f"2026-11-26T10:02:{i:02d}Z", "event": {"id": f"proc-{i}", "category": ["process"], "type": ["start"]},
            "process": {"executable": exe, "command_line": f"{exe} https://pastebin.com/raw/{i}"}, "host": {"name": "web-1"}}


class Hook(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        self.server.bodies.append(self.rfile.read(int(self.headers["content-length"])))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *a):
        pass


@pytest.fixture
def stack(tmp_path):
    hook = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    hook.bodies = []
    t = threading.Thread(target=hook.serve_forever, daemon=True)
    t.start()
    port = free_port()
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "curl.yml").write_text(CURL_RULE)
    cfg = {"data_dir": str(tmp_path / "data"), "broker": {"listen": f"127.0.0.1:{port}"},
           "rules": {"paths": [str(rules_dir)], "reload_interval_ms": 200,
                     "notifiers": [{"type": "webhook", "url": f"http://127.0.0.1:{hook.server_address[1]}/hook", "min_level": "high"}]}}
    stack = Stack(tmp_path, cfg)
    wait_listening(port, stack.start("broker"))
    bootstrap = f"127.0.0.1:{port}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(t, 1, 1) for t in ("logs.ecs", "logs.dlq", "alerts")]).values():
        f.result(15)
    worker = stack.start("worker", "rules")
    yield bootstrap, worker, rules_dir, hook
    stack.kill_all()
    hook.shutdown()
    hook.server_close()


def read(bootstrap: str, topic: str, until, timeout: float = 60) -> list[dict]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{time.monotonic_ns()}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    out: list[dict] = []
    deadline = time.monotonic() + timeout
    try:
        while not until(out) and time.monotonic() < deadline:
            for m in c.consume(100, 0.5):
                if m.error() is None:
                    out.append(orjson.loads(m.value()))
    finally:
        c.close()
    return out


def test_rules_worker_end_to_end(stack):
    bootstrap, worker, rules_dir, hook = stack
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for d in [ssh(i) for i in range(6)] + [proc(1)]:
        p.produce("logs.ecs", orjson.dumps(d))
    p.produce("logs.ecs", b"{broken")
    assert p.flush(30) == 0

    # One alert per rule; the brute force fired on the 5th attempt and the 6th updated it (in
    # one version or two, as the worker's batches fell): the latest version of each id counts.
    def settled(out):
        return {a["rule"]["name"]: a["alert"]["count"] for a in out} == {
            "Curl to pastebin": 1, "SSH brute force from one source address": 6}
    alerts = read(bootstrap, "alerts", settled)
    latest = {a["event"]["id"]: a for a in alerts}
    names = sorted(a["rule"]["name"] for a in latest.values())
    assert names == ["Curl to pastebin", "SSH brute force from one source address"]
    brute = next(a for a in latest.values() if a["rule"]["name"].startswith("SSH"))
    assert brute["alert"]["group"] == {"source.ip": "203.0.113.5"} and brute["alert"]["count"] == 6
    assert [a["alert"]["count"] for a in alerts if a["rule"]["name"].startswith("SSH")][0] in (5, 6)
    curl = next(a for a in latest.values() if a["rule"]["name"] == "Curl to pastebin")
    assert curl["rule"]["author"] == "Test Author" and curl["alert"]["event_ids"] == ["proc-1"]
    dlq = read(bootstrap, "logs.dlq", lambda out: len(out) >= 1)
    assert dlq[0]["error"]["type"] == "rules" and dlq[0]["event"]["original"] == "{broken"

    # the webhook (min_level high) got the brute force only
    deadline = time.monotonic() + 30
    while not hook.bodies and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [orjson.loads(b)["rule"]["name"] for b in hook.bodies] == ["SSH brute force from one source address"]

    # hot reload: a new rule file while the worker runs
    (rules_dir / "wget.yml").write_text(CURL_RULE.replace("0b7e2d1c", "1c8f3e2d").replace("/curl", "/wget")
                                        .replace("Curl to", "Wget to"))
    time.sleep(1.0)
    deadline = time.monotonic() + 30
    names: list[str] = []
    i = 10
    while "Wget to pastebin" not in names and time.monotonic() < deadline:
        p.produce("logs.ecs", orjson.dumps(proc(i, "/usr/bin/wget")))
        p.flush(10)
        i += 1
        time.sleep(0.5)
        names = [a["rule"]["name"] for a in read(bootstrap, "alerts", lambda out: any(a["rule"]["name"] == "Wget to pastebin" for a in out), timeout=3)]
    assert "Wget to pastebin" in names

    assert worker.stop() == 0
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "logwarden-rules"})
    (tp,) = c.committed([TopicPartition("logs.ecs", 0)], timeout=10)
    c.close()
    assert tp.offset == 8 + (i - 10)
