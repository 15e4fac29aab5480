"""Which file of a path may be read: older rotated files first, never two waiting on each other.

The agent's loop is driven by hand here (scan, pump, check) on real files, with a broker
address nobody listens on and an in-flight window of one record: after the first read
nothing is acknowledged, so reading pauses, exactly as when the broker is away (issue 17).
"""
import os

import pytest

from logwarden.agents.config import AgentConfig, FileSource
from logwarden.agents.identity import file_key
from logwarden.agents.lifecycle import FileState
from logwarden.agents.service import Agent
from logwarden.config import Config
from lwtest import free_port


@pytest.fixture
def agent(tmp_path):
    cfg = Config(data_dir=str(tmp_path / "data"), kafka={"bootstrap_servers": f"127.0.0.1:{free_port()}"},
                 sources=[FileSource(paths=[str(tmp_path / "app.log*")])])
    a = Agent(cfg, AgentConfig(spool_max_bytes=0, max_inflight_records=1))
    yield a
    a.shipper.close(0)


def write(path, lines):
    with open(path, "a") as f:
        f.write("".join(f"{x}\n" for x in lines))


def test_generations_rotated_while_nothing_is_read_drain_oldest_first(tmp_path, agent):
    log = tmp_path / "app.log"
    keys = []
    for g in range(3):  # three generations opened at app.log and renamed while reading is paused
        write(log, [f"gen{g} line {i}" for i in range(5)])
        agent.scan()
        agent.pump(0.0)  # the first read fills the in-flight window: the broker never answers
        keys.append(file_key(os.stat(log)))
        os.rename(log, tmp_path / f"app.log.{g + 1}")
        agent.check(0.0)
    write(log, ["live 0"])
    agent.scan()
    assert agent.shipper.busy and agent.stats.lines_read == 5
    hs = [agent.harvesters[k] for k in keys]
    assert [h.state for h in hs] == [FileState.ROTATED] * 3 and [h.position for h in hs][1:] == [0, 0]
    # the oldest may be read; each newer one waits for the one before it (before the fix every
    # one of them waited for the others: [True, True, True], for good)
    assert [agent._blocked(h) for h in hs] == [False, True, True]
    agent.shipper.max_inflight = 10_000  # room again, as when the broker answers
    for _ in range(8):
        agent.pump(0.0)
    assert [h.state for h in hs] == [FileState.DRAINED] * 3
    assert agent.stats.lines_read == 16  # 3 x 5 rotated lines, then the live file


def test_copy_of_a_file_truncated_before_it_was_read_is_read_when_the_writer_goes_quiet(tmp_path, agent):
    """Regression (found by the chaos run, issue 18): a file waiting behind an older rotated
    one (position 0) was copytruncated, and its writer wrote nothing after. The copy was held
    for good: an empty original "had the same bytes" (none), and its truncation cannot be
    seen at position 0 - so the copied lines never shipped until the writer wrote again."""
    import shutil

    log = tmp_path / "app.log"
    write(log, [f"gen0 line {i}" for i in range(5)])
    agent.scan()
    agent.pump(0.0)  # reading pauses: nothing is acknowledged
    os.rename(log, tmp_path / "app.log.1")
    agent.check(0.0)
    write(log, [f"gen1 line {i}" for i in range(5)])
    agent.scan()  # opened, waits behind app.log.1 at position 0
    shutil.copyfile(log, tmp_path / "app.log.2")
    os.truncate(log, 0)  # ... and the writer is quiet from now on
    agent.scan()
    agent.check(0.0)
    agent.shipper.max_inflight = 10_000  # the broker answers again
    for _ in range(8):
        agent.pump(0.0)
        agent.check(0.0)
    assert agent.stats.lines_read == 10  # 5 of app.log.1, 5 of the copy app.log.2, each once


def test_a_file_opened_empty_is_not_held_as_a_copy_of_itself(tmp_path, agent):
    """A new file at a rotated path is opened empty (the writer has not written yet); when its
    first line comes, it is compared with the files being read - never with itself, which
    "has the same bytes" and would hold it for good."""
    log = tmp_path / "app.log"
    log.touch()
    agent.scan()
    agent.shipper.max_inflight = 10_000
    agent.pump(0.0)
    write(log, [f"line {i}" for i in range(5)])
    for _ in range(4):
        agent.pump(0.0)
        agent.check(0.0)
    assert agent.stats.lines_read == 5
    assert all(h.copy_of is None for h in agent.harvesters.values())
