"""Rotation, discovery and multiline through the whole agent loop.

No broker listens, so every record ends in the disk spool in the order it was shipped;
the spool is the observable output here (the same records a broker would get).
"""
import contextlib
import os
import shutil

import orjson
import pytest
from lwtest import free_port, wait_until

from logwarden.agents.config import AgentConfig, FileSource, MultilineConfig
from logwarden.agents.identity import file_key
from logwarden.agents.registry import Registry
from logwarden.agents.service import Agent
from logwarden.spool import read_all
from logwarden.config import Config

pytestmark = pytest.mark.integration


def agent(tmp_path, paths, close_inactive_ms=60_000, **src):
    cfg = Config(data_dir=str(tmp_path / "data"), kafka={"bootstrap_servers": f"127.0.0.1:{free_port()}"},
                 sources=[FileSource(paths=paths, **src)])
    return Agent(cfg, AgentConfig(delivery_timeout_ms=300, registry_flush_ms=0, poll_interval_ms=30, scan_interval_ms=60,
                                  retry_backoff_ms=50, retry_backoff_max_ms=100, close_inactive_ms=close_inactive_ms))


def shipped(tmp_path):
    return [orjson.loads(v) for v in read_all(tmp_path / "data" / "agent" / "spool")]


def write(path, lines, mode="a"):
    with open(path, mode) as f:
        f.write("".join(f"{x}\n" for x in lines))


def test_rename_rotation_finishes_old_file_then_follows_new(tmp_path, run_agent):
    log = tmp_path / "app.log"
    write(log, [f"old {i}" for i in range(100)], "w")
    r = run_agent(agent(tmp_path, [str(tmp_path / "app.log")]))
    assert wait_until(lambda: r.agent.stats.spooled == 100)
    writer = open(log, "a")  # the application keeps its descriptor across the rename
    os.rename(log, tmp_path / "app.log.1")
    writer.write("".join(f"old {i}\n" for i in range(100, 150)))
    writer.flush()
    write(log, [f"new {i}" for i in range(30)], "w")
    writer.close()
    assert wait_until(lambda: r.agent.stats.spooled == 180)
    r.stop()
    msgs = [d["message"] for d in shipped(tmp_path)]
    assert msgs == [f"old {i}" for i in range(150)] + [f"new {i}" for i in range(30)]
    docs = shipped(tmp_path)
    assert len({d["event"]["id"] for d in docs}) == 180
    old_inode = docs[0]["log"]["file"]["inode"]
    assert all(d["log"]["file"]["inode"] == old_inode for d in docs[:150])
    assert all(d["log"]["file"]["inode"] != old_inode for d in docs[150:])


def test_copytruncate_restarts_at_zero(tmp_path, run_agent):
    log = tmp_path / "app.log"
    write(log, [f"before {i}" for i in range(100)], "w")
    r = run_agent(agent(tmp_path, [str(tmp_path / "*.log")]))
    assert wait_until(lambda: r.agent.stats.spooled == 100)
    shutil.copy(log, tmp_path / "app.log.1")  # logrotate copytruncate: copy, then truncate in place
    with open(log, "r+") as f:
        f.truncate(0)
    write(log, [f"after {i}" for i in range(20)])
    assert wait_until(lambda: r.agent.stats.spooled == 120)
    r.stop()
    docs = shipped(tmp_path)
    assert [d["message"] for d in docs] == [f"before {i}" for i in range(100)] + [f"after {i}" for i in range(20)]
    assert docs[100]["log"]["offset"] == 0
    assert docs[100]["event"]["id"] != docs[0]["event"]["id"]  # same inode, same offset, new fingerprint
    (entry,) = Registry(tmp_path / "data" / "agent" / "registry.json").entries.values()
    assert entry.offset == log.stat().st_size


def test_new_files_found_by_rescan_and_recursive_glob(tmp_path, run_agent):
    (tmp_path / "a").mkdir()
    write(tmp_path / "a" / "one.log", ["one"], "w")
    r = run_agent(agent(tmp_path, [str(tmp_path / "**" / "*.log")], exclude=["*.gz"]))
    assert wait_until(lambda: r.agent.stats.spooled == 1)
    (tmp_path / "a" / "b").mkdir()
    write(tmp_path / "a" / "b" / "two.log", ["two"], "w")
    write(tmp_path / "a" / "b" / "skip.log.gz", ["never"], "w")
    write(tmp_path / "three.log", ["three"], "w")
    assert wait_until(lambda: r.agent.stats.spooled == 3)
    r.stop()
    assert sorted(d["message"] for d in shipped(tmp_path)) == ["one", "three", "two"]


def test_multiline_and_truncation_flags(tmp_path, run_agent):
    log = tmp_path / "java.log"
    write(log, ["2024-01-01 ERROR boom", "\tat a.b(C.java:1)", "\tat d.e(F.java:2)", "2024-01-01 INFO " + "y" * 300, "2024-01-01 INFO tail"], "w")
    r = run_agent(agent(tmp_path, [str(log)], max_line_bytes=128,
                        multiline=MultilineConfig(pattern=r"^\d{4}-", negate=True, match="after", timeout_ms=100)))
    assert wait_until(lambda: r.agent.stats.spooled == 3)
    r.stop()
    docs = shipped(tmp_path)
    assert docs[0]["message"] == "2024-01-01 ERROR boom\n\tat a.b(C.java:1)\n\tat d.e(F.java:2)"
    assert docs[0]["log"]["flags"] == ["multiline"]
    assert docs[1]["log"]["flags"] == ["truncated"] and len(docs[1]["message"]) == 128
    assert docs[2]["message"] == "2024-01-01 INFO tail"  # shipped by the multiline timeout
    assert r.agent.stats.truncated == 1


def test_inode_reuse_with_other_content_is_read_from_zero(tmp_path, run_agent):
    log = tmp_path / "app.log"
    write(log, ["brand new file", "second"], "w")
    reg = Registry(tmp_path / "data" / "agent" / "registry.json")
    # a registry entry left by an older file that had this inode: other first line, offset 5
    reg.set(file_key(os.stat(log)), str(log), "0000000000000000", 5)
    reg.flush()
    r = run_agent(agent(tmp_path, [str(log)]))
    assert wait_until(lambda: r.agent.stats.spooled == 2)
    r.stop()
    assert [d["message"] for d in shipped(tmp_path)] == ["brand new file", "second"]


def test_idle_file_is_closed_and_reopened_when_it_grows(tmp_path, run_agent):
    log = tmp_path / "app.log"
    write(log, ["a"], "w")
    r = run_agent(agent(tmp_path, [str(log)], close_inactive_ms=200))
    assert wait_until(lambda: r.agent.stats.spooled == 1 and not r.agent.harvesters)
    write(log, ["b"])
    assert wait_until(lambda: r.agent.stats.spooled == 2)
    r.stop()
    assert [d["message"] for d in shipped(tmp_path)] == ["a", "b"]


def test_rotation_without_late_writes_and_removal(tmp_path, run_agent):
    log = tmp_path / "app.log"
    write(log, ["first"], "w")
    r = run_agent(agent(tmp_path, [str(log)]))
    assert wait_until(lambda: r.agent.stats.spooled == 1)
    os.rename(log, tmp_path / "app.log.1")  # logrotate, and the writer had nothing more to say
    write(log, ["second"], "w")
    assert wait_until(lambda: r.agent.stats.spooled == 2)
    os.unlink(tmp_path / "app.log.1")  # removed: its descriptor is released without waiting
    assert wait_until(lambda: len(r.agent.harvesters) == 1)
    r.stop()
    assert [d["message"] for d in shipped(tmp_path)] == ["first", "second"]


def test_start_at_end_skips_existing_lines_of_files_found_at_start(tmp_path, run_agent):
    log = tmp_path / "app.log"
    write(log, ["old 1", "old 2"], "w")
    r = run_agent(agent(tmp_path, [str(tmp_path / "*.log")], start_at="end"))
    assert wait_until(lambda: r.agent.harvesters)
    write(log, ["new 1"])
    write(tmp_path / "later.log", ["from a file created later"], "w")  # later files start at 0
    assert wait_until(lambda: r.agent.stats.spooled == 2)
    r.stop()
    assert sorted(d["message"] for d in shipped(tmp_path)) == ["from a file created later", "new 1"]



def test_a_changed_device_number_keeps_the_offset(tmp_path, run_agent):
    from logwarden.agents.identity import fingerprint_path

    log = tmp_path / "app.log"
    write(log, ["shipped before the reboot", "new after it"], "w")
    st = os.stat(log)
    reg = Registry(tmp_path / "data" / "agent" / "registry.json")
    # the previous run saw this file on device 999 (volumes can come back with another number)
    reg.set(f"999:{st.st_ino}", str(log), fingerprint_path(str(log)), len("shipped before the reboot\n"))
    reg.flush()
    r = run_agent(agent(tmp_path, [str(log)]))
    assert wait_until(lambda: r.agent.stats.spooled == 1)
    r.stop()
    assert [d["message"] for d in shipped(tmp_path)] == ["new after it"]
    assert list(Registry(tmp_path / "data" / "agent" / "registry.json").entries) == [file_key(st)]


def test_copytruncate_ships_a_pending_multiline_record_of_the_old_content(tmp_path, run_agent):
    log = tmp_path / "app.log"
    write(log, ["2024-01-01 ERROR boom", "\tat a.b(C.java:1)"], "w")
    r = run_agent(agent(tmp_path, [str(log)], multiline=MultilineConfig(pattern=r"^\d{4}-", negate=True, match="after", timeout_ms=60_000)))
    assert wait_until(lambda: r.agent.harvesters and next(iter(r.agent.harvesters.values())).joiner.pending)
    with open(log, "r+") as f:
        f.truncate(0)
    write(log, ["2024-01-02 INFO fresh", "2024-01-02 INFO next"])
    assert wait_until(lambda: r.agent.stats.spooled == 2)
    r.stop()
    assert [d["message"] for d in shipped(tmp_path)] == ["2024-01-01 ERROR boom\n\tat a.b(C.java:1)", "2024-01-02 INFO fresh"]


def test_copytruncate_copy_continues_where_the_original_was_left(tmp_path, run_agent):
    """With the copies in the globs, the copy is read from where reading of the original
    ended, so the lines appended just before the truncate arrive once and nothing twice."""
    log = tmp_path / "app.log"
    write(log, [f"first {i}" for i in range(100)], "w")
    r = run_agent(agent(tmp_path, [str(tmp_path / "app.log*")]))
    assert wait_until(lambda: r.agent.stats.spooled == 100)
    write(log, [f"late {i}" for i in range(50)])  # the agent may or may not read these before the truncate
    shutil.copy(log, tmp_path / "app.log.1")
    os.truncate(log, 0)
    write(log, [f"after {i}" for i in range(20)])
    assert wait_until(lambda: r.agent.stats.spooled >= 170 and len(r.agent.harvesters) == 2)
    assert wait_until(lambda: all(h.eof for h in r.agent.harvesters.values()))
    r.stop()
    msgs = sorted(d["message"] for d in shipped(tmp_path))
    assert msgs == sorted([f"first {i}" for i in range(100)] + [f"late {i}" for i in range(50)] + [f"after {i}" for i in range(20)])


def test_a_file_sharing_only_its_header_line_is_not_taken_for_a_copy(tmp_path, run_agent):
    """W3C or CSV logs start every file with the same line; such a file is read at once."""
    header = "#Fields: date time cs-method cs-uri-stem sc-status"
    write(tmp_path / "a.log", [header] + [f"a {i}" for i in range(10)], "w")
    r = run_agent(agent(tmp_path, [str(tmp_path / "*.log")]))
    assert wait_until(lambda: r.agent.stats.spooled == 11)
    write(tmp_path / "b.log", [header] + [f"b {i}" for i in range(5)], "w")
    assert wait_until(lambda: r.agent.stats.spooled == 17)
    write(tmp_path / "c.log", [header], "w")  # only the header so far, then its own lines
    assert wait_until(lambda: r.agent.stats.spooled == 18)
    write(tmp_path / "c.log", ["c 0"])
    assert wait_until(lambda: r.agent.stats.spooled == 19)
    r.stop()
    assert sorted(d["message"] for d in shipped(tmp_path)) == sorted([header] * 3 + [f"a {i}" for i in range(10)] + [f"b {i}" for i in range(5)] + ["c 0"])


def test_copytruncate_copy_found_while_still_empty_is_still_held_as_a_copy(tmp_path, run_agent):
    """Regression (found by the chaos run, issue 18): logrotate's copy exists before its
    bytes do, and a watchdog create event can open it while it is empty. It had no first
    line then, so it was never compared with the original, and once filled it was read
    from 0: every line of the copied generation shipped twice."""
    log = tmp_path / "app.log"
    write(log, [f"first {i}" for i in range(100)], "w")
    r = run_agent(agent(tmp_path, [str(tmp_path / "app.log*")]))
    assert wait_until(lambda: r.agent.stats.spooled == 100)
    copy = tmp_path / "app.log.1"
    copy.touch()
    assert wait_until(lambda: len(r.agent.harvesters) == 2)  # opened while empty
    shutil.copyfile(log, copy)
    os.truncate(log, 0)
    write(log, [f"after {i}" for i in range(20)])
    assert wait_until(lambda: r.agent.stats.spooled >= 120)
    assert wait_until(lambda: all(h.eof for h in r.agent.harvesters.values()))
    r.stop()
    msgs = sorted(d["message"] for d in shipped(tmp_path))
    assert msgs == sorted([f"first {i}" for i in range(100)] + [f"after {i}" for i in range(20)])


@pytest.mark.parametrize("copy_name", ["app.log.1", "0-app.log"])  # the copy listed after, then before, its original
def test_copytruncate_while_the_agent_is_stopped_ships_each_line_once(tmp_path, run_agent, copy_name):
    # Regression: the handoff from a truncated original to its copy lived only in memory. With
    # the agent stopped (or restarted by the supervisor) across logrotate's copytruncate, the
    # copy was read from 0 and every line the agent had already shipped went out again under
    # the copy's identity (100 duplicates here; one generation was doubled in a chaos run).
    log = tmp_path / "app.log"
    write(log, [f"before {i}" for i in range(100)], "w")
    glob = [str(tmp_path / "*app.log*")]
    r = run_agent(agent(tmp_path, glob))
    assert wait_until(lambda: r.agent.stats.spooled == 100)
    r.stop()
    shutil.copy(log, tmp_path / copy_name)
    with open(log, "r+") as f:
        f.truncate(0)
    write(tmp_path / copy_name, [f"before {i}" for i in range(100, 110)])  # written to the copy's
    write(log, [f"after {i}" for i in range(20)])                          # content after the copy
    r = run_agent(agent(tmp_path, glob))
    assert wait_until(lambda: r.agent.stats.spooled >= 30)
    with contextlib.suppress(AssertionError):  # give a wrong re-read time to show (it must not)
        wait_until(lambda: r.agent.stats.spooled > 30, timeout=2.0)
    r.stop()
    assert r.agent.stats.spooled == 30, f"{r.agent.stats.spooled} records shipped after the restart, 30 expected"
    messages = sorted(d["message"] for d in shipped(tmp_path))
    assert messages == sorted([f"before {i}" for i in range(110)] + [f"after {i}" for i in range(20)])


def test_lines_read_again_from_a_copy_keep_the_originals_event_ids(tmp_path, run_agent):
    # The agent killed after shipping lines but before its registry recorded them, then a
    # copytruncate while it was down: the copy continues at the registry's (older) offset and
    # reads those lines again. They carried the copy's inode and so new event ids: indexed twice
    # (264 lines in a chaos run, seed 22). Now they carry the original's identity and ids.
    log = tmp_path / "app.log"
    write(log, [f"line {i}" for i in range(100)], "w")
    glob = [str(tmp_path / "*app.log*")]
    r = run_agent(agent(tmp_path, glob))
    assert wait_until(lambda: r.agent.stats.spooled == 100)
    r.stop()
    reg_path = tmp_path / "data" / "agent" / "registry.json"
    reg = Registry(reg_path)
    (key, entry), = reg.entries.items()
    content = log.read_bytes()
    behind = content.index(b"line 60\n")   # as if lines 60-99 were shipped but not yet recorded
    reg.set(key, entry.path, entry.fingerprint, behind, content[max(0, behind - 256):behind])
    reg.flush(force=True)
    shutil.copy(log, tmp_path / "app.log.1")
    with open(log, "r+") as f:
        f.truncate(0)
    write(log, [f"after {i}" for i in range(5)])
    r = run_agent(agent(tmp_path, glob))
    assert wait_until(lambda: r.agent.stats.spooled >= 45)
    r.stop()
    ids: dict[str, set[str]] = {}
    for d in shipped(tmp_path):
        ids.setdefault(d["message"], set()).add(d["event"]["id"])
    assert sorted(ids) == sorted([f"line {i}" for i in range(100)] + [f"after {i}" for i in range(5)])
    twice = {m: v for m, v in ids.items() if len(v) > 1}
    assert not twice, f"{len(twice)} lines under two event ids, e.g. {next(iter(twice.items()))}"
