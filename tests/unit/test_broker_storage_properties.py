"""Property tests: whatever batches go in come back out, and recovery never loses a
complete batch that precedes the damage."""
import os
import random
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logwarden.broker.storage import LogConfig, PartitionLog

from broker_storage_batches import make_batch, read_all, read_records

record = st.tuples(st.one_of(st.none(), st.binary(max_size=12)), st.one_of(st.none(), st.binary(max_size=300)))
batch = st.tuples(st.lists(record, min_size=1, max_size=15), st.sampled_from(["none", "none", "gzip"]))
appends = st.lists(st.lists(batch, min_size=1, max_size=3), min_size=1, max_size=12)
cfgs = st.fixed_dictionaries({"segment_bytes": st.integers(400, 6000), "index_interval_bytes": st.integers(0, 2000)})
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def build(b):
    recs, codec = b
    return make_batch([v for _, v in recs], keys=[k for k, _ in recs], compression=codec)


@SETTINGS
@given(appends, cfgs, st.integers(1, 3000), st.booleans(), st.randoms(use_true_random=False))
def test_append_then_read_back_equal(app, cfg, max_bytes, clean, rnd):
    with tempfile.TemporaryDirectory() as d:
        lg = PartitionLog(Path(d), "t", 0, LogConfig(**cfg))
        expected = []
        for group in app:
            data = b"".join(build(b) for b in group)
            if len(data) > cfg["segment_bytes"]:
                continue
            base, last, _ = lg.append(data)
            assert base == len(expected)
            for b in group:
                expected.extend(b[0])
            assert last == len(expected) - 1
        want = [(i, k, v) for i, (k, v) in enumerate(expected)]
        assert [r[:3] for r in read_all(lg, max_bytes=max_bytes)] == want
        for _ in range(5):  # random positioned reads land on the batch holding the offset
            if not expected:
                break
            o = rnd.randrange(len(expected))
            recs = read_records(lg.read(o, max_bytes).data)
            assert recs[0][0] <= o <= recs[-1][0]
        if clean:
            lg.close()
        lg2 = PartitionLog(Path(d), "t", 0, LogConfig(**cfg), clean_shutdown=clean)
        assert [r[:3] for r in read_all(lg2, max_bytes=max_bytes)] == want
        lg2.close()
        if not clean:
            lg.close()


@SETTINGS
@given(appends, st.integers(400, 6000), st.data())
def test_damaged_tail_never_loses_an_earlier_complete_batch(app, segment_bytes, data):
    with tempfile.TemporaryDirectory() as d:
        lg = PartitionLog(Path(d), "t", 0, LogConfig(segment_bytes=segment_bytes))
        ends = []  # (segment base, end position in that segment, next offset) after every batch
        for group in app:
            for b in group:
                raw = build(b)
                if len(raw) > segment_bytes:
                    continue
                lg.append(raw)
                ends.append((lg.active.base_offset, lg.active.size, lg.log_end_offset))
        if not ends:
            lg.close()
            return
        seg = lg.active
        path, size, base = seg.log_path, seg.size, seg.base_offset
        in_active = [e for e in ends if e[0] == base]
        before = [r[:3] for r in read_all(lg)]
        lg.close()
        (Path(d) / ".clean").write_text("")  # not read; the reopen below is unclean
        kind = data.draw(st.sampled_from(["truncate", "flip", "garbage"]))
        cut = data.draw(st.integers(0, max(size - 1, 0)))
        with open(path, "r+b") as f:
            if kind == "truncate":
                f.truncate(cut)
            elif kind == "flip" and size:
                f.seek(cut)
                byte = f.read(1)
                f.seek(cut)
                f.write(bytes([byte[0] ^ 0x5A]))
            else:
                f.seek(size)
                f.write(os.urandom(data.draw(st.integers(1, 200))))
                cut = size
        survivors = [e for e in in_active if e[1] <= cut]
        expect_leo = survivors[-1][2] if survivors else base
        start = survivors[-1][1] if survivors else 0
        if kind == "flip" and 12 <= cut - start < 16:
            expect_leo = in_active[-1][2]  # partitionLeaderEpoch: outside the CRC and harmless
        lg2 = PartitionLog(Path(d), "t", 0, LogConfig(segment_bytes=segment_bytes), clean_shutdown=False)
        if kind == "flip" and not size:
            expect_leo = lg2.log_end_offset
        assert lg2.log_end_offset == expect_leo
        assert [r[:3] for r in read_all(lg2)] == [r for r in before if r[0] < expect_leo]
        lg2.close()


kv_record = st.tuples(st.sampled_from([b"a", b"b", b"c", b"d", b"e", b"f"]),
                      st.one_of(st.none(), st.binary(min_size=1, max_size=40)))


def materialize(recs):
    state = {}
    for _, k, v in recs:
        if v is None:
            state.pop(k, None)
        else:
            state[k] = v
    return state


@SETTINGS
@given(st.lists(st.lists(kv_record, min_size=1, max_size=6), min_size=1, max_size=40),
       st.integers(300, 1500), st.booleans(), st.booleans())
def test_compaction_preserves_the_latest_state(batches, segment_bytes, drop_tombstones, roll_first):
    with tempfile.TemporaryDirectory() as d:
        cfg = LogConfig(cleanup_policy="compact", segment_bytes=segment_bytes,
                        delete_retention_ms=0 if drop_tombstones else 10**12)
        lg = PartitionLog(Path(d), "t", 0, cfg)
        for i, b in enumerate(batches):
            lg.append(make_batch([v for _, v in b], keys=[k for k, _ in b], ts=1_000_000 + i))
        if roll_first:
            lg.roll()
        before = [r[:3] for r in read_all(lg)]
        leo = lg.log_end_offset
        active_base = lg.active.base_offset
        lg.maintain(10**13)
        after = [r[:3] for r in read_all(lg)]
        assert lg.log_end_offset == leo
        assert set(after) <= set(before)  # nothing invented, offsets unchanged
        assert materialize(after) == materialize(before)
        inactive_keys = [k for o, k, _ in after if o < active_base]
        assert len(inactive_keys) == len(set(inactive_keys))
        if drop_tombstones:
            assert not any(v is None for o, _, v in after if o < active_base)
        lg.close()
        lg2 = PartitionLog(Path(d), "t", 0, cfg, clean_shutdown=False)
        assert [r[:3] for r in read_all(lg2)] == after
        lg2.close()
