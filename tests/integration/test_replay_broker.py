"""`logwarden replay` against the built-in broker: a time slice (--from/--to resolved by the
broker's ListOffsets by timestamp) copied with keys, headers and timestamps; the progress bar
drawn only on a terminal; --into index writing an embedded index no worker holds."""
from __future__ import annotations

import os
import pty
import subprocess
import time
from datetime import datetime, timezone

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from lwtest import Broker
from lwtest import logwarden_cmd, run_cli

pytestmark = pytest.mark.integration

# An hour ago, on a whole second: records older than the broker's retention (7 days) may be
# deleted by its housekeeping under the test's feet.
T0 = (int(time.time()) - 3600) * 1000


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path).start()
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    for fut in admin.create_topics([NewTopic("src", 3, 1), NewTopic("dst", 2, 1)]).values():
        fut.result()
    p = Producer({"bootstrap.servers": b.bootstrap})
    for i in range(30):  # one record a second from T0, on every partition
        p.produce("src", f"v{i}".encode(), f"k{i}".encode(), partition=i % 3, timestamp=T0 + i * 1000,
                  headers=[("n", str(i).encode())])
    assert p.flush(30) == 0
    yield b
    b.stop()


def read(bootstrap: str, topic: str, n: int, timeout: float = 30) -> list:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"r-{time.monotonic_ns()}", "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    out: list = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < n and time.monotonic() < deadline:
            out += [m for m in c.consume(100, 0.5) if m.error() is None]
        out += [m for m in c.consume(100, 1.0) if m.error() is None]  # nothing more should come
    finally:
        c.close()
    return out


def test_a_time_slice_is_copied_with_keys_headers_and_timestamps(broker):
    r = run_cli("replay", "-c", str(broker.config_path), "--topic", "src",
                "--from", iso(T0 + 10_000), "--to", iso(T0 + 19_999), "--into", "dst")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("replayed 10 of 10 records of src into dst: 10 outputs produced"), r.stdout
    got = read(broker.bootstrap, "dst", 10)
    assert sorted(m.value() for m in got) == sorted(f"v{i}".encode() for i in range(10, 20))
    for m in got:
        i = int(m.value()[1:])
        assert m.key() == f"k{i}".encode() and m.headers() == [("n", str(i).encode())]
        assert m.timestamp()[1] == T0 + i * 1000


def test_offsets_and_an_empty_window(broker):
    # --from 8: offsets 8, 9 of each partition (10 records each)
    r = run_cli("replay", "-c", str(broker.config_path), "--topic", "src", "--from", "8", "--into", "dst")
    assert r.stdout.startswith("replayed 6 of 6 records"), (r.stdout, r.stderr)
    r = run_cli("replay", "-c", str(broker.config_path), "--topic", "src", "--from", "now+1d", "--into", "dst")
    assert r.returncode == 0 and r.stdout.startswith("replayed 0 of 0 records"), (r.stdout, r.stderr)


def test_progress_is_drawn_on_a_terminal_only(broker):
    master, slave = pty.openpty()
    proc = subprocess.Popen(logwarden_cmd("replay", "-c", str(broker.config_path), "--topic", "src", "--into", "dst"),
                            stdout=subprocess.PIPE, stderr=slave, cwd="/",
                            env={**os.environ, "TERM": "xterm", "COLUMNS": "120", "PYTHONSAFEPATH": "1"})
    os.close(slave)
    drawn = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        drawn += chunk
    out, _ = proc.communicate(timeout=60)
    os.close(master)
    assert proc.returncode == 0
    assert b"src -> dst" in drawn and b"30/30" in drawn, drawn[-2000:]
    assert out.decode().startswith("replayed 30 of 30 records of src into dst") and out.count(b"\n") == 1


def test_into_the_embedded_index_while_no_worker_holds_it(broker):
    """With the index worker stopped (or never started) a replay writes the embedded index
    itself, collapsing by event.id; without an index at the data dir it refuses rather than
    start a new one somewhere else."""
    import orjson

    from logwarden.config import load
    from logwarden.sinks.embedded import IndexReader, index_path
    from logwarden.sinks.index_service import IndexStage

    p = Producer({"bootstrap.servers": broker.bootstrap})
    for i in [*range(10), 3, 7]:  # two of them twice: at-least-once delivery, as after a crash
        p.produce("logs.ecs", orjson.dumps({"@timestamp": iso(T0 + i * 1000), "message": f"line {i}",
                                            "event": {"id": f"id-{i}"}}))
    assert p.flush(30) == 0
    args = ("replay", "-c", str(broker.config_path), "--topic", "logs.ecs", "--into", "index")

    r = run_cli(*args)
    assert r.returncode == 2 and "no embedded index under" in r.stderr, (r.returncode, r.stderr)

    cfg = load(str(broker.config_path))
    IndexStage(cfg).close()  # what the appliance's index worker leaves behind: an index, no writer
    r = run_cli(*args)
    assert r.returncode == 0 and r.stdout.startswith("replayed 12 of 12 records of logs.ecs into the index stage: 0 outputs"), \
        (r.stdout, r.stderr)
    res = IndexReader(index_path(cfg.data_path, "events")).search("*", limit=100)
    assert res["total"] == 10 and sorted(h["event"]["id"] for h in res["hits"]) == sorted(f"id-{i}" for i in range(10))
