"""Log compaction (cleanup.policy=compact): keep the last record of every key.

Used at least by `__consumer_offsets`, where a key is group/topic/partition and a null
value (tombstone) deletes it. One pass over the inactive segments (the active one is never
cleaned, as in Kafka):

  1. build the offset map: key -> offset of its latest record;
  2. rewrite the segments, keeping a record only if it is the latest for its key, and
     dropping a latest tombstone once its timestamp is older than delete.retention.ms
     (consumers that were behind have had that long to see the delete);
  3. swap each group of consecutive segments (cleaned size <= segment.bytes) for one new
     segment with the group's first base offset. Records keep their offsets; batches keep
     their base offset and lastOffsetDelta.

Crash safety of the swap, in order: write `<base>.log.cleaned` and fsync; write
`<base>.swap-members` (the base offsets being replaced) and fsync; rename `.cleaned` to
`<base>.log.swap` (commit point); delete the members' files; rename `.swap` to `.log`;
remove the members file. `finish_interrupted_swaps` replays whatever part of that a crash
cut off when the partition is opened: no `.swap` means the old segments are intact.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from .batch import parse_header
from .errors import CorruptRecordError
from .records import UnsupportedCompression, decode, rebuild_batch
from .segment import IndexBuilder, LogSegment, segment_name

log = logging.getLogger(__name__)


def _unlink(p: Path) -> None:
    try:
        p.unlink()
    except FileNotFoundError:
        pass


def _segment_files(directory: Path, base: int) -> list[Path]:
    n = segment_name(base)
    return [directory / f"{n}.log", directory / f"{n}.index", directory / f"{n}.timeindex"]


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def finish_interrupted_swaps(directory: Path) -> None:
    """Complete or discard a compaction swap cut off by a crash (called on open)."""
    for p in directory.glob("*.cleaned"):
        _unlink(p)
    for p in directory.glob("*.tmp"):
        _unlink(p)
    for members in directory.glob("*.swap-members"):
        base = int(members.name.split(".")[0])
        swap = directory / f"{segment_name(base)}.log.swap"
        if swap.exists():
            for b in (int(x) for x in members.read_text().split()):
                for f in _segment_files(directory, b):
                    _unlink(f)
            os.replace(swap, directory / f"{segment_name(base)}.log")
            log.warning("%s: completed an interrupted compaction swap at %d", directory, base)
        _unlink(members)
    for swap in directory.glob("*.log.swap"):  # a swap without members: nothing was committed
        _unlink(swap)
    _fsync_dir(directory)


def _clean_segment(seg: LogSegment, latest: dict[bytes, int], drop_before_ms: int,
                   keep_last: bool) -> tuple[list[bytes], bool]:
    """Kept batches (bytes) of one segment and whether anything was removed.

    With `keep_last`, the segment's final batch survives even when all its records go (as
    an empty batch, as Kafka's cleaner keeps them): were the end of the log compacted
    away, a consumer positioned in the gap would see no batch to advance past."""
    out: list[bytes] = []
    changed = False
    headers = list(seg.headers(0, seg.size))
    for n, (pos, size, base, last, _) in enumerate(headers):
        raw = os.pread(seg.fd, size, pos)
        try:
            h, payload, recs = decode(raw)
        except (UnsupportedCompression, CorruptRecordError):
            out.append(raw)
            continue
        if h.is_control:
            out.append(raw)
            continue
        keep = []
        for r in recs:
            off = h.base_offset + r.offset_delta
            if r.key is None or latest.get(bytes(r.key)) != off:
                continue
            if r.value_is_null and h.base_timestamp + r.timestamp_delta < drop_before_ms:
                continue
            keep.append(r)
        if len(keep) == len(recs):
            out.append(raw)
        else:
            changed = True
            if keep or (keep_last and n == len(headers) - 1):
                out.append(rebuild_batch(h, payload, keep))
    return out, changed


def compact(plog, now: int) -> int:
    """One cleaning pass over `plog`'s inactive segments; returns segments rewritten."""
    cfg = plog.config
    with plog.lock:
        segs = list(plog.segments[:-1])
        active_base = plog.segments[-1].base_offset
    if not segs:
        return 0
    drop_before = now - cfg.delete_retention_ms
    state = getattr(plog, "_cleaner_state", None)
    if state is not None and state[0] == active_base and now < state[1]:
        return 0  # no new inactive data and no tombstone due for removal
    latest: dict[bytes, int] = {}
    next_tombstone_due = 1 << 62
    for seg in segs:
        for pos, size, _, _, _ in list(seg.headers(0, seg.size)):
            try:
                h, _, recs = decode(os.pread(seg.fd, size, pos))
            except (UnsupportedCompression, CorruptRecordError):
                continue
            if h.is_control:
                continue
            for r in recs:
                if r.key is not None:
                    latest[bytes(r.key)] = h.base_offset + r.offset_delta
    rewritten = 0
    group: list[LogSegment] = []
    group_data: list[bytes] = []
    group_size = 0
    group_changed = False
    for seg in segs:  # each group is swapped as soon as it is complete: ~2 segments in memory
        data, changed = _clean_segment(seg, latest, drop_before, seg is segs[-1])
        size = sum(len(b) for b in data)
        if group and group_size + size > cfg.segment_bytes:
            if group_changed or len(group) > 1:
                _swap(plog, group, group_data, now)
                rewritten += len(group)
            group, group_data, group_size, group_changed = [], [], 0, False
        group.append(seg)
        group_data.extend(data)
        group_size += size
        group_changed = group_changed or changed
    if group and (group_changed or len(group) > 1):
        _swap(plog, group, group_data, now)
        rewritten += len(group)
    # Tombstones still kept become due once they pass delete.retention.ms: note when.
    for seg in plog.segments[:-1]:
        for pos, size, _, _, _ in list(seg.headers(0, seg.size)):
            try:
                h, _, recs = decode(os.pread(seg.fd, size, pos))
            except (UnsupportedCompression, CorruptRecordError):
                continue
            for r in recs:
                if r.value_is_null:
                    due = h.base_timestamp + r.timestamp_delta + cfg.delete_retention_ms + 1
                    next_tombstone_due = min(next_tombstone_due, due)
    plog._cleaner_state = (active_base, next_tombstone_due)
    if rewritten:
        log.info("%s-%d: compacted %d segment(s), %d keys", plog.topic, plog.partition, rewritten, len(latest))
    return rewritten


def _swap(plog, members: list[LogSegment], data: list[bytes], now: int) -> None:
    d = plog.directory
    marker = d / ".compacted"  # log.COMPACTED_MARKER: recovery must now allow offset gaps
    if not marker.exists():
        marker.touch()
        _fsync_dir(d)
    base = members[0].base_offset
    name = segment_name(base)
    cleaned = d / f"{name}.log.cleaned"
    with open(cleaned, "wb") as f:
        for b in data:
            f.write(b)
        f.flush()
        os.fsync(f.fileno())
    members_file = d / f"{name}.swap-members"
    with open(members_file, "w") as f:
        f.write(" ".join(str(s.base_offset) for s in members))
        f.flush()
        os.fsync(f.fileno())
    swap = d / f"{name}.log.swap"
    os.replace(cleaned, swap)
    _fsync_dir(d)
    ib = IndexBuilder(base, plog.config.index_interval_bytes)  # indexes from what we wrote: no rescan
    pos = 0
    for b in data:
        h = parse_header(b)
        ib.add(pos, len(b), h.base_offset + h.last_offset_delta, h.max_timestamp)
        pos += len(b)
    with plog.lock:  # held only for renames and bookkeeping: appends and reads wait briefly
        for seg in members:
            seg.unlink()
        os.replace(swap, d / f"{name}.log")
        _unlink(members_file)
        new = LogSegment(d, base, plog.config.index_interval_bytes)
        new.install(ib, pos, active=False)
        new.close_index_files()
        ids = {id(s) for s in members}
        i = next(i for i, s in enumerate(plog.segments) if id(s) in ids)
        plog.segments[i:i + len(members)] = [new]
        plog._bases = [s.base_offset for s in plog.segments]
        for seg in members:
            plog._graveyard.append((now + plog.config.file_delete_delay_ms, seg))
    _fsync_dir(d)
