"""The agent with its broker unreachable: records go to the disk spool, offsets follow the spool."""
import orjson
import pytest

from logwarden.agents.config import AgentConfig, FileSource
from logwarden.agents.registry import Registry
from logwarden.agents.service import Agent
from logwarden.spool import Spool
from logwarden.config import Config

from lwtest import free_port, wait_until

pytestmark = pytest.mark.integration


def make(tmp_path, **acfg):
    cfg = Config(data_dir=str(tmp_path / "data"), kafka={"bootstrap_servers": f"127.0.0.1:{free_port()}"},
                 sources=[FileSource(paths=[str(tmp_path / "logs" / "*.log")], format="sshd", tags=["t"])])
    settings = dict(delivery_timeout_ms=400, registry_flush_ms=0, poll_interval_ms=50, scan_interval_ms=100,
                    retry_backoff_ms=50, retry_backoff_max_ms=200)
    settings.update(acfg)
    return cfg, AgentConfig(**settings)


def test_broker_down_spools_and_commits_offsets(tmp_path, run_agent):
    logs = tmp_path / "logs"
    logs.mkdir()
    lines = [f"Failed password for root from 10.0.0.{i} port 22 ssh2" for i in range(50)]
    (logs / "auth.log").write_text("".join(line + "\n" for line in lines))
    cfg, acfg = make(tmp_path)
    r = run_agent(Agent(cfg, acfg))
    assert wait_until(lambda: r.agent.stats.spooled >= 50)
    r.stop()
    assert r.agent.stats.sent == 0 and r.agent.stats.spooled == 50
    reg = Registry(tmp_path / "data" / "agent" / "registry.json")
    (entry,) = reg.entries.values()
    assert entry.offset == (logs / "auth.log").stat().st_size
    spool = Spool(tmp_path / "data" / "agent" / "spool", 1 << 30, 1 << 24)
    got = []
    while not spool.empty:
        seq, recs = spool.oldest()
        got += [orjson.loads(v) for v in recs]
        spool.remove(seq)
    assert sorted(d["message"] for d in got) == sorted(lines)
    assert len({d["event"]["id"] for d in got}) == 50
    assert all(d["fields"]["log_format"] == "sshd" and d["tags"] == ["t"] for d in got)


def test_restart_with_broker_still_down_does_not_reread(tmp_path, run_agent):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log").write_text("x\ny\n")
    cfg, acfg = make(tmp_path)
    r = run_agent(Agent(cfg, acfg))
    assert wait_until(lambda: r.agent.stats.spooled == 2)
    r.stop()
    with open(logs / "a.log", "a") as f:
        f.write("z\n")
    r2 = run_agent(Agent(cfg, acfg))
    assert wait_until(lambda: r2.agent.stats.spooled >= 1)
    r2.stop()
    assert r2.agent.stats.lines_read == 1  # only the new line; the spooled two are not read again
    assert Spool(tmp_path / "data" / "agent" / "spool", 1 << 30, 1 << 24).size_bytes > 0


def test_full_spool_stops_reading(tmp_path, run_agent):
    logs = tmp_path / "logs"
    logs.mkdir()
    line = "x" * 100 + "\n"
    (logs / "a.log").write_text(line * 2000)
    cfg, acfg = make(tmp_path, spool_max_bytes=5000, max_inflight_records=10, read_buffer_bytes=4096)
    r = run_agent(Agent(cfg, acfg))
    assert wait_until(lambda: r.agent.stats.spooled >= 1 and r.agent.shipper.busy)
    r.stop()
    spooled = r.agent.stats.spooled
    assert 1 <= spooled <= 5000 // 400  # an envelope is ~400 bytes here: the bound holds
    assert r.agent.stats.lines_read < 200  # reading stopped (a read is at most ~40 lines here)
    (entry,) = Registry(tmp_path / "data" / "agent" / "registry.json").entries.values()
    assert entry.offset == spooled * len(line)  # committed exactly up to the last spooled line


def test_monitor_endpoint_reports_health_stats_and_metrics(tmp_path, run_agent):
    import httpx

    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log").write_text("one\ntwo\n")
    cfg, acfg = make(tmp_path, monitor_listen="127.0.0.1:0")
    agent = Agent(cfg, acfg)
    host, port = agent.monitor.address
    url = f"http://{host}:{port}"
    r = run_agent(agent)
    assert wait_until(lambda: r.agent.stats.spooled == 2)
    health = httpx.get(url + "/health").json()
    assert health["status"] == "spooling" and health["files"] == 1  # the broker is away
    stats = httpx.get(url + "/stats").json()
    assert stats["lines_read"] == 2 and stats["spooled"] == 2 and stats["spool_bytes"] > 0
    (f,) = stats["files"]
    assert f["path"] == str(logs / "a.log") and f["state"] == "tailing" and f["committed"] == 8
    text = httpx.get(url + "/metrics").text
    assert "logwarden_agent_spooled_events_total" in text and "logwarden_agent_lines_read_total" in text
    assert httpx.get(url + "/nope").status_code == 404
    r.stop()


def test_lag_bytes_grow_while_a_held_back_file_is_not_read(tmp_path, run_agent):
    """The operator's view of a stuck harvester (issue 17): with reading paused (the spool is
    full, the broker away) a growing file shows its unread bytes in /stats and /metrics."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    logs = tmp_path / "logs"
    logs.mkdir()
    path = logs / "a.log"
    line = "x" * 100 + "\n"
    path.write_text(line * 2000)
    cfg, acfg = make(tmp_path, spool_max_bytes=5000, max_inflight_records=10, read_buffer_bytes=4096, monitor_listen="127.0.0.1:0")
    agent = Agent(cfg, acfg)
    url = "http://%s:%d" % agent.monitor.address
    r = run_agent(agent)
    assert wait_until(lambda: r.agent.stats.spooled >= 1 and r.agent.shipper.busy)

    def file_stats():
        (f,) = httpx.get(url + "/stats").json()["files"]
        return f

    def gauge(name, **labels):
        for fam in text_string_to_metric_families(httpx.get(url + "/metrics").text):
            for s in fam.samples:
                if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                    return s.value
        return None

    before = file_stats()
    assert before["lag_bytes"] == before["size"] - before["position"] > 0
    read = r.agent.stats.lines_read
    with open(path, "a") as f:
        f.write(line * 500)
    grown = before["lag_bytes"] + 500 * len(line)
    assert wait_until(lambda: file_stats()["lag_bytes"] == grown), file_stats()
    assert wait_until(lambda: gauge("logwarden_agent_file_lag_bytes", path=str(path)) == grown)
    assert gauge("logwarden_agent_lag_bytes") >= grown
    assert httpx.get(url + "/stats").json()["lag_bytes"] == grown
    assert r.agent.stats.lines_read == read  # nothing read meanwhile: the lag is the stuck file's
    r.stop()
