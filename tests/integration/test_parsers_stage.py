"""The parser stage as real processes: `logwarden broker` + `logwarden worker parsers`,
fed through the Kafka protocol with confluent-kafka, read back from logs.ecs, logs.dlq and
a routed topic; offsets committed; SIGTERM exits 0. Two workers share one consumer group."""
from __future__ import annotations

import time

import orjson
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from logwarden.events import raw_event_id
from lwtest import Proc, Stack, free_port, wait_listening

pytestmark = pytest.mark.integration

SSHD = "Nov 26 10:01:{s:02d} web-1 sshd[4242]: Failed password for invalid user admin from 203.0.113.5 port {port} ssh2"
NGINX = '198.51.100.23 - - [26/Nov/2026:10:00:{s:02d} +0000] "GET /index.html?i={s} HTTP/1.1" 200 512 "-" "curl/8.5.0"'


def _envelope(line: str, offset: int, fmt: str | None = None) -> dict:
    env = {"@timestamp": "2026-11-26T10:00:00.000Z", "message": line,
           "log": {"file": {"path": "/var/log/app.log", "inode": "7", "device_id": "2049"}, "offset": offset},
           "host": {"name": "web-1"}, "agent": {"type": "logwarden", "version": "0.1.0", "id": "t", "name": "web-1"},
           "input": {"type": "filestream"}}
    if fmt:
        env["fields"] = {"log_format": fmt}
    return env


@pytest.fixture
def stack(tmp_path, request):
    port = free_port()
    routes = getattr(request, "param", True)  # indirect parametrisation: False for a stage without routes
    # auto-creation off: the stage itself must create logs.raw and its output topics
    cfg = {"data_dir": str(tmp_path / "data"), "broker": {"listen": f"127.0.0.1:{port}", "default_partitions": 2, "auto_create_topics": False},
           "parsers": {"timezone": "UTC", "batch_size": 500,
                       "routes": [{"name": "auth", "when": {"equals": {"event.category": "authentication"}}, "topic": "logs.auth"}] if routes else []}}
    stack = Stack(tmp_path, cfg)
    wait_listening(port, stack.start("broker"))
    bootstrap = f"127.0.0.1:{port}"
    admin = AdminClient({"bootstrap.servers": bootstrap})

    def start_worker(i: int) -> Proc:
        return stack.start("worker", "parsers")

    def wait_topics(names: set[str]) -> None:
        deadline = time.monotonic() + 30
        while not names <= set(admin.list_topics(timeout=5).topics):
            assert time.monotonic() < deadline, f"topics {names} not created"
            time.sleep(0.2)

    yield bootstrap, start_worker, wait_topics
    stack.kill_all()


def _read(bootstrap: str, topic: str, want: set[str], key=lambda d: d["event"]["id"], timeout: float = 60) -> dict[str, dict]:
    """Documents of `topic` by `key` until every wanted key arrived. Delivery is at-least-once
    (a rebalance between the two workers may replay a batch), so duplicates collapse here as
    they do in the index, by event.id."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{topic}-{time.monotonic_ns()}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    out: dict[str, dict] = {}
    deadline = time.monotonic() + timeout
    try:
        while not want <= out.keys() and time.monotonic() < deadline:
            for m in c.consume(500, 0.5):
                if m.error() is None:
                    d = orjson.loads(m.value())
                    out[key(d)] = d
    finally:
        c.close()
    return out


def test_stage_parses_dead_letters_routes_and_commits(stack):
    bootstrap, start_worker, wait_topics = stack
    workers = [start_worker(0), start_worker(1)]  # one consumer group, partitions spread over both
    wait_topics({"logs.raw", "logs.ecs", "logs.dlq", "logs.auth"})  # created by the stage, not by us
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    sshd = [SSHD.format(s=s, port=50000 + s) for s in range(8)]
    nginx = [NGINX.format(s=s) for s in range(12)]
    raws = []
    off = 0
    for line in sshd + nginx:
        raws.append(_envelope(line, off))
        off += len(line) + 1
    bad = _envelope("this is no access line", off, fmt="nginx")
    for i, raw in enumerate(raws + [bad]):
        p.produce("logs.raw", orjson.dumps(raw), key=str(i % 4).encode(), partition=i % 2)
    p.produce("logs.raw", b"{not json", key=b"x", partition=0)
    assert p.flush(30) == 0

    ids = {raw_event_id(r) for r in raws}
    ecs = _read(bootstrap, "logs.ecs", ids)
    dlq = _read(bootstrap, "logs.dlq", {"nginx", "envelope"}, key=lambda d: d["error"]["type"])
    sshd_ids = {raw_event_id(r) for r in raws[: len(sshd)]}
    auth = _read(bootstrap, "logs.auth", sshd_ids)

    assert set(ecs) == ids
    by_orig = {d["event"]["original"]: d for d in ecs.values()}
    for line in sshd:
        d = by_orig[line]
        assert d["process"]["name"] == "sshd" and d["event"]["outcome"] == "failure"
        assert d["event"]["category"] == ["authentication"] and d["source"]["ip"] == "203.0.113.5" and d["user"]["name"] == "admin"
    for line in nginx:
        assert by_orig[line]["http"]["response"]["status_code"] == 200
    assert set(auth) == sshd_ids  # routed: only authentication events, and (keep_in_default) also in logs.ecs

    assert set(dlq) == {"nginx", "envelope"}
    assert dlq["nginx"]["raw"] == bad and dlq["nginx"]["event"]["original"] == "this is no access line"
    assert dlq["nginx"]["event"]["kind"] == "pipeline_error" and dlq["nginx"]["error"]["message"]
    assert dlq["nginx"]["event"]["id"] == raw_event_id(bad)
    assert dlq["envelope"]["raw"] == "{not json" and "not valid JSON" in dlq["envelope"]["error"]["message"]

    # offsets of logs.raw are committed for the stage's group once outputs are durable
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "logwarden-parsers", "enable.auto.commit": False})
    try:
        ends = {}
        for part in (0, 1):
            ends[part] = c.get_watermark_offsets(TopicPartition("logs.raw", part), 10)[1]
        deadline = time.monotonic() + 30
        while True:
            committed = {tp.partition: tp.offset for tp in c.committed([TopicPartition("logs.raw", 0), TopicPartition("logs.raw", 1)], 10)}
            if committed == ends or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert committed == ends and sum(ends.values()) == len(raws) + 2
    finally:
        c.close()

    for w in workers:
        assert w.stop() == 0


def test_sigkilled_worker_loses_nothing(stack):
    """At-least-once through a crash: SIGKILL one of two workers mid-stream; the survivor takes
    its partitions over from the last committed offsets and every event reaches logs.ecs."""
    bootstrap, start_worker, wait_topics = stack
    workers = [start_worker(0), start_worker(1)]
    wait_topics({"logs.raw", "logs.ecs", "logs.dlq"})
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    raws = []
    for i in range(400):
        raw = _envelope(NGINX.format(s=i % 60), offset=i * 120)
        raws.append(raw)
        p.produce("logs.raw", orjson.dumps(raw), partition=i % 2)
        if i == 199:
            assert p.flush(30) == 0
            _read(bootstrap, "logs.ecs", {raw_event_id(r) for r in raws[:50]})  # the stage is running
            workers[0].proc.kill()
            workers[0].proc.wait(10)
    assert p.flush(30) == 0
    got = _read(bootstrap, "logs.ecs", {raw_event_id(r) for r in raws}, timeout=90)
    assert set(got) == {raw_event_id(r) for r in raws}
    assert workers[1].stop() == 0


@pytest.mark.parametrize("stack", [False], indirect=True)
def test_agent_envelopes_take_the_fast_path_with_the_generic_result(stack):
    """Envelopes as the agent builds them (its byte template): access and sshd login lines go
    the compiled fast path in `logwarden worker parsers`, and each document equals Engine.parse's."""
    from logwarden.agents.envelope import EnvelopeTemplate
    from logwarden.agents.splitter import Line
    from logwarden.parsers.config import ParsersConfig
    from logwarden.parsers.engine import Engine

    bootstrap, start_worker, wait_topics = stack
    workers = [start_worker(0)]
    wait_topics({"logs.raw", "logs.ecs", "logs.dlq"})
    agent = {"type": "logwarden", "version": "0.1.0", "id": "t", "name": "web-1"}
    tpl = {fmt: EnvelopeTemplate(path=f"/var/log/{fmt}.log", device_id="2049", inode=str(i), fingerprint="f", host={"name": "web-1"},
                                 agent=agent, fields={"log_format": fmt}, tags=["t"]) for i, fmt in enumerate(("nginx", "sshd"))}
    lines = [("nginx", NGINX.format(s=s)) for s in range(20)] + [("sshd", SSHD.format(s=s, port=50000 + s)) for s in range(3)]
    lines.append(("nginx", '2001:db8::1 - - [26/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "say \\"hi\\""'))
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    envs = []
    for off, (fmt, line) in enumerate(lines):
        envs.append(tpl[fmt].build(Line(off * 200, off * 200 + len(line) + 1, line.encode()), b"2026-11-26T10:00:00.000Z"))
        p.produce("logs.raw", envs[-1], partition=off % 2)
    assert p.flush(30) == 0
    engine = Engine(ParsersConfig(timezone="UTC"))
    want = {}
    for env in envs:
        doc = engine.parse(orjson.loads(env))
        doc["event"].pop("ingested")
        want[doc["event"]["id"]] = doc
    got = _read(bootstrap, "logs.ecs", set(want))
    fast = 0
    for eid, doc in got.items():
        doc["event"].pop("ingested")
        assert doc == want[eid]
        fast += list(doc)[3] == "log"  # the fast path writes log right after event; Engine.parse writes agent there
    assert fast == 23  # 20 nginx and 3 sshd login lines; the one with escaped quotes went the generic way
    assert workers[0].stop() == 0
