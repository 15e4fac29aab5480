"""The chaos run: real processes, real files rotating while written, seeded faults, an exact account.

Layout. The broker runs as its own `logwarden broker` process, started and killed by this
harness (so it can stay down for a while, or have a segment torn before it comes back);
everything else runs under `logwarden up` (via tests/e2e/e2e_harness.py's `Appliance`) with
`kafka.bootstrap_servers` pointing at that broker: agent, two parser workers, index, rules,
metrics and HTTP, supervised and restarted as in production.

Input. A writer thread appends nginx access lines to `files` files at `rate` lines/s. Line
`seq` carries its number twice: in its URL (`GET /c/<seq>`) and in its time (2025-01-01T00:00:00Z
plus `seq` seconds), so every line has its own `@timestamp` and the index can be read back
exactly, range by range, without relying on the order of equal timestamps. Every
`rotate_every` lines a file is rotated, by rename (a few late lines still go to the old
descriptor, as an application writes until it reopens) or by copytruncate (the copy keeps a
name the glob matches, so the agent can finish it), chosen by the seed. A separate file
gets brute-force sets: 5 failed SSH logins from one address within a minute, which the
bundled correlation rule turns into exactly one alert each (and the single-event rule into
none for the single-event rule, which a correlation references without `generate: true`).

Faults, in a seeded order and at seeded moments, one after another (each waits for the
previous one's recovery): SIGKILL of the broker (restarted at once), the agent, a parser
worker, the index worker and the rules worker (restarted by the supervisor); SIGSTOP of a
parser worker for longer than the consumer session timeout, then SIGCONT (its group
rebalances meanwhile); the broker down for `broker_down_s` while the files grow; a
`logs.raw` segment cut in the middle of its last record batch before a broker restart.
Recovery of a fault is measured from its injection until the first line written after the
fault ended is searchable.

Account. At the end the writer stops, the run waits until every group's consumer lag is 0
and the index holds every line, then reads every line back by `@timestamp` range and counts
each `seq`: missing and duplicated lines are listed. The correlation alerts are counted per
brute-force address. Correlation state (and the memory of raised
alert ids) lives in the rules worker until issue 19 lands, so a set whose events were in
flight when the rules worker was killed, or that is read again after a torn segment (the
consumer groups restart that partition from its start), may lose or double its alert:
such sets are counted apart ("exposed", their counts printed) and only the others must be
exact.
"""
from __future__ import annotations

import os
import random
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import orjson

_TESTS = Path(__file__).resolve().parent.parent
for _p in (_TESTS, _TESTS / "e2e"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from e2e_harness import Appliance  # noqa: E402
from lwtest import Proc, free_port, logwarden_cmd, wait_listening, wait_until  # noqa: E402

BASE = datetime(2025, 1, 1, tzinfo=timezone.utc)
BRUTE_RULE = "5d2c8a7e-3f61-4c1b-9a0e-6f4b2d7c9e11"  # rules/bundled/ssh_bruteforce.yml, the correlation
SESSION_TIMEOUT_S = 10.0  # logwarden/kafka.py consumer_settings: session.timeout.ms
PAGE_S = 5000  # seconds of event time (= lines) per read-back request; the API's limit is 10000
FAULTS = ("kill-broker", "kill-agent", "kill-parsers", "kill-index", "kill-rules", "stop-parsers", "broker-down", "torn-segment")


def line(seq: int) -> str:
    t = BASE + timedelta(seconds=seq)
    return (f'203.0.113.{seq % 250 + 1} - - [{t:%d/%b/%Y:%H:%M:%S} +0000] "GET /c/{seq} HTTP/1.1" 200 {seq % 997} '
            f'"-" "chaos/1"')


def brute_lines(j: int) -> tuple[str, list[str]]:
    """Brute-force set j: its source address and 5 failed logins within one minute (syslog
    time has no year: the parser puts it in the current one, far from the 2025 nginx lines)."""
    ip = f"198.18.{j // 250}.{j % 250 + 1}"
    t0 = datetime(2026, 1, 1) + timedelta(minutes=3 * j)
    return ip, [f"{(t0 + timedelta(seconds=s)):%b %d %H:%M:%S} web-1 sshd[{4000 + j}]: Failed password for invalid user "
                f"admin{s} from {ip} port {40000 + s} ssh2" for s in range(5)]


@dataclass
class Fault:
    kind: str
    injected: float = 0.0  # monotonic
    ended: float = 0.0
    recovered: float | None = None
    detail: str = ""

    def summary(self, t0: float) -> dict[str, Any]:
        rec = None if self.recovered is None else round(self.recovered - self.injected, 1)
        return {"fault": self.kind, "at_s": round(self.injected - t0, 1), "held_s": round(self.ended - self.injected, 1),
                "recovery_s": rec, "detail": self.detail}


class Writer(threading.Thread):
    """Appends the numbered lines at a steady rate and rotates the files while doing so."""

    def __init__(self, files_dir: Path, files: int, rate: float, total: int, rotate_every: int, rng: random.Random):
        super().__init__(daemon=True, name="chaos-writer")
        self.dir, self.nfiles, self.rate, self.total, self.rotate_every = files_dir, files, rate, total, rotate_every
        self.rng = rng
        self.seq = 0  # next line to write
        self.paused = threading.Event()
        self.stopped = threading.Event()
        self.rotations = {"rename": 0, "copytruncate": 0}
        self.brute: list[tuple[str, float]] = []  # (ip, monotonic time written)
        self.brute_due: list[int] = []  # seqs at which a brute-force set is written
        self._lock = threading.Lock()
        self._generation = [0] * files
        self._since_rotation = [0] * files
        self._fds = [open(self._path(k), "a") for k in range(files)]

    def _path(self, k: int) -> Path:
        return self.dir / f"app-{k}.log"

    def run(self) -> None:
        start, written_at_start = time.monotonic(), 0
        while self.seq < self.total and not self.stopped.is_set():
            if self.paused.is_set():
                time.sleep(0.05)
                start, written_at_start = time.monotonic(), self.seq
                continue
            due = written_at_start + int((time.monotonic() - start) * self.rate) + 1
            with self._lock:
                while self.seq < min(due, self.total):
                    self._write_one()
            time.sleep(0.02)
        for fd in self._fds:
            fd.flush()

    def _write_one(self) -> None:
        k = self.seq % self.nfiles
        self._fds[k].write(line(self.seq) + "\n")
        self.seq += 1
        if self.brute_due and self.seq >= self.brute_due[0]:
            self.brute_due.pop(0)
            self._write_brute()
        self._since_rotation[k] += 1
        if self._since_rotation[k] >= self.rotate_every:
            self._rotate(k)

    def _write_brute(self) -> None:
        ip, lines = brute_lines(len(self.brute))
        with open(self.dir / "auth.log", "a") as f:
            f.write("".join(x + "\n" for x in lines))
        self.brute.append((ip, time.monotonic()))

    def _rotate(self, k: int) -> None:
        self._since_rotation[k] = 0
        self._generation[k] += 1
        path, old = self._path(k), self._path(k).with_name(f"app-{k}.log.{self._generation[k]}")
        fd = self._fds[k]
        fd.flush()
        if self.rng.random() < 0.5:
            self.rotations["rename"] += 1
            os.rename(path, old)
            for _ in range(self.rng.randint(0, 3)):  # the application writes on until it reopens
                if self.seq >= self.total:
                    break
                fd.write(line(self.seq) + "\n")
                self.seq += 1
            fd.close()
            self._fds[k] = open(path, "a")
        else:
            # copytruncate as logrotate does it; nothing is written between the copy and the
            # truncate (this thread does both), so the copy's inherent loss window is empty
            self.rotations["copytruncate"] += 1
            shutil.copyfile(path, old)
            os.truncate(path, 0)

    def flush(self) -> None:
        with self._lock:
            for fd in self._fds:
                fd.flush()


@dataclass
class ChaosConfig:
    lines: int = 30_000
    rate: float = 600.0  # lines/s: high but sustainable on a loaded 2-core machine
    files: int = 4
    rotate_every: int = 1500  # lines per file between rotations
    brute_sets: int = 20
    brute_every: int = 0  # lines between two brute-force sets; 0: spread over `lines`
    seed: int = 18
    broker_down_s: float = 20.0
    stop_s: float = SESSION_TIMEOUT_S + 4
    faults: tuple[str, ...] = FAULTS
    until_faults_done: bool = False  # True: stop writing once the last fault recovered (`lines` is then a cap)
    recovery_timeout_s: float = 180.0
    drain_timeout_s: float = 300.0
    log: Callable[[str], None] = print


@dataclass
class Result:
    written: int = 0
    indexed: int = 0
    missing: list[int] = field(default_factory=list)
    duplicated: dict[int, int] = field(default_factory=dict)
    duplicate_copies: dict[int, list[str]] = field(default_factory=dict)  # the first 20, where each copy came from
    alerts_expected: int = 0
    alerts_raised: int = 0
    alerts_per_ip: dict[str, int] = field(default_factory=dict)
    exposed_ips: list[str] = field(default_factory=list)
    lag: dict[str, Any] = field(default_factory=dict)
    faults: list[dict[str, Any]] = field(default_factory=list)
    rotations: dict[str, int] = field(default_factory=dict)
    restarts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def exact_alert_problems(self) -> dict[str, int]:
        """Brute-force addresses outside a rules-worker restart whose alert count is not 1."""
        return {ip: n for ip, n in self.alerts_per_ip.items() if ip not in self.exposed_ips and n != 1}

    def summary(self) -> str:
        rows = [
            f"chaos run: {self.written} lines written at {self.config.get('rate')}/s into {self.config.get('files')} files "
            f"({self.rotations.get('rename', 0)} rename and {self.rotations.get('copytruncate', 0)} copytruncate rotations), "
            f"seed {self.config.get('seed')}, {self.seconds:.0f} s",
            f"  indexed {self.indexed}, lost {len(self.missing)}, duplicated {sum(n - 1 for n in self.duplicated.values())}",
            f"  brute-force alerts expected {self.alerts_expected}, raised {self.alerts_raised}"
            f" ({len(self.exposed_ips)} set(s) exposed to a rules-worker restart or a torn-segment replay, counted apart;"
            f" not exactly one elsewhere: {len(self.exact_alert_problems)})",
            f"  consumer lag at the end: {self.lag}",
            f"  stage restarts: {self.restarts}",
            "  faults (at = seconds into the run, held = how long the fault lasted, recovery = injection"
            " until the first line written after it was searchable):",
        ]
        for f in self.faults:
            rec = "NOT RECOVERED" if f["recovery_s"] is None else f"{f['recovery_s']:.1f} s"
            rows.append(f"    {f['fault']:<13} at {f['at_s']:>6.1f} s  held {f['held_s']:>5.1f} s  recovery {rec}  {f['detail']}")
        if self.exact_alert_problems:
            rows.append(f"  brute-force alerts not exactly one (address: count): {self.exact_alert_problems}")
        exposed = {ip: self.alerts_per_ip[ip] for ip in self.exposed_ips if self.alerts_per_ip.get(ip) != 1}
        if exposed:
            rows.append(f"  exposed sets with an alert count other than one (address: count): {exposed}")
        if self.missing:
            rows.append(f"  missing (first 20): {self.missing[:20]}")
        if self.duplicated:
            rows.append(f"  duplicated (first 20): {dict(list(self.duplicated.items())[:20])}")
            rows += [f"    line {i}: {'; '.join(c)}" for i, c in list(self.duplicate_copies.items())[:5]]
        return "\n".join(rows)


class ChaosRun:
    def __init__(self, tmp: Path, cc: ChaosConfig):
        self.tmp, self.cc = tmp, cc
        self.rng = random.Random(cc.seed)
        self.files = tmp / "files"
        self.files.mkdir(parents=True)
        self.broker_port = free_port()
        self.app = Appliance(tmp, {
            "log_format": "json",
            "kafka": {"bootstrap_servers": f"127.0.0.1:{self.broker_port}"},
            "parsers": {"workers": 2},
            "sources": [{"paths": [str(self.files / "*.log*")]}],
        })
        self.app.broker_port = self.broker_port  # the flag `up` passes is then the external broker's address
        self.broker: Proc | None = None
        self.broker_runs = 0
        self.writer = Writer(self.files, cc.files, cc.rate, cc.lines, cc.rotate_every, self.rng)
        self.faults: list[Fault] = []
        self.t0 = 0.0

    # -- processes ------------------------------------------------------------------------
    def start_broker(self) -> None:
        self.broker_runs += 1
        self.broker = Proc(logwarden_cmd("broker", "--data-dir", str(self.app.data), "--listen", f"127.0.0.1:{self.broker_port}"),
                           self.tmp / f"broker-{self.broker_runs}.log")
        wait_listening(self.broker_port, self.broker, 60)

    def kill_broker(self) -> None:
        assert self.broker is not None
        self.broker.kill()

    def stage_pid(self, name: str) -> int:
        st = orjson.loads((self.app.data / "run" / "status.json").read_bytes())
        child = st["children"][name]
        assert child["running"] and child["pid"], st
        return child["pid"]

    def wait_stage_running(self, name: str, old_pid: int | None = None, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.stage_pid(name) != old_pid:
                    return
            except (AssertionError, OSError, ValueError, KeyError):
                pass
            time.sleep(0.2)
        raise AssertionError(f"{name} did not run again within {timeout:.0f} s{self.app.output()}")

    def output(self) -> str:
        broker = self.broker.output() if self.broker else ""
        return f"{self.app.output()}\n--- broker ---\n{broker}"

    # -- the API --------------------------------------------------------------------------
    def searchable(self, seq: int) -> bool:
        return self.app.api("/api/search", q=f'url.path:"/c/{seq}"', limit=1).get("total", 0) >= 1

    def lag(self) -> dict[str, Any] | None:
        st = self.app.api("/api/status")
        groups = st.get("consumer_groups")
        if not isinstance(groups, dict) or "error" in groups:
            return None
        return {g: v.get("lag") for g, v in groups.items()}

    def indexed_total(self) -> int:
        end = BASE + timedelta(seconds=self.writer.seq)
        return self.app.api("/api/search", q=f"@timestamp:[{_iso(BASE)} TO {_iso(end)}}}", limit=1).get("total", -1)

    # -- faults ---------------------------------------------------------------------------
    def inject(self, kind: str) -> Fault:
        f = Fault(kind, injected=time.monotonic())
        if kind == "kill-broker":
            self.kill_broker()
            self.start_broker()
        elif kind.startswith("kill-"):
            name = {"kill-parsers": "parsers-0"}.get(kind, kind[5:])
            pid = self.stage_pid(name)
            os.kill(pid, signal.SIGKILL)
            f.detail = f"pid {pid}"
            self.wait_stage_running(name, pid)
        elif kind == "stop-parsers":
            pid = self.stage_pid("parsers-1")
            os.kill(pid, signal.SIGSTOP)
            time.sleep(self.cc.stop_s)
            os.kill(pid, signal.SIGCONT)
            f.detail = f"pid {pid} stopped {self.cc.stop_s:.0f} s (session timeout {SESSION_TIMEOUT_S:.0f} s)"
        elif kind == "broker-down":
            self.kill_broker()
            time.sleep(self.cc.broker_down_s)
            self.start_broker()
            f.detail = f"{self.cc.broker_down_s:.0f} s down while the files grew"
        elif kind == "torn-segment":
            f.detail = self.tear_segment()
        else:
            raise ValueError(f"unknown fault {kind!r}; known: {', '.join(FAULTS)}")
        f.ended = time.monotonic()
        return f

    def tear_segment(self) -> str:
        """Cut a `logs.raw` segment in the middle of its last record batch while the broker is
        down. Only records every consumer group has read are cut (the writer pauses and the
        run waits for zero lag first): the lines are in the index already, and what is tested
        is that the broker recovers the torn log and the pipeline carries on, not that data
        the broker acknowledged and lost can be conjured back."""
        self.writer.paused.set()
        try:
            self.writer.flush()
            self._wait("zero consumer lag before tearing a segment",
                       lambda: (lag := self.lag()) and all(v == 0 for v in lag.values()) and self.searchable(self.writer.seq - 1),
                       self.cc.recovery_timeout_s)
            self.kill_broker()
            segs = sorted((self.app.data / "broker").glob("logs.raw-*/*.log"), key=lambda p: p.stat().st_size)
            seg = segs[-1]
            size = seg.stat().st_size
            last = _last_batch_start(seg.read_bytes())
            cut = last + self.rng.randint(1, max(1, size - last - 1))
            os.truncate(seg, cut)
            self.start_broker()
        finally:
            self.writer.paused.clear()
        return f"{seg.parent.name}/{seg.name} cut from {size} to {cut} bytes (its last batch starts at {last})"

    def _wait(self, what: str, check: Callable[[], Any], timeout: float) -> Any:
        return wait_until(check, what, timeout, 0.5, self.output)

    # -- the run --------------------------------------------------------------------------
    def run(self) -> Result:
        cc, log = self.cc, self.cc.log
        self.t0 = time.monotonic()
        self.start_broker()
        self.app.start()
        self._wait("the HTTP API up", lambda: self.app.api("/health") != {} and self.lag() is not None, 120)
        order = list(cc.faults)
        self.rng.shuffle(order)
        # brute-force sets at evenly spread points of the stream (or every brute_every lines)
        every = cc.brute_every or cc.lines // (cc.brute_sets + 1)
        self.writer.brute_due = [every * (j + 1) for j in range(cc.brute_sets)]
        self.writer.start()
        self.t_write = time.monotonic()
        rules_windows: list[tuple[float, float]] = []
        try:
            self._wait("the first line searchable", lambda: self.searchable(0), 120)
            run_s = cc.lines / cc.rate
            for k, kind in enumerate(order):
                if self.writer.seq >= cc.lines:
                    log(f"chaos: the writer finished before {kind}; raise --lines or lower --rate")
                    break
                if cc.until_faults_done:
                    time.sleep(self.rng.uniform(0.5, 3.0))  # a seeded random moment soon after the last recovery
                else:  # spread over the writing time: a seeded moment within the k-th of len(order) slots
                    at = self.t_write + run_s * (k + self.rng.uniform(0.1, 0.9)) / len(order)
                    time.sleep(max(0.5, at - time.monotonic()))
                log(f"chaos: {time.monotonic() - self.t0:6.1f} s  line {self.writer.seq}  injecting {kind}")
                fault = self.inject(kind)
                self.faults.append(fault)
                probe = min(self.writer.seq, cc.lines - 1)
                deadline = time.monotonic() + cc.recovery_timeout_s
                while time.monotonic() < deadline and not self.searchable(probe):
                    time.sleep(0.25)
                fault.recovered = time.monotonic() if self.searchable(probe) else None
                if kind == "kill-rules":
                    rules_windows.append((fault.injected - 60, fault.recovered or time.monotonic()))
                elif kind == "torn-segment":  # the groups re-read a torn partition from its start
                    rules_windows.append((self.t0, fault.recovered or time.monotonic()))
                log(f"chaos: {time.monotonic() - self.t0:6.1f} s  {kind} recovered in "
                    f"{'-' if fault.recovered is None else f'{fault.recovered - fault.injected:.1f} s'}")
            if cc.until_faults_done:
                time.sleep(2)
                self.writer.stopped.set()
            self.writer.join()
            return self.account(rules_windows)
        finally:
            self.writer.stopped.set()
            self.app.stop()
            if self.broker:
                self.broker.stop(60)

    def account(self, rules_windows: list[tuple[float, float]]) -> Result:
        cc = self.cc
        written = self.writer.seq
        r = Result(written=written, rotations=dict(self.writer.rotations), config={"rate": cc.rate, "files": cc.files, "seed": cc.seed,
                                                                                     "lines": cc.lines})
        self.writer.flush()
        deadline = time.monotonic() + cc.drain_timeout_s
        while time.monotonic() < deadline:
            lag = self.lag()
            if lag and all(v == 0 for v in lag.values()) and self.indexed_total() >= written:
                break
            time.sleep(1)
        time.sleep(3)  # a late replay would land now; it must not add a copy
        r.lag = self.lag() or {}
        counts = [0] * written
        where: dict[int, list[str]] = {}  # seq -> "event.id path@offset" of each copy, kept for duplicates
        for lo in range(0, written, PAGE_S):
            hi = min(lo + PAGE_S, written)
            res = self.app.api("/api/search", q=f"@timestamp:[{_iso(BASE + timedelta(seconds=lo))} TO "
                                                f"{_iso(BASE + timedelta(seconds=hi))}}}", limit=10000)
            for hit in res.get("hits", []):
                path = ((hit.get("url") or {}).get("path") or "")
                if path.startswith("/c/"):
                    seq = int(path[3:])
                    if seq < written:
                        counts[seq] += 1
                        lg = hit.get("log") or {}
                        where.setdefault(seq, []).append(f"{(hit.get('event') or {}).get('id')} "
                                                         f"{(lg.get('file') or {}).get('path')}@{lg.get('offset')}")
        r.indexed = sum(counts)
        r.missing = [i for i, n in enumerate(counts) if n == 0]
        r.duplicated = {i: n for i, n in enumerate(counts) if n > 1}
        r.duplicate_copies = {i: where[i] for i in list(r.duplicated)[:20]}
        # alerts: the correlation's per address, the single rule's in all
        r.alerts_expected = len(self.writer.brute)
        hits = self.app.api("/api/alerts", q=f'rule.id:"{BRUTE_RULE}"', limit=10000).get("hits", [])
        r.alerts_raised = len(hits)
        per_ip = {ip: 0 for ip, _ in self.writer.brute}
        for a in hits:
            ip = (a.get("source") or {}).get("ip")
            if ip in per_ip:
                per_ip[ip] += 1
        r.alerts_per_ip = per_ip
        # a set is exposed when written less than 60 s (generous: its events may wait in lag)
        # before a rules-worker kill, up to that worker's recovery, or at any time before a
        # torn segment (its partition is read again from the start: a replay of every set)
        r.exposed_ips = [ip for ip, t in self.writer.brute if any(a <= t <= b for a, b in rules_windows)]
        r.faults = [f.summary(self.t0) for f in self.faults]
        try:
            st = orjson.loads((self.app.data / "run" / "status.json").read_bytes())
            r.restarts = {n: c["restarts"] for n, c in st["children"].items() if c["restarts"]}
        except (OSError, ValueError):
            pass
        r.restarts["broker"] = self.broker_runs - 1
        r.seconds = time.monotonic() - self.t0
        return r


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _last_batch_start(data: bytes) -> int:
    """Byte position of the last record batch in a Kafka log segment (baseOffset int64, then
    batchLength int32 counting the bytes after it)."""
    pos, last = 0, 0
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos + 8:pos + 12], "big", signed=True)
        if length <= 0 or pos + 12 + length > len(data):
            break
        last, pos = pos, pos + 12 + length
    return last
