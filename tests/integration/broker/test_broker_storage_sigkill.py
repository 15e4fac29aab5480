"""SIGKILL a process that is appending to the storage, reopen, and check that every
batch acknowledged before the kill is readable exactly once and in order.

Three rounds on the same data directory: each child starts by recovering what the previous
one left (unclean shutdown, possibly a torn batch at the tail), then appends more."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from logwarden.broker.storage import LogConfig, LogManager
from kafka.record import MemoryRecords

pytestmark = pytest.mark.integration

CHILD = Path(__file__).with_name("broker_storage_child.py")
PARTITIONS = 3
SEGMENT_BYTES = 256 * 1024  # small, so kills land around segment rolls too


def run_and_kill(data_dir: Path, acks_before_kill: int) -> list[tuple[int, int, int, int]]:
    proc = subprocess.Popen([sys.executable, str(CHILD), str(data_dir), str(PARTITIONS), str(SEGMENT_BYTES)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    acks = []
    try:
        assert proc.stdout.readline().strip() == "READY", proc.stderr.read()
        while len(acks) < acks_before_kill:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            _, p, base, last, first = line.split()
            acks.append((int(p), int(base), int(last), int(first)))
        os.kill(proc.pid, signal.SIGKILL)
        for line in proc.stdout:  # acknowledgements already printed before the kill landed
            if line.startswith("ACK") and line.endswith("\n"):
                _, p, base, last, first = line.split()
                acks.append((int(p), int(base), int(last), int(first)))
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    return acks


def read_partition(m: LogManager, p: int) -> list[tuple[int, bytes]]:
    lg = m.get("t", p)
    out, off = [], lg.log_start_offset
    while off < lg.log_end_offset:
        sl = lg.read(off, 4 << 20)
        mr = MemoryRecords(sl.data)
        while (b := mr.next_batch()) is not None:
            assert b.validate_crc()
            out.extend((r.offset, r.value) for r in b)
        off = sl.next_offset
    return out


def test_acknowledged_batches_survive_sigkill(tmp_path):
    data = tmp_path / "data"
    all_acks: list[tuple[int, int, int, int]] = []
    for round_ in range(3):
        all_acks += run_and_kill(data, 150 + 100 * round_)
        # Verify on a copy, so the next child recovers the directory exactly as killed.
        copy = tmp_path / f"verify-{round_}"
        shutil.copytree(data, copy)
        m = LogManager(copy, LogConfig(segment_bytes=SEGMENT_BYTES))
        try:
            for p in range(PARTITIONS):
                recs = read_partition(m, p)
                offsets = [o for o, _ in recs]
                assert offsets == list(range(len(recs))), "offsets must be dense, ordered, unique"
                values = [v.split(b":")[:2] for _, v in recs]
                assert values == [[b"%d" % p, b"%d" % i] for i in range(len(recs))], "each record once, in order"
                mine = [a for a in all_acks if a[0] == p]
                assert mine, "every partition got acknowledged batches"
                for _, base, last, first in mine:
                    assert base == first and last < len(recs), f"acknowledged batch {base}..{last} lost"
            assert len(list(copy.glob("broker/t-0/*.log"))) > 1  # rolls happened
        finally:
            m.close()
