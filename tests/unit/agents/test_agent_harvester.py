"""The harvester against real files in a temp dir: rename and copytruncate rotation, inode reuse."""
import os
import shutil

from logwarden.agents.config import FileSource, MultilineConfig
from logwarden.agents.harvester import Handoff, Harvester
from logwarden.agents.lifecycle import FileEvent, FileState


def read_all(h, now=0.0):
    out = []
    while True:
        recs, n = h.read(1 << 16, now)
        out += recs
        if n == 0:
            return out


def src(tmp_path, **kw):
    return FileSource(paths=[str(tmp_path / "*.log")], **kw)


def test_reads_appended_lines_and_keeps_partial(tmp_path):
    p = tmp_path / "a.log"
    p.write_bytes(b"one\ntwo\npar")
    h = Harvester(src(tmp_path), str(p))
    assert h.state is FileState.TAILING
    assert [r.data for r in read_all(h)] == [b"one", b"two"]
    assert h.eof
    with open(p, "ab") as f:
        f.write(b"tial\n")
    recs = read_all(h)
    assert [(r.offset, r.data) for r in recs] == [(8, b"partial")]
    h.close()


def test_resume_from_offset(tmp_path):
    p = tmp_path / "a.log"
    p.write_bytes(b"one\ntwo\nthree\n")
    h = Harvester(src(tmp_path), str(p), offset=4)
    assert [r.data for r in read_all(h)] == [b"two", b"three"]
    h.close()


def test_rename_rotation_keeps_reading_the_old_file(tmp_path):
    p = tmp_path / "a.log"
    p.write_bytes(b"one\n")
    h = Harvester(src(tmp_path), str(p))
    read_all(h)
    with open(p, "ab") as f:
        f.write(b"two\n")
    os.rename(p, tmp_path / "a.log.1")
    p.write_bytes(b"new\n")
    assert h.check() is FileEvent.MOVED and h.state is FileState.ROTATED
    assert [r.data for r in read_all(h)] == [b"two"]
    assert h.state is FileState.DRAINED
    h.close()


def test_deleted_file_counts_as_moved(tmp_path):
    p = tmp_path / "a.log"
    p.write_bytes(b"one\n")
    h = Harvester(src(tmp_path), str(p))
    os.unlink(p)
    assert h.check() is FileEvent.MOVED
    assert [r.data for r in read_all(h)] == [b"one"]  # the open fd still reads it
    h.close()


def test_copytruncate_restarts_at_zero_with_new_fingerprint(tmp_path):
    p = tmp_path / "a.log"
    p.write_bytes(b"first generation line\nsecond\n")
    h = Harvester(src(tmp_path), str(p))
    read_all(h)
    old_fp, key = h.fingerprint, h.key
    with open(p, "r+b") as f:  # what logrotate's copytruncate does after copying
        f.truncate(0)
    with open(p, "ab") as f:
        f.write(b"new\n")
    assert h.check() is FileEvent.TRUNCATED and h.state is FileState.TAILING
    assert h.key == key and h.fingerprint != old_fp and h.tracker.committed == 0
    assert [(r.offset, r.data) for r in read_all(h)] == [(0, b"new")]
    h.close()


def test_truncated_and_refilled_past_position_is_detected(tmp_path):
    p = tmp_path / "a.log"
    p.write_bytes(b"gen1\n")
    h = Harvester(src(tmp_path), str(p))
    read_all(h)
    with open(p, "r+b") as f:
        f.truncate(0)
        f.write(b"gen2 is longer\nmore\n")
    assert h.check() is FileEvent.TRUNCATED
    assert [r.data for r in read_all(h)] == [b"gen2 is longer", b"more"]
    h.close()


def test_truncated_and_refilled_before_anything_was_read_is_new_content(tmp_path):
    """Held back (the broker away), the harvester never read the first content; it is replaced
    by longer content. The first-line check runs at offset 0 too: this is a new generation,
    and the old one (read up to 0) is handed off to its copy."""
    p = tmp_path / "a.log"
    p.write_bytes(b"gen1 first\ngen1 second\n")
    h = Harvester(src(tmp_path), str(p))
    old_fp = h.fingerprint
    with open(p, "r+b") as f:
        f.truncate(0)
        f.write(b"gen2 first line is longer\nmore\n")
    assert h.check() is FileEvent.TRUNCATED
    assert h.handoff == Handoff(old_fp, 0, b"") and h.fingerprint != old_fp
    assert [r.data for r in read_all(h)] == [b"gen2 first line is longer", b"more"]
    h.close()


def test_truncation_hands_off_to_the_copy_with_the_same_bytes(tmp_path):
    p = tmp_path / "a.log"
    p.write_bytes(b"first\nsecond\npart")
    h = Harvester(src(tmp_path), str(p))
    read_all(h)
    with open(p, "ab") as f:
        f.write(b"ial\nunread\n")
    shutil.copyfile(p, tmp_path / "a.log.1")  # copytruncate: copy, then truncate
    (tmp_path / "other.log").write_bytes(b"first\nanother file with the same first line\n")
    os.truncate(p, 0)
    assert h.check() is FileEvent.TRUNCATED
    ho = h.handoff
    assert ho.resume == len(b"first\nsecond\n") and ho.tail == b"first\nsecond\n"  # the partial line is not read yet
    copy = Harvester(src(tmp_path), str(tmp_path / "a.log.1"))
    other = Harvester(src(tmp_path), str(tmp_path / "other.log"))
    assert copy.fingerprint == other.fingerprint == ho.fingerprint
    assert ho.matches(copy.fd) and not ho.matches(other.fd)
    copy.resume_at(ho.resume)
    assert [r.data for r in read_all(copy)] == [b"partial", b"unread"]
    for x in (h, copy, other):
        x.close()


def test_lag_bytes_is_what_is_left_to_read(tmp_path):
    p = tmp_path / "a.log"
    p.write_bytes(b"one\ntwo\n")
    h = Harvester(src(tmp_path), str(p))
    assert h.lag_bytes() == 8
    read_all(h)
    assert h.lag_bytes() == 0
    with open(p, "ab") as f:
        f.write(b"three\n")
    assert h.lag_bytes() == 6
    h.close()
    assert h.lag_bytes() == 0


def test_no_records_before_the_first_line_is_complete(tmp_path):
    p = tmp_path / "a.log"
    p.write_bytes(b"no newline yet")
    h = Harvester(src(tmp_path), str(p))
    assert read_all(h) == [] and h.fingerprint is None
    with open(p, "ab") as f:
        f.write(b"\n")
    assert [r.data for r in read_all(h)] == [b"no newline yet"] and h.fingerprint
    h.close()


def test_multiline_timeout_through_harvester(tmp_path):
    p = tmp_path / "a.log"
    p.write_bytes(b"Exception\n  at x\n")
    h = Harvester(src(tmp_path, multiline=MultilineConfig(pattern=r"^\s", timeout_ms=100)), str(p))
    assert read_all(h, now=1.0) == []
    recs, _ = h.read(1024, 1.2)
    assert [(r.data, r.end) for r in recs] == [(b"Exception\n  at x", 17)]
    h.close()


def test_rename_of_a_file_already_read_to_the_end_drains(tmp_path):
    p = tmp_path / "a.log"
    p.write_bytes(b"one\n")
    h = Harvester(src(tmp_path), str(p))
    read_all(h)
    assert h.eof
    os.rename(p, tmp_path / "a.log.1")  # nothing appended afterwards
    assert h.check() is FileEvent.MOVED
    assert read_all(h) == [] and h.state is FileState.DRAINED
    h.close()


from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"_")), min_size=1, max_size=30), st.data())
def test_appends_in_any_pieces_read_back_exactly(tmp_path, lines, data):
    """A writer appends lines in arbitrary pieces, reads interleave: every line comes back once, in order."""
    p = tmp_path / f"h{abs(hash(tuple(lines))) % 10**9}.log"
    content = b"".join(x + b"\n" for x in lines)
    p.write_bytes(b"")
    h = Harvester(src(tmp_path), str(p))
    got, pos = [], 0
    cuts = sorted(set(data.draw(st.lists(st.integers(1, len(content)), max_size=10)))) + [len(content)]
    with open(p, "ab") as f:
        for cut in cuts:
            f.write(content[pos:cut])
            f.flush()
            pos = cut
            got += read_all(h)
    got += read_all(h)
    assert [r.data for r in got] == [x[:-1] if x.endswith(b"\r") else x for x in lines]
    assert [r.offset for r in got] == [sum(len(x) + 1 for x in lines[:i]) for i in range(len(lines))]
    h.close()


def test_a_read_notices_truncate_and_refill_before_the_poll_does(tmp_path):
    p = tmp_path / "a.log"
    p.write_bytes(b"generation one\n")
    h = Harvester(src(tmp_path), str(p))
    read_all(h)
    with open(p, "r+b") as f:  # rewritten past our position between two polls
        f.truncate(0)
        f.write(b"generation two, longer\nmore\n")
    recs, n = h.read(1 << 16, 0.0)
    assert recs == [] and n == 0 and h.suspect  # no tail of the new content read as a line
    assert h.check() is FileEvent.TRUNCATED and not h.suspect
    assert [r.data for r in read_all(h)] == [b"generation two, longer", b"more"]
    h.close()
