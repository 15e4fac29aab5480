import json
import os

from hypothesis import given, strategies as st

from logwarden.agents.registry import AckTracker, Registry


def test_flush_and_reload(tmp_path):
    path = tmp_path / "agent" / "registry.json"
    r = Registry(path)
    assert not r.flush()  # nothing to write
    r.set("2049:11", "/var/log/a.log", "abc", 120)
    assert r.flush()
    doc = json.loads(path.read_text())
    assert doc["version"] == 1
    assert doc["files"]["2049:11"]["offset"] == 120 and doc["files"]["2049:11"]["inode"] == "11"
    again = Registry(path)
    e = again.get("2049:11")
    assert (e.path, e.device_id, e.inode, e.fingerprint, e.offset) == ("/var/log/a.log", "2049", "11", "abc", 120)
    assert not os.path.exists(str(path) + ".tmp")


def test_unchanged_set_does_not_dirty(tmp_path):
    r = Registry(tmp_path / "r.json")
    r.set("1:2", "/x", "f", 5)
    r.flush()
    r.set("1:2", "/x", "f", 5)
    assert not r.dirty
    r.remove("1:2")
    assert r.dirty and r.flush()
    assert Registry(tmp_path / "r.json").entries == {}


def test_a_leftover_temp_file_does_not_matter(tmp_path):
    path = tmp_path / "registry.json"
    r = Registry(path)
    r.set("1:2", "/x", "f", 5)
    r.flush()
    (tmp_path / "registry.json.tmp").write_bytes(b'{"files": {"1:2": {"offs')  # a crash mid-write
    assert Registry(path).get("1:2").offset == 5


def test_corrupt_registry_starts_empty(tmp_path):
    path = tmp_path / "registry.json"
    path.write_text("{not json")
    assert Registry(path).entries == {}


def test_tracker_in_order():
    t = AckTracker(10)
    s1, s2 = t.add(20), t.add(35)
    assert t.committed == 10
    t.ack(s1)
    assert t.committed == 20
    t.ack(s2)
    assert t.committed == 35 and t.pending == 0


def test_tracker_gap_holds_the_offset():
    t = AckTracker(0)
    seqs = [t.add(e) for e in (10, 20, 30)]
    t.ack(seqs[2])
    t.ack(seqs[1])
    assert t.committed == 0
    t.ack(seqs[0])
    assert t.committed == 30


@given(st.lists(st.integers(1, 100), min_size=1, max_size=60), st.randoms(use_true_random=False))
def test_tracker_commits_exactly_the_contiguous_prefix(sizes, rnd):
    t = AckTracker(0)
    ends, pos = [], 0
    for s in sizes:
        pos += s
        ends.append(pos)
    seqs = [t.add(e) for e in ends]
    order = list(range(len(seqs)))
    rnd.shuffle(order)
    acked = set()
    for i in order:
        t.ack(seqs[i])
        acked.add(i)
        k = 0
        while k in acked:
            k += 1
        assert t.committed == (ends[k - 1] if k else 0)
    assert t.committed == ends[-1] and t.pending == 0
