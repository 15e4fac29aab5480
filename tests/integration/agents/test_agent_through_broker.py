"""The agent against a real broker, read back with a confluent-kafka consumer."""
import threading
from collections import defaultdict

import pytest

from logwarden.agents.config import AgentConfig, FileSource
from logwarden.agents.registry import Registry
from logwarden.agents.service import Agent
from logwarden.config import Config
from logwarden.events import raw_event_id
from lwtest import Proc, consume, logwarden_cmd, wait_until

pytestmark = pytest.mark.integration


def write(path, lines):
    with open(path, "a") as f:
        f.write("".join(x + "\n" for x in lines))


def test_lines_arrive_as_envelopes_and_offsets_follow_acks(tmp_path, fresh_broker, run_agent):
    log = tmp_path / "app.log"
    lines = [f"127.0.0.1 - - [26/Nov/2026:10:00:{i % 60:02d} +0000] \"GET /p/{i} HTTP/1.1\" 200 {i}" for i in range(2000)]
    write(log, lines)
    cfg = Config(data_dir=str(tmp_path / "data"), kafka={"bootstrap_servers": fresh_broker.bootstrap},
                 sources=[FileSource(paths=[str(log)], format="nginx", tags=["web"])])
    r = run_agent(Agent(cfg, AgentConfig(registry_flush_ms=50, host_name="web-1")))
    assert wait_until(lambda: r.agent.stats.sent == 2000, timeout=60)
    write(log, ["one more"])
    assert wait_until(lambda: r.agent.stats.sent == 2001, timeout=30)
    r.stop()
    docs = consume(fresh_broker.bootstrap, "logs.raw", 2001)
    assert sorted(d["message"] for d in docs) == sorted(lines + ["one more"])
    by_msg = {d["message"]: d for d in docs}
    first = by_msg[lines[0]]
    assert first["log"]["offset"] == 0 and first["log"]["file"]["path"] == str(log)
    assert first["host"] == {"name": "web-1"} and first["agent"]["type"] == "logwarden"
    assert first["input"] == {"type": "filestream"} and first["fields"] == {"log_format": "nginx"} and first["tags"] == ["web"]
    assert by_msg[lines[1]]["log"]["offset"] == len(lines[0]) + 1
    assert len({raw_event_id(d) for d in docs}) == 2001
    (entry,) = Registry(tmp_path / "data" / "agent" / "registry.json").entries.values()
    assert entry.offset == log.stat().st_size


def agent_proc(tmp_path, fresh_broker, log) -> Proc:
    return Proc(logwarden_cmd("agent", "--tail", f"{log}:syslog", "--broker", fresh_broker.bootstrap,
                              "--data-dir", str(tmp_path / "data")), tmp_path / "agent.log")


def test_sigkill_and_restart_loses_nothing_and_duplicates_share_ids(tmp_path, fresh_broker):
    log = tmp_path / "auth.log"
    log.write_text("")
    expected: list[str] = []
    stop_writing = threading.Event()

    def writer():
        i = 0
        while not stop_writing.is_set() and i < 20000:
            batch = [f"Nov 26 10:00:00 host sshd[{i}]: Failed password for root from 198.51.100.{j % 250} port {j}" for j in range(i, i + 50)]
            write(log, batch)
            expected.extend(batch)
            i += 50
            stop_writing.wait(0.005)

    p = agent_proc(tmp_path, fresh_broker, log)
    try:
        t = threading.Thread(target=writer)
        t.start()
        assert wait_until(lambda: len(expected) >= 3000, timeout=60)
        assert wait_until(lambda: (tmp_path / "data" / "agent" / "registry.json").exists(), timeout=30)
        p.kill()  # mid-flight: lines in the producer queue, registry behind
        stop_writing.set()
        t.join()
        write(log, [f"after restart {k}" for k in range(100)])
        expected.extend(f"after restart {k}" for k in range(100))
        p = agent_proc(tmp_path, fresh_broker, log)
        docs = consume(fresh_broker.bootstrap, "logs.raw", len(expected), timeout=90)
    finally:
        p.stop()
    messages = [d["message"] for d in docs]
    assert set(messages) == set(expected), "no line may be lost"
    ids = defaultdict(set)
    for d in docs:
        ids[d["message"]].add(raw_event_id(d))
    assert all(len(v) == 1 for v in ids.values()), "a re-shipped line must carry the same event.id"
    assert len({raw_event_id(d) for d in docs}) == len(expected)


def test_broker_outage_spools_then_replays(tmp_path, fresh_broker, run_agent):
    if not fresh_broker.durable:
        pytest.skip("needs a broker that keeps its data across a restart")
    log = tmp_path / "app.log"
    write(log, [f"before {i}" for i in range(100)])
    cfg = Config(data_dir=str(tmp_path / "data"), kafka={"bootstrap_servers": fresh_broker.bootstrap}, sources=[FileSource(paths=[str(log)])])
    r = run_agent(Agent(cfg, AgentConfig(registry_flush_ms=50, delivery_timeout_ms=1500, retry_backoff_ms=100, retry_backoff_max_ms=500)))
    assert wait_until(lambda: r.agent.stats.sent == 100, timeout=60)
    fresh_broker.stop()
    write(log, [f"during {i}" for i in range(300)])
    assert wait_until(lambda: r.agent.stats.spooled >= 300, timeout=60)
    key = next(iter(r.agent.harvesters))
    # spooled lines count as durable: the registry moves to the end while the broker is away
    assert wait_until(lambda: Registry(tmp_path / "data" / "agent" / "registry.json").get(key).offset == log.stat().st_size, timeout=10)
    fresh_broker.start()
    write(log, [f"after {i}" for i in range(50)])
    assert wait_until(lambda: r.agent.stats.sent >= 450 and r.agent.shipper.spool.empty, timeout=90)
    r.stop()
    docs = consume(fresh_broker.bootstrap, "logs.raw", 450)
    expected = [f"before {i}" for i in range(100)] + [f"during {i}" for i in range(300)] + [f"after {i}" for i in range(50)]
    assert set(d["message"] for d in docs) == set(expected)
    assert len({raw_event_id(d) for d in docs}) == 450


def test_agent_process_stops_cleanly_on_sigterm_and_resumes(tmp_path, fresh_broker):
    log = tmp_path / "app.log"
    write(log, [f"first run {i}" for i in range(500)])
    p = agent_proc(tmp_path, fresh_broker, log)
    assert wait_until(lambda: len(consume(fresh_broker.bootstrap, "logs.raw", 500, timeout=2)) >= 500, timeout=60)
    assert p.stop() == 0, p.output()
    (entry,) = Registry(tmp_path / "data" / "agent" / "registry.json").entries.values()
    assert entry.offset == log.stat().st_size  # the final flush wrote the registry
    write(log, [f"second run {i}" for i in range(10)])
    p = agent_proc(tmp_path, fresh_broker, log)
    try:
        docs = consume(fresh_broker.bootstrap, "logs.raw", 510)
    finally:
        assert p.stop() == 0, p.output()
    assert len(docs) == 510  # a clean stop re-ships nothing
    assert all(d["fields"]["log_format"] == "syslog" for d in docs)
