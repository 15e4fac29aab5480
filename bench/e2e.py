"""The whole appliance under a paced load: how many events/s before search and alerts fall behind.

Starts `logwarden up` as a user would (a temp data dir, the default config, `--tail` of two
files), appends a mixed stream to those files at an offered rate, and measures per step:

* offered and indexed rate (lines written per second; documents the index gained per second);
* line -> searchable latency: twice a second a marker nginx line with a unique URL path is
  written; the HTTP API (`/api/search?q=url.path:(...)`) is polled until each appears;
* line -> alert latency: every BURST_EVERY_S a brute force (BURST_LINES failed passwords
  from a fresh address) is written; `/api/alerts?q=source.ip:(...)` is polled until the
  bundled SSH brute-force rule's alert for that address appears;
* CPU-seconds per second and peak RSS of every process of the appliance (pids from
  <data>/run/status.json, read with psutil), CPU-microseconds per offered event per process
  (less sensitive than latency to other load on the machine), and the implied ceiling
  (cores / sum of the per-event costs).

The stream is nginx access lines and sshd auth syslog lines, 2:1. Background failed logins
come from addresses never repeated, so only the bursts raise alerts. After each step the
writer pauses until the index holds every line written (the drain time is reported), so
one overloaded step does not spoil the next; at the end the index must hold exactly the
lines written (nothing lost, nothing doubled).

    python bench/e2e.py                                # 2k,5k,10k,20k/s, 4 minutes in all
    python bench/e2e.py --rates 20000 --duration 600   # the 10-minute run
    python bench/e2e.py --find                         # highest rate holding searchable p99 < 2 s
    python bench/e2e.py --json out.json --plot docs/e2e.png [--baseline before.json]

Progress is shown with rich on a terminal and nothing but the results when piped.
"""
from __future__ import annotations

import argparse
import itertools
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import orjson
import psutil

MARKER_EVERY_S = 0.5
BURST_EVERY_S = 5.0
BURST_LINES = 6            # the bundled rule fires at >= 5 failures from one address within 1 min
TICK_S = 0.02              # the writer appends what is due every 20 ms
POLL_S = 0.2               # how often outstanding markers and bursts are searched
MAX_QUERY_TERMS = 40       # outstanding markers (oldest first) per search request
SEARCHABLE_P99_S = 2.0     # --find's criterion
CORES = os.cpu_count() or 2

USERS = ["root", "admin", "deploy", "git", "oracle", "ubuntu", "www-data", "backup"]
PATHS = [("GET", "/", 200), ("GET", "/index.html", 200), ("GET", "/api/v1/items", 200), ("POST", "/api/v1/orders", 201),
         ("GET", "/static/app.js", 200), ("GET", "/static/app.css", 304), ("GET", "/wp-login.php", 404),
         ("GET", "/api/v1/items/42", 404), ("POST", "/login", 302), ("GET", "/health", 200), ("GET", "/api/v1/report", 500)]
AGENTS = ["curl/8.5.0", "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
          "python-requests/2.32.3", "Go-http-client/1.1"]


def _clock() -> tuple[str, str]:
    """(nginx, syslog) timestamps for now, local time as the daemons write them."""
    lt = time.localtime()
    return (time.strftime("%d/%b/%Y:%H:%M:%S %z", lt),
            time.strftime("%b ", lt) + f"{lt.tm_mday:>2}" + time.strftime(" %H:%M:%S", lt))


class Stream:
    """Cheap line generation: a pool of pre-formatted parts, only the clock and counters vary."""

    def __init__(self, seed: int = 1):
        rnd = random.Random(seed)
        self.access = []
        for _ in range(4000):
            m, p, s = rnd.choice(PATHS)
            ip = f"{rnd.choice([198, 203, 192])}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"
            self.access.append((f"{ip} - - [", f'] "{m} {p} HTTP/1.1" {s} {rnd.randint(100, 48000)} "-" "{rnd.choice(AGENTS)}"\n'))
        self.auth_ok = [(f" web-{rnd.randint(1, 4)} sshd[{rnd.randint(2000, 60000)}]: ",
                         rnd.choice([f"Accepted publickey for {u} from 198.51.100.{rnd.randint(1, 254)} port {rnd.randint(40000, 65000)} ssh2: ED25519 SHA256:pP3kq0Zb1r9x",
                                     f"pam_unix(sshd:session): session opened for user {u}(uid=1001) by (uid=0)",
                                     f"Disconnected from user {u} 198.51.100.{rnd.randint(1, 254)} port {rnd.randint(40000, 65000)}"]) + "\n")
                        for u in (rnd.choice(USERS) for _ in range(2000))]
        self.n_access = itertools.cycle(range(len(self.access)))
        self.n_auth = itertools.cycle(range(len(self.auth_ok)))
        self.unique = itertools.count(1)   # background failures: an address never used twice

    def lines(self, n: int, ts_access: str, ts_auth: str) -> tuple[list[str], list[str]]:
        access, auth = [], []
        for i in range(n):
            if i % 3 != 2:
                a, b = self.access[next(self.n_access)]
                access.append(a + ts_access + b)
            elif i % 30 == 2:
                c = next(self.unique)
                auth.append(f"{ts_auth} web-1 sshd[4242]: Failed password for {USERS[c % 8]} from "
                            f"10.{(c >> 16) & 255}.{(c >> 8) & 255}.{c & 255} port {40000 + c % 20000} ssh2\n")
            else:
                a, b = self.auth_ok[next(self.n_auth)]
                auth.append(ts_auth + a + b)
        return access, auth


@dataclass
class Probe:
    """One marker (searchable) or burst (alert): when its last line was on disk, when found."""
    key: str
    step: int
    written: float
    found: float | None = None


class Writer(threading.Thread):
    def __init__(self, logs: Path):
        super().__init__(daemon=True)
        self.access = open(logs / "access.log", "a")
        self.auth = open(logs / "auth.log", "a")
        self.stream = Stream()
        self.rate = 0.0
        self.step = 0
        self.written = 0
        self.markers: list[Probe] = []
        self.bursts: list[Probe] = []
        self._lock = threading.Lock()
        self._halt = threading.Event()
        self._bursts = itertools.count(1)
        self._marks = itertools.count(1)

    def offer(self, rate: float, step: int) -> None:
        with self._lock:
            self.rate, self.step = rate, step

    def run(self) -> None:
        due = 0.0
        last = time.monotonic()
        next_marker = next_burst = last
        while not self._halt.wait(TICK_S):
            now = time.monotonic()
            with self._lock:
                rate, step = self.rate, self.step
            due = due + rate * (now - last) if rate else 0.0
            last = now
            n = int(due)
            ts_access, ts_auth = _clock()
            extra_access, extra_auth = [], []
            marker = burst = None
            if rate and now >= next_marker:
                k = next(self._marks)
                marker = f"/lwmark/{k}"
                extra_access.append(f'198.18.0.1 - - [{ts_access}] "GET {marker} HTTP/1.1" 200 1 "-" "lwbench"\n')
                next_marker = now + MARKER_EVERY_S
            if rate and now >= next_burst:
                b = next(self._bursts)
                burst = f"198.18.{1 + b // 250}.{1 + b % 250}"
                extra_auth += [f"{ts_auth} web-2 sshd[{3000 + b % 5000}]: Failed password for invalid user guest{j} from {burst} "
                               f"port {50000 + j} ssh2\n" for j in range(BURST_LINES)]
                next_burst = now + BURST_EVERY_S
            if not (n or extra_access or extra_auth):
                continue
            access, auth = self.stream.lines(n, ts_access, ts_auth) if n else ([], [])
            due -= n
            self.access.write("".join(access + extra_access))
            self.auth.write("".join(auth + extra_auth))
            self.access.flush()
            self.auth.flush()
            t = time.time()
            with self._lock:
                self.written += n + len(extra_access) + len(extra_auth)
                if marker:
                    self.markers.append(Probe(marker, step, t))
                if burst:
                    self.bursts.append(Probe(burst, step, t))

    def stop(self) -> None:
        self._halt.set()
        self.join()
        self.access.close()
        self.auth.close()


class Poller(threading.Thread):
    """Searches the outstanding markers and bursts through the HTTP API until each appears."""

    def __init__(self, url: str, writer: Writer, token: str):
        super().__init__(daemon=True)
        self.http = httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {token}"})
        self.writer = writer
        self._halt = threading.Event()
        self.errors = 0

    def _find(self, path: str, field: str, probes: list[Probe], found_key) -> None:
        pending = [p for p in probes if p.found is None][:MAX_QUERY_TERMS]
        if not pending:
            return
        terms = " OR ".join(f'"{p.key}"' for p in pending)
        try:
            r = self.http.get(path, params={"q": f"{field}:({terms})", "limit": 1000})
            r.raise_for_status()
        except httpx.HTTPError:
            self.errors += 1
            return
        t = time.time()
        seen = {found_key(h) for h in r.json().get("hits", [])}
        for p in pending:
            if p.key in seen:
                p.found = t

    def run(self) -> None:
        while not self._halt.wait(POLL_S):
            with self.writer._lock:
                markers, bursts = list(self.writer.markers), list(self.writer.bursts)
            self._find("/api/search", "url.path", markers, lambda h: (h.get("url") or {}).get("path"))
            self._find("/api/alerts", "source.ip", bursts, lambda h: (h.get("source") or {}).get("ip"))

    def count(self) -> int:
        r = self.http.get("/api/search", params={"q": "*", "limit": 1})
        r.raise_for_status()
        return int(r.json()["total"])

    def stop(self) -> None:
        self._halt.set()
        self.join()


def free_port() -> int:
    # below the ephemeral range: a listener there cannot collide with an outgoing connection
    for _ in range(200):
        port = random.randint(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise SystemExit("no free port")


class Appliance:
    def __init__(self, tmp: Path):
        self.data, self.logs = tmp / "data", tmp / "logs"
        self.logs.mkdir(parents=True)
        for name in ("access.log", "auth.log"):
            (self.logs / name).touch()
        self.http_port = free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        # The API needs a login: a viewer token in the data dir, made as `logwarden token create` does.
        from logwarden.auth.store import Tokens

        _, self.token = Tokens(self.data).create("viewer", "bench/e2e.py")
        argv = [sys.executable, "-P", "-m", "logwarden", "up", "--data-dir", str(self.data),
                "--broker-listen", f"127.0.0.1:{free_port()}", "--http-listen", f"127.0.0.1:{self.http_port}",
                "--tail", f"{self.logs}/access.log:nginx", "--tail", f"{self.logs}/auth.log:auth"]
        self.out = open(tmp / "up.log", "wb")
        self.proc = subprocess.Popen(argv, stdout=self.out, stderr=subprocess.STDOUT, cwd="/", start_new_session=True)

    def processes(self) -> dict[str, psutil.Process]:
        try:
            children = orjson.loads((self.data / "run" / "status.json").read_bytes())["children"]
        except (OSError, orjson.JSONDecodeError, KeyError):
            return {}
        out = {"supervisor": psutil.Process(self.proc.pid)}
        for name, c in children.items():
            if c.get("pid") and c.get("running"):
                try:
                    out[name] = psutil.Process(c["pid"])
                except psutil.NoSuchProcess:
                    pass
        return out

    def restarts(self) -> dict[str, int]:
        try:
            children = orjson.loads((self.data / "run" / "status.json").read_bytes())["children"]
        except (OSError, orjson.JSONDecodeError, KeyError):
            return {}
        return {name: int(c.get("restarts") or 0) for name, c in children.items()}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.out.close()


def _cpu(p: psutil.Process) -> float:
    try:
        t = p.cpu_times()
        return t.user + t.system
    except psutil.Error:
        return 0.0


def _rss(p: psutil.Process) -> int:
    try:
        return p.memory_info().rss
    except psutil.Error:
        return 0


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if q < 100 else max(values)


@dataclass
class StepResult:
    rate: float
    seconds: float
    offered: float = 0.0
    indexed: float = 0.0
    searchable: dict[str, float | None] = field(default_factory=dict)
    alert: dict[str, float | None] = field(default_factory=dict)
    markers_missing: int = 0
    bursts_missing: int = 0
    cpu: dict[str, float] = field(default_factory=dict)          # CPU-seconds per second
    us_per_event: dict[str, float] = field(default_factory=dict)
    rss_mb: dict[str, float] = field(default_factory=dict)
    ceiling: float | None = None
    drain_s: float = 0.0
    restarts: dict[str, int] = field(default_factory=dict)
    processed: int = 0      # documents indexed during the step and its drain (the CPU-per-event divisor)
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)


class Bench:
    def __init__(self, tmp: Path, live):
        self.app = Appliance(tmp)
        self.writer = Writer(self.app.logs)
        self.poller = Poller(self.app.url, self.writer, self.app.token)
        self.live = live
        self.step = 0
        self.me = psutil.Process()
        self.min_drain = 60.0

    def status(self, text: str) -> None:
        if self.live is not None:
            self.live.update(text)

    def start(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.app.proc.poll() is not None:
                raise SystemExit(f"logwarden up exited with {self.app.proc.returncode}; see its output")
            try:
                if httpx.get(self.app.url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            raise SystemExit("logwarden up did not become healthy within 120 s")
        self.writer.start()
        self.poller.start()
        # Warm-up: a slow trickle until a marker and an alert came through, so consumer groups
        # have joined and the first step measures the steady state.
        self.writer.offer(50, 0)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            with self.writer._lock:
                ok = any(p.found for p in self.writer.markers) and any(p.found for p in self.writer.bursts)
            if ok:
                break
            self.status("warming up: waiting for the first marker and alert")
            time.sleep(0.5)
        else:
            raise SystemExit("no marker searchable / alert raised within 180 s of warm-up")
        self.writer.offer(0, 0)
        self.drain(120)

    def drain(self, timeout: float) -> float:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            with self.writer._lock:
                written = self.writer.written
                open_probes = sum(p.found is None for p in self.writer.markers + self.writer.bursts)
            n = self._count()
            self.status(f"draining: indexed {n:,} of {written:,}, {open_probes} probes outstanding")
            if n >= written and not open_probes:
                break
            time.sleep(0.5)
        return time.monotonic() - t0

    def _count(self) -> int:
        try:
            return self.poller.count()
        except httpx.HTTPError:
            return -1

    def run_step(self, rate: float, seconds: float) -> StepResult:
        self.step += 1
        step = self.step
        res = StepResult(rate=rate, seconds=seconds)
        # CPU per process name over every incarnation: a child restarted by the supervisor
        # mid-step gets a new pid, whose CPU counts from zero.
        seen: dict[tuple[str, int], tuple[psutil.Process, float]] = {}
        rss: dict[str, int] = {}
        restarts0 = self.app.restarts()

        def sample(first: bool = False) -> None:
            procs = self.app.processes()
            procs["bench (writer, poller)"] = self.me
            for n, p in procs.items():
                if (n, p.pid) not in seen:
                    seen[(n, p.pid)] = (p, _cpu(p) if first else 0.0)
                rss[n] = max(rss.get(n, 0), _rss(p))

        sample(first=True)
        start_cpu = {k: c for k, (_, c) in seen.items()}
        last_cpu = dict(start_cpu)
        with self.writer._lock:
            w0 = self.writer.written
        n0, t0 = self._count(), time.monotonic()
        self.writer.offer(rate, step)
        while (el := time.monotonic() - t0) < seconds:
            time.sleep(1.0)
            sample()
            for k, (p, _) in seen.items():
                c = _cpu(p)
                if c:
                    last_cpu[k] = c
            with self.writer._lock:
                done = [p.found - p.written for p in self.writer.markers if p.step == step and p.found]
            self.status(f"step {step}: {rate:,.0f}/s offered, {el:.0f}/{seconds:.0f} s, "
                        f"searchable p50 {pct(done, 50) or 0:.2f} s over {len(done)} markers")
        self.writer.offer(0, step)
        elapsed = time.monotonic() - t0
        n1 = self._count()
        for k, (p, _) in seen.items():
            c = _cpu(p)
            if c:
                last_cpu[k] = c
        res.restarts = {n: r - restarts0.get(n, 0) for n, r in self.app.restarts().items() if r - restarts0.get(n, 0)}
        with self.writer._lock:
            w1 = self.writer.written
        res.offered = (w1 - w0) / elapsed
        res.indexed = (n1 - n0) / elapsed
        res.drain_s = self.drain(max(self.min_drain, 4 * seconds))
        # CPU per event counts the drain too, over the documents indexed by then: what each
        # event cost the stages, however long the machine's load made them take.
        n2 = self._count()
        drained_cpu = dict(last_cpu)
        sample()
        for k, (p, _) in seen.items():
            c = _cpu(p)
            if c:
                drained_cpu[k] = c
        res.processed = max(0, n2 - n0)
        with self.writer._lock:
            markers = [p for p in self.writer.markers if p.step == step]
            bursts = [p for p in self.writer.bursts if p.step == step]
        lat = [p.found - p.written for p in markers if p.found]
        alat = [p.found - p.written for p in bursts if p.found]
        res.markers_missing = sum(p.found is None for p in markers)
        res.bursts_missing = sum(p.found is None for p in bursts)
        res.searchable = {f"p{q}": pct(lat, q) for q in (50, 95, 99)}
        res.alert = {f"p{q}": pct(alat, q) for q in (50, 95, 99)}
        events = max(1, res.processed)
        cpu: dict[str, float] = {}
        for (n, pid), c in last_cpu.items():
            cpu[n] = cpu.get(n, 0.0) + c - start_cpu.get((n, pid), 0.0)
        cpu_all: dict[str, float] = {}
        for (n, pid), c in drained_cpu.items():
            cpu_all[n] = cpu_all.get(n, 0.0) + c - start_cpu.get((n, pid), 0.0)
        for n, d in cpu.items():
            res.cpu[n] = d / elapsed
            res.rss_mb[n] = rss.get(n, 0) / 1e6
        for n, d in cpu_all.items():
            res.us_per_event[n] = d / events * 1e6
        stage_us = sum(v for n, v in res.us_per_event.items() if not n.startswith("bench"))
        res.ceiling = CORES / (stage_us / 1e6) if stage_us else None
        res.load = os.getloadavg()
        return res

    def close(self, drain_s: float) -> tuple[int, int]:
        try:
            self.writer.offer(0, self.step)
            if self.writer.is_alive():
                self.drain(drain_s)
            return self.writer.written, self._count()
        finally:
            if self.poller.is_alive():
                self.poller.stop()
            if self.writer.is_alive():
                self.writer.stop()
            self.app.stop()


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def report(results: list[StepResult], out=sys.stdout) -> None:
    print("| offered/s | indexed/s | searchable p50/p95/p99 s | alert p50/p95/p99 s | drain s | "
          "CPU s/s by process (us/event over step + drain) | RSS MB | ceiling/s | load 1m |", file=out)
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |", file=out)
    for r in results:
        order = sorted(r.cpu, key=lambda n: -r.cpu[n])
        cpu = ", ".join(f"{n} {r.cpu[n]:.2f} ({r.us_per_event[n]:.0f})" for n in order if r.cpu[n] >= 0.005)
        rss = ", ".join(f"{n} {r.rss_mb[n]:.0f}" for n in order if not n.startswith("bench"))
        miss = f" ({r.markers_missing} markers not found)" if r.markers_missing else ""
        if r.processed < r.offered * r.seconds * 0.99:
            miss += f" (drain cut off: {r.processed:,} of the step's lines indexed)"
        if r.restarts:
            miss += " (restarted: " + ", ".join(f"{n} x{k}" for n, k in r.restarts.items()) + ")"
        print(f"| {r.offered:,.0f} | {r.indexed:,.0f} | {'/'.join(_fmt(r.searchable[k]) for k in ('p50', 'p95', 'p99'))}{miss} | "
              f"{'/'.join(_fmt(r.alert[k]) for k in ('p50', 'p95', 'p99'))} | {r.drain_s:.0f} | {cpu}, all stages {sum(v for n, v in r.us_per_event.items() if not n.startswith('bench')):.0f} us | {rss} | "
              f"{r.ceiling or 0:,.0f} | {r.load[0]:.2f} |", file=out)


def plot(results: list[StepResult], path: Path, baseline: list[dict] | None, label: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    series = [(label, [asdict(r) for r in results], "-")]
    if baseline:
        series.insert(0, ("before", baseline, "--"))
    for name, rows, style in series:
        rows = sorted(rows, key=lambda r: r["offered"])
        x = [r["offered"] for r in rows]
        for q, color in (("p50", "tab:blue"), ("p99", "tab:red")):
            ax1.plot(x, [r["searchable"][q] or float("nan") for r in rows], style, color=color, marker="o", label=f"{name} searchable {q}")
        ax1.plot(x, [r["alert"]["p99"] or float("nan") for r in rows], style, color="tab:purple", marker="s", label=f"{name} alert p99")
        ax2.plot(x, [sum(v for n, v in r["cpu"].items() if not n.startswith("bench")) for r in rows], style, color="black", marker="o",
                 label=f"{name} all stages")
        ax2.plot(x, [r["cpu"].get("index", 0) for r in rows], style, color="tab:green", marker="^", label=f"{name} index")
    ax1.axhline(SEARCHABLE_P99_S, color="grey", lw=0.8)
    ax1.set_yscale("log")
    ax1.set_xlabel("offered events/s")
    ax1.set_ylabel("latency s (log)")
    ax1.set_title("line -> searchable / alert")
    ax1.legend(fontsize=7)
    ax2.axhline(CORES, color="grey", lw=0.8)
    ax2.set_xlabel("offered events/s")
    ax2.set_ylabel("CPU-seconds per second")
    ax2.set_title("CPU of the appliance")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rates", default="2000,5000,10000,20000", help="offered events/s per step, comma-separated")
    ap.add_argument("--duration", type=float, default=240, help="seconds of load in all, split evenly over the steps")
    ap.add_argument("--find", action="store_true", help="bisect for the highest rate holding searchable p99 < 2 s")
    ap.add_argument("--find-range", default="2000,40000", help="--find's lowest,highest rate")
    ap.add_argument("--find-step-seconds", type=float, default=45)
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--plot", type=Path, help="PNG of latency and CPU against the offered rate")
    ap.add_argument("--baseline", type=Path, help="results JSON of an earlier run to draw in the plot as 'before'")
    ap.add_argument("--label", default="after", help="name of this run in the plot")
    ap.add_argument("--keep", action="store_true", help="keep the temp data dir")
    ap.add_argument("--drain", type=float, default=60, help="seconds a step's drain may take at least (4x the step if longer)")
    ap.add_argument("--final-drain", type=float, default=600, help="seconds to wait at the end for the index to hold every line")
    args = ap.parse_args()
    live = None
    if sys.stdout.isatty():
        from rich.console import Console
        console = Console()
        live = console.status("starting logwarden up")
        live.start()
    tmp = Path(tempfile.mkdtemp(prefix="lw-e2e-"))
    bench = Bench(tmp, live)
    bench.min_drain = args.drain
    results: list[StepResult] = []
    load0 = os.getloadavg()
    try:
        bench.start()
        if args.find:
            lo, hi = (float(v) for v in args.find_range.split(","))
            best = None
            while hi - lo > max(500, lo * 0.1):
                mid = round((lo + hi) / 2, -2)
                r = bench.run_step(mid, args.find_step_seconds)
                results.append(r)
                ok = (r.searchable["p99"] or 1e9) < SEARCHABLE_P99_S and r.indexed >= 0.95 * r.offered
                lo, hi = (mid, hi) if ok else (lo, mid)
                best = mid if ok else best
            print(f"highest rate holding searchable p99 < {SEARCHABLE_P99_S} s: {best or 'none tried'}")
        else:
            rates = [float(r) for r in args.rates.split(",")]
            for rate in rates:
                results.append(bench.run_step(rate, args.duration / len(rates)))
    finally:
        written, indexed = bench.close(args.final_drain)
        if live is not None:
            live.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    report(results)
    print(f"\nlines written {written:,}, documents in the index {indexed:,}"
          f" ({'nothing lost or doubled' if written == indexed else 'MISMATCH'}); {CORES} cores; "
          f"load average at start {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}, at end "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}; data in {tmp if args.keep else '(removed)'}")
    if args.json:
        args.json.write_bytes(orjson.dumps({"results": [asdict(r) for r in results], "written": written, "indexed": indexed,
                                            "load_start": load0, "load_end": os.getloadavg()}, option=orjson.OPT_INDENT_2))
    if args.plot:
        base = orjson.loads(args.baseline.read_bytes())["results"] if args.baseline else None
        plot(results, args.plot, base, args.label)


if __name__ == "__main__":
    main()
