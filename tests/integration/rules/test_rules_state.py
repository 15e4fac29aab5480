"""The rules worker's state topic against a real broker: a snapshot it cannot read.

A snapshot on `rules.state` that this code cannot restore (written by a bug, or by hand)
must not crash-loop the worker at every assignment: it is logged and the worker starts
afresh, counts from the committed offsets and writes a good snapshot over it."""
from __future__ import annotations

import time

import orjson
import pytest
import yaml
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from lwtest import Proc, free_port, logwarden_cmd, wait_listening, wait_until
from test_rules_stage import read, ssh

pytestmark = pytest.mark.integration

BRUTE = "5d2c8a7e-3f61-4c1b-9a0e-6f4b2d7c9e11"
KEY = b"rules|logs.ecs/0"


def test_an_unreadable_snapshot_is_logged_and_the_worker_starts_afresh(tmp_path):
    port = free_port()
    path = tmp_path / "logwarden.yml"
    path.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data"), "broker": {"listen": f"127.0.0.1:{port}"}}))
    broker = Proc(logwarden_cmd("broker", "-c", str(path)), tmp_path / "broker.log")
    worker = None
    try:
        wait_listening(port, broker)
        bootstrap = f"127.0.0.1:{port}"
        admin = AdminClient({"bootstrap.servers": bootstrap})
        topics = [NewTopic(t, 1, 1) for t in ("logs.ecs", "logs.dlq", "alerts")]
        topics.append(NewTopic("rules.state", 1, 1, config={"cleanup.policy": "compact"}))
        for f in admin.create_topics(topics).values():
            f.result(15)
        p = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
        bad = {"version": 1, "offsets": [["logs.ecs", 0, 3]], "correlations": {BRUTE: [[1, 2]]}}
        p.produce("rules.state", orjson.dumps(bad), KEY)
        for i in range(5):
            p.produce("logs.ecs", orjson.dumps(ssh(i)))
        assert p.flush(30) == 0

        worker = Proc(logwarden_cmd("worker", "rules", "-c", str(path)), tmp_path / "rules.log")
        alerts = read(bootstrap, "alerts", lambda out: any(a["alert"]["count"] == 5 for a in out))
        assert [a["alert"]["count"] for a in alerts][-1:] == [5], worker.output()   # nothing skipped
        assert "snapshot not restored" in worker.output()

        def good_snapshot():
            c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"r-{time.monotonic_ns()}",
                          "auto.offset.reset": "earliest", "enable.partition.eof": True})
            c.subscribe(["rules.state"])
            last = None
            try:
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    m = c.poll(0.5)
                    if m is None:
                        continue
                    if m.error():
                        break
                    if m.key() == KEY:
                        last = orjson.loads(m.value())
            finally:
                c.close()
            return last if last and last["offsets"] == [["logs.ecs", 0, 5]] else None

        snap = wait_until(good_snapshot, "a good snapshot over the bad one", 30, 0.5, worker.output)
        assert [e["count"] for e in snap["episodes"]] == [5]
        assert worker.stop() == 0
    finally:
        for proc in (worker, broker):
            if proc is not None:
                proc.kill()
