"""Files rotating while the broker is frozen (issue 17), against a real `logwarden broker` process.

The broker is stopped with SIGSTOP for longer than the agent's delivery timeout (what a
long GC pause, a frozen VM or a stalled disk looks like), while a writer keeps appending
numbered lines and rotates its log by rename or by copytruncate. While the broker is away
the agent first stops reading (`max_inflight_records` unacknowledged), then spools; with a
small `spool_max_bytes` it stops reading again once the spool is full. Every generation of
the log is opened by the agent at `app.log` and rotated away before it was read to its end.

Afterwards the topic is read with confluent-kafka: every line number must be there, and
each under exactly one `event.id` - the index keeps one document per id, so that is the
line shipped exactly once. (The topic itself may hold a record twice with the same id:
produce requests the frozen broker had in its socket buffer are appended when it resumes,
after the agent already spooled or retried those records on the timeout - at-least-once,
by design.)
"""
import os
import shutil
import signal
import time
from collections import defaultdict

import pytest

from logwarden.agents.config import AgentConfig, FileSource
from logwarden.agents.identity import file_key
from logwarden.agents.lifecycle import FileState
from logwarden.agents.registry import Registry
from logwarden.agents.service import Agent
from logwarden.config import Config
from logwarden.events import raw_event_id
from lwtest import consume, wait_until

pytestmark = pytest.mark.integration

DELIVERY_TIMEOUT_MS = 1500
GENERATIONS = 4  # files rotated away while the broker is frozen
LINES_PER_FILE = 400  # more than max_inflight_records: no file can be read to its end before the stall ends


def make_agent(tmp_path, fresh_broker, **acfg):
    cfg = Config(data_dir=str(tmp_path / "data"), kafka={"bootstrap_servers": fresh_broker.bootstrap},
                 sources=[FileSource(paths=[str(tmp_path / "logs" / "app.log*")], format="syslog")])
    settings = dict(delivery_timeout_ms=DELIVERY_TIMEOUT_MS, max_inflight_records=100, registry_flush_ms=100,
                    poll_interval_ms=50, scan_interval_ms=100, retry_backoff_ms=50, retry_backoff_max_ms=500)
    settings.update(acfg)
    return Agent(cfg, AgentConfig(**settings))


class Writer:
    """Appends numbered syslog lines to `app.log` and rotates it like logrotate would."""

    def __init__(self, directory, mode):
        self.dir = directory
        self.log = directory / "app.log"
        self.mode = mode
        self.n = 0
        self.fh = open(self.log, "a")
        self.rotations = 0

    def write(self, count):
        self.fh.write("".join(f"Dec  7 10:00:00 web1 app[7]: request {self.n + i:06d} served\n" for i in range(count)))
        self.fh.flush()
        self.n += count

    def rotate(self):
        """rename: app.log -> app.log.K, the application writes a few more lines to its old
        descriptor, then reopens app.log (logrotate `create` + a reload signal);
        copytruncate: app.log copied to app.log.K, then truncated in place."""
        self.rotations += 1
        rotated = self.dir / f"app.log.{self.rotations}"
        if self.mode == "rename":
            os.rename(self.log, rotated)
            self.write(20)  # late lines into the renamed file
            self.fh.close()
            self.fh = open(self.log, "a")
        else:
            shutil.copyfile(self.log, rotated)
            os.truncate(self.log, 0)
        return rotated

    def close(self):
        self.fh.close()


def harvester_of(agent, path):
    try:
        return agent.harvesters.get(file_key(os.stat(path)))
    except FileNotFoundError:
        return None


def noticed_rotation(agent, mode, live, rotated):
    """The agent saw the rotation: the renamed file left `tailing`; the truncated file restarted."""
    if mode == "rename":
        h = harvester_of(agent, rotated)
        return h is not None and h.state is not FileState.TAILING
    h = harvester_of(agent, live)
    return harvester_of(agent, rotated) is not None and h is not None and h.position <= os.stat(live).st_size


def freeze(fresh_broker):
    os.kill(fresh_broker.proc.pid, signal.SIGSTOP)


def thaw(fresh_broker):
    os.kill(fresh_broker.proc.pid, signal.SIGCONT)


def rotate_during_stall(agent, fresh_broker, w, mode):
    """Rotate GENERATIONS times while the broker is frozen, each generation opened by the agent at
    app.log before it is rotated away; returns once the stall is well past the delivery timeout."""
    stopped_at = time.monotonic()
    freeze(fresh_broker)
    for g in range(GENERATIONS):
        w.write(LINES_PER_FILE)
        assert wait_until(lambda: harvester_of(agent, w.log) is not None), "the agent must open every generation"
        if g == 0:
            assert wait_until(lambda: agent.shipper.busy), "reading must stop while the broker is frozen"
        rotated = w.rotate()
        assert wait_until(lambda: noticed_rotation(agent, mode, w.log, rotated))
    w.write(LINES_PER_FILE)
    # frozen for at least twice the delivery timeout: records time out and go to the spool
    time.sleep(max(0.0, stopped_at + 2 * DELIVERY_TIMEOUT_MS / 1000 - time.monotonic()))


def assert_every_line_once(docs, total):
    by_line = defaultdict(set)
    for d in docs:
        by_line[int(d["message"].split("request ")[1].split()[0])].add(raw_event_id(d))
    missing = sorted(set(range(total)) - set(by_line))
    assert not missing, f"{len(missing)} of {total} lines never arrived, e.g. {missing[:5]}"
    twice = {n: ids for n, ids in by_line.items() if len(ids) > 1}
    assert not twice, f"{len(twice)} lines shipped as two different events, e.g. {sorted(twice)[:5]}"
    assert set(by_line) == set(range(total))


@pytest.fixture
def thawed(fresh_broker):
    """Whatever happens in the test, the broker is not left stopped (its teardown would hang)."""
    yield fresh_broker
    if fresh_broker.proc is not None and fresh_broker.proc.poll() is None:
        thaw(fresh_broker)


@pytest.mark.parametrize("mode", ["rename", "copytruncate"])
def test_rotation_while_the_broker_is_frozen_ships_every_line_once(tmp_path, thawed, run_agent, mode):
    fresh_broker = thawed
    (tmp_path / "logs").mkdir()
    w = Writer(tmp_path / "logs", mode)
    r = run_agent(make_agent(tmp_path, fresh_broker))
    w.write(200)
    assert wait_until(lambda: r.agent.stats.sent >= 200, timeout=60)
    rotate_during_stall(r.agent, fresh_broker, w, mode)
    thaw(fresh_broker)
    w.write(200)
    w.close()
    total = w.n
    docs = consume(fresh_broker.bootstrap, "logs.raw", total, timeout=60)
    r.stop()
    assert r.agent.stats.lines_read == total, "every line read once, the copies' included"
    assert_every_line_once(docs, total)
    assert r.agent.stats.spooled > 0  # the stall really outlasted the delivery timeout


@pytest.mark.parametrize("mode", ["rename", "copytruncate"])
def test_full_spool_holds_offsets_and_waits_for_the_broker(tmp_path, thawed, run_agent, mode):
    fresh_broker = thawed
    (tmp_path / "logs").mkdir()
    w = Writer(tmp_path / "logs", mode)
    spool_max = 64 * 1024  # ~130 envelopes: far less than the lines written during the stall
    r = run_agent(make_agent(tmp_path, fresh_broker, spool_max_bytes=spool_max, spool_segment_bytes=16 * 1024))
    agent = r.agent
    w.write(200)
    assert wait_until(lambda: agent.stats.sent >= 200, timeout=60)
    rotate_during_stall(agent, fresh_broker, w, mode)
    spool = agent.shipper.spool
    assert wait_until(lambda: spool.size_bytes > spool_max // 2 and agent.shipper.busy), "the spool must fill"
    read = agent.stats.lines_read
    assert read < w.n, "with the spool full the agent stops reading"
    # held, not lost: the registry (written every 100 ms) has offsets short of the files' ends,
    # and no offset beyond what was read
    reg = Registry(tmp_path / "data" / "agent" / "registry.json")
    behind = 0
    for p in (tmp_path / "logs").iterdir():
        entry = reg.get(file_key(os.stat(p)))
        offset = entry.offset if entry is not None else 0
        assert offset <= os.stat(p).st_size
        behind += os.stat(p).st_size - offset
    assert behind > 0
    assert agent.stats.dropped == 0
    time.sleep(0.5)
    assert agent.stats.lines_read == read and agent.shipper.busy  # still waiting, nothing read past the full spool
    thaw(fresh_broker)
    w.write(200)
    w.close()
    total = w.n
    docs = consume(fresh_broker.bootstrap, "logs.raw", total, timeout=90)
    assert wait_until(lambda: spool.empty, timeout=30)
    r.stop()
    assert agent.stats.lines_read == total and agent.stats.dropped == 0
    assert_every_line_once(docs, total)
