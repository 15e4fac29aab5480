import os

from logwarden.spool import Spool


def test_append_replay_remove(tmp_path):
    sp = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=1024)
    assert sp.empty
    recs = [b"record-%d" % i * 10 for i in range(100)]
    assert sp.append(recs) == 100
    assert not sp.empty and sp.size_bytes > 0
    got = []
    while not sp.empty:
        seq, part = sp.oldest()
        got += part
        sp.remove(seq)
    assert got == recs and sp.size_bytes == 0 and os.listdir(tmp_path) == []


def test_survives_reopen(tmp_path):
    sp = Spool(tmp_path, 1 << 20, 4096)
    sp.append([b"a", b"b"])
    sp.close()
    sp2 = Spool(tmp_path, 1 << 20, 4096)
    sp2.append([b"c"])
    out = []
    while not sp2.empty:
        seq, part = sp2.oldest()
        out += part
        sp2.remove(seq)
    assert out == [b"a", b"b", b"c"]


def test_bounded(tmp_path):
    sp = Spool(tmp_path, max_bytes=100, segment_bytes=1024)
    assert sp.append([b"x" * 40, b"y" * 40, b"z" * 40]) == 2  # 8-byte header each
    assert not sp.has_room(20)
    assert sp.append([b"w"]) == 0 and sp.size_bytes == 96  # 9 more bytes would pass the bound


def test_torn_tail_is_ignored(tmp_path):
    sp = Spool(tmp_path, 1 << 20, 1 << 20)
    sp.append([b"good1", b"good2"])
    sp.close()
    seg = next(tmp_path.glob("*.spool"))
    with open(seg, "ab") as f:
        f.write(b"\x00\x00\x00\x10\x00\x00")  # half a header
    seq, recs = Spool(tmp_path, 1 << 20, 1 << 20).oldest()
    assert recs == [b"good1", b"good2"]
    with open(seg, "r+b") as f:  # flip a payload byte: the CRC catches it
        f.seek(8)
        f.write(b"X")
    assert Spool(tmp_path, 1 << 20, 1 << 20).oldest()[1] == []


def test_replay_keeps_a_segment_until_every_record_is_acknowledged(tmp_path):
    from logwarden.spool import Replay

    sp = Spool(tmp_path, 1 << 20, 1 << 20)
    sp.append([b"a", b"b", b"c"])
    r = Replay(sp, 0.5, 4.0, "test")
    sent: list[bytes] = []
    r.start(0.0, lambda v: sent.append(v) or True)
    assert sent == [b"a", b"b", b"c"] and r.active
    r.start(0.0, lambda v: sent.append(v) or True)  # one segment at a time
    assert len(sent) == 3
    assert [r.report(ok) for ok in (True, False, True)] == [False, False, False]
    assert not r.active and not sp.empty and r.next_at > 0 and r.backoff == 1.0  # kept, backing off
    r.next_at = 0.0
    r.start(0.0, lambda v: v != b"b")  # b is refused for good: it cannot block the segment
    assert r.remaining == 2
    assert [r.report(True), r.report(True)] == [False, True]
    assert sp.empty and r.backoff == 0.5
